"""``/api/v1/hearings`` and ``/api/v1/holds``: the e-case file feed for the archivists and
the court's case-management system (``courtbox.central.web.casefile`` holds the SQL).

A hearing is named by its id (the box made it, a UUID); ``box_id`` narrows it should two
boxes ever hold the same id (409 until it does)."""

from __future__ import annotations

import asyncio
from datetime import date

from fastapi import APIRouter, Path, Query, Request

from courtbox.central.web import accounts, casefile
from courtbox.central.web.deps import API, Web, client_of, need, web_of
from courtbox.central.web.errors import ERRORS, Refused
from courtbox.central.web.models import (
    HearingDetail,
    HearingPage,
    HearingRow,
    HoldBody,
    HoldOut,
    Line,
    Mark,
    Pause,
    Seat,
    Segment,
    Signoff,
    Transcript,
)

router = APIRouter(prefix=API, tags=["e-case file"], responses=ERRORS)
HEARING_ID = Path(pattern=r"^[A-Za-z0-9_.:-]{1,100}$", description="The hearing's id.")
BOX_ID = Query(None, pattern=r"^[A-Za-z0-9_.:-]{1,100}$",
               description="The box's id, should two boxes hold the same hearing id.")


def _row(web: Web, h: dict) -> dict:
    return {k: h.get(k) for k in ("box_id", "hearing_id", "case_number", "case_type",
                                  "title", "court", "room", "state", "match")} | {
        "created_at": web.local(h["created_at"]), "closed_at": web.local(h["closed_at"])}


@router.get("/hearings", response_model=HearingPage)
def search(request: Request,
           case_number: str | None = Query(None, max_length=200, description="Part of the "
                                           "case number (案号)."),
           court: str | None = Query(None, max_length=200, description="Exactly this court."),
           date_from: date | None = Query(None, description="Opened on or after this day "
                                          "(the court's local date)."),
           date_to: date | None = Query(None, description="Opened on or before this day."),
           text: str | None = Query(None, min_length=2, max_length=100, description="Said "
                                    "in the transcript (any revision) or in the title."),
           limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=10**7),
           user: dict = need("hearings")) -> HearingPage:
    """Hearings across every box, newest first."""
    web = web_of(request)
    if date_from and date_to and date_from > date_to:
        raise Refused(422, "date_from is after date_to", message="起始日期晚于结束日期")
    with web.db() as conn:
        total, rows = casefile.search(conn, case_number=case_number, court=court,
                                      date_from=date_from, date_to=date_to, text=text,
                                      tz=web.tz, limit=limit, offset=offset)
    return HearingPage(total=total, limit=limit, offset=offset,
                       items=[HearingRow(**_row(web, r)) for r in rows])


def one_hearing(web: Web, conn, hearing_id: str, box_id: str | None) -> dict:
    found = casefile.hearings(conn, hearing_id, box_id)
    if not found:
        raise Refused(404, f"no hearing {hearing_id}", message="没有这个庭审")
    if len(found) > 1:
        raise Refused(409, f"hearing {hearing_id} is held of several boxes: name box_id",
                      code="ambiguous_hearing", message="多台设备有此庭审编号，请指定设备")
    return found[0]


def _segments(web: Web, conn, records: list[dict]) -> list[Segment]:
    sizes = casefile.object_sizes(conn, [str(r.get("sha256")) for r in records])
    out = []
    for r in records:
        sha, rate = str(r.get("sha256")), r.get("sample_rate") or 0
        if sha not in sizes:
            continue  # not (yet) in the object store
        out.append(Segment(
            sha256=sha, part=r.get("part"), idx=r.get("idx"),
            t0=round(r["start_sample"] / rate, 3) if rate and r.get("start_sample")
            is not None else None,
            duration_s=round(r["frames"] / rate, 3) if rate and r.get("frames") else None,
            size=sizes[sha], channels=r.get("channels"), url=f"{API}/audio/{sha}"))
    return out


