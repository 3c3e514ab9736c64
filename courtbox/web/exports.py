"""``/api/v1/hearings/{id}/export``: the hearing's record as a document (docx, pdf, txt,
srt, vtt, json), downloaded under its own file name."""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Response

from courtbox.record import export
from courtbox.web.deps import API, Api, api_of, hearing_or_404, need

router = APIRouter(prefix=API, tags=["exports"])


@router.get("/hearings/{hearing_id}/export",
            responses={200: {"content": {t.split(";")[0]: {}
                                         for t in export.MEDIA_TYPES.values()}}})
def export_hearing(hearing_id: str,
                   format: Literal["docx", "pdf", "txt", "srt", "vtt", "json"] = "pdf",
                   user: dict = need("read"), api: Api = Depends(api_of)) -> Response:
    hearing_or_404(api, hearing_id)
    record = api.read(lambda s: export.load_record(s, hearing_id))
    data = export.render(record, format)
    name = export.file_name(record, format)
    return Response(data, media_type=export.MEDIA_TYPES[format], headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})
