"""The limits every request meets before a router sees it: the body's size and, for a JSON
body, one strict parser for every route.

Python's ``json`` reads ``NaN``, ``Infinity`` and ``1e999`` (a float that overflows) and
``"\\ud800"`` (half a surrogate pair, which no UTF-8 text can hold): each would reach a
route, fail when its answer or its row is written, and answer 500. Here such a body is 422
with the reason, once, for every route; so is one nested deeper than any body of this API.
"""

from __future__ import annotations

import json
import math

MAX_BODY = 1 << 20  # no request of this API carries more; a bigger one is refused (413)
MAX_DEPTH = 32  # no body of this API nests deeper


class BadJson(ValueError):
    """A body the strict parser refuses, with the reason."""


def _constant(name: str) -> float:
    raise BadJson(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJson(f"the number {text[:40]} is out of range")
    return value


def strict_json(body: bytes) -> object:
    """``body`` parsed as JSON, or ``BadJson``: UTF-8 only, finite numbers only, no lone
    surrogates in strings or keys, at most ``MAX_DEPTH`` levels."""
    try:
        text = body.decode("utf-8")
        value = json.loads(text, parse_constant=_constant, parse_float=_float)
    except UnicodeDecodeError as e:
        raise BadJson(f"the body is not UTF-8 (byte {e.start})") from e
    except RecursionError as e:
        raise BadJson(f"the body nests deeper than {MAX_DEPTH} levels") from e
    except ValueError as e:  # JSONDecodeError, BadJson, int's digit limit
        raise BadJson(str(e)) from e
    _check(value, 0)
    return value


def _check(value: object, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise BadJson(f"the body nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise BadJson(f"a string holds an unpaired surrogate "
                          f"(\\u{ord(value[e.start]):04x})") from e
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, depth + 1)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)


def _is_json(headers: dict[bytes, bytes]) -> bool:
    kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return not kind or kind == b"application/json" or kind.endswith(b"+json")


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413 before it is read whole,
    whether it announces its length or arrives chunked; a ``Content-Length`` that is not a
    number is 400; a JSON body (or one without a type, which FastAPI reads as JSON) must
    pass ``strict_json`` (422). The body is read here, up to the limit, then handed on."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None:
            length = length.strip()
            if not length.isdigit():
                return await _refuse(send, 400, "Content-Length is not a number of bytes")
            if len(length) > len(str(self.max_bytes)) or int(length) > self.max_bytes:
                return await self._too_big(send)
        elif b"transfer-encoding" not in headers:
            return await self.app(scope, receive, send)
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                return await self._too_big(send)
            if not message.get("more_body"):
                break
        if body and _is_json(headers):
            try:
                strict_json(bytes(body))
            except BadJson as e:
                return await _refuse(send, 422, f"body: {e}")
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    async def _too_big(self, send) -> None:
        await _refuse(send, 413, f"request body over {self.max_bytes} bytes")


async def _refuse(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
