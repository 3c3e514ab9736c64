"""Which HTTP status each refusal of the box is: the one place the record's and the room's
exceptions (``courtbox.errors``) meet HTTP. Each answers JSON ``{"detail": message}``; a
class not named here answers by its nearest named base. A request FastAPI cannot validate
is 422 listing each field's location and reason, with the input it got only where that
can be written back as JSON (never a 500 because the reason cannot be told)."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError

from courtbox.errors import (
    AudioError,
    AuthError,
    BadPartyCode,
    BadText,
    CourtboxError,
    EmptyLine,
    ExportError,
    HearingError,
    NoSuchLine,
    NotASigner,
    NotYourHearing,
    PartyError,
    StoreError,
    SyncError,
    TranscriptError,
)

STATUSES: dict[type[CourtboxError], int] = {
    CourtboxError: 400,
    HearingError: 409,      # not in the hearing's current state
    AuthError: 422,         # a bad name, role or password for an account
    AudioError: 503,        # a device or file that cannot be opened
    StoreError: 409,
    SyncError: 409,
    ExportError: 422,
    TranscriptError: 409,   # frozen, revised meanwhile, not closed, signed already
    NoSuchLine: 404,
    EmptyLine: 422,
    NotASigner: 403,
    BadText: 422,           # a control or bidi character in an identifier
    NotYourHearing: 403,    # not the hearing's own panel or clerk
    PartyError: 409,        # a party's act the review's state refuses
    BadPartyCode: 401,      # an unknown, used or expired party code
}


def error_response(status: int, message: str) -> Response:
    return Response(json.dumps({"detail": message}, ensure_ascii=False), status,
                    media_type="application/json")


def install(app: FastAPI) -> None:
    for kind, status in STATUSES.items():
        app.add_exception_handler(kind, _handler(status))
    app.add_exception_handler(RequestValidationError, _invalid)


def _writable(value: object) -> bool:
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError):
        return False
    return True


async def _invalid(request: Request, exc: Exception) -> Response:
    errors = []
    for err in exc.errors():  # type: ignore[attr-defined]
        shown = {k: err[k] for k in ("type", "loc", "msg") if k in err}
        shown.update({k: err[k] for k in ("input", "ctx") if k in err and _writable(err[k])})
        errors.append(shown if _writable(shown) else {"type": str(err.get("type")),
                                                      "msg": str(err.get("msg"))})
    return Response(json.dumps({"detail": errors}, ensure_ascii=False), 422,
                    media_type="application/json")


def _handler(status: int):
    async def handler(request: Request, exc: Exception) -> Response:
        return error_response(status, str(exc))
    return handler
