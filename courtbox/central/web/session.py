"""``/api/v1/session`` (log in, who am I, log out) and ``/api/v1/audit``: throttled per
account and address (``courtbox.central.web.throttle``); scrypt and PostgreSQL run in
threads beside the loop, at most ``HASHING`` checks at once."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Query, Request, Response

from courtbox.central.web import accounts
from courtbox.central.web.deps import API, COOKIE, Web, client_of, current_user, need, web_of
from courtbox.central.web.errors import ERRORS, Refused
from courtbox.central.web.models import AuditPage, LoggedOut, LoginBody, SessionOut

router = APIRouter(prefix=API, tags=["session"], responses=ERRORS)
HASHING = asyncio.Semaphore(2)
MAX_WAITING = 64


def session_out(web: Web, user: dict, token: str | None = None) -> SessionOut:
    return SessionOut(user=user["name"], display_name=user["display_name"],
                      role=user["role"], role_name=accounts.ROLES[user["role"]],
                      permissions=sorted(p for p in accounts.PERMISSIONS
                                         if accounts.allowed(user["role"], p)),
                      timezone=web.config.web.timezone,
                      expires_at=web.local(user["expires_at"]), token=token)


def _audit(web: Web, actor: str, action: str, **kw) -> None:
    with web.db() as conn:
        accounts.audit(conn, actor, action, **kw)


async def flush(web: Web, *, force: bool = False) -> int:
    """Write the refusal summaries whose window has ended."""
    due = web.gate.due(force=force)
    for d in due:
        client = d.pop("client")
        await asyncio.to_thread(_audit, web, f"client:{client}", "login_throttled",
                                client=client, **d)
    return len(due)


@router.post("/session", response_model=SessionOut)
async def log_in(body: LoginBody, request: Request, response: Response) -> SessionOut:
    """Log in; the token is also set as an HttpOnly cookie. Too many failures from one
    address: 429 with Retry-After."""
    web, client = web_of(request), client_of(request)
    wait = web.gate.refuse(body.name, client)
    if wait:
        raise Refused(429, f"too many failed logins; try again in {wait} s",
                      headers={"Retry-After": str(wait)})
    if web.gate_waiting >= MAX_WAITING:
        raise Refused(503, "too many logins at once; try again in a second",
                      headers={"Retry-After": "1"})

    def check() -> bool:
        with web.db() as conn:
            stored = accounts.password_hash(conn, body.name)
        return accounts.password_ok(stored, body.password)

    web.gate_waiting += 1
    try:
        async with HASHING:
            ok = await asyncio.to_thread(check)
    finally:
        web.gate_waiting -= 1
    if not ok:
        if web.gate.failed(body.name, client):
            await asyncio.to_thread(_audit, web, body.name, "login_failed", client=client)
        raise Refused(401, "wrong user name or password", code="wrong_password",
                      message="用户名或密码错误")
    web.gate.succeeded(body.name, client)

    def open_session() -> tuple[str, dict]:
        with web.db() as conn:
            token, user = accounts.open_session(conn, body.name, web.config.web.session_hours)
            accounts.audit(conn, body.name, "login", client=client)
        return token, user

    token, user = await asyncio.to_thread(open_session)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=True,
                        max_age=int(web.config.web.session_hours * 3600))
    return session_out(web, user, token)


@router.get("/session", response_model=SessionOut)
def who_am_i(request: Request, user: dict = Depends(current_user)) -> SessionOut:
    return session_out(web_of(request), user)


@router.delete("/session", response_model=LoggedOut)
def log_out(request: Request, response: Response,
            user: dict = Depends(current_user)) -> LoggedOut:
    web = web_of(request)
    with web.db() as conn:
        accounts.close_session(conn, user["token"])
        accounts.audit(conn, user["name"], "logout", client=client_of(request))
    response.delete_cookie(COOKIE)
    return LoggedOut(user=user["name"], logged_out=True)


@router.get("/audit", response_model=AuditPage)
def audit_log(request: Request,
              action: str | None = Query(None, max_length=40, pattern=r"^[a-z_.]+$"),
              limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=10**7),
              user: dict = need("audit")) -> AuditPage:
    """The service's own audit log, newest first: logins, refusal summaries, holds, audio
    fetches."""
    web = web_of(request)
    with web.db() as conn:
        total, rows = accounts.audit_entries(conn, action=action, limit=limit, offset=offset)
    return AuditPage(total=total, items=[{**r, "at": web.local(r["at"])} for r in rows])
