"""``/api/v1/hearings/{id}/annotations``: the marks on a hearing's timeline (重点, 异议 …),
at a time given or, while recording, now."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException

from courtbox.web.bodies import AnnotationBody
from courtbox.web.deps import API, Api, api_of, hearing_or_404, need

router = APIRouter(prefix=f"{API}/hearings/{{hearing_id}}/annotations",
                   tags=["annotations"])


@router.get("")
def annotations(hearing_id: str, user: dict = need("read"), api: Api = Depends(api_of)
                ) -> list[dict]:
    hearing_or_404(api, hearing_id)
    return api.read(lambda s: s.annotations(hearing_id))


@router.post("", status_code=201)
def annotate(hearing_id: str, body: AnnotationBody, user: dict = need("annotate"),
             api: Api = Depends(api_of)) -> dict:
    hearing_or_404(api, hearing_id)
    t = body.t
    if t is None and api.courtroom is not None:
        t = api.courtroom.timeline_now(hearing_id)
    if t is None:
        raise HTTPException(422, "the hearing is not recording: give the time t")
    ann_id = api.write(lambda s: s.add_annotation(hearing_id=hearing_id, t=round(t, 3),
                                                  label=body.label, text=body.text,
                                                  author=user["name"]))
    row = next(a for a in api.read(lambda s: s.annotations(hearing_id))
               if a["id"] == ann_id)
    api.publish(hearing_id, "annotation", annotation=row)
    return row
