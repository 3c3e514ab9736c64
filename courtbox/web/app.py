"""The HTTP and WebSocket API (FastAPI) and the pages served with it.

Everything under ``/api/v1`` needs a session: log in with ``POST /api/v1/session``, then
send the cookie it sets (the pages do) or ``Authorization: Bearer TOKEN``. Each endpoint
names the permission it needs (``courtbox.record.users.PERMISSIONS``): no session is 401,
the wrong role 403, a malformed body 422 with the reason, a request the hearing's state
refuses 409, each with a JSON ``detail``.

Reads use the app's own connection to the database (WAL lets them run beside the writer),
serialised by a lock because FastAPI runs plain ``def`` endpoints in a thread pool. Writes
go through the store's single writer; the clerk's buttons go to the ``Courtroom``, which
does nothing else at the same time. Without a courtroom (``courtbox demo``) the API reads
and annotates but does not record.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import (
    Depends,
    FastAPI,
    Header,
    HTTPException,
    Query,
    Request,
    Response,
    WebSocket,
    WebSocketDisconnect,
)
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from courtbox import __version__
from courtbox.errors import (
    AudioError,
    AuthError,
    CourtboxError,
    HearingError,
    StoreError,
    SyncError,
    TranscriptError,
)
from courtbox.hardware.health import clock_synced
from courtbox.record import export, users
from courtbox.record.hearing import PAUSE_REASONS, HearingInfo
from courtbox.record.identity import Identity
from courtbox.record.playback import HearingAudio, RangeError
from courtbox.record.store import SQLITE_MAX, Store, sha256_text
from courtbox.record.transcript import correct_line, integrity_values, sign_off
from courtbox.record.writer import StoreWriter
from courtbox.room.courtroom import Courtroom
from courtbox.room.healthwatch import HealthWatch, database_check
from courtbox.room.live import LiveHub
from courtbox.sync.server import sync_lag, sync_router
from courtbox.sync.tls import Certificate

API = "/api/v1"
COOKIE = "courtbox_session"
PAGES = {"/": "live.html", "/login": "login.html", "/clerk": "clerk.html",
         "/judge": "judge.html", "/technician": "technician.html"}

BEARER = HTTPBearer(auto_error=False, description="The token POST /api/v1/session returns.")
SESSION_COOKIE = APIKeyCookie(name=COOKIE, auto_error=False,
                              description="The cookie POST /api/v1/session sets.")

PartialsProvider = Callable[[str], list[dict]]  # hearing id -> its current partial lines

Text40 = Annotated[str, Field(min_length=1, max_length=40)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(_Body):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class UserBody(_Body):
    name: str = Field(pattern=users.NAME_PATTERN)
    role: Literal["clerk", "judge", "technician", "admin"]
    password: str = Field(min_length=users.MIN_PASSWORD, max_length=256)


class HearingBody(_Body):
    case_number: str = Field(min_length=1, max_length=64, description="案号")
    case_type: str = Field("", max_length=40, description="e.g. 民事")
    title: str = Field("", max_length=200, description="案由")
    panel: list[Text40] = Field([], max_length=20)
    clerk: str = Field("", max_length=40)
    parties: list[Text40] = Field([], max_length=40)
    terms: list[Text40] = Field([], max_length=100,
                                description="The case's own words, fed to recognition.")


class PauseBody(_Body):
    reason: Literal[tuple(PAUSE_REASONS)]  # type: ignore[valid-type]
    text: str = Field("", max_length=500)


class CorrectionBody(_Body):
    text: str = Field(min_length=1, max_length=5000)
    base_revision: int = Field(ge=0, le=SQLITE_MAX,
                               description="The revision the correction was made on.")


class AnnotationBody(_Body):
    label: str = Field(min_length=1, max_length=40)
    text: str = Field("", max_length=2000)
    t: float | None = Field(None, ge=0, le=7 * 24 * 3600, description="Seconds on the "
                            "hearing timeline; default: now, while recording.")


MAX_BODY = 1 << 20  # no request of this API carries more; a bigger one is refused (413)


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413 before it is read whole,
    whether it announces its length or arrives chunked (read here up to the limit, then
    handed on)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.max_bytes:
                return await self._refuse(send)
            return await self.app(scope, receive, send)
        if b"transfer-encoding" not in headers:
            return await self.app(scope, receive, send)
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                return await self._refuse(send)
            if not message.get("more_body"):
                break
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send) -> None:
        body = json.dumps({"detail": f"request body over {self.max_bytes} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _page(name: str) -> str:
    return (resources.files("courtbox.web") / "static" / name).read_text("utf-8")


def create_app(data_dir: Path, *, writer: StoreWriter | None = None,
               courtroom: Courtroom | None = None, hub: LiveHub | None = None,
               partials: PartialsProvider | None = None,
               anonymous: str | None = None, identity: Identity | None = None,
               certificate: Certificate | None = None,
               watch: HealthWatch | None = None) -> FastAPI:
    """``anonymous``: the role of a request without a session (``courtbox demo`` serves its
    sample hearing read-only on loopback); None: every request must log in.
    ``identity``: the box's, to serve the sync API for the court's collectors;
    ``certificate``: the TLS certificate the API is served with, which the identity
    vouches for; ``watch``: the agent's health watch (one of the courtroom's by
    default)."""
    data_dir = Path(data_dir)
    store = Store.in_dir(data_dir)
    lock = threading.Lock()
    if courtroom is not None:
        writer, hub = courtroom.writer, courtroom.hub
        partials = courtroom.partials
    own_writer = writer is None
    writer = writer or StoreWriter(Store.in_dir(data_dir))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if own_writer:
            writer.close()
            writer.store.close()
        store.close()

    app = FastAPI(title="courtbox", version=__version__, openapi_url=f"{API}/openapi.json",
                  docs_url=f"{API}/docs", redoc_url=None, lifespan=lifespan)
    app.state.hub = hub
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY)
    throttle = users.LoginThrottle()

    def read(fn):
        with lock:
            return fn(store)

    def write(fn):
        return writer.call(fn)

    # -- errors ---------------------------------------------------------------------------

    def _error(status: int):
        async def handler(request: Request, exc: Exception) -> Response:
            return Response(json.dumps({"detail": str(exc)}, ensure_ascii=False), status,
                            media_type="application/json")
        return handler

    app.add_exception_handler(HearingError, _error(409))
    app.add_exception_handler(AuthError, _error(422))
    app.add_exception_handler(AudioError, _error(503))
    app.add_exception_handler(StoreError, _error(409))
    app.add_exception_handler(SyncError, _error(409))
    app.add_exception_handler(export.ExportError, _error(422))

    @app.exception_handler(TranscriptError)
    async def _transcript_error(request: Request, exc: TranscriptError) -> Response:
        return await _error(exc.status)(request, exc)

    @app.exception_handler(CourtboxError)
    async def _other_error(request: Request, exc: CourtboxError) -> Response:
        return await _error(400)(request, exc)

    # -- who is asking --------------------------------------------------------------------

    def user_of(token: str | None) -> dict | None:
        """The user a session token belongs to; without one, the anonymous role if any."""
        if not token:
            if anonymous is None:
                return None
            return {"name": "anonymous", "role": anonymous, "token": None}
        user = read(lambda s: users.session_user(s, token))
        return {**user, "token": token} if user else None

    def current_user(bearer: HTTPAuthorizationCredentials | None = Depends(BEARER),
                     cookie: str | None = Depends(SESSION_COOKIE)) -> dict:
        user = user_of(bearer.credentials if bearer is not None else cookie)
        if user is None:
            raise HTTPException(401, "log in first (POST /api/v1/session)",
                                headers={"WWW-Authenticate": "Bearer"})
        return user

    def need(permission: str):
        def check(user: dict = Depends(current_user)) -> dict:
            if not users.allowed(user["role"], permission):
                raise HTTPException(403, f"a {user['role']} may not do this "
                                         f"(needs {permission})")
            return user
        return Depends(check)

    def hearing_or_404(hearing_id: str) -> dict:
        hearing = read(lambda s: s.hearing(hearing_id))
        if hearing is None:
            raise HTTPException(404, f"no hearing {hearing_id}")
        for key in ("panel", "parties", "terms"):
            hearing[key] = json.loads(hearing[key])
        return hearing

    def the_courtroom() -> Courtroom:
        if courtroom is None:
            raise HTTPException(503, "this service does not record (courtbox run does)")
        return courtroom

    # -- pages ----------------------------------------------------------------------------

    for path, name in PAGES.items():
        app.add_api_route(path, lambda name=name: HTMLResponse(_page(name)),
                          include_in_schema=False, methods=["GET"])

    @app.get("/web/{name}", include_in_schema=False)
    def asset(name: Literal["app.js", "style.css"]) -> Response:
        media = "text/javascript" if name.endswith(".js") else "text/css"
        return Response(_page(name), media_type=media)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    # -- session and users ----------------------------------------------------------------

    @app.post(f"{API}/session", tags=["session"])
    def log_in(body: LoginBody, response: Response, request: Request) -> dict:
        client = request.client.host if request.client else None
        if wait := throttle.retry_after(body.name, client):
            write(lambda s: s.audit(body.name, "user.login_throttled", None, client=client))
            raise HTTPException(429, f"too many failed logins; try again in {wait} s",
                                headers={"Retry-After": str(wait)})
        result = write(lambda s: users.login(s, body.name, body.password))
        if result is None:
            throttle.failed(body.name, client)
            write(lambda s: s.audit(body.name, "user.login_failed", None, client=client))
            raise HTTPException(401, "wrong user name or password")
        throttle.succeeded(body.name)
        token, user = result
        write(lambda s: s.audit(user["name"], "user.login", None, client=client))
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https",
                            max_age=users.SESSION_HOURS * 3600)
        return {"user": user["name"], "role": user["role"], "token": token}

    @app.get(f"{API}/session", tags=["session"])
    def who_am_i(user: dict = Depends(current_user)) -> dict:
        return {"user": user["name"], "role": user["role"],
                "permissions": sorted(p for p in users.PERMISSIONS
                                      if users.allowed(user["role"], p))}

    @app.delete(f"{API}/session", tags=["session"])
    def log_out(response: Response, user: dict = Depends(current_user)) -> dict:
        if user["token"]:
            write(lambda s: s.delete_session(sha256_text(user["token"])))
        response.delete_cookie(COOKIE)
        return {"user": user["name"], "logged_out": True}

    @app.get(f"{API}/users", tags=["users"])
    def list_users(user: dict = need("users")) -> list[dict]:
        return [{k: u[k] for k in ("name", "role", "disabled", "created_at")}
                for u in read(lambda s: s.users())]

    @app.post(f"{API}/users", status_code=201, tags=["users"])
    def create_user(body: UserBody, user: dict = need("users")) -> dict:
        write(lambda s: users.add_user(s, body.name, body.role, body.password,
                                       actor=user["name"]))
        return {"name": body.name, "role": body.role}

    # -- health ---------------------------------------------------------------------------

    if courtroom is not None and watch is None:
        watch = HealthWatch(courtroom.config, courtroom)
    database = watch.database if watch else database_check(data_dir)

    def box_health() -> dict:
        """The box's state: for the technician, and the heartbeat the centre records."""
        out = {"status": "ok", "version": __version__, "database": database(),
               "clock_synced": clock_synced()}
        out["sync"] = read(sync_lag)
        if watch is not None:
            out.update(watch.read())
            if out["alarms"]:
                out["status"] = "alarm"
            active = courtroom.active()
            out["recording"] = active is not None
            out["open_hearing"] = active
            rec = courtroom.stack.recognizer
            if rec is not None:
                out["recognizer"] = rec.metrics().__dict__
        return out

    @app.get(f"{API}/health", tags=["health"])
    def health(user: dict = need("health")) -> dict:
        return box_health()

    if identity is not None:
        app.include_router(sync_router(read=read, write=write, identity=identity,
                                       certificate=certificate, data_dir=data_dir,
                                       health=box_health))

    # -- hearings -------------------------------------------------------------------------

    @app.get(f"{API}/hearings", tags=["hearings"])
    def list_hearings(user: dict = need("read")) -> list[dict]:
        return [{k: h[k] for k in ("id", "case_number", "court", "room", "state",
                                   "wall_start", "created_at", "closed_at", "frozen_at")}
                for h in read(lambda s: s.hearings())]

    @app.post(f"{API}/hearings", status_code=201, tags=["hearings"])
    def create_hearing(body: HearingBody, user: dict = need("operate")) -> dict:
        room = the_courtroom()
        hearing_id = room.open(HearingInfo(**body.model_dump()), actor=user["name"])
        return hearing_or_404(hearing_id)

    @app.get(f"{API}/hearings/{{hearing_id}}", tags=["hearings"])
    def get_hearing(hearing_id: str, user: dict = need("read")) -> dict:
        hearing = hearing_or_404(hearing_id)
        hearing["seats"] = read(lambda s: s.seats(hearing_id))
        hearing["integrity"] = read(lambda s: integrity_values(s, hearing_id))
        hearing["pause_reasons"] = PAUSE_REASONS
        if courtroom is not None:
            hearing["timeline_s"] = courtroom.timeline_now(hearing_id)
        return hearing

    @app.post(f"{API}/hearings/{{hearing_id}}/start", tags=["hearings"])
    def start_hearing(hearing_id: str, user: dict = need("operate")) -> dict:
        hearing_or_404(hearing_id)
        the_courtroom().start(hearing_id, user["name"])
        return hearing_or_404(hearing_id)

    @app.post(f"{API}/hearings/{{hearing_id}}/pause", tags=["hearings"])
    def pause_hearing(hearing_id: str, body: PauseBody, user: dict = need("operate")
                      ) -> dict:
        """休庭 and the other pauses: ``reason`` is one of ``PAUSE_REASONS``; ``other``
        needs a ``text``."""
        hearing_or_404(hearing_id)
        the_courtroom().pause(hearing_id, user["name"], body.reason, body.text)
        return hearing_or_404(hearing_id)

    @app.post(f"{API}/hearings/{{hearing_id}}/resume", tags=["hearings"])
    def resume_hearing(hearing_id: str, user: dict = need("operate")) -> dict:
        hearing_or_404(hearing_id)
        the_courtroom().resume(hearing_id, user["name"])
        return hearing_or_404(hearing_id)

    @app.post(f"{API}/hearings/{{hearing_id}}/close", tags=["hearings"])
    def close_hearing(hearing_id: str, user: dict = need("operate")) -> dict:
        hearing_or_404(hearing_id)
        the_courtroom().close(hearing_id, user["name"])
        return hearing_or_404(hearing_id)

    @app.get(f"{API}/hearings/{{hearing_id}}/levels", tags=["hearings"])
    def levels(hearing_id: str, user: dict = need("levels")) -> dict:
        hearing_or_404(hearing_id)
        return (courtroom.levels.get(hearing_id) if courtroom else None) or {"seats": []}

    # -- transcript -----------------------------------------------------------------------

    @app.get(f"{API}/hearings/{{hearing_id}}/transcript", tags=["transcript"])
    def transcript(hearing_id: str, response: Response,
                   after: int = Query(0, ge=0, le=SQLITE_MAX,
                                     description="Only lines with id > after."),
                   limit: int = Query(1000, ge=1, le=10000),
                   offset: int = Query(0, ge=0, le=SQLITE_MAX),
                   q: str | None = Query(None, min_length=1, max_length=200,
                                         description="Only lines containing this text."),
                   user: dict = need("read")) -> list[dict]:
        hearing_or_404(hearing_id)
        lines = read(lambda s: s.finals(hearing_id, after, limit=limit, offset=offset,
                                        query=q))
        response.headers["X-Total-Count"] = str(read(lambda s: s.count_finals(hearing_id)))
        return [{**line, "words": json.loads(line["words"])} for line in lines]

    @app.get(f"{API}/hearings/{{hearing_id}}/partials", tags=["transcript"])
    def partial_lines(hearing_id: str, user: dict = need("read")) -> list[dict]:
        """What each seat is saying right now, tentatively: ``text`` with its first
        ``stable`` characters agreed by two successive hypotheses."""
        hearing_or_404(hearing_id)
        return partials(hearing_id) if partials is not None else []

    @app.get(f"{API}/hearings/{{hearing_id}}/transcript/{{utterance_id}}/revisions",
             tags=["transcript"])
    def revisions(hearing_id: str, utterance_id: str, user: dict = need("read")
                  ) -> list[dict]:
        rows = read(lambda s: s.revisions(hearing_id, utterance_id))
        if not rows:
            raise HTTPException(404, f"no line {utterance_id} in hearing {hearing_id}")
        return [{**r, "words": json.loads(r["words"])} for r in rows]

    @app.post(f"{API}/hearings/{{hearing_id}}/transcript/{{utterance_id}}/corrections",
              status_code=201, tags=["transcript"])
    def correct(hearing_id: str, utterance_id: str, body: CorrectionBody,
                user: dict = need("correct")) -> dict:
        hearing_or_404(hearing_id)
        row = write(lambda s: correct_line(s, hearing_id, utterance_id, text=body.text,
                                           base_revision=body.base_revision,
                                           user=user["name"]))
        line = {**row, "words": json.loads(row["words"])}
        if app.state.hub is not None:
            app.state.hub.publish(hearing_id, "correction", line=line)
        return line

    @app.post(f"{API}/hearings/{{hearing_id}}/signoff", status_code=201, tags=["transcript"])
    def signoff(hearing_id: str, user: dict = need("sign")) -> dict:
        hearing_or_404(hearing_id)
        values = write(lambda s: sign_off(s, hearing_id, user=user["name"],
                                          role=user["role"]))
        if app.state.hub is not None:
            app.state.hub.publish(hearing_id, "signoff", integrity=values)
        return values

    # -- annotations ----------------------------------------------------------------------

    @app.get(f"{API}/hearings/{{hearing_id}}/annotations", tags=["annotations"])
    def annotations(hearing_id: str, user: dict = need("read")) -> list[dict]:
        hearing_or_404(hearing_id)
        return read(lambda s: s.annotations(hearing_id))

    @app.post(f"{API}/hearings/{{hearing_id}}/annotations", status_code=201,
              tags=["annotations"])
    def annotate(hearing_id: str, body: AnnotationBody, user: dict = need("annotate")
                 ) -> dict:
        hearing_or_404(hearing_id)
        t = body.t
        if t is None and courtroom is not None:
            t = courtroom.timeline_now(hearing_id)
        if t is None:
            raise HTTPException(422, "the hearing is not recording: give the time t")
        ann_id = write(lambda s: s.add_annotation(hearing_id=hearing_id, t=round(t, 3),
                                                  label=body.label, text=body.text,
                                                  author=user["name"]))
        row = next(a for a in read(lambda s: s.annotations(hearing_id)) if a["id"] == ann_id)
        if app.state.hub is not None:
            app.state.hub.publish(hearing_id, "annotation", annotation=row)
        return row

    # -- audio and exports ----------------------------------------------------------------

    @app.get(f"{API}/hearings/{{hearing_id}}/audio", tags=["audio"],
             response_class=StreamingResponse,
             responses={200: {"content": {"audio/wav": {}}}, 206: {}, 416: {}})
    def audio(hearing_id: str, seat: str = Query("mix", max_length=40,
                                                 description="A seat id, or mix."),
              range_: Annotated[str | None, Header(alias="range")] = None,
              user: dict = need("read")) -> Response:
        """The seat's (or the mix's) archived audio as WAV on the hearing's timeline; HTTP
        Range to start anywhere."""
        hearing = hearing_or_404(hearing_id)
        seats = read(lambda s: s.seats(hearing_id))
        channels = ([s["channel"] for s in seats] if seat == "mix"
                    else [s["channel"] for s in seats if s["seat_id"] == seat])
        if not channels:
            raise HTTPException(404, f"no seat {seat} in hearing {hearing_id}")
        wav = HearingAudio(data_dir, read(lambda s: s.segments(hearing_id)),
                           hearing["sample_rate"], channels)
        try:
            span = wav.byte_range(range_)
        except RangeError as e:
            return Response(json.dumps({"detail": str(e)}), 416,
                            headers={"Content-Range": f"bytes */{wav.size}"},
                            media_type="application/json")
        first, last = span or (0, wav.size - 1)
        headers = {"Accept-Ranges": "bytes", "Content-Length": str(last - first + 1),
                   "Cache-Control": "no-store"}
        if span:
            headers["Content-Range"] = f"bytes {first}-{last}/{wav.size}"
        return StreamingResponse(wav.iter_bytes(first, last), 206 if span else 200,
                                 headers=headers, media_type="audio/wav")

    @app.get(f"{API}/hearings/{{hearing_id}}/export", tags=["exports"],
             responses={200: {"content": {t.split(";")[0]: {}
                                          for t in export.MEDIA_TYPES.values()}}})
    def export_hearing(hearing_id: str,
                       format: Literal["docx", "pdf", "txt", "srt", "vtt", "json"] = "pdf",
                       user: dict = need("read")) -> Response:
        hearing_or_404(hearing_id)
        record = read(lambda s: export.load_record(s, hearing_id))
        data = export.render(record, format)
        name = export.file_name(record, format)
        return Response(data, media_type=export.MEDIA_TYPES[format], headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})

    # -- live -----------------------------------------------------------------------------

    @app.websocket(f"{API}/hearings/{{hearing_id}}/live")
    async def live(websocket: WebSocket, hearing_id: str,
                   after: int | None = Query(None, ge=0, le=SQLITE_MAX)) -> None:
        """Final and partial lines, corrections, annotations, state changes and level
        meters as JSON events; ``after``: the last ``seq`` seen, to receive what was
        missed."""
        user = user_of(websocket.cookies.get(COOKIE) or websocket.query_params.get("token"))
        # Accepted, then closed with a code a page can act on (4401: log in again).
        await websocket.accept()
        if user is None or not users.allowed(user["role"], "read"):
            await websocket.close(code=4401 if user is None else 4403,
                                  reason="log in first" if user is None else "not allowed")
            return
        if read(lambda s: s.hearing(hearing_id)) is None:
            await websocket.close(code=4404, reason=f"no hearing {hearing_id}")
            return
        if app.state.hub is None:  # nothing records here (the demo): nothing will come
            app.state.hub = LiveHub(asyncio.get_running_loop())
        hub: LiveHub = app.state.hub
        sub, missed = hub.subscribe(hearing_id, after)
        last = after or 0
        try:
            for event in missed:
                await websocket.send_json(event)
                last = max(last, event["seq"])
            while True:
                event = await sub.queue.get()
                if event["seq"] <= last and event["type"] != "reload":
                    continue
                await websocket.send_json(event)
                last = max(last, event["seq"])
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            hub.unsubscribe(sub)
            with contextlib.suppress(RuntimeError):
                await websocket.close()

    @app.get("/logout", include_in_schema=False)
    def logout_page() -> RedirectResponse:
        response = RedirectResponse("/login")
        response.delete_cookie(COOKIE)
        return response

    app.state.store = store
    return app
