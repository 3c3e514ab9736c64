"""The court's local time: what a person reads wherever the record shows a moment.

The record keeps UTC (``utc_now``); pages, refusals and exports show the hearing's own time
zone, recorded when it was opened (``court.timezone``, default Asia/Shanghai), as
``2026-03-02 09:30:00``, never a raw UTC ISO string.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Asia/Shanghai"


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name or DEFAULT_ZONE)


def hearing_zone(hearing: dict | None) -> str:
    """The time zone a hearing was opened in (older hearings: the default)."""
    return (hearing or {}).get("timezone") or DEFAULT_ZONE


def court_time(stamp: str | None, zone: str = DEFAULT_ZONE, seconds: float = 0.0) -> str:
    """A UTC stamp (plus ``seconds``) in ``zone``, as a 笔录 writes it; "" for none."""
    if not stamp:
        return ""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(seconds=seconds)
    return moment.astimezone(_zone(zone)).strftime("%Y-%m-%d %H:%M:%S")
