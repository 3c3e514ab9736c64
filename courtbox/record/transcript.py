"""The transcript as the court's record: corrections as revisions, sign-off and freezing.

A correction never overwrites: it is a new revision of the line, by its author, at its time,
chained into the outbox like the machine's own text (revision 0), which stays. The clerk
corrects against the revision on screen (``base_revision``), so two people correcting the
same line cannot silently undo each other.

At the close of the hearing its own panel and clerk (``courtbox.record.signers``) sign the
transcript off, each with their real name and title as they stand then. The first
signature freezes it: it records the sha256 of the transcript as it stands (every
line's latest revision, canonical JSON) and the head of the audio hash chain — the
完整性校验值 the parties may sign — and from then on a correction is refused. Every refusal
is itself in the audit log.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from courtbox.errors import EmptyLine, NoSuchLine, NotASigner, TranscriptError
from courtbox.record.chain import canonical_json, sha256_text, utc_now
from courtbox.record.localtime import court_time, hearing_zone
from courtbox.record.signers import check_may_sign, person

if TYPE_CHECKING:
    from courtbox.record.store import Store

SIGNING_ROLES = ("judge", "clerk")


def transcript_digest(store: Store, hearing_id: str) -> str:
    """sha256 of the transcript as it stands: every line's latest revision, in order."""
    lines = [{k: line[k] for k in ("utterance_id", "seat", "t0", "t1", "text", "revision",
                                   "author")}
             for line in store.finals(hearing_id)]
    return sha256_text(canonical_json(lines))


def integrity_values(store: Store, hearing_id: str) -> dict:
    """What the parties may sign: the transcript's and the audio chain's hashes."""
    signoffs = store.signoffs(hearing_id)
    frozen = signoffs[0] if signoffs else None
    return {
        "transcript_sha256": frozen["transcript_sha256"] if frozen
        else transcript_digest(store, hearing_id),
        "audio_chain_head": frozen["audio_sha256"] if frozen
        else store.last_segment_hash(hearing_id),
        "frozen_at": store.hearing(hearing_id)["frozen_at"],
        "signoffs": [_signer(store, s) for s in signoffs],
    }


def _signer(store: Store, s: dict) -> dict:
    """A sign-off as the pages and the exports show it: who (login, real name, title as
    recorded at signing; older sign-offs: as the account says now) and when."""
    now = person(store, s["user"], store.hearing(s["hearing_id"]))
    name, title = s.get("name") or now["name"], s.get("title") or now["title"]
    return {"user": s["user"], "role": s["role"], "name": name, "title": title,
            "label": f"{title} {name}".strip(), "created_at": s["created_at"]}


def frozen_refusal(hearing: dict) -> str:
    """Why a change of a signed transcript is refused, in the court's words."""
    at = court_time(hearing["frozen_at"], hearing_zone(hearing))
    return (f"笔录已签署（{at}），不能再更正；"
            "签署后的意见请以标注记录")


def correct_line(store: Store, hearing_id: str, utterance_id: str, *, text: str,
                 base_revision: int, user: str) -> dict:
    """Write ``text`` as the next revision of a final line; returns the new row."""
    text = text.strip()

    def refuse(message: str, kind: type[TranscriptError] = TranscriptError):
        store.audit(user, "transcript.correction_refused", hearing_id,
                    utterance=utterance_id, reason=message)
        raise kind(message)

    hearing = store.hearing(hearing_id)
    revisions = store.revisions(hearing_id, utterance_id)
    if not revisions:
        raise NoSuchLine(f"no line {utterance_id} in hearing {hearing_id}")
    if hearing["frozen_at"]:
        refuse(frozen_refusal(hearing))
    if not text:
        refuse("a corrected line cannot be empty", EmptyLine)
    latest = revisions[-1]
    if base_revision != latest["revision"]:
        refuse(f"line {utterance_id} was revised meanwhile (now revision "
               f"{latest['revision']}, correction made on {base_revision}); reload it")
    if text == latest["text"]:
        return latest
    row_id = store.add_final(
        hearing_id=hearing_id, utterance_id=utterance_id, seat=latest["seat"],
        t0=latest["t0"], t1=latest["t1"], text=text, words=[], avg_logprob=None,
        revision=latest["revision"] + 1, author=user)
    store.audit(user, "transcript.correct", hearing_id, utterance=utterance_id,
                revision=latest["revision"] + 1, by=person(store, user, hearing)["label"])
    return store.revisions(hearing_id, utterance_id)[-1] | {"id": row_id}


def sign_off(store: Store, hearing_id: str, *, user: str, role: str) -> dict:
    """Sign the closed hearing's transcript; the first signature freezes it."""
    hearing = store.hearing(hearing_id)
    if hearing["state"] != "closed":
        raise TranscriptError(f"hearing {hearing['case_number']} is {hearing['state']}: "
                              "close it before signing off")
    if role not in SIGNING_ROLES:
        raise NotASigner(f"a {role} does not sign transcripts off")
    check_may_sign(store, hearing, user, role)
    signoffs = store.signoffs(hearing_id)
    if any(s["user"] == user for s in signoffs):
        raise TranscriptError(f"{user} 已签署过案件 {hearing['case_number']} 的笔录")
    if signoffs:
        digest, audio = signoffs[0]["transcript_sha256"], signoffs[0]["audio_sha256"]
    else:
        digest = transcript_digest(store, hearing_id)
        audio = store.last_segment_hash(hearing_id)
        store.update_hearing(hearing_id, frozen_at=utc_now())
    who = person(store, user, hearing)
    row = {"id": uuid.uuid4().hex, "hearing_id": hearing_id, "user": user, "role": role,
           "transcript_sha256": digest, "audio_sha256": audio, "created_at": utc_now(),
           "name": who["name"], "title": who["title"]}
    store._record("signoffs", "signoff", row, row["id"], hearing_id)
    store.audit(user, "transcript.signoff", hearing_id, role=role, transcript_sha256=digest,
                audio_sha256=audio, name=who["name"], title=who["title"])
    return integrity_values(store, hearing_id)
