"""A clerk's edits of the transcript's shape: a line moved to another seat, a line split in
two, two lines merged into one. Each is a revision, like a correction of the text
(``courtbox.record.transcript.correct_line``): the line's earlier revisions stay, the new
one is chained into the outbox, by its author at its time, and audited
(``transcript.move``, ``transcript.split``, ``transcript.merge``); the exports read the
latest revision of every line, so they show the seat, the halves and the merged line.

- **move**: the next revision of the line, with the other seat.
- **split** at a character: the next revision of the line keeps the text before it (its
  end moved to the split time), and a new line ``UTTERANCE.N`` — revision 1, a person's
  line from its first revision — holds the rest, from the split time to the old end. The
  split time is in proportion to the characters.
- **merge** of a line with the next one on the timeline: the next revision of the first
  holds both texts and spans both; the second's next revision is empty, which is how the
  record says that a line was merged away (``Store.finals`` leaves it out).

Every edit is made against the revision on screen (``base_revision``) and refused once
the transcript is signed off, as a correction is; each refusal is in the audit log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from courtbox.errors import NoSuchLine, TranscriptError
from courtbox.record.transcript import frozen_refusal

if TYPE_CHECKING:
    from courtbox.record.store import Store

MERGED = ""  # the text of a line's revision that merged it into the line before


def _latest(store: Store, hearing_id: str, utterance_id: str, base_revision: int, *,
            user: str, action: str) -> dict:
    """The line's latest revision, if it may be edited on ``base_revision``."""
    def refuse(message: str) -> None:
        store.audit(user, f"transcript.{action}_refused", hearing_id,
                    utterance=utterance_id, reason=message)
        raise TranscriptError(message)

    hearing = store.hearing(hearing_id)
    revisions = store.revisions(hearing_id, utterance_id)
    if hearing is None or not revisions or revisions[-1]["text"] == MERGED:
        raise NoSuchLine(f"no line {utterance_id} in hearing {hearing_id}")
    if hearing["frozen_at"]:
        refuse(frozen_refusal(hearing))
    latest = revisions[-1]
    if base_revision != latest["revision"]:
        refuse(f"line {utterance_id} was revised meanwhile (now revision "
               f"{latest['revision']}, correction made on {base_revision}); reload it")
    return latest


def _revise(store: Store, line: dict, *, user: str, **changes) -> dict:
    """Write the next revision of ``line`` with ``changes``; returns the new row."""
    revision = changes.pop("revision", line["revision"] + 1)
    row = {k: line[k] for k in ("hearing_id", "utterance_id", "seat", "t0", "t1", "text")}
    row.update(changes)
    row_id = store.add_final(**row, words=[], avg_logprob=None, revision=revision,
                             author=user)
    return store.revisions(line["hearing_id"], row["utterance_id"])[-1] | {"id": row_id}


def move_line(store: Store, hearing_id: str, utterance_id: str, *, seat: str,
              base_revision: int, user: str) -> dict:
    """The line, now said from ``seat`` (a seat of the hearing)."""
    latest = _latest(store, hearing_id, utterance_id, base_revision, user=user,
                     action="move")
    seats = {s["seat_id"] for s in store.seats(hearing_id)}
    if seat not in seats:
        raise NoSuchLine(f"no seat {seat} in hearing {hearing_id}")
    if seat == latest["seat"]:
        return latest
    row = _revise(store, latest, user=user, seat=seat)
    store.audit(user, "transcript.move", hearing_id, utterance=utterance_id,
                revision=row["revision"], seat_from=latest["seat"], seat_to=seat)
    return row


def split_line(store: Store, hearing_id: str, utterance_id: str, *, at: int,
               base_revision: int, user: str) -> tuple[dict, dict]:
    """The line cut before its character ``at``: (the first half, the new second)."""
    latest = _latest(store, hearing_id, utterance_id, base_revision, user=user,
                     action="split")
    text = latest["text"]
    head, tail = text[:at].strip(), text[at:].strip()
    if not 0 < at < len(text) or not head or not tail:
        store.audit(user, "transcript.split_refused", hearing_id, utterance=utterance_id,
                    reason=f"split at {at} of {len(text)} characters")
        raise TranscriptError(f"a split must leave text on both sides (at {at} of "
                              f"{len(text)} characters)")
    t = split_time(latest, at)
    new_id = _free_id(store, hearing_id, utterance_id)
    first = _revise(store, latest, user=user, text=head, t1=t)
    second = _revise(store, latest, user=user, utterance_id=new_id, text=tail, t0=t,
                     revision=1)
    store.audit(user, "transcript.split", hearing_id, utterance=utterance_id,
                revision=first["revision"], new_utterance=new_id, at=at, t=t)
    return first, second


def merge_lines(store: Store, hearing_id: str, utterance_id: str, next_id: str, *,
                base_revision: int, next_revision: int, user: str) -> dict:
    """``next_id`` (the line right after on the timeline) joined onto ``utterance_id``."""
    first = _latest(store, hearing_id, utterance_id, base_revision, user=user,
                    action="merge")
    second = _latest(store, hearing_id, next_id, next_revision, user=user, action="merge")
    lines = [line["utterance_id"] for line in store.finals(hearing_id)]
    if lines.index(next_id) != lines.index(utterance_id) + 1:
        store.audit(user, "transcript.merge_refused", hearing_id, utterance=utterance_id,
                    reason=f"{next_id} is not the next line")
        raise TranscriptError(f"line {next_id} is not the line after {utterance_id}")
    joined = first["text"] + second["text"]
    row = _revise(store, first, user=user, text=joined,
                  t1=max(first["t1"], second["t1"]))
    gone = _revise(store, second, user=user, text=MERGED)
    store.audit(user, "transcript.merge", hearing_id, utterance=utterance_id,
                revision=row["revision"], merged=next_id, merged_revision=gone["revision"])
    return row


def split_time(line: dict, at: int) -> float:
    """When character ``at`` of the line was spoken, in proportion to the characters (the
    machine's word times are of its own spelling, not of the normalised text)."""
    t0, t1 = line["t0"], line["t1"]
    return round(t0 + (t1 - t0) * at / max(1, len(line["text"])), 3)


def _free_id(store: Store, hearing_id: str, utterance_id: str) -> str:
    n = 2
    while store.revisions(hearing_id, f"{utterance_id}.{n}"):
        n += 1
    return f"{utterance_id}.{n}"
