"""The pages: login, the operations dashboard (``/ops``) and the e-case file (``/ecase``),
served as they are from ``static/``, each to its role (``HOME``): without a session a page
sends the browser to the login page, another role's page sends it to its own. The pages
are static HTML with their scripts in separate files (the CSP allows no inline script);
they read the JSON API with the session cookie and write text with ``textContent``."""

from __future__ import annotations

from importlib import resources
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from courtbox.central.web import accounts
from courtbox.central.web.deps import COOKIE, web_of

HOME = {"operations": "/ops", "archivist": "/ecase"}
PAGES = {"/ops": ("ops.html", "operations"), "/ecase": ("ecase.html", "archivist")}
ASSETS = Literal["central.css", "common.js", "login.js", "ops.js", "ecase.js"]

router = APIRouter(include_in_schema=False)


def page(name: str) -> str:
    return (resources.files("courtbox.central.web") / "static" / name).read_text("utf-8")


def _user(request: Request) -> dict | None:
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 200:
        return None
    with web_of(request).db() as conn:
        return accounts.session_user(conn, token)


@router.get("/")
def home(request: Request) -> Response:
    user = _user(request)
    return RedirectResponse(HOME[user["role"]] if user else "/login", 303)


def _role_page(path: str, name: str, role: str):
    def serve(request: Request) -> Response:
        user = _user(request)
        if user is None:
            return RedirectResponse("/login", 303)
        if user["role"] != role:
            return RedirectResponse(HOME[user["role"]], 303)
        return HTMLResponse(page(name), headers={"Cache-Control": "no-store"})
    return serve


for _path, (_name, _role) in PAGES.items():
    router.add_api_route(_path, _role_page(_path, _name, _role), methods=["GET"])


@router.get("/login")
def login_page() -> Response:
    return HTMLResponse(page("login.html"))


@router.get("/web/{name}")
def asset(name: ASSETS) -> Response:
    media = "text/javascript" if name.endswith(".js") else "text/css"
    return Response(page(name), media_type=media, headers={"Cache-Control": "no-cache"})


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(status_code=204)
