"""What a hearing's timeline holds besides its lines: its pauses (when, for what reason,
until when), read from the audit log, and its stages.

A pause is on the timeline where it happened: the timeline runs on the wall clock from
the hearing's start (``courtbox.room.session``), so a pause at wall time W is at
W − ``wall_start`` seconds. One still going on has no end yet.

The stages of a hearing (宣布开庭 … 宣判) are marks (annotations) whose label is one of
``HEARING_STAGES``: one click for the clerk, and the headings under which the 笔录 groups
the lines that follow each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from courtbox.record.stages import HEARING_STAGES as HEARING_STAGES
from courtbox.record.store import parse_utc

if TYPE_CHECKING:
    from courtbox.record.store import Store

ENDS_A_PAUSE = ("hearing.resume", "hearing.close")


def pauses(store: Store, hearing_id: str) -> list[dict]:
    """The hearing's pauses in order: ``t0``/``t1`` on the timeline (``t1`` None while
    it goes on), ``at0``/``at1`` their UTC times, ``reason``, ``reason_name``, ``text``."""
    hearing = store.hearing(hearing_id)
    if hearing is None or not hearing["wall_start"]:
        return []
    start = parse_utc(hearing["wall_start"])

    def t(at: str) -> float:
        return round(max(0.0, (parse_utc(at) - start).total_seconds()), 3)

    found: list[dict] = []
    for entry in store.audit_entries(hearing_id, "hearing."):
        detail = entry["detail"] or {}
        if entry["action"] == "hearing.pause":
            found.append({"t0": t(entry["at"]), "t1": None, "at0": entry["at"], "at1": None,
                          "reason": detail.get("reason", ""),
                          "reason_name": detail.get("reason_name", ""),
                          "text": detail.get("text", ""), "by": entry["actor"]})
        elif entry["action"] in ENDS_A_PAUSE and found and found[-1]["t1"] is None:
            found[-1].update(t1=t(entry["at"]), at1=entry["at"])
    return found
