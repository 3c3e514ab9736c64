"""The parties' review on a tablet (``/party``) and the clerk's side of it.

The clerk (``operate``) issues a one-time code per party seat of a closed hearing and
handles the parties' requests for correction; the party enters the code on ``/party``,
which opens a party session (cookie ``courtbox_party``) that sees its own hearing only: the
lines, the audio (``courtbox.web.audio`` admits it for that hearing), the 完整性校验值; and
signs (a name and a signature drawn on the screen, PNG), refuses with a reason, or asks for
a line's correction. The record logic is ``courtbox.record.parties``.

What a guessing client costs: nothing per try. Wrong codes are counted in memory
(``CodeGate``): ``MAX_FAILURES`` per source and ``MAX_TOTAL`` box-wide within ``WINDOW_S``,
then 429; the audit log gets at most two entries per source per window (its first failure
and the moment it is throttled, with the count) for at most ``MAX_SOURCES`` sources, and
one more for the rest.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from importlib import resources
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from courtbox.errors import BadPartyCode
from courtbox.record import parties
from courtbox.web.deps import API, Api, api_of, hearing_or_404, need
from courtbox.web.logins import client_address, gate_of
from courtbox.web.party_access import PARTY_COOKIE, party_of

WINDOW_S = 300.0
MAX_FAILURES = 10
MAX_TOTAL = 200
MAX_SOURCES = 100

router = APIRouter(tags=["parties"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CodeBody(_Body):
    code: str = Field(min_length=1, max_length=32, description="The code the clerk gave.")


class IssueBody(_Body):
    seat: str = Field(min_length=1, max_length=40, description="A party seat's id.")


class SignBody(_Body):
    name: str = Field(min_length=1, max_length=40, description="The party's name.")
    signature: str = Field(min_length=1, max_length=400_000, description="The drawn "
                           "signature: a PNG as base64 or a data: URL.")


class RefuseBody(_Body):
    name: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=1000)


class RequestBody(_Body):
    utterance_id: str = Field(min_length=1, max_length=200)
    proposed: str = Field(min_length=1, max_length=5000, description="How it should read.")
    reason: str = Field("", max_length=1000)


class HandleBody(_Body):
    accept: bool
    reason: str = Field("", max_length=1000, description="Why not (to decline).")


class CodeGate:
    """Wrong party codes per source and box-wide, in memory, within a window."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._failures: dict[str, int] = {}
        self._total = 0
        self._overflow_noted = False

    def _roll(self) -> None:
        if time.monotonic() - self._start >= WINDOW_S:
            self._start, self._failures, self._total = time.monotonic(), {}, 0
            self._overflow_noted = False

    def blocked(self, source: str) -> bool:
        with self._lock:
            self._roll()
            return self._failures.get(source, 0) >= MAX_FAILURES or self._total >= MAX_TOTAL

    def failed(self, source: str) -> dict | None:
        """Count a wrong code; the audit entry to write now, if any."""
        with self._lock:
            self._roll()
            self._total += 1
            known = source in self._failures
            if not known and len(self._failures) >= MAX_SOURCES:
                if self._overflow_noted:
                    return None
                self._overflow_noted = True
                return {"client": "*", "note": "more sources than are named"}
            count = self._failures[source] = self._failures.get(source, 0) + 1
            if count == 1 or count == MAX_FAILURES:
                return {"client": source, "failures": count, "window_s": WINDOW_S}
            return None


def _gate(request: Request) -> CodeGate:
    state = request.app.state
    if getattr(state, "party_codes", None) is None:
        state.party_codes = CodeGate()
    return state.party_codes


def _page(name: str) -> str:
    return (resources.files("courtbox.web") / "static" / name).read_text("utf-8")


@router.get("/party", include_in_schema=False)
def party_page() -> HTMLResponse:
    return HTMLResponse(_page("party.html"))


@router.get("/web/party/{name}", include_in_schema=False)
def party_script(name: Literal["party.js", "party-clerk.js"]) -> Response:
    return Response(_page(name), media_type="text/javascript")


