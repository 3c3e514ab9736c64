"""Local accounts, their passwords and sessions, and what each role may do.

Four roles: the clerk (书记员) runs the hearing and corrects its transcript, the judge reads,
annotates and signs off, the technician sees the box's health and the microphones, the
admin manages accounts and may do what a clerk does. There is no default account and no
default password: ``courtbox user add`` creates them.

Passwords are stored as scrypt hashes (``cryptography``; n=2^15, r=8, p=1: 32 MiB and about
0.1 s per check, the cost OWASP recommends), each with its own salt, in a self-describing
string so the parameters can be raised later without breaking old hashes. A login returns
a random session token; the box keeps only its sha256, so a copy of the database holds no
usable session.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from courtbox.errors import AuthError
from courtbox.record.chain import sha256_text
from courtbox.record.signers import ROLE_TITLES as ROLE_TITLES
from courtbox.record.signers import person
from courtbox.record.text import check_identifier

if TYPE_CHECKING:
    from courtbox.record.store import Store

ROLES = ("clerk", "judge", "technician", "admin")
NAME_PATTERN = r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{1,32}$"
MIN_PASSWORD = 8
SESSION_HOURS = 12  # one court day; the clerk logs in again the next morning

# permission -> roles that hold it
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset({"clerk", "judge", "admin"}),           # hearings, transcript, audio
    "operate": frozenset({"clerk", "admin"}),                 # open/start/pause/resume/close
    "annotate": frozenset({"clerk", "judge", "admin"}),
    "correct": frozenset({"clerk", "admin"}),
    "sign": frozenset({"clerk", "judge"}),                    # personal: not the admin's
    "health": frozenset({"clerk", "judge", "technician", "admin"}),
    "levels": frozenset({"clerk", "technician", "admin"}),
    "users": frozenset({"admin"}),
}

_N, _R, _P, _LEN = 2**15, 8, 1, 32


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    key = Scrypt(salt=salt, length=_LEN, n=_N, r=_R, p=_P).derive(password.encode("utf-8"))
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        derived = Scrypt(salt=base64.b64decode(salt), length=len(expected), n=int(n),
                         r=int(r), p=int(p)).derive(password.encode("utf-8"))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(derived, expected)


# Burnt on unknown names so that a login takes as long whether or not the name exists.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


def validate_new_user(name: str, role: str, password: str) -> None:
    if not re.match(NAME_PATTERN, name):
        raise AuthError(f"user name {name!r}: 1-32 letters, digits, Chinese characters, "
                        f"'.', '_' or '-'")
    if role not in ROLES:
        raise AuthError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"password: at least {MIN_PASSWORD} characters")


def add_user(store: Store, name: str, role: str, password: str, *, actor: str,
             display_name: str = "") -> None:
    """A new account; ``display_name`` is the person's real name (张三), shown with the
    role wherever they sign, mark or correct (default: the login name)."""
    validate_new_user(name, role, password)
    display_name = check_identifier("display_name", display_name.strip())
    if len(display_name) > 40:
        raise AuthError("display_name: at most 40 characters")
    store.add_user(name, role, hash_password(password))
    if display_name:
        store.update_user(name, display_name=display_name)
    store.audit(actor, "user.add", None, user=name, role=role, display_name=display_name)


def people(store: Store, hearing: dict | None = None) -> dict[str, str]:
    """Every account's label (书记员 张三), by login name."""
    return {u["name"]: person(store, u["name"], hearing)["label"] for u in store.users()}


def password_ok(user: dict | None, password: str) -> bool:
    """Whether ``password`` is the active ``user``'s (a row of ``Store.user``; None: no such
    account, checked against a dummy hash all the same). CPU only (~0.1 s): the API runs it
    beside the event loop and never on the store's writer."""
    if user is None:
        check_password(password, _DUMMY_HASH)
        return False
    return check_password(password, user["password_hash"]) and not user["disabled"]


def open_session(store: Store, name: str) -> tuple[str, dict]:
    """A new session for ``name`` (whose password was checked): its token and the user."""
    user = store.user(name)
    if user is None or user["disabled"]:
        raise AuthError(f"no active account {name!r}")
    token = secrets.token_urlsafe(32)
    expires = (datetime.now(UTC) + timedelta(hours=SESSION_HOURS)).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")
    store.add_session(sha256_text(token), name, expires)
    return token, {"name": user["name"], "role": user["role"]}


def login(store: Store, name: str, password: str) -> tuple[str, dict] | None:
    """A new session token and the user, or None (wrong name, password or disabled)."""
    if not password_ok(store.user(name), password):
        return None
    return open_session(store, name)


def session_user(store: Store, token: str) -> dict | None:
    return store.session_user(sha256_text(token))


def has_admin(store: Store) -> bool:
    return any(u["role"] == "admin" and not u["disabled"] for u in store.users())


def allowed(role: str, permission: str) -> bool:
    return role in PERMISSIONS[permission]
