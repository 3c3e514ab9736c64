"""What every router shares: the app's parts (``Api``), who is asking, and what they may do.

Reads use the app's own connection to the database (WAL lets them run beside the writer),
serialised by a lock because FastAPI runs plain ``def`` endpoints in a thread pool; a read
from ``async`` code goes through ``asyncio.to_thread``. Writes go through the store's single
writer; the clerk's buttons go to the ``Courtroom``, which does nothing else at the same
time. Without a courtroom (``courtbox demo``) the API reads and annotates but does not
record.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from courtbox.record import users

if TYPE_CHECKING:
    from courtbox.record.store import Store
    from courtbox.record.writer import StoreWriter
    from courtbox.room.courtroom import Courtroom
    from courtbox.room.healthwatch import HealthWatch
    from courtbox.room.live import LiveHub

API = "/api/v1"
COOKIE = "courtbox_session"

BEARER = HTTPBearer(auto_error=False, description="The token POST /api/v1/session returns.")
SESSION_COOKIE = APIKeyCookie(name=COOKIE, auto_error=False,
                              description="The cookie POST /api/v1/session sets.")

PartialsProvider = Callable[[str], list[dict]]  # hearing id -> its current partial lines
T = TypeVar("T")


@dataclass(eq=False)
class Api:
    """The parts the API serves, held in ``app.state.api``.

    ``store``: the app's read connection; ``writer``: the store's single writer;
    ``courtroom``: the room the clerk drives (None: nothing records here); ``hub``: the live
    events (created on the first live socket where nothing records); ``partials``: a
    hearing's current partial lines; ``watch``: the box's health watch; ``database``: the
    database check where there is no watch; ``sync_lag``: what the centre has not yet
    confirmed, for the health report; ``anonymous``: the role of a request without a
    session (None: every request must log in)."""

    data_dir: Path
    store: Store
    writer: StoreWriter
    courtroom: Courtroom | None = None
    hub: LiveHub | None = None
    partials: PartialsProvider | None = None
    watch: HealthWatch | None = None
    database: Callable[[], str] | None = None
    sync_lag: Callable[[Store], dict] | None = None
    anonymous: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def read(self, fn: Callable[[Store], T]) -> T:
        with self.lock:
            return fn(self.store)

    def write(self, fn: Callable[[Store], T]) -> T:
        return self.writer.call(fn)

    def publish(self, hearing_id: str, type_: str, **data: Any) -> None:
        """An event for the live pages, where there is a hub to tell."""
        if self.hub is not None:
            self.hub.publish(hearing_id, type_, **data)

    def user_of(self, token: str | None) -> dict | None:
        """The user a session token belongs to; without one, the anonymous role if any."""
        if not token:
            if self.anonymous is None:
                return None
            return {"name": "anonymous", "role": self.anonymous, "token": None}
        user = self.read(lambda s: users.session_user(s, token))
        return {**user, "token": token} if user else None


def api_of(request: Request) -> Api:
    return request.app.state.api


def current_user(request: Request,
                 bearer: HTTPAuthorizationCredentials | None = Depends(BEARER),
                 cookie: str | None = Depends(SESSION_COOKIE)) -> dict:
    user = api_of(request).user_of(bearer.credentials if bearer is not None else cookie)
    if user is None:
        raise HTTPException(401, "log in first (POST /api/v1/session)",
                            headers={"WWW-Authenticate": "Bearer"})
    return user


def need(permission: str):
    """A dependency: the current user, who must hold ``permission`` (else 403)."""
    def check(user: dict = Depends(current_user)) -> dict:
        if not users.allowed(user["role"], permission):
            raise HTTPException(403, f"a {user['role']} may not do this "
                                     f"(needs {permission})")
        return user
    return Depends(check)


def decoded(value: Any) -> Any:
    """A JSON column's value (a store that decodes its JSON columns itself hands it over
    as it is)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def hearing_or_404(api: Api, hearing_id: str) -> dict:
    hearing = api.read(lambda s: s.hearing(hearing_id))
    if hearing is None:
        raise HTTPException(404, f"no hearing {hearing_id}")
    for key in ("panel", "parties", "terms"):
        hearing[key] = decoded(hearing[key])
    return hearing


def the_courtroom(api: Api) -> Courtroom:
    if api.courtroom is None:
        raise HTTPException(503, "this service does not record (courtbox run does)")
    return api.courtroom
