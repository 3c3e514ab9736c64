"""``/api/v1/boxes`` and ``/api/v1/courts``: the operations dashboard's data, filtered,
sorted and paged in PostgreSQL (``courtbox.central.web.fleet``), the boxes that need a
technician first by default."""

from __future__ import annotations

import time
from typing import Literal

from fastapi import APIRouter, Query, Request

from courtbox.central.web import fleet
from courtbox.central.web.deps import API, need, web_of
from courtbox.central.web.errors import ERRORS
from courtbox.central.web.models import BoxPage, BoxRow, CourtRow

router = APIRouter(prefix=API, tags=["operations"], responses=ERRORS)
COUNTS_S = 5.0  # the fleet's counts, computed at most this often per process (every viewer)
_counts: dict[str, tuple[float, dict]] = {}


def fleet_counts(web, conn, limits: dict) -> dict:
    key = f"{id(web)}:{limits}"
    hit = _counts.get(key)
    if hit is None or time.monotonic() - hit[0] > COUNTS_S:
        _counts.clear()  # one app, one entry
        hit = _counts[key] = (time.monotonic(), fleet.counts(conn, **limits))
    return hit[1]


def _row(web, r: dict) -> BoxRow:
    return BoxRow(
        id=r["id"], url=r["url"], box_id=r["box_id"], court=r["court"], room=r["room"],
        state=r["state"], state_name=fleet.STATE_NAMES[r["state"]], issues=r["issues"],
        issue_names=[fleet.ISSUES[i] for i in r["issues"]], priority=r["priority"],
        heartbeat_at=web.local(r["heartbeat_at"]),
        heartbeat_age_s=round(r["age_s"], 1) if r["age_s"] is not None else None,
        open_hearing=r["open_hearing"], disk_hours_left=r["disk_hours"],
        disk_full=r["disk_full"], dead_mics=r["dead_mics"],
        clock_synced=r["clock_synced"], box_unacked_records=r["lag_records"],
        box_unacked_bytes=r["lag_bytes"], not_pulled_records=r["not_pulled"],
        held_records=r["held_records"], held_bytes=r["held_bytes"],
        quarantined=r["quarantined"], blocked=r["blocked"], alarms=r["alarms"],
        last_error=r["last_error"], version=r["version"])


@router.get("/boxes", response_model=BoxPage)
def boxes(request: Request,
          court: str | None = Query(None, max_length=200, description="Exactly this court."),
          state: Literal["recording", "idle", "unreachable"] | None = None,
          text: str | None = Query(None, max_length=100, description="In the url, box id, "
                                   "court or room."),
          needs_technician: bool = Query(False, description="Only boxes with an issue."),
          sort: Literal[tuple(fleet.SORTS)] = Query(  # type: ignore[valid-type]
              "attention", description="attention: the boxes that need a technician "
              "first (unreachable, quarantine, dead mics, disk low, clock off, …)."),
          order: Literal["asc", "desc"] | None = Query(None, description="Default: each "
                                                      "sort's natural order."),
          limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=10**7),
          user: dict = need("boxes")) -> BoxPage:
    """The boxes, per court and room, with their state, issues, heartbeat age, disk,
    microphones, clock, backlog and quarantine; ``counts`` over the whole fleet (at most
    five seconds old)."""
    web = web_of(request)
    limits = {"unreachable_s": web.unreachable_s, "disk_low": web.config.web.disk_low_hours}
    filters = {"court": court, "state": state, "text": text,
               "needs_technician": needs_technician}
    with web.db() as conn:
        total, rows = fleet.page(conn, filters, sort=sort, order=order, limit=limit,
                                 offset=offset, **limits)
        counts = fleet_counts(web, conn, limits)
    return BoxPage(total=total, limit=limit, offset=offset, counts=counts,
                   unreachable_after_s=web.unreachable_s, items=[_row(web, r) for r in rows])


@router.get("/courts", response_model=list[CourtRow])
def courts(request: Request, user: dict = need("any")) -> list[CourtRow]:
    """Every court a box or a hearing names, with how many of each (for the filters)."""
    web = web_of(request)
    with web.db() as conn:
        rows = fleet.courts(conn, unreachable_s=web.unreachable_s,
                            disk_low=web.config.web.disk_low_hours)
    return [CourtRow(court=c, boxes=b, hearings=h) for c, b, h in rows]
