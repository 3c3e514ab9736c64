"""What every router of the web service shares: its parts (``Web``: the config, the
centre's store, the court's time zone, the login gate), the database, who is asking and
what they may do (``need``: no session 401, the wrong role 403).

Endpoints are plain ``def``: FastAPI runs them in its thread pool, and each takes a
connection from the store's pool for its queries, so PostgreSQL is never waited on in the
event loop."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from courtbox.central.web import accounts
from courtbox.central.web.errors import Refused

if TYPE_CHECKING:
    from courtbox.central.store import CentralStore
    from courtbox.central.web.throttle import LoginGate

API = "/api/v1"
COOKIE = "courtbox_central_session"
BEARER = HTTPBearer(auto_error=False, description="The token POST /api/v1/session returns.")
SESSION_COOKIE = APIKeyCookie(name=COOKIE, auto_error=False,
                              description="The cookie POST /api/v1/session sets.")


@dataclass(eq=False)
class Web:
    config: Any  # CentralConfig
    store: CentralStore
    gate: LoginGate
    gate_waiting: int = 0  # logins waiting for their check

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.config.web.timezone)

    @property
    def unreachable_s(self) -> float:
        web = self.config.web
        return web.unreachable_after_s or max(60.0, 3 * self.config.collector.interval_s)

    @contextlib.contextmanager
    def db(self) -> Iterator[psycopg.Connection]:
        try:
            with self.store.pool.connection() as conn:
                yield conn
        except psycopg.OperationalError as e:
            raise Refused(503, f"the centre's database is unreachable: {e}") from e

    def local(self, value: datetime | None) -> str | None:
        """A time as the court reads it: ISO 8601 with the court's offset."""
        return value.astimezone(self.tz).isoformat() if value else None


def web_of(request: Request) -> Web:
    return request.app.state.web


def current_user(request: Request,
                 bearer: HTTPAuthorizationCredentials | None = Depends(BEARER),
                 cookie: str | None = Depends(SESSION_COOKIE)) -> dict:
    token = bearer.credentials if bearer is not None else cookie
    user = None
    if token and len(token) <= 200:
        with web_of(request).db() as conn:
            user = accounts.session_user(conn, token)
    if user is None:
        raise Refused(401, "log in first (POST /api/v1/session)",
                      headers={"WWW-Authenticate": "Bearer"})
    return {**user, "token": token}


def need(permission: str):
    """A dependency: the current user, whose role must hold ``permission`` (else 403)."""
    def check(user: dict = Depends(current_user)) -> dict:
        if not accounts.allowed(user["role"], permission):
            raise Refused(403, f"the role {user['role']} may not do this (needs "
                          f"{permission})")
        return user
    return Depends(check)


def client_of(request: Request) -> str:
    """The client's address: the TCP peer (the service speaks TLS itself; behind a proxy
    this is the proxy's)."""
    return request.client.host if request.client else "?"
