"""``/api/v1/hearings/{id}/audio``: a seat's (or the mix's) archived audio as WAV on the
hearing's timeline, with HTTP Range to start anywhere."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response
from fastapi.responses import StreamingResponse

from courtbox.record.playback import HearingAudio, RangeError
from courtbox.web.deps import API, Api, api_of, hearing_or_404
from courtbox.web.party_access import reader_or_party

router = APIRouter(prefix=API, tags=["audio"])


@router.get("/hearings/{hearing_id}/audio", response_class=StreamingResponse,
            responses={200: {"content": {"audio/wav": {}}}, 206: {}, 416: {}})
def audio(hearing_id: str, seat: str = Query("mix", max_length=40,
                                             description="A seat id, or mix."),
          range_: Annotated[str | None, Header(alias="range")] = None,
          user: dict = Depends(reader_or_party), api: Api = Depends(api_of)) -> Response:
    """The seat's (or the mix's) archived audio as WAV on the hearing's timeline; HTTP
    Range to start anywhere."""
    hearing = hearing_or_404(api, hearing_id)
    seats = api.read(lambda s: s.seats(hearing_id))
    channels = ([s["channel"] for s in seats] if seat == "mix"
                else [s["channel"] for s in seats if s["seat_id"] == seat])
    if not channels:
        raise HTTPException(404, f"no seat {seat} in hearing {hearing_id}")
    wav = HearingAudio(api.data_dir, api.read(lambda s: s.segments(hearing_id)),
                       hearing["sample_rate"], channels)
    try:
        span = wav.byte_range(range_)
    except RangeError as e:
        return Response(json.dumps({"detail": str(e)}), 416,
                        headers={"Content-Range": f"bytes */{wav.size}"},
                        media_type="application/json")
    first, last = span or (0, wav.size - 1)
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(last - first + 1),
               "Cache-Control": "no-store"}
    if span:
        headers["Content-Range"] = f"bytes {first}-{last}/{wav.size}"
    return StreamingResponse(wav.iter_bytes(first, last), 206 if span else 200,
                             headers=headers, media_type="audio/wav")
