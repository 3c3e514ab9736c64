"""The parties' review and signature of a closed hearing's record (SPC 法释〔2017〕5号 Art. 7
and 9): pure record logic, no HTTP (``courtbox.web.parties`` serves it).

- **Codes.** The clerk issues a one-time code per party seat (a seat whose role is a
  party's: ``PARTY_ROLES``) of a closed hearing. The box keeps only the code's sha256; a
  new code for a seat revokes the seat's unused one (so a hearing holds one live code per
  seat at most). A code expires after ``CODE_MINUTES``, opens one party session
  (``SESSION_MINUTES``) and is used up by it. A wrong code writes nothing: the web edge
  counts failures in memory and summarises them.
- **Review.** A party session sees its own hearing only: the lines, the recording (the
  audio endpoint admits it for that hearing) and the integrity values: the transcript's
  sha256 and the audio chain's head (完整性校验值).
- **Acts**, each a row chained into the outbox and an audit entry: ``sign`` (the name the
  party writes and the PNG they drew, with its sha256, and the checksums they signed),
  ``refuse`` (with the reason), ``request`` (a correction of one line, at most
  ``MAX_REQUESTS`` a code). Signing or refusing ends the session; one of them per code.
- **Handling.** The clerk accepts a request (it becomes a correction revision by the clerk,
  ``courtbox.record.transcript.correct_line``, refused once the transcript is signed off)
  or declines it with a reason; either is a row in the outbox and an audit entry.
"""

from __future__ import annotations

import base64
import hashlib
import io
import uuid
from typing import TYPE_CHECKING

from courtbox.errors import PartyError
from courtbox.record.chain import utc_now
from courtbox.record.party_access import (  # noqa: F401 (the whole review, from one module)
    PARTY_ROLES,
    SESSION_MINUTES,
    _acts,
    end_session,
    issue_code,
    party_acts,
    party_session,
    redeem_code,
    requests,
)
from courtbox.record.signers import person
from courtbox.record.text import check_identifier
from courtbox.record.transcript import correct_line, transcript_digest

if TYPE_CHECKING:
    from courtbox.record.store import Store

MAX_REQUESTS = 20
PNG_MAX_BYTES = 256 * 1024
PNG_MAX_SIDE = 2000
def review(store: Store, session: dict) -> dict:
    """What the party reads: the hearing, their seat, the lines, the 完整性校验值 and what
    they have done so far."""
    hid = session["hearing_id"]
    hearing = store.hearing(hid)
    seats = store.seats(hid)
    names = {s["seat_id"]: s["name"] for s in seats}
    lines = [{"utterance_id": r["utterance_id"], "seat": r["seat"],
              "name": names.get(r["seat"], r["seat"]), "t0": r["t0"], "t1": r["t1"],
              "text": r["text"], "revision": r["revision"]} for r in store.finals(hid)]
    return {"hearing": {k: hearing[k] for k in ("id", "case_number", "court", "room",
                                                "title", "case_type", "wall_start",
                                                "closed_at", "frozen_at", "timezone")},
            "seat": {"id": session["seat_id"], "name": names.get(session["seat_id"], "")},
            "lines": lines, "integrity": checksums(store, hid),
            "acts": [_public(a) for a in _acts(store, hid, session["code_id"])]}


def checksums(store: Store, hearing_id: str) -> dict:
    """The 完整性校验值 a party signs: the transcript's sha256 as it stands and the head of
    the audio hash chain."""
    return {"transcript_sha256": transcript_digest(store, hearing_id),
            "audio_chain_head": store.last_segment_hash(hearing_id)}


def _public(act: dict) -> dict:
    return {k: v for k, v in act.items() if k not in ("signature_png", "code_id")}


