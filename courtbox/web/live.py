"""``/api/v1/hearings/{id}/live``: the WebSocket the pages listen on.

Final and partial lines, corrections, annotations, state changes and level meters arrive
as JSON events (``courtbox.room.live``). Who asks and whether the hearing exists are read
from the store in a worker thread: the read waits on the app's lock, and nothing may wait
on the event loop, which carries every live page at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

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
    token = websocket.cookies.get(COOKIE) or websocket.query_params.get("token")
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
    try:
        await _send(websocket, sub, missed, after or 0)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.unsubscribe(sub)
        with contextlib.suppress(RuntimeError):
            await websocket.close()


def _hub(api: Api) -> LiveHub:
    if api.hub is None:  # nothing records here (the demo): nothing will come
        from courtbox.room.live import LiveHub

        api.hub = LiveHub(asyncio.get_running_loop())
    return api.hub


async def _send(websocket: WebSocket, sub: Subscriber, missed: list[dict], last: int
                ) -> None:
    """What was missed, then every new event once (a ``reload`` always)."""
    for event in missed:
        await websocket.send_json(event)
        last = max(last, event["seq"])
    while True:
        event = await sub.queue.get()
        if event["seq"] <= last and event["type"] != "reload":
            continue
        await websocket.send_json(event)
        last = max(last, event["seq"])
