"""The hearing lifecycle: open, start, pause, resume, close, each an audit-log entry with
actor and time.

States: ``open`` (created, not yet recording) → ``recording`` ⇄ ``paused`` → ``closed``.
A pause carries one of the reasons the SPC's rules on hearing recordings name (休庭 recess,
不公开质证 non-public examination of evidence, 调解 mediation) or ``other`` with a text; each
resume starts a new recording part. The wall-clock
start of the hearing timeline is recorded at start, together with whether the system clock
was synchronised then; an unsynchronised clock is a warning, not a refusal, because a
hearing must be recordable even when the time server is unreachable.

The close seals the hearing: its ``hearing.close`` audit entry (signed and chained like every
record) carries the hearing's head as it stood (``sealed_head``: segments and the audio
chain's last sha256, records and the record chain's last sha256 and seq), so that ``courtbox
verify`` sees a tail cut from a closed hearing.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from courtbox.config import Config, Seat
from courtbox.errors import HearingError
from courtbox.hardware.clock import clock_synchronized
from courtbox.record.chain import canonical_json, utc_now
from courtbox.record.signers import check_may_close, hearing_signers
from courtbox.record.text import check_identifier

if TYPE_CHECKING:
    from courtbox.record.store import Store

logger = logging.getLogger(__name__)

ALLOWED = {"start": {"open"}, "pause": {"recording"}, "resume": {"paused"},
           "close": {"open", "recording", "paused"}}
PAUSE_REASONS = {"recess": "休庭", "non_public_evidence": "不公开质证", "mediation": "调解",
                 "other": "其他"}


@dataclass(frozen=True)
class HearingInfo:
    case_number: str
    case_type: str = ""
    title: str = ""
    panel: list[str] = field(default_factory=list)
    parties: list[str] = field(default_factory=list)
    clerk: str = ""
    terms: list[str] = field(default_factory=list)  # the case's own words, for recognition
    panel_users: list[str] = field(default_factory=list)  # the panel's accounts: they sign
    clerk_user: str = ""  # the clerk's account (default: who opens it): signs and closes


def open_hearing(store: Store, config: Config, info: HearingInfo, *, actor: str,
                 sample_rate: int, seats: Sequence[Seat] | None = None) -> str:
    """A new hearing with ``seats`` (default: the config's), in the state ``open``."""
    seats = config.seats if seats is None else seats
    channels = max([s.channel + 1 for s in seats]  # and every capsule of an array
                   + [c + 1 for a in config.arrays for c in a.channels])
    check_identifiers(info, seats)
    panel_users, clerk_user = hearing_signers(store, info.panel_users, info.clerk_user, actor)
    hearing_id = store.create_hearing(
        case_number=info.case_number, case_type=info.case_type, title=info.title,
        court=config.court.court, room=config.court.room, panel=info.panel,
        parties=info.parties, clerk=info.clerk, terms=info.terms, sample_rate=sample_rate,
        channels=channels, panel_users=canonical_json(panel_users), clerk_user=clerk_user,
        timezone=config.court.timezone,
        seats=[s.model_dump() for s in seats])  # the store's seat rows
    store.audit(actor, "hearing.open", hearing_id, case_number=info.case_number,
                panel_users=panel_users, clerk_user=clerk_user)
    return hearing_id


def check_identifiers(info: HearingInfo, seats: Sequence[Seat]) -> None:
    """``BadText`` naming the field that holds a control or bidirectional character."""
    check_identifier("case_number", info.case_number)
    for key in ("panel", "parties", "terms", "panel_users"):
        for value in getattr(info, key):
            check_identifier(key, value)
    check_identifier("clerk", info.clerk)
    check_identifier("clerk_user", info.clerk_user)
    for seat in seats:
        check_identifier("seats.id", seat.id)
        check_identifier("seats.name", seat.name)


def hearing_hotwords(hearing: dict) -> tuple[str, ...]:
    """The hearing's own words for the recogniser: the panel, the clerk, the parties and the
    case's terms (names a general model has never heard). Words only: the case number is
    not one (fed to the recogniser, its characters leak into what it hears: 京神病医师 for
    精神病医师), nor is anything with a digit or a bracket in it, nor a single character."""
    words = [hearing.get("clerk") or ""]
    for key in ("panel", "parties", "terms"):
        words += hearing.get(key) or []
    return tuple(dict.fromkeys(w.strip() for w in words if _is_word(w.strip())))


def _is_word(text: str) -> bool:
    return len(text) >= 2 and re.fullmatch(r"[\w·]+", text) is not None \
        and not any(c.isdigit() for c in text)


def _transition(store: Store, hearing_id: str, action: str) -> dict:
    hearing = store.hearing(hearing_id)
    if hearing is None:
        raise HearingError(f"no hearing {hearing_id}")
    if hearing["state"] not in ALLOWED[action]:
        raise HearingError(f"cannot {action} hearing {hearing['case_number']}: it is "
                           f"{hearing['state']}")
    return hearing


def start_hearing(store: Store, hearing_id: str, *, actor: str,
                  warn_clock: bool = True) -> str:
    """Mark the hearing as recording; returns the wall-clock start of its timeline.
    ``warn_clock``: log a warning on a clock not known to be synchronised (False: the
    caller has said so itself, as the demo does before its transcript)."""
    _transition(store, hearing_id, "start")
    synced = clock_synchronized()
    if synced is not True and warn_clock:
        logger.warning("system clock is %s: hearing times rest on an unverified clock",
                       "not synchronised" if synced is False else "of unknown sync state")
    wall_start = utc_now()
    store.update_hearing(hearing_id, state="recording", wall_start=wall_start,
                         clock_synced=None if synced is None else int(synced))
    store.audit(actor, "hearing.start", hearing_id, wall_start=wall_start,
                clock_synced=synced)
    return wall_start


def pause_hearing(store: Store, hearing_id: str, *, actor: str, reason: str,
                  text: str = "") -> None:
    """Pause the recording for one of ``PAUSE_REASONS``; ``other`` needs a text."""
    if reason not in PAUSE_REASONS:
        raise HearingError(f"pause reason {reason!r} is not one of "
                           f"{', '.join(PAUSE_REASONS)}")
    if reason == "other" and not text.strip():
        raise HearingError("a pause for reason 'other' needs a text saying why")
    _transition(store, hearing_id, "pause")
    store.update_hearing(hearing_id, state="paused")
    store.audit(actor, "hearing.pause", hearing_id, reason=reason,
                reason_name=PAUSE_REASONS[reason], text=text)


def resume_hearing(store: Store, hearing_id: str, *, actor: str) -> int:
    """Resume recording; returns the number of the new recording part."""
    _transition(store, hearing_id, "resume")
    part = next_part(store, hearing_id)
    store.update_hearing(hearing_id, state="recording")
    store.audit(actor, "hearing.resume", hearing_id, part=part)
    return part


def next_part(store: Store, hearing_id: str) -> int:
    last = store.db.execute("SELECT MAX(part) FROM audio_segments WHERE hearing_id = ?",
                            [hearing_id]).fetchone()[0]
    return (last or 0) + 1


def sealed_head(store: Store, hearing_id: str) -> dict:
    """The hearing's head now: what its close commits to."""
    segments = store.db.execute(
        "SELECT COUNT(*), (SELECT sha256 FROM audio_segments WHERE hearing_id = ?"
        " ORDER BY part DESC, idx DESC LIMIT 1) FROM audio_segments WHERE hearing_id = ?",
        [hearing_id, hearing_id]).fetchone()
    records = store.db.execute(
        "SELECT COUNT(*), MAX(seq), (SELECT sha256 FROM outbox WHERE hearing_id = ?"
        " ORDER BY seq DESC LIMIT 1) FROM outbox WHERE hearing_id = ?",
        [hearing_id, hearing_id]).fetchone()
    return {"segments": segments[0], "audio_head": segments[1], "records": records[0],
            "last_seq": records[1], "record_head": records[2]}


def close_hearing(store: Store, hearing_id: str, *, actor: str) -> None:
    check_may_close(store, store.hearing(hearing_id) or {"id": hearing_id}, actor)
    _transition(store, hearing_id, "close")
    closed_at = utc_now()
    store.update_hearing(hearing_id, state="closed", closed_at=closed_at)
    store.audit(actor, "hearing.close", hearing_id, closed_at=closed_at,
                sealed=sealed_head(store, hearing_id))