def _act(store: Store, session: dict, kind: str, **fields) -> dict:
    hid = session["hearing_id"]
    hearing = store.hearing(hid)
    if hearing is None or hearing["state"] != "closed":
        raise PartyError("庭审尚未闭庭")
    mine = _acts(store, hid, session["code_id"])
    if any(a["kind"] in ("sign", "refuse") for a in mine):
        raise PartyError("本阅看码已签名或拒绝签名，不能再操作")
    if kind == "request" and sum(a["kind"] == "request" for a in mine) >= MAX_REQUESTS:
        raise PartyError(f"更正申请已达上限（{MAX_REQUESTS} 条）")
    values = checksums(store, hid)
    row = {"id": uuid.uuid4().hex, "hearing_id": hid, "seat_id": session["seat_id"],
           "code_id": session["code_id"], "kind": kind, "name": "", "reason": "",
           "utterance_id": None, "base_revision": None, "proposed": "",
           "signature_png": None, "signature_sha256": None,
           "transcript_sha256": values["transcript_sha256"],
           "audio_sha256": values["audio_chain_head"], "created_at": utc_now(), **fields}
    store._record("party_acts", "party_act", row, row["id"], hid)
    detail = {k: row[k] for k in ("seat_id", "name", "reason", "utterance_id", "proposed",
                                  "signature_sha256", "transcript_sha256", "audio_sha256")
              if row[k] not in (None, "")}
    store.audit(f"party:{session['seat_id']}", f"party.{kind}", hid, act=row["id"],
                **detail)
    if kind in ("sign", "refuse"):
        end_session(store, session["code_id"])
    return _public(row)


def _name(name: str) -> str:
    name = check_identifier("name", name.strip())
    if not 1 <= len(name) <= 40:
        raise PartyError("请填写姓名（1–40 字）")
    return name


def check_png(data: bytes) -> bytes:
    """``data`` if it is one PNG image of bounded size; else ``PartyError``."""
    from PIL import Image, UnidentifiedImageError

    if not data.startswith(b"\x89PNG\r\n\x1a\n") or len(data) > PNG_MAX_BYTES:
        raise PartyError(f"签名须为 PNG 图像（至多 {PNG_MAX_BYTES // 1024} KB）")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            width, height = image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise PartyError("签名图像无法读取") from None
    if not (1 <= width <= PNG_MAX_SIDE and 1 <= height <= PNG_MAX_SIDE):
        raise PartyError("签名图像尺寸不对")
    return data


def sign(store: Store, session: dict, *, name: str, png: bytes) -> dict:
    """The party signs the record with ``name`` and the PNG they drew."""
    png = check_png(png)
    return _act(store, session, "sign", name=_name(name),
                signature_png=base64.b64encode(png).decode("ascii"),
                signature_sha256=hashlib.sha256(png).hexdigest())


def refuse(store: Store, session: dict, *, name: str, reason: str) -> dict:
    """The party refuses to sign; the refusal and its reason are the record's."""
    if not reason.strip():
        raise PartyError("拒绝签名须写明理由")
    return _act(store, session, "refuse", name=_name(name), reason=reason.strip())


def request_correction(store: Store, session: dict, *, utterance_id: str, proposed: str,
                       reason: str = "") -> dict:
    """The party asks for line ``utterance_id`` to read ``proposed``."""
    revisions = store.revisions(session["hearing_id"], utterance_id)
    if not revisions:
        raise PartyError(f"没有第 {utterance_id} 行")
    if not proposed.strip():
        raise PartyError("请写明应如何更正")
    return _act(store, session, "request", utterance_id=utterance_id,
                base_revision=revisions[-1]["revision"], proposed=proposed.strip(),
                reason=reason.strip())


def handle_request(store: Store, hearing_id: str, act_id: str, *, accept: bool,
                   reason: str = "", user: str) -> dict:
    """The clerk accepts a party's request (a correction revision) or declines it."""
    act = next((a for a in _acts(store, hearing_id) if a["id"] == act_id
                and a["kind"] == "request"), None)
    if act is None:
        raise PartyError(f"本案没有更正申请 {act_id}")
    if store.db.execute("SELECT 1 FROM party_handlings WHERE act_id = ?",
                        [act_id]).fetchone():
        raise PartyError("该更正申请已处理")
    revision = None
    if accept:
        latest = store.revisions(hearing_id, act["utterance_id"])[-1]
        revision = correct_line(store, hearing_id, act["utterance_id"], text=act["proposed"],
                                base_revision=latest["revision"], user=user)["revision"]
    elif not reason.strip():
        raise PartyError("不予采纳须写明理由")
    row = {"id": uuid.uuid4().hex, "act_id": act_id, "hearing_id": hearing_id,
           "outcome": "accepted" if accept else "declined", "reason": reason.strip(),
           "revision": revision, "handled_by": user,
           "name": person(store, user, store.hearing(hearing_id))["label"],
           "created_at": utc_now()}
    store._record("party_handlings", "party_handling", row, row["id"], hearing_id)
    store.audit(user, "party.request_" + row["outcome"], hearing_id, act=act_id,
                revision=revision, reason=row["reason"])
    return row


