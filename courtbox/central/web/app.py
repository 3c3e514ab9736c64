"""The web service's FastAPI app: one router per part (session and audit, the operations
dashboard, the e-case file, its audio, the pages), its refusals in one shape
(``courtbox.central.web.errors``) and the browser hardening headers on every answer.

The API is under ``/api/v1`` and documented at ``/api/v1/openapi.json`` (no Swagger page:
it would load scripts from elsewhere). The Content-Security-Policy allows scripts, styles,
media and connections from the service itself only, no inline script or style, no frames
and no plugins."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI

from courtbox import __version__
from courtbox.central.store import CentralStore
from courtbox.central.web import audio, dashboard, ecase, errors, pages, session
from courtbox.central.web.deps import API, Web
from courtbox.central.web.throttle import LoginGate

logger = logging.getLogger(__name__)

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
HEADERS = ((b"content-security-policy", CSP.encode("ascii")),
           (b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"no-referrer"),
           (b"cross-origin-opener-policy", b"same-origin"),
           (b"strict-transport-security", b"max-age=31536000"))
FLUSH_S = 30.0
MAX_BODY = 64 << 10


class Hardening:
    """ASGI middleware: the headers above on every HTTP answer; a body over ``MAX_BODY``
    refused by its declared length (413) before it is read."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        send = self._with_headers(send)
        too_large = errors.body(413, "too_large", "请求过大",
                                f"a body of at most {MAX_BODY} bytes")
        headers = dict(scope.get("headers") or ())
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > MAX_BODY:
                return await too_large(scope, receive, send)
        elif b"transfer-encoding" in headers:
            # A body without a length: read it here, up to the limit, and hand it on.
            chunks, size, more = [], 0, True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    return
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                more = message.get("more_body", False)
                if size > MAX_BODY:
                    return await too_large(scope, receive, send)
            replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

            async def receive_replayed():
                return replay.pop() if replay else await receive()

            return await self.app(scope, receive_replayed, send)
        await self.app(scope, receive, send)

    @staticmethod
    def _with_headers(send):
        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [
                    *message.get("headers", []), *((k, v) for k, v in HEADERS
                                                   if k not in present)]}
            await send(message)
        return send_with_headers


def create_app(config, *, store: CentralStore | None = None) -> FastAPI:
    """The app over the centre of ``config`` (a ``CentralConfig``); ``store`` is opened
    here unless given, and closed with the app."""
    own = store is None
    store = store or CentralStore(config, pool_size=config.central.pool_size or 10,
                                  name="courtbox-web")
    store.check_schema()
    web = Web(config=config, store=store, gate=LoginGate(
        failures_max=config.web.login_failures_max,
        source_failures_max=config.web.login_source_failures_max,
        window_s=config.web.login_window_s))

    async def flush_every() -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            try:
                await session.flush(web)
            except Exception:  # noqa: BLE001 - a summary must not stop the service
                logger.exception("cannot write the login refusal summaries")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(flush_every())
        try:
            yield
        finally:
            task.cancel()
            try:
                await session.flush(web, force=True)
            except Exception:  # noqa: BLE001 - the store must still be closed
                logger.exception("cannot write the login refusal summaries")
            if own:
                await asyncio.to_thread(store.close)

    app = FastAPI(title="courtbox centre", version=__version__, lifespan=lifespan,
                  openapi_url=f"{API}/openapi.json", docs_url=None, redoc_url=None,
                  description="The court centre's operations dashboard and e-case file feed."
                  " Log in with POST /api/v1/session; send the token as a bearer.")
    app.state.web = web
    app.add_middleware(Hardening)
    errors.install(app)
    for module in (session, dashboard, ecase, audio, pages):
        app.include_router(module.router)
    return app
