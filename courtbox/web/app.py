"""The HTTP and WebSocket API (FastAPI) and the pages served with it, assembled from one
router per resource.

Everything under ``/api/v1`` needs a session: log in with ``POST /api/v1/session``, then
send the cookie it sets (the pages do) or ``Authorization: Bearer TOKEN``. Each endpoint
names the permission it needs (``courtbox.record.users.PERMISSIONS``): no session is 401,
the wrong role 403, a malformed body 422 with the reason, a request the hearing's state
refuses 409, each with a JSON ``detail`` (``courtbox.web.statuses``). Every response
carries the browser hardening headers (``courtbox.web.headers``); every body meets the
size limit and one strict JSON parser (``courtbox.web.limits``).

The app knows the rooms it serves only as the parts the appliance hands it (``Api``); the
appliance also mounts the court's sync API (``courtbox.sync.server``) beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI

from courtbox import __version__
from courtbox.record.identity import open_store
from courtbox.record.store import Store
from courtbox.record.writer import StoreWriter
from courtbox.web import (
    annotations,
    audio,
    exports,
    health,
    hearings,
    live,
    pages,
    parties,
    session,
    statuses,
    transcript,
    users,
)
from courtbox.web.deps import API, Api, PartialsProvider
from courtbox.web.headers import SecurityHeaders
from courtbox.web.limits import MAX_BODY, BodyLimit

if TYPE_CHECKING:
    from collections.abc import Callable

    from courtbox.room.courtroom import Courtroom
    from courtbox.room.healthwatch import HealthWatch
    from courtbox.room.live import LiveHub

ROUTERS = (pages, session, users, health, hearings, transcript, annotations, audio, exports,
           live, parties)


def create_app(data_dir: Path, *, writer: StoreWriter | None = None,
               courtroom: Courtroom | None = None, hub: LiveHub | None = None,
               partials: PartialsProvider | None = None, anonymous: str | None = None,
               watch: HealthWatch | None = None,
               database: Callable[[], str] | None = None,
               sync_lag: Callable[[Store], dict] | None = None) -> FastAPI:
    """``anonymous``: the role of a request without a session (``courtbox demo`` serves its
    sample hearing read-only on loopback); None: every request must log in. A
    ``courtroom`` brings its writer, hub and partial lines, and ``watch`` its health
    watch; without one, ``database`` is the database check the health report shows.
    ``sync_lag``: what the centre has not yet confirmed, for the health report.
    ``app.state.api`` holds the parts (``Api``)."""
    data_dir = Path(data_dir)
    if courtroom is not None:
        writer, hub = courtroom.writer, courtroom.hub
        partials = courtroom.partials
    own_writer = writer is None
    api = Api(data_dir=data_dir, store=Store.in_dir(data_dir),
              writer=writer or StoreWriter(open_store(data_dir)), courtroom=courtroom,
              hub=hub, partials=partials, watch=watch, database=database,
              sync_lag=sync_lag, anonymous=anonymous)

    def close() -> None:
        if own_writer:
            api.writer.close()
            api.writer.store.close()
        api.store.close()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        await asyncio.to_thread(close)  # joins the writer's thread: not on the loop

    app = FastAPI(title="courtbox", version=__version__, openapi_url=f"{API}/openapi.json",
                  docs_url=f"{API}/docs", redoc_url=None, lifespan=lifespan)
    app.state.api = api
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY)
    app.add_middleware(SecurityHeaders)  # outermost: on every answer, a 413 too
    statuses.install(app)
    for module in ROUTERS:
        app.include_router(module.router)
    return app
