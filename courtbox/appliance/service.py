"""``courtbox run``: the long-running agent that systemd starts.

One asyncio process: the recording stack (store, writer thread, recogniser process), the
courtroom the clerk drives, the live hub, and the HTTPS/WebSocket API under uvicorn. It
prints ``listening on https://HOST:PORT`` once the API accepts connections.

The API speaks TLS with the box's own certificate (``courtbox.sync.tls``) or the court's
(``api.tls_cert``); a configured one that cannot be used is reported, naming the key, and
the box's own is served instead: a wrong file never keeps a hearing from recording.

The API listens on ``api.host``; beyond loopback only once an admin account exists (an
admin is who creates the clerks' and judges' accounts, so a box without one is not yet
installed): until then it listens on 127.0.0.1 and says why.

A speech model that cannot be loaded is said and raised as a health alarm
(``model_unavailable``); the box records without transcription meanwhile. A hearing that
was recording when the previous process ended records on at once, as a new part with the
gap audit-logged (``Courtroom.continue_interrupted``). Under systemd (``Type=notify``) the
agent reports READY once capture, store and API are up, and pings the watchdog only while
capture is alive (``ping_watchdog``).

Connections are bounded (``courtbox.appliance.connections``: a ceiling within the file
limit, handshake, first-request and keep-alive timeouts), and so are logins
(``courtbox.web.logins``, from ``api.login_*`` and ``api.trusted_proxies``): what an
unauthenticated client sends costs the recording neither descriptors nor writes.

SIGTERM or SIGINT: uvicorn stops accepting requests and closes the live connections, then
the part being recorded ends (its audio closed, hashed and stored; recognition given a
short time to catch up), the writer flushes and the store closes. The hearing keeps its
state: a recording one records on at the next start, a paused one waits for the clerk.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from courtbox.appliance.connections import GuardedServer, connection_ceiling
from courtbox.config import Config
from courtbox.errors import ConfigError
from courtbox.hardware.systemd import notify, watchdog_interval
from courtbox.record.identity import Identity
from courtbox.record.users import has_admin
from courtbox.room.courtroom import Courtroom
from courtbox.room.healthwatch import HealthWatch
from courtbox.room.live import LiveHub
from courtbox.room.stack import RecordingStack
from courtbox.sync.server import sync_lag, sync_router
from courtbox.sync.tls import (
    Certificate,
    ServedCertificate,
    TlsError,
    api_certificate,
    box_certificate,
)
from courtbox.web.app import create_app
from courtbox.web.health import box_health
from courtbox.web.logins import LoginGate, LoginLimits, flush, flush_every

logger = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def serve(config: Config, *, audio: Path | None = None, transcribe: bool = True,
                say: Callable[[str], None] = print) -> None:
    data_dir = Path(config.storage.data_dir)
    port_free(config.api.host, config.api.port)
    with RecordingStack(config, data_dir, transcribe=transcribe,
                        model_required=False) as stack:
        if stack.model_problem:
            say(f"{stack.model_problem}: recording without transcription")
        host = config.api.host
        if not is_loopback(host) and not await asyncio.to_thread(stack.writer.call, has_admin):
            logger.warning("no admin account yet: listening on 127.0.0.1 only, not %s "
                           "(courtbox user add NAME --role admin)", host)
            say(f"no admin account: listening on 127.0.0.1 only, not {host}; create one "
                "with `courtbox user add NAME --role admin`")
            host = "127.0.0.1"
        hub = LiveHub(asyncio.get_running_loop())
        room = Courtroom(config, stack, hub, audio=audio)
        continued = await asyncio.to_thread(room.continue_interrupted)
        cert = await asyncio.to_thread(served_certificate, config, stack, say)
        watch = HealthWatch(config, room)
        if stack.salvaged is None:  # the stack's start-up check just read it whole: "ok"
            watch.database.seed("ok")
        app = create_app(data_dir, courtroom=room, watch=watch, sync_lag=sync_lag)
        served = ServedCertificate(cert, data_dir, stack.store.identity.box_id
                                   ) if cert else None
        mount_sync(app, identity=stack.store.identity, certificate=served, data_dir=data_dir)
        gate = app.state.logins = LoginGate(LoginLimits.from_api(config.api),
                                            config.api.trusted_proxies)
        server = api_server(app, config, host, cert, before_shutdown=hub.close)
        scheme = "https" if cert else "http"
        await asyncio.to_thread(stack.writer.call, lambda s: s.audit(
            "agent", "agent.start", None, host=host, port=config.api.port))
        task = asyncio.create_task(server.serve())
        keeper = asyncio.create_task(housekeeping(config, stack, renew=served and (
            lambda: served.renew(server.config.ssl))))
        watcher = asyncio.create_task(watch_health(watch, config.health.interval_s))
        summaries = asyncio.create_task(flush_every(app.state.api, gate))
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        advertiser = None
        if server.started:
            port = server.servers[0].sockets[0].getsockname()[1]
            if config.sync.advertise:
                advertiser = await asyncio.to_thread(advertise, config, stack, host, port,
                                                     scheme)
            say(f"listening on {scheme}://{host}:{port}")
            notify("READY=1", f"STATUS=listening on {host}:{port}"
                   + (f"; {continued}" if continued else ""))
        pinger = asyncio.create_task(ping_watchdog(room))
        try:
            await task
        finally:
            notify("STOPPING=1")
            pinger.cancel()
            keeper.cancel()
            watcher.cancel()
            summaries.cancel()
            await flush(app.state.api, gate, force=True)  # the refusals counted so far
            if advertiser is not None:
                await asyncio.to_thread(advertiser.close)
            await asyncio.to_thread(room.shutdown)
            await asyncio.to_thread(stack.writer.call,
                                    lambda s: s.audit("agent", "agent.stop", None))


def api_server(app: FastAPI, config: Config, host: str, cert: Certificate | None, *,
               before_shutdown: Callable[[], None]) -> AgentServer:
    """uvicorn for the app, its connections bounded (``courtbox.appliance.connections``)."""
    tls = {"ssl_certfile": str(cert.cert_path), "ssl_keyfile": str(cert.key_path)
           } if cert else {}
    ceiling = connection_ceiling(config.api.max_connections)
    return AgentServer(uvicorn.Config(
        app, host=host, port=config.api.port, log_level="warning", ws="websockets-sansio",
        timeout_graceful_shutdown=5, timeout_keep_alive=config.api.keep_alive_s,
        limit_concurrency=ceiling, **tls), before_shutdown=before_shutdown,
        ceiling=ceiling, handshake_timeout_s=config.api.handshake_timeout_s,
        header_timeout_s=config.api.header_timeout_s)


class AgentServer(GuardedServer):
    """uvicorn, stopping as a box should: the live sockets are closed first (1001, going
    away: the pages say 连接中断 and reconnect to the next start), then uvicorn's own
    shutdown; a connection left idle a second later (a browser's keep-alive or a TLS
    close that the peer does not answer) is dropped instead of holding the stop for the
    graceful timeout and its error line."""

    def __init__(self, config: uvicorn.Config, *, before_shutdown: Callable[[], None],
                 **guard) -> None:
        super().__init__(config, **guard)  # GuardedServer: ceiling and timeouts
        self.before_shutdown = before_shutdown

    async def shutdown(self, sockets=None) -> None:
        self.before_shutdown()
        await asyncio.sleep(0.2)  # the live endpoints send their close frames
        dropper = asyncio.create_task(self._drop_idle(after=1.0))
        try:
            await super().shutdown(sockets)
        finally:
            dropper.cancel()

    async def _drop_idle(self, after: float) -> None:
        await asyncio.sleep(after)
        for connection in list(self.server_state.connections):
            cycle = getattr(connection, "cycle", None)
            if cycle is None or cycle.response_complete:
                connection.transport.abort()


def port_free(host: str, port: int) -> None:
    """A ``ConfigError`` naming ``api.port`` at once where another process listens on it
    (uvicorn would find out only after the stack and the model are up, in a traceback)."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise ConfigError([f"api.port: port {port} on {host} is in use or cannot be "
                               f"bound ({e.strerror}); is another courtbox running? "
                               "Stop it or choose another port (--port)"]) from e


