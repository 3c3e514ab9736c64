"""``/api/v1/hearings``: list, open, read; the clerk's start, pause (休庭 and the others),
resume and close, which go to the courtroom; and the seats' level meters."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from courtbox.record.hearing import PAUSE_REASONS, HearingInfo
from courtbox.record.localtime import DEFAULT_ZONE
from courtbox.record.timeline import HEARING_STAGES, pauses
from courtbox.record.transcript import integrity_values
from courtbox.record.users import people
from courtbox.web.bodies import HearingBody, PauseBody
from courtbox.web.deps import API, Api, api_of, hearing_or_404, need, the_courtroom

router = APIRouter(prefix=f"{API}/hearings", tags=["hearings"])
LISTED = ("id", "case_number", "court", "room", "state", "wall_start", "created_at",
          "closed_at", "frozen_at")


@router.get("")
def list_hearings(user: dict = need("read"), api: Api = Depends(api_of)) -> list[dict]:
    return [{k: h[k] for k in LISTED} for h in api.read(lambda s: s.hearings())]


@router.post("", status_code=201)
def create_hearing(body: HearingBody, user: dict = need("operate"),
                   api: Api = Depends(api_of)) -> dict:
    room = the_courtroom(api)
    hearing_id = room.open(HearingInfo(**body.model_dump()), actor=user["name"])
    return hearing_or_404(api, hearing_id)


@router.get("/{hearing_id}")
def get_hearing(hearing_id: str, user: dict = need("read"),
                api: Api = Depends(api_of)) -> dict:
    hearing = hearing_or_404(api, hearing_id)
    hearing["seats"] = api.read(lambda s: s.seats(hearing_id))
    hearing["integrity"] = api.read(lambda s: integrity_values(s, hearing_id))
    hearing["pause_reasons"] = PAUSE_REASONS
    hearing["stages"] = HEARING_STAGES
    hearing["people"] = api.read(lambda s: people(s, hearing))  # 书记员 张三, by login
    hearing["timezone"] = hearing.get("timezone") or (
        api.courtroom.config.court.timezone if api.courtroom is not None else DEFAULT_ZONE)
    if api.courtroom is not None:
        hearing["timeline_s"] = api.courtroom.timeline_now(hearing_id)
    return hearing


@router.get("/{hearing_id}/pauses")
def hearing_pauses(hearing_id: str, user: dict = need("read"),
                   api: Api = Depends(api_of)) -> list[dict]:
    """The hearing's pauses on its timeline, with their reasons: ``t0``, ``t1`` (null
    while it goes on), ``at0``, ``at1`` (UTC), ``reason``, ``reason_name``, ``text``."""
    hearing_or_404(api, hearing_id)
    return api.read(lambda s: pauses(s, hearing_id))


def _act(api: Api, hearing_id: str, act) -> dict:
    """One of the clerk's actions on a hearing that exists, by the courtroom; the hearing
    as it is afterwards."""
    hearing_or_404(api, hearing_id)
    act(the_courtroom(api))
    return hearing_or_404(api, hearing_id)


@router.post("/{hearing_id}/start")
def start_hearing(hearing_id: str, user: dict = need("operate"),
                  api: Api = Depends(api_of)) -> dict:
    return _act(api, hearing_id, lambda room: room.start(hearing_id, user["name"]))


@router.post("/{hearing_id}/pause")
def pause_hearing(hearing_id: str, body: PauseBody, user: dict = need("operate"),
                  api: Api = Depends(api_of)) -> dict:
    """休庭 and the other pauses: ``reason`` is one of ``PAUSE_REASONS``; ``other``
    needs a ``text``."""
    return _act(api, hearing_id,
                lambda room: room.pause(hearing_id, user["name"], body.reason, body.text))


@router.post("/{hearing_id}/resume")
def resume_hearing(hearing_id: str, user: dict = need("operate"),
                   api: Api = Depends(api_of)) -> dict:
    return _act(api, hearing_id, lambda room: room.resume(hearing_id, user["name"]))


@router.post("/{hearing_id}/close")
def close_hearing(hearing_id: str, user: dict = need("operate"),
                  api: Api = Depends(api_of)) -> dict:
    return _act(api, hearing_id, lambda room: room.close(hearing_id, user["name"]))


@router.get("/{hearing_id}/levels")
def levels(hearing_id: str, user: dict = need("levels"), api: Api = Depends(api_of)
           ) -> dict:
    hearing_or_404(api, hearing_id)
    room = api.courtroom
    return (room.levels.get(hearing_id) if room is not None else None) or {"seats": []}