@router.post(f"{API}/party/session")
def open_party_session(body: CodeBody, request: Request, response: Response,
                       api: Api = Depends(api_of)) -> dict:
    gate = _gate(request)
    source = client_address(request, gate_of(request.app).trusted)
    if gate.blocked(source):
        raise HTTPException(429, "尝试次数过多，请稍后再试或向书记员求助",
                            headers={"Retry-After": str(int(WINDOW_S))})
    try:
        token, session = api.write(lambda s: parties.redeem_code(s, body.code))
    except BadPartyCode:
        note = gate.failed(source)
        if note is not None:
            api.write(lambda s: s.audit("party", "party.code_refused", None, **note))
        raise
    response.set_cookie(PARTY_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https",
                        max_age=parties.SESSION_MINUTES * 60)
    return session


@router.delete(f"{API}/party/session", status_code=204)
def close_party_session(response: Response, session: dict = Depends(party_of),
                        api: Api = Depends(api_of)) -> Response:
    api.write(lambda s: parties.end_session(s, session["code_id"]))
    response.delete_cookie(PARTY_COOKIE)
    response.status_code = 204
    return response


@router.get(f"{API}/party/review")
def party_review(session: dict = Depends(party_of), api: Api = Depends(api_of)) -> dict:
    return api.read(lambda s: parties.review(s, session))


def _png(signature: str) -> bytes:
    data = signature.split(",", 1)[1] if signature.startswith("data:") else signature
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(422, "签名图像须为 base64 编码的 PNG") from None


@router.post(f"{API}/party/sign", status_code=201)
def party_sign(body: SignBody, session: dict = Depends(party_of),
               api: Api = Depends(api_of)) -> dict:
    png = _png(body.signature)
    act = api.write(lambda s: parties.sign(s, session, name=body.name, png=png))
    api.publish(session["hearing_id"], "party", act=act)
    return act


@router.post(f"{API}/party/refuse", status_code=201)
def party_refuse(body: RefuseBody, session: dict = Depends(party_of),
                 api: Api = Depends(api_of)) -> dict:
    act = api.write(lambda s: parties.refuse(s, session, name=body.name,
                                             reason=body.reason))
    api.publish(session["hearing_id"], "party", act=act)
    return act


@router.post(f"{API}/party/requests", status_code=201)
def party_request(body: RequestBody, session: dict = Depends(party_of),
                  api: Api = Depends(api_of)) -> dict:
    act = api.write(lambda s: parties.request_correction(
        s, session, utterance_id=body.utterance_id, proposed=body.proposed,
        reason=body.reason))
    api.publish(session["hearing_id"], "party", act=act)
    return act


@router.post(f"{API}/hearings/{{hearing_id}}/party-codes", status_code=201)
def issue_party_code(hearing_id: str, body: IssueBody, user: dict = need("operate"),
                     api: Api = Depends(api_of)) -> dict:
    hearing_or_404(api, hearing_id)
    return api.write(lambda s: parties.issue_code(s, hearing_id, body.seat,
                                                  actor=user["name"]))


@router.get(f"{API}/hearings/{{hearing_id}}/party-acts")
def party_acts(hearing_id: str, user: dict = need("read"),
               api: Api = Depends(api_of)) -> list[dict]:
    """What the parties did: signatures (without the image), refusals, requests and how
    each request was handled."""
    hearing_or_404(api, hearing_id)
    acts = api.read(lambda s: parties.party_acts(s, hearing_id))
    return [{k: v for k, v in a.items() if k != "signature_png"} for a in acts]


@router.post(f"{API}/hearings/{{hearing_id}}/party-acts/{{act_id}}/handling",
             status_code=201)
def handle_party_request(hearing_id: str, act_id: str, body: HandleBody,
                         user: dict = need("correct"), api: Api = Depends(api_of)) -> dict:
    hearing_or_404(api, hearing_id)
    row = api.write(lambda s: parties.handle_request(s, hearing_id, act_id,
                                                     accept=body.accept, reason=body.reason,
                                                     user=user["name"]))
    api.publish(hearing_id, "party", handling=row)
    return row