def mount_sync(app: FastAPI, *, identity: Identity,
               certificate: Certificate | ServedCertificate | None,
               data_dir: Path) -> None:
    """The court's pull API (``courtbox.sync.server``) beside the box's own, on the app's
    read connection and writer, with the box's health report as its heartbeat."""
    api = app.state.api
    app.include_router(sync_router(read=api.read, write=api.write, identity=identity,
                                   certificate=certificate, data_dir=data_dir,
                                   health=lambda: box_health(api),
                                   submit=api.writer.submit))


def served_certificate(config: Config, stack: RecordingStack,
                       say: Callable[[str], None]) -> Certificate | None:
    """The certificate to serve (``courtbox.sync.tls.api_certificate``); a configured one
    that cannot be used is said and audit-logged, and the box's own is served instead."""
    box_id = stack.store.identity.box_id
    try:
        return api_certificate(config.api, config.storage.data_dir, box_id)
    except TlsError as e:
        if not config.api.tls_cert:
            raise  # the box's own: nothing to fall back to
        reason = str(e)
    logger.error("api.tls_cert: %s; serving the box's own certificate", reason)
    say(f"api.tls_cert: {reason}; serving the box's own certificate instead")
    stack.writer.call(lambda s: s.audit("agent", "config.tls_refused", None, reason=reason))
    return box_certificate(config.storage.data_dir, box_id)