@router.get("/hearings/{hearing_id}", response_model=HearingDetail)
def hearing(request: Request, hearing_id: str = HEARING_ID, box_id: str | None = BOX_ID,
            user: dict = need("hearings")) -> HearingDetail:
    """One hearing: its metadata, seats, sign-offs, marks, pauses and audio segments."""
    web = web_of(request)
    with web.db() as conn:
        h = one_hearing(web, conn, hearing_id, box_id)
        p = casefile.parts(conn, h["box_id"], hearing_id)
        segments = _segments(web, conn, p["audio_segment"])
        lines = casefile.line_count(conn, h["box_id"], hearing_id)
    rec = h["record"] if isinstance(h["record"], dict) else {}
    s = str
    return HearingDetail(
        **_row(web, h), panel=casefile.as_list(rec.get("panel")),
        parties=casefile.as_list(rec.get("parties")), clerk=s(rec.get("clerk") or ""),
        wall_start=web.local(casefile.parse_time(rec.get("wall_start"))),
        timezone=s(rec.get("timezone") or web.config.web.timezone),
        sample_rate=rec.get("sample_rate") if isinstance(rec.get("sample_rate"), int)
        else None, channels=rec.get("channels") if isinstance(rec.get("channels"), int)
        else None,
        seats=[Seat(seat_id=s(x.get("seat_id", "")), channel=x.get("channel"),
                    role=s(x.get("role", "")), name=s(x.get("name", "")))
               for x in p["seat"]],
        signoffs=[Signoff(user=s(x.get("user", "")), role=s(x.get("role", "")),
                          name=s(x.get("name") or x.get("user", "")),
                          transcript_sha256=s(x.get("transcript_sha256", "")),
                          audio_sha256=x.get("audio_sha256"),
                          created_at=web.local(casefile.parse_time(x.get("created_at"))))
                  for x in p["signoff"]],
        marks=[Mark(id=s(x.get("id", "")), t=x.get("t"), label=s(x.get("label", "")),
                    text=s(x.get("text", "")), author=s(x.get("author", "")),
                    created_at=web.local(casefile.parse_time(x.get("created_at"))))
               for x in p["annotation"]],
        pauses=[Pause(**{**x, "at0": web.local(x["at0"]), "at1": web.local(x["at1"])})
                for x in casefile.pauses(p["audit"], rec.get("wall_start"))],
        segments=segments, lines=lines, record=rec)


@router.get("/hearings/{hearing_id}/transcript", response_model=Transcript)
def transcript(request: Request, hearing_id: str = HEARING_ID, box_id: str | None = BOX_ID,
               user: dict = need("hearings")) -> Transcript:
    """The final transcript: per line its latest revision, with the earlier ones."""
    web = web_of(request)
    with web.db() as conn:
        h = one_hearing(web, conn, hearing_id, box_id)
        seats = {str(x.get("seat_id")): str(x.get("name", ""))
                 for x in casefile.parts(conn, h["box_id"], hearing_id)["seat"]}
        rows = casefile.revisions(conn, h["box_id"], hearing_id)

    def rev(r: dict) -> dict:
        return {"revision": r["revision"], "text": r["text"], "author": r["author"],
                "created_at": web.local(r["created_at"])}

    lines = [Line(utterance_id=r["utterance_id"], seat=r["seat"],
                  seat_name=seats.get(str(r["seat"]), str(r["seat"] or "")), t0=r["t0"],
                  t1=r["t1"], **rev(r), earlier=[rev(e) for e in r["earlier"]])
             for r in casefile.transcript(rows)]
    return Transcript(box_id=h["box_id"], hearing_id=hearing_id, lines=lines)


@router.post("/holds", response_model=HoldOut)
async def hold(body: HoldBody, request: Request, user: dict = need("holds")) -> HoldOut:
    """Put every audio object of the case's hearings (on any box) under legal hold in
    the object store, or release it; audited."""
    web = web_of(request)
    shas = await asyncio.to_thread(web.store.hold, body.case_number, release=body.release,
                                   actor=f"web:{user['name']}")
    if not shas and not body.release:
        raise Refused(404, f"no audio held for case {body.case_number!r}",
                      message="此案号下没有音频")
    action = "release" if body.release else "hold"

    def write() -> None:
        with web.db() as conn:
            accounts.audit(conn, user["name"], action, client=client_of(request),
                           target=body.case_number, objects=len(shas))

    await asyncio.to_thread(write)
    return HoldOut(case_number=body.case_number, action=action, objects=len(shas))
