"""The pages and their assets: the live view, login, the clerk's console, the judge's view
and the technician's page, served as they are from ``static/``."""

from __future__ import annotations

from importlib import resources
from typing import Literal

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from courtbox.web.deps import COOKIE

PAGES = {"/": "live.html", "/login": "login.html", "/clerk": "clerk.html",
         "/judge": "judge.html", "/technician": "technician.html"}

router = APIRouter(include_in_schema=False)


def page(name: str) -> str:
    return (resources.files("courtbox.web") / "static" / name).read_text("utf-8")


for _path, _name in PAGES.items():
    router.add_api_route(_path, lambda name=_name: HTMLResponse(page(name)),
                         methods=["GET"])


@router.get("/web/{name}")
def asset(name: Literal["app.js", "style.css"]) -> Response:
    media = "text/javascript" if name.endswith(".js") else "text/css"
    return Response(page(name), media_type=media)


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(status_code=204)


@router.get("/logout")
def logout_page() -> RedirectResponse:
    response = RedirectResponse("/login")
    response.delete_cookie(COOKIE)
    return response
