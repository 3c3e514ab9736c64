"""The web service's accounts, sessions and audit in PostgreSQL, and who may do what.

Two roles, each to its own work (least privilege; ``PERMISSIONS`` is the matrix the API
checks and ``tests/central/test_web_api.py`` calls through):

| permission | operations | archivist | what |
|---|---|---|---|
| ``boxes`` | yes | no | the dashboard: boxes, heartbeats, backlog, quarantine |
| ``hearings`` | no | yes | search hearings, their metadata, transcripts, marks |
| ``audio`` | no | yes | a hearing's audio (each fetch audited) |
| ``holds`` | no | yes | legal hold of a case's audio, and its release |
| ``audit`` | yes | yes | the service's audit log |

Operations staff keep the boxes running and never read what was said in a hearing; the
archivists (the e-case file, 电子卷宗) read hearings and never need the fleet. Every logged
in user sees the courts (``any``).

Passwords are hashed with scrypt (``hashlib``; n=2^14, r=8, p=1, a 16-byte salt); a session
is a random token of which only the sha256 is stored, valid ``web.session_hours``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from courtbox.errors import CourtboxError

ROLES = {"operations": "运维", "archivist": "档案"}
PERMISSIONS: dict[str, set[str]] = {
    "boxes": {"operations"},
    "hearings": {"archivist"},
    "audio": {"archivist"},
    "holds": {"archivist"},
    "audit": {"operations", "archivist"},
}
NAME = re.compile(r"[a-z][a-z0-9_.-]{0,39}")
SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


def allowed(role: str, permission: str) -> bool:
    return permission == "any" or role in PERMISSIONS.get(permission, set())


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, maxmem=64 << 20, **SCRYPT)
    b64 = base64.b64encode
    return (f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}$"
            f"{b64(salt).decode()}${b64(digest).decode()}")


def password_ok(stored: str | None, password: str) -> bool:
    """Whether ``password`` is the one hashed in ``stored``; with no account, a hash is
    computed anyway so that a wrong name takes as long as a wrong password."""
    if not stored:
        hash_password(password)
        return False
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt),
                             n=int(n), r=int(r), p=int(p), maxmem=64 << 20)
    except ValueError:
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(conn: psycopg.Connection, name: str, role: str, display_name: str,
             password: str) -> None:
    if not NAME.fullmatch(name):
        raise CourtboxError(f"user name {name!r}: lower-case letters, digits, _ . -, "
                            "starting with a letter, at most 40")
    if role not in ROLES:
        raise CourtboxError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < 10:
        raise CourtboxError("the password needs at least 10 characters")
    try:
        conn.execute("INSERT INTO web_users (name, display_name, role, password_hash)"
                     " VALUES (%s, %s, %s, %s)",
                     [name, display_name, role, hash_password(password)])
    except psycopg.errors.UniqueViolation as e:
        raise CourtboxError(f"user {name} already exists") from e


def password_hash(conn: psycopg.Connection, name: str) -> str | None:
    row = conn.execute("SELECT password_hash FROM web_users WHERE name = %s AND NOT"
                       " disabled", [name]).fetchone()
    return row[0] if row else None


def open_session(conn: psycopg.Connection, name: str, hours: float) -> tuple[str, dict]:
    """A new session of ``name``; expired sessions of anyone are dropped on the way."""
    token = secrets.token_urlsafe(32)
    with conn.transaction():
        conn.execute("DELETE FROM web_sessions WHERE expires_at < now()")
        conn.execute("INSERT INTO web_sessions (token_sha256, name, expires_at) VALUES"
                     " (%s, %s, now() + %s * interval '1 hour')",
                     [token_sha256(token), name, hours])
    return token, session_user(conn, token)


def session_user(conn: psycopg.Connection, token: str) -> dict | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT u.name, u.display_name, u.role, s.expires_at FROM web_sessions s"
            " JOIN web_users u USING (name) WHERE s.token_sha256 = %s"
            " AND s.expires_at > now() AND NOT u.disabled", [token_sha256(token)]).fetchone()


def close_session(conn: psycopg.Connection, token: str) -> None:
    conn.execute("DELETE FROM web_sessions WHERE token_sha256 = %s", [token_sha256(token)])


def audit(conn: psycopg.Connection, actor: str, action: str, *, client: str | None = None,
          target: str | None = None, **detail: Any) -> None:
    conn.execute("INSERT INTO web_audit (actor, action, client, target, detail) VALUES"
                 " (%s, %s, %s, %s, %s)", [actor, action, client, target, Jsonb(detail)])


def audit_entries(conn: psycopg.Connection, *, action: str | None, limit: int,
                  offset: int) -> tuple[int, list[dict]]:
    where, params = ("WHERE action = %s", [action]) if action else ("", [])
    total = conn.execute(f"SELECT COUNT(*) FROM web_audit {where}", params).fetchone()[0]
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(f"SELECT id, at, actor, action, client, target, detail FROM"
                           f" web_audit {where} ORDER BY id DESC LIMIT %s OFFSET %s",
                           [*params, limit, offset]).fetchall()
    return total, rows
