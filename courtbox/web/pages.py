"""The pages and their assets: the live view, login, the clerk's console, the judge's view
and the technician's page, served as they are from ``static/``, each to the roles it is
for (``ROLE_PAGES``): without a session a page sends the browser to the login page, and a
role that opens another's page (a judge at /clerk) lands on its own (``HOME``).

The login page goes, after logging in, to its ``next`` parameter: only a path on the box
itself (``local_path``). Anything else (``//evil``, ``/\\evil``, ``https:evil``, a tab or
newline that a browser drops from a URL) is answered with a redirect to the bare login
page, and the page's script (``safeNext`` in ``app.js``) applies the same rule.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from courtbox.web.deps import COOKIE, api_of

PAGES = {"/": "live.html", "/login": "login.html", "/clerk": "clerk.html",
         "/judge": "judge.html", "/technician": "technician.html"}
# One "/", then anything but "/" or "\\"; no backslash, control character or space
# anywhere (browsers read "\\" as "/" and drop tabs and newlines); at most 2000 chars.
LOCAL_PATH = re.compile(r"/(?![/\\])[^\\\x00-\x20\x7f-\x9f]{0,1999}")

# Who each page is for (the API's role checks stay: a page only spares a wrong click);
# where each role lands after logging in, and when it opens a page not its own.
ROLE_PAGES = {"/clerk": {"clerk", "admin"}, "/judge": {"judge", "clerk", "admin"},
              "/technician": {"technician", "admin"}}
HOME = {"clerk": "/clerk", "judge": "/judge", "technician": "/technician", "admin": "/clerk"}

router = APIRouter(include_in_schema=False)


def local_path(target: str | None) -> bool:
    """Whether ``target`` (a ``next`` parameter, decoded) is a path on the box itself."""
    return target is not None and (target == "/" or LOCAL_PATH.fullmatch(target) is not None)


def page(name: str) -> str:
    return (resources.files("courtbox.web") / "static" / name).read_text("utf-8")


def _role_page(path: str, name: str):
    def serve(request: Request) -> Response:
        """The page for the roles that use it (``ROLE_PAGES``); no session: the login
        page; another role: its own page, told what was refused (``?refused=``)."""
        user = api_of(request).user_of(request.cookies.get(COOKIE))
        if user is None:
            return RedirectResponse(f"/login?next={quote(path, safe='')}", 303)
        home = HOME.get(user["role"], "/login")
        if path == "/":  # the live view: the demo's anonymous page, else one's own
            return HTMLResponse(page(name)) if user["token"] is None else \
                RedirectResponse(home, 303)
        if user["role"] not in ROLE_PAGES[path]:
            return RedirectResponse(f"{home}?refused={path.strip('/')}", 303)
        return HTMLResponse(page(name))
    return serve


for _path, _name in PAGES.items():
    if _path != "/login":
        router.add_api_route(_path, _role_page(_path, _name), methods=["GET"])


@router.get("/login")
def login_page(next_: str | None = Query(None, alias="next", max_length=4000)) -> Response:
    if next_ is not None and not local_path(next_):
        return RedirectResponse("/login", 303)  # not a path on this box: dropped
    return HTMLResponse(page("login.html"))


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
