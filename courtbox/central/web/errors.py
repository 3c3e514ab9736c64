"""How the web service refuses: every 4xx is JSON ``{"code", "message", "detail"}``, an
English machine ``code``, a Chinese ``message`` for the court's user and an English
``detail`` (for a malformed request, the list of fields and why). ``Refused`` is raised by
the routers; FastAPI's own validation errors and HTTP errors get the same shape."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from courtbox.errors import CourtboxError

MESSAGES = {
    400: ("bad_request", "请求有误"),
    401: ("login_required", "请先登录"),
    403: ("forbidden", "您的角色无权进行此操作"),
    404: ("not_found", "没有找到"),
    405: ("method_not_allowed", "不支持此请求方法"),
    409: ("conflict", "当前状态不允许此操作"),
    413: ("too_large", "请求过大"),
    416: ("range_not_satisfiable", "请求的音频范围无效"),
    422: ("invalid_request", "请求参数有误"),
    429: ("too_many_attempts", "登录失败次数过多，请稍后再试"),
    503: ("unavailable", "服务暂时不可用，请稍后再试"),
}


class ErrorBody(BaseModel):
    code: str = Field(description="What was refused, in English (machine field).")
    message: str = Field(description="The same for the court's user, in Chinese.")
    detail: Any = Field(None, description="Why, in English: a sentence, or the fields of "
                        "a malformed request with their reasons.")


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (400, 401, 403, 404, 409, 422, 429, 503)}


class Refused(Exception):
    def __init__(self, status: int, detail: str, *, code: str | None = None,
                 message: str | None = None, headers: dict | None = None) -> None:
        super().__init__(detail)
        default_code, default_message = MESSAGES.get(status, ("error", "请求被拒绝"))
        self.status, self.detail = status, detail
        self.code, self.message = code or default_code, message or default_message
        self.headers = headers or {}


def body(status: int, code: str, message: str, detail: Any,
         headers: dict | None = None) -> Response:
    return Response(json.dumps({"code": code, "message": message, "detail": detail},
                               ensure_ascii=False), status, headers=headers,
                    media_type="application/json")


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return body(exc.status, exc.code, exc.message, exc.detail, exc.headers)


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code, message = MESSAGES.get(exc.status_code, ("error", "请求被拒绝"))
    return body(exc.status_code, code, message, str(exc.detail), exc.headers)


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields = [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")),
               "type": str(e.get("type", ""))} for e in exc.errors()]
    return body(422, "invalid_request", "请求参数有误：" + "；".join(
        ".".join(f["loc"][1:] or f["loc"]) for f in fields)[:300], fields)


async def _courtbox(request: Request, exc: Exception) -> Response:
    return body(409, "refused", "操作被拒绝", str(exc))


async def _data(request: Request, exc: Exception) -> Response:
    # A value PostgreSQL cannot take (a NUL character in a text): the request's fault.
    return body(422, "invalid_request", "请求参数有误", f"the database refused a value: {exc}")


def install(app: FastAPI) -> None:
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(CourtboxError, _courtbox)
    app.add_exception_handler(psycopg.DataError, _data)
