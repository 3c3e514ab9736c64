"""The recogniser's own revisions of the record: its second reading of a seat's whole turn
(``transcribe.turns``), written as revisions by ``RECOGNISER``, distinct from a person's
correction (``record.transcript``, ``record.edits``), audited and chained like them. Kept
apart from those so that the recorder, which writes them, needs nothing of sign-off."""

from __future__ import annotations

from typing import TYPE_CHECKING

from courtbox.errors import NoSuchLine

if TYPE_CHECKING:
    from courtbox.record.store import Store

RECOGNISER = "recogniser"  # the author of a recogniser's revision (its second reading)
MACHINE = ("asr", RECOGNISER)  # authors whose text the recogniser may revise


def recogniser_revision(store: Store, hearing_id: str, utterance_id: str, *, text: str,
                        t1: float, words: list[dict], avg_logprob: float | None,
                        merged: tuple[str, ...] = ()) -> dict | None:
    """The recogniser's second reading of a seat's whole turn (``transcribe.turns``): the
    turn's first line gets ``text`` and the turn's end ``t1`` as its next revision, and each
    ``merged`` later line an empty one (merged into the first), all by ``RECOGNISER``:
    audited, distinct from a person's correction, the machine's first text kept as
    revision 0. Never over a person's correction nor a signed transcript: then nothing is
    written (audited) and None returned."""
    hearing = store.hearing(hearing_id)
    latest = {}
    for uid in (utterance_id, *merged):
        revisions = store.revisions(hearing_id, uid)
        if not revisions:
            raise NoSuchLine(f"no line {uid} in hearing {hearing_id}")
        latest[uid] = revisions[-1]
    person = next((r["author"] for r in latest.values() if r["author"] not in MACHINE),
                  None)
    if hearing["frozen_at"] or person:
        store.audit(RECOGNISER, "transcript.recogniser_revision_skipped", hearing_id,
                    utterance=utterance_id, merged=list(merged),
                    reason="signed off" if hearing["frozen_at"] else f"corrected by {person}")
        return None
    first = latest[utterance_id]
    row_id = store.add_final(
        hearing_id=hearing_id, utterance_id=utterance_id, seat=first["seat"],
        t0=first["t0"], t1=max(t1, first["t1"]), text=text, words=words,
        avg_logprob=avg_logprob, revision=first["revision"] + 1, author=RECOGNISER)
    for uid in merged:
        row = latest[uid]
        store.add_final(hearing_id=hearing_id, utterance_id=uid, seat=row["seat"],
                        t0=row["t0"], t1=row["t1"], text="", words=[], avg_logprob=None,
                        revision=row["revision"] + 1, author=RECOGNISER)
    store.audit(RECOGNISER, "transcript.recogniser_revision", hearing_id,
                utterance=utterance_id, revision=first["revision"] + 1, merged=list(merged))
    return store.revisions(hearing_id, utterance_id)[-1] | {"id": row_id}
