"""``/api/v1/hearings/{id}/live``: the WebSocket the pages listen on.

Final and partial lines, corrections, annotations, state changes and level meters arrive
as JSON events (``courtbox.room.live``). Who asks and whether the hearing exists are read
from the store in a worker thread: the read waits on the app's lock, and nothing may wait
on the event loop, which carries every live page at once.

A page of another site must not listen in with the clerk's cookie (cross-site WebSocket
hijacking): a browser always sends ``Origin``, and one that is not this box's own
(``https://`` + the ``Host`` it asked for) is closed with 4403 before anything is read.
A client without ``Origin`` is not a browser: it must send its session token as
``?token=``; a cookie alone counts only with the box's own ``Origin``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect

from courtbox.record import users
from courtbox.record.store import SQLITE_MAX
from courtbox.web.deps import API, COOKIE, Api

if TYPE_CHECKING:
    from courtbox.room.live import LiveHub, Subscriber

router = APIRouter(prefix=API)


@router.websocket("/hearings/{hearing_id}/live")
async def live(websocket: WebSocket, hearing_id: str,
               after: int | None = Query(None, ge=0, le=SQLITE_MAX)) -> None:
    """Final and partial lines, corrections, annotations, state changes and level
    meters as JSON events; ``after``: the last ``seq`` seen, to receive what was
    missed."""
    api: Api = websocket.app.state.api
    origin = websocket.headers.get("origin")
    if origin is not None and not same_origin(origin, websocket.headers.get("host")):
        await websocket.accept()
        await websocket.close(code=4403, reason="not this box's own page (Origin)")
        return
    token = websocket.query_params.get("token")
    if token is None and origin is not None:
        token = websocket.cookies.get(COOKIE)
    user = await asyncio.to_thread(api.user_of, token)
    # Accepted, then closed with a code a page can act on (4401: log in again).
    await websocket.accept()
    if user is None or not users.allowed(user["role"], "read"):
        await websocket.close(code=4401 if user is None else 4403,
                              reason="log in first" if user is None else "not allowed")
        return
    if await asyncio.to_thread(api.read, lambda s: s.hearing(hearing_id)) is None:
        await websocket.close(code=4404, reason=f"no hearing {hearing_id}")
        return
    hub = _hub(api)
    sub, missed = hub.subscribe(hearing_id, after)
    code = 1000
    try:
        code = await _send(websocket, sub, missed, after or 0)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.unsubscribe(sub)
        # A page that went away (navigated, closed, the box stopping) is not an error.
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close(code=code)


def same_origin(origin: str, host: str | None) -> bool:
    """Whether a browser's ``Origin`` is the box itself: its host and port are the
    ``Host`` the browser connected to (a court's proxy must pass ``Host`` on)."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return (parts.scheme in ("https", "http") and host is not None
            and parts.netloc.lower() == host.strip().lower())


def _hub(api: Api) -> LiveHub:
    if api.hub is None:  # nothing records here (the demo): nothing will come
        from courtbox.room.live import LiveHub

        api.hub = LiveHub(asyncio.get_running_loop())
    return api.hub


async def _send(websocket: WebSocket, sub: Subscriber, missed: list[dict], last: int
                ) -> int:
    """What was missed, then every new event once (a ``reload`` always); at the hub's
    ``shutdown`` the close code to end with (1001: going away)."""
    for event in missed:
        await websocket.send_json(event)
        last = max(last, event["seq"])
    while True:
        event = await sub.queue.get()
        if event["type"] == "shutdown":
            return 1001
        if event["seq"] <= last and event["type"] != "reload":
            continue
        await websocket.send_json(event)
        last = max(last, event["seq"])
