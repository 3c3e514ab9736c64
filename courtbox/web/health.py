"""``/api/v1/health``: the box's state, for the technician; the same report is the
heartbeat the centre records (the appliance hands ``box_health`` to the sync API)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from courtbox import __version__
from courtbox.hardware.health import clock_synced
from courtbox.web.deps import API, Api, api_of, need

router = APIRouter(prefix=API, tags=["health"])


def box_health(api: Api) -> dict:
    """The box's state: for the technician, and the heartbeat the centre records."""
    watch, courtroom = api.watch, api.courtroom
    database = watch.database if watch is not None else api.database
    out = {"status": "ok", "version": __version__,
           "database": database() if database is not None else None,
           "clock_synced": clock_synced()}
    if api.sync_lag is not None:
        out["sync"] = api.read(api.sync_lag)
    if watch is not None:
        out.update(watch.read())
        if out["alarms"]:
            out["status"] = "alarm"
        if courtroom is not None:
            active = courtroom.active()
            out["recording"] = active is not None
            out["open_hearing"] = active
            rec = courtroom.stack.recognizer
            if rec is not None:
                out["recognizer"] = rec.metrics().__dict__
    return out


@router.get("/health")
def health(user: dict = need("health"), api: Api = Depends(api_of)) -> dict:
    return box_health(api)
