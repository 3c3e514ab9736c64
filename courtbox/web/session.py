"""``/api/v1/session``: log in (rate-limited per account and client), who am I, log out."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from courtbox.record import users
from courtbox.record.store import sha256_text
from courtbox.web.bodies import LoginBody
from courtbox.web.deps import API, COOKIE, Api, api_of, current_user

router = APIRouter(prefix=f"{API}/session", tags=["session"])


@router.post("")
def log_in(body: LoginBody, response: Response, request: Request,
           api: Api = Depends(api_of)) -> dict:
    client = request.client.host if request.client else None
    if wait := api.throttle.retry_after(body.name, client):
        api.write(lambda s: s.audit(body.name, "user.login_throttled", None, client=client))
        raise HTTPException(429, f"too many failed logins; try again in {wait} s",
                            headers={"Retry-After": str(wait)})
    result = api.write(lambda s: users.login(s, body.name, body.password))
    if result is None:
        api.throttle.failed(body.name, client)
        api.write(lambda s: s.audit(body.name, "user.login_failed", None, client=client))
        raise HTTPException(401, "wrong user name or password")
    api.throttle.succeeded(body.name)
    token, user = result
    api.write(lambda s: s.audit(user["name"], "user.login", None, client=client))
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https",
                        max_age=users.SESSION_HOURS * 3600)
    return {"user": user["name"], "role": user["role"], "token": token}


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
