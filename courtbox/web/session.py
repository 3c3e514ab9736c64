"""``/api/v1/session``: log in (rate-limited per account and client), who am I, log out."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from courtbox.record import users
from courtbox.record.store import sha256_text
from courtbox.web.bodies import LoginBody
from courtbox.web.deps import API, COOKIE, Api, api_of, current_user
from courtbox.web.logins import MAX_WAITING, client_address, flush, gate_of

router = APIRouter(prefix=f"{API}/session", tags=["session"])


@router.post("", responses={429: {}, 503: {}})
async def log_in(body: LoginBody, response: Response, request: Request,
                 api: Api = Depends(api_of)) -> dict:
    """Limited per account and per source (``courtbox.web.logins``): the check never runs
    on the event loop or the store's writer, and a refused client writes nothing."""
    gate = gate_of(request.app)
    client = client_address(request, gate.trusted)
    attempt = gate.admit(body.name, client)
    if isinstance(attempt, int):
        await flush(api, gate)  # the summaries whose window ended, not this refusal
        raise HTTPException(429, f"too many failed logins; try again in {attempt} s",
                            headers={"Retry-After": str(attempt)})
    ok: bool | None = None
    try:
        if gate.waiting >= MAX_WAITING:
            raise HTTPException(503, "too many logins at once; try again in a second",
                                headers={"Retry-After": "1"})
        gate.waiting += 1
        try:
            async with gate.hashing():
                ok = await asyncio.to_thread(
                    lambda: users.password_ok(api.read(lambda s: s.user(body.name)),
                                              body.password))
        finally:
            gate.waiting -= 1
    finally:
        gate.done(attempt, ok=ok)
    if not ok:
        if gate.audit_failure(body.name, client):
            await _write(api, lambda s: s.audit(body.name, "user.login_failed", None,
                                                client=client))
        raise HTTPException(401, "wrong user name or password")

    def open_session(s):
        token, user = users.open_session(s, body.name)
        s.audit(user["name"], "user.login", None, client=client)
        return token, user

    token, user = await _write(api, open_session)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https",
                        max_age=users.SESSION_HOURS * 3600)
    return {"user": user["name"], "role": user["role"], "token": token}


async def _write(api: Api, fn):
    return await asyncio.wrap_future(api.writer.submit(fn))


@router.get("")
def who_am_i(user: dict = Depends(current_user)) -> dict:
    return {"user": user["name"], "role": user["role"],
            "permissions": sorted(p for p in users.PERMISSIONS
                                  if users.allowed(user["role"], p))}


@router.delete("")
def log_out(response: Response, user: dict = Depends(current_user),
            api: Api = Depends(api_of)) -> dict:
    if user["token"]:
        api.write(lambda s: s.delete_session(sha256_text(user["token"])))
    response.delete_cookie(COOKIE)
    return {"user": user["name"], "logged_out": True}