async def ping_watchdog(room: Courtroom) -> None:
    """Ping systemd's watchdog while capture is alive (and this loop answers); on a stuck
    capture stop pinging, so that systemd restarts the agent and the hearing records on."""
    interval = watchdog_interval()
    if interval is None:
        return
    reported = None
    while True:
        why = await asyncio.to_thread(room.capture_problem)
        if why is None:
            notify("WATCHDOG=1")
        elif why != reported:
            logger.error("capture is stuck (%s): no more watchdog pings, systemd restarts "
                         "the agent", why)
            notify(f"STATUS=capture stuck: {why}")
        reported = why
        await asyncio.sleep(interval)


async def watch_health(watch: HealthWatch, interval: float) -> None:
    """Check the box's health every ``interval`` s; alarms go to the audit log."""
    while True:
        try:
            await asyncio.to_thread(watch.check)
        except Exception:  # noqa: BLE001 - a failing probe must not stop the agent
            logger.exception("health check failed")
        await asyncio.sleep(interval)


RETENTION_CHECK_S = 600.0


async def housekeeping(config: Config, stack: RecordingStack,
                       renew: Callable[[], Certificate | None] | None = None) -> None:
    """Every ``RETENTION_CHECK_S``: release the audio the centre has acknowledged and whose
    retention has passed; alarm when the disk is full and nothing may go; ``renew`` the
    served TLS certificate when it is due (``courtbox.sync.tls.ServedCertificate``)."""
    from courtbox.sync.retention import pressure_alarm, release

    data_dir = Path(config.storage.data_dir)
    while True:
        await asyncio.sleep(RETENTION_CHECK_S)
        try:
            released = await asyncio.to_thread(stack.writer.call, lambda s: release(
                s, data_dir, config.sync.retention_days))
            disk = stack.disk(config.channels, config.audio.sample_rate)
            if not released and disk.full:
                def alarm(s) -> None:
                    pressure_alarm(s, full=True, unacked_bytes=sync_lag(s)["lag_bytes"])

                await asyncio.to_thread(stack.writer.call, alarm)
        except Exception:  # noqa: BLE001 - housekeeping must not stop the agent
            logger.exception("retention check failed")
        if renew is not None:
            await renew_certificate(stack, renew)


async def renew_certificate(stack: RecordingStack,
                            renew: Callable[[], Certificate | None]) -> None:
    """Renew the served certificate when it is due; audit-logged, never fatal."""
    try:
        cert = await asyncio.to_thread(renew)
        if cert is not None:
            await asyncio.to_thread(stack.writer.call, lambda s: s.audit(
                "agent", "tls.renewed", None, sha256=cert.sha256))
    except Exception:  # noqa: BLE001 - an old certificate must not stop the agent
        logger.exception("renewing the TLS certificate failed")


def advertise(config: Config, stack: RecordingStack, host: str, port: int, scheme: str):
    """The mDNS announcement, or None (logged) where the network refuses it: discovery is
    a convenience, never a reason not to record."""
    from courtbox.sync.discovery import Advertiser

    try:
        return Advertiser(stack.store.identity, court=config.court.court,
                          room=config.court.room, host=host, port=port, scheme=scheme)
    except Exception as e:  # noqa: BLE001 - zeroconf raises its own kinds; logged
        logger.warning("cannot announce the box over mDNS: %s", e)
        return None


def run_service(config: Config, *, audio: Path | None = None, transcribe: bool = True,
                say: Callable[[str], None] = print) -> None:
    # uvicorn takes SIGINT/SIGTERM while it serves and raises them again when it is done;
    # by then they must do nothing, so that the shutdown after it runs to its end.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    os.umask(0o027)  # the record is for the box's account (and its group) alone
    asyncio.run(serve(config, audio=audio, transcribe=transcribe, say=say))
