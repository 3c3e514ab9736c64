"""The transcript of a hearing: its final lines (paged, searchable), the partial lines of
the moment, each line's revisions, corrections (new revisions, never overwrites) and the
sign-off that freezes it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from courtbox.record.edits import merge_lines, move_line, split_line
from courtbox.record.store import SQLITE_MAX
from courtbox.record.transcript import correct_line, sign_off
from courtbox.web.bodies import CorrectionBody, MergeBody, MoveBody, SplitBody
from courtbox.web.deps import API, Api, api_of, decoded, hearing_or_404, need

router = APIRouter(prefix=f"{API}/hearings/{{hearing_id}}", tags=["transcript"])


def _line(row: dict) -> dict:
    return {**row, "words": decoded(row["words"])}


@router.get("/transcript")
def transcript(hearing_id: str, response: Response,
               after: int = Query(0, ge=0, le=SQLITE_MAX,
                                  description="Only lines with id > after."),
               limit: int = Query(1000, ge=1, le=10000),
               offset: int = Query(0, ge=0, le=SQLITE_MAX),
               q: str | None = Query(None, min_length=1, max_length=200,
                                     description="Only lines containing this text."),
               user: dict = need("read"), api: Api = Depends(api_of)) -> list[dict]:
    hearing_or_404(api, hearing_id)
    lines = api.read(lambda s: s.finals(hearing_id, after, limit=limit, offset=offset,
                                        query=q))
    response.headers["X-Total-Count"] = str(api.read(lambda s: s.count_finals(hearing_id)))
    return [_line(line) for line in lines]


@router.get("/partials")
def partial_lines(hearing_id: str, user: dict = need("read"),
                  api: Api = Depends(api_of)) -> list[dict]:
    """What each seat is saying right now, tentatively: ``text`` with its first
    ``stable`` characters agreed by two successive hypotheses."""
    hearing_or_404(api, hearing_id)
    return api.partials(hearing_id) if api.partials is not None else []


@router.get("/transcript/{utterance_id}/revisions")
def revisions(hearing_id: str, utterance_id: str, user: dict = need("read"),
              api: Api = Depends(api_of)) -> list[dict]:
    rows = api.read(lambda s: s.revisions(hearing_id, utterance_id))
    if not rows:
        raise HTTPException(404, f"no line {utterance_id} in hearing {hearing_id}")
    return [_line(r) for r in rows]


@router.post("/transcript/{utterance_id}/corrections", status_code=201)
def correct(hearing_id: str, utterance_id: str, body: CorrectionBody,
            user: dict = need("correct"), api: Api = Depends(api_of)) -> dict:
    hearing_or_404(api, hearing_id)
    row = api.write(lambda s: correct_line(s, hearing_id, utterance_id, text=body.text,
                                           base_revision=body.base_revision,
                                           user=user["name"]))
    line = _line(row)
    api.publish(hearing_id, "correction", line=line)
    return line


@router.post("/transcript/{utterance_id}/seat", status_code=201)
def move(hearing_id: str, utterance_id: str, body: MoveBody, user: dict = need("correct"),
         api: Api = Depends(api_of)) -> dict:
    """The line said from another seat: its next revision."""
    hearing_or_404(api, hearing_id)
    line = _line(api.write(lambda s: move_line(s, hearing_id, utterance_id, seat=body.seat,
                                               base_revision=body.base_revision,
                                               user=user["name"])))
    api.publish(hearing_id, "correction", line=line)
    return line


@router.post("/transcript/{utterance_id}/split", status_code=201)
def split(hearing_id: str, utterance_id: str, body: SplitBody, user: dict = need("correct"),
          api: Api = Depends(api_of)) -> list[dict]:
    """The line cut in two before character ``at``: [the first half, the new line]."""
    hearing_or_404(api, hearing_id)
    first, second = api.write(lambda s: split_line(
        s, hearing_id, utterance_id, at=body.at, base_revision=body.base_revision,
        user=user["name"]))
    lines = [_line(first), _line(second)]
    api.publish(hearing_id, "correction", line=lines[0])
    api.publish(hearing_id, "final", line=lines[1])
    return lines


@router.post("/transcript/{utterance_id}/merge", status_code=201)
def merge(hearing_id: str, utterance_id: str, body: MergeBody, user: dict = need("correct"),
          api: Api = Depends(api_of)) -> dict:
    """The next line joined onto this one; the next one is gone from the transcript."""
    hearing_or_404(api, hearing_id)
    line = _line(api.write(lambda s: merge_lines(
        s, hearing_id, utterance_id, body.next, base_revision=body.base_revision,
        next_revision=body.next_revision, user=user["name"])))
    api.publish(hearing_id, "correction", line=line)
    api.publish(hearing_id, "removed", utterance_id=body.next)
    return line


@router.post("/signoff", status_code=201)
def signoff(hearing_id: str, user: dict = need("sign"), api: Api = Depends(api_of)) -> dict:
    hearing_or_404(api, hearing_id)
    values = api.write(lambda s: sign_off(s, hearing_id, user=user["name"],
                                          role=user["role"]))
    api.publish(hearing_id, "signoff", integrity=values)
    return values
