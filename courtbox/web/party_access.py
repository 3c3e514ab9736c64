"""Who a party is: the session a one-time code opened (cookie ``courtbox_party``), and the
audio endpoint's admission of a user who may read or a party of that very hearing.

Read from the request itself (the app's ``Api`` in ``app.state.api``), so that the audio
endpoint's import chain stays as short as it was."""

from __future__ import annotations

from fastapi import HTTPException, Request

from courtbox.record.party_access import party_session
from courtbox.record.users import allowed

PARTY_COOKIE = "courtbox_party"
USER_COOKIE = "courtbox_session"  # courtbox.web.deps.COOKIE


def party_of(request: Request) -> dict:
    """The party session of the request's ``courtbox_party`` cookie, else 401."""
    api = request.app.state.api
    token = request.cookies.get(PARTY_COOKIE)
    session = api.read(lambda s: party_session(s, token)) if token else None
    if session is None:
        raise HTTPException(401, "请输入书记员提供的阅看码")
    return session


def reader_or_party(hearing_id: str, request: Request) -> dict:
    """A user who may read (bearer token or session cookie), or a party session of this
    very hearing (the audio it reviews)."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else None
    token = token or request.cookies.get(USER_COOKIE)
    if token is None and request.cookies.get(PARTY_COOKIE):
        session = party_of(request)
        if session["hearing_id"] != hearing_id:
            raise HTTPException(403, "阅看码只能查看本案")
        return {"name": f"party:{session['seat_id']}", "role": "party"}
    user = request.app.state.api.user_of(token)
    if user is None:
        raise HTTPException(401, "log in first (POST /api/v1/session)",
                            headers={"WWW-Authenticate": "Bearer"})
    if not allowed(user["role"], "read"):
        raise HTTPException(403, f"a {user['role']} may not do this (needs read)")
    return user
