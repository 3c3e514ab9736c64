"""Which HTTP status each refusal of the box is: the one place the record's and the room's
exceptions (``courtbox.errors``) meet HTTP. Each answers JSON ``{"detail": message}``; a
class not named here answers by its nearest named base."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request, Response

from courtbox.errors import (
    AudioError,
    AuthError,
    CourtboxError,
    EmptyLine,
    ExportError,
    HearingError,
    NoSuchLine,
    NotASigner,
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
}


def error_response(status: int, message: str) -> Response:
    return Response(json.dumps({"detail": message}, ensure_ascii=False), status,
                    media_type="application/json")


def install(app: FastAPI) -> None:
    for kind, status in STATUSES.items():
        app.add_exception_handler(kind, _handler(status))


def _handler(status: int):
    async def handler(request: Request, exc: Exception) -> Response:
        return error_response(status, str(exc))
    return handler
