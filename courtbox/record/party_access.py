"""The parties' review codes and sessions, and the list of what the parties did: the part
of ``courtbox.record.parties`` that reads and admits, importing nothing of the transcript
(the web's session check and the exports use it).

A code is kept as its sha256 only; a new code for a seat revokes the seat's unused one; a
code expires after ``CODE_MINUTES`` and opens one session of ``SESSION_MINUTES`` that sees
its own hearing only. A wrong code writes nothing (``BadPartyCode``).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from courtbox.errors import BadPartyCode, PartyError
from courtbox.record.chain import sha256_text, utc_now

if TYPE_CHECKING:
    from courtbox.record.store import Store

PARTY_ROLES = ("plaintiff", "defendant", "defense", "witness", "other")
CODE_MINUTES = 30
SESSION_MINUTES = 120
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed on a tablet
CODE_LENGTH = 10  # 50 bits



def _stamp(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")


def normal_code(code: str) -> str:
    """A code as typed (any case, dashes, spaces) in its canonical form."""
    return "".join(c for c in code.upper() if c in ALPHABET)


def _party_seat(store: Store, hearing_id: str, seat_id: str) -> dict:
    seat = next((s for s in store.seats(hearing_id) if s["seat_id"] == seat_id), None)
    if seat is None:
        raise PartyError(f"本案没有席位 {seat_id}")
    if seat["role"] not in PARTY_ROLES:
        raise PartyError(f"席位 {seat['name']}（{seat_id}）不是当事人席位")
    return seat


def issue_code(store: Store, hearing_id: str, seat_id: str, *, actor: str) -> dict:
    """A new one-time code for the party at ``seat_id`` of the closed hearing; the code
    itself is returned once and never stored."""
    hearing = store.hearing(hearing_id)
    if hearing is None:
        raise PartyError(f"no hearing {hearing_id}")
    if hearing["state"] != "closed":
        raise PartyError("闭庭后才能发放当事人阅看码")
    seat = _party_seat(store, hearing_id, seat_id)
    code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    row = {"id": uuid.uuid4().hex, "hearing_id": hearing_id, "seat_id": seat_id,
           "code_sha256": sha256_text(code), "issued_by": actor, "created_at": utc_now(),
           "expires_at": _stamp(CODE_MINUTES), "used_at": None, "revoked": 0}
    with store.transaction():
        store.db.execute("UPDATE party_codes SET revoked = 1 WHERE hearing_id = ? AND"
                         " seat_id = ? AND used_at IS NULL", [hearing_id, seat_id])
        store.db["party_codes"].insert(row)
    store.audit(actor, "party.code_issued", hearing_id, seat=seat_id, code_id=row["id"],
                expires_at=row["expires_at"])
    return {"code": f"{code[:5]}-{code[5:]}", "code_id": row["id"], "seat": seat_id,
            "seat_name": seat["name"], "expires_at": row["expires_at"]}


def redeem_code(store: Store, code: str) -> tuple[str, dict]:
    """Use up ``code``: a party session's token and the session; ``BadPartyCode`` (nothing
    written) for a code that is unknown, used, revoked or expired."""
    row = store.db.execute(
        "SELECT id, hearing_id, seat_id, used_at, revoked, expires_at FROM party_codes"
        " WHERE code_sha256 = ?", [sha256_text(normal_code(code))]).fetchone()
    if row is None or row[3] or row[4] or row[5] < utc_now():
        raise BadPartyCode("阅看码无效、已使用或已过期，请向书记员重新领取")
    code_id, hearing_id, seat_id = row[:3]
    token = secrets.token_urlsafe(32)
    session = {"token_sha256": sha256_text(token), "code_id": code_id,
               "hearing_id": hearing_id, "seat_id": seat_id, "created_at": utc_now(),
               "expires_at": _stamp(SESSION_MINUTES)}
    with store.transaction():
        used = store.db.execute("UPDATE party_codes SET used_at = ? WHERE id = ? AND"
                                " used_at IS NULL", [utc_now(), code_id]).rowcount
        if not used:
            raise BadPartyCode("阅看码已使用")
        store.db.execute("DELETE FROM party_sessions WHERE expires_at < ?", [utc_now()])
        store.db["party_sessions"].insert(session)
    store.audit(f"party:{seat_id}", "party.code_used", hearing_id, seat=seat_id,
                code_id=code_id)
    return token, {k: session[k] for k in ("code_id", "hearing_id", "seat_id",
                                           "expires_at")}


def party_session(store: Store, token: str) -> dict | None:
    """The live party session of ``token``: its code, hearing and seat."""
    row = store.db.execute(
        "SELECT code_id, hearing_id, seat_id, expires_at FROM party_sessions"
        " WHERE token_sha256 = ? AND expires_at > ?", [sha256_text(token), utc_now()]
    ).fetchone()
    return dict(zip(("code_id", "hearing_id", "seat_id", "expires_at"), row,
                    strict=True)) if row else None


def end_session(store: Store, code_id: str) -> None:
    store.db.execute("DELETE FROM party_sessions WHERE code_id = ?", [code_id])


def _acts(store: Store, hearing_id: str, code_id: str | None = None) -> list[dict]:
    where, args = "hearing_id = ?", [hearing_id]
    if code_id is not None:
        where, args = where + " AND code_id = ?", [*args, code_id]
    return list(store.db["party_acts"].rows_where(where, args, order_by="created_at"))



def requests(store: Store, hearing_id: str) -> list[dict]:
    """The parties' requests for correction, with how each was handled (or not yet)."""
    return [a for a in party_acts(store, hearing_id) if a["kind"] == "request"]


def party_acts(store: Store, hearing_id: str) -> list[dict]:
    """Every act of the parties, with the seat's name, how a request was handled and
    whether it came after the first signature (签署后添加): what the exports list."""
    hearing = store.hearing(hearing_id) or {}
    frozen = hearing.get("frozen_at")
    names = {s["seat_id"]: s["name"] for s in store.seats(hearing_id)}
    handled = {h["act_id"]: h for h in store.db["party_handlings"].rows_where(
        "hearing_id = ?", [hearing_id])}
    out = []
    for a in _acts(store, hearing_id):
        h = handled.get(a["id"])
        out.append({**{k: v for k, v in a.items() if k != "code_id"},
                    "seat_name": names.get(a["seat_id"], a["seat_id"]),
                    "after_signoff": bool(frozen and a["created_at"] > frozen),
                    "handling": h and {"outcome": h["outcome"], "reason": h["reason"],
                                       "revision": h["revision"], "by": h["name"],
                                       "created_at": h["created_at"]}})
    return out
