"""The API's listening socket, guarded, so that idle or stalled clients cannot take the box.

uvicorn accepts every connection and waits for it as long as it likes: a TLS handshake never
finished is held for asyncio's 60 s, a connection that never sends its request for ever, and
when the process runs out of file descriptors ``accept()`` fails, ``/health`` answers 500
and the archive cannot open its next segment. ``GuardedServer`` is uvicorn with its own
accept loop instead:

- **a ceiling** (``connection_ceiling``): at most ``api.max_connections`` open at once, and
  never more than the process's file limit (raised to its hard limit at start) less
  ``RESERVED_FDS`` kept for the archive, the database, the recogniser's pipes and the log;
  at the ceiling the oldest connection that has not yet sent a request (a stalled
  handshake, an idle socket) is shut down to make room, so a flood of idle connections
  cannot keep the clerk out; only when every connection is working is a new one closed the
  moment it is accepted;
- **a handshake timeout** (``api.handshake_timeout_s``) for TLS;
- **a first-request timeout** (``api.header_timeout_s``): a connection that has not sent
  its first request's headers by then is closed (uvicorn's ``timeout_keep_alive``,
  ``api.keep_alive_s``, covers the time between requests);
- a failing ``accept()`` (``EMFILE``) is logged and retried after a pause, never a loop.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import socket
import ssl
import time
from dataclasses import dataclass

import uvicorn

logger = logging.getLogger(__name__)

RESERVED_FDS = 256  # kept for the archive, the database, pipes and the log: never the API's
MIN_CEILING = 16
ACCEPT_RETRY_S = 0.1
EVICTING_MAX = 64  # idle connections being shut down at once, over the ceiling
EVICT_WAIT_S = 0.05


def connection_ceiling(wanted: int, reserve: int = RESERVED_FDS) -> int:
    """How many connections the API may hold: ``wanted``, within the file limit (raised to
    the hard limit first) less ``reserve``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as e:
            logger.warning("cannot raise the file limit to %d: %s", target, e)
    room = (soft if soft != resource.RLIM_INFINITY else 1 << 20) - reserve
    ceiling = max(MIN_CEILING, min(wanted, room))
    if ceiling < wanted:
        logger.warning("file limit %d: at most %d connections (api.max_connections %d), "
                       "%d descriptors kept for the recording", soft, ceiling, wanted,
                       reserve)
    return ceiling


@dataclass
class _Conn:
    accepted: float
    working: bool = False  # it has sent a request
    evicted: bool = False


def _first_request_guard(cls: type, timeout_s: float, working) -> type:
    """uvicorn's HTTP protocol ``cls``, closing a connection that has not sent its first
    request's headers within ``timeout_s`` (one that became a WebSocket is left alone);
    ``working(fd)`` is told when its first request arrives."""

    class FirstRequestGuard(cls):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            self._fd = sock.fileno() if sock is not None else -1
            self._first_request = self.loop.call_later(timeout_s, self._no_request)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.cycle is not None and self._fd != -1:
                working(self._fd)
                self._fd = -1
                self._first_request.cancel()

        def _no_request(self) -> None:
            transport = self.transport
            if (self.cycle is None and transport.get_protocol() is self
                    and not transport.is_closing()):
                transport.close()

        def connection_lost(self, exc) -> None:
            self._first_request.cancel()
            super().connection_lost(exc)

    return FirstRequestGuard


class _Listener:
    """What uvicorn's shutdown expects of a server: ``sockets``, ``close()``."""

    def __init__(self, sock: socket.socket, task: asyncio.Task) -> None:
        self.sockets = [sock]
        self._task = task

    def close(self) -> None:
        self._task.cancel()
        for sock in self.sockets:
            sock.close()

    async def wait_closed(self) -> None:
        return None


class GuardedServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, *, ceiling: int = 1000,
                 handshake_timeout_s: float = 10.0, header_timeout_s: float = 10.0) -> None:
        super().__init__(config)
        self.ceiling = ceiling
        self.handshake_timeout_s = handshake_timeout_s
        self.header_timeout_s = header_timeout_s
        self.refused = 0  # connections closed at the ceiling
        self.evicted = 0  # idle ones shut down to make room
        self._open: dict[socket.socket, _Conn] = {}
        self._by_fd: dict[int, socket.socket] = {}
        self._starting: set[asyncio.Task] = set()
        self._said = 0.0

    @property
    def open_connections(self) -> int:
        for sock in [s for s in self._open if s.fileno() == -1]:
            del self._open[sock]
        self._by_fd = {s.fileno(): s for s in self._open}
        return len(self._open)

    def _working(self, fd: int) -> None:
        sock = self._by_fd.get(fd)
        if sock is not None and sock.fileno() == fd and sock in self._open:
            self._open[sock].working = True

    def _make_room(self) -> bool:
        """At the ceiling: shut down the oldest connection that has sent nothing yet (its
        transport then closes it, the descriptor with it); False if every one works."""
        if self.open_connections < self.ceiling:
            return True
        idle = [(c.accepted, s) for s, c in self._open.items()
                if not c.working and not c.evicted]
        evicting = sum(c.evicted for c in self._open.values())
        if not idle or evicting >= EVICTING_MAX:
            return False
        sock = min(idle, key=lambda item: item[0])[1]
        self._open[sock].evicted = True
        self.evicted += 1
        try:
            sock.shutdown(socket.SHUT_RDWR)  # never close(): asyncio still holds the fd
        except OSError:
            pass
        return True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await self.lifespan.startup()
        if self.lifespan.should_exit:
            raise SystemExit(3)
        config = self.config
        protocol = _first_request_guard(config.http_protocol_class, self.header_timeout_s,
                                        self._working)

        def factory() -> asyncio.Protocol:
            return protocol(config=config, server_state=self.server_state,
                            app_state=self.lifespan.state)

        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        sock = socket.create_server((config.host, config.port), family=family,
                                    backlog=config.backlog)
        sock.setblocking(False)
        task = asyncio.create_task(self._accept(sock, factory), name="api-accept")
        self.servers = [_Listener(sock, task)]
        self.started = True

    def _say(self, text: str, *args) -> None:
        if time.monotonic() - self._said > 10:  # a flood is one line per 10 s
            self._said = time.monotonic()
            logger.warning(text, *args)

    async def _accept(self, sock: socket.socket, factory) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(sock)
            except OSError as e:
                if sock.fileno() == -1:
                    return
                self._say("accept failed (%s); %d connections open", errno.errorcode.get(
                    e.errno, e.errno), len(self._open))
                await asyncio.sleep(ACCEPT_RETRY_S)
                continue
            await asyncio.sleep(0)  # let the shut-down ones close before the next accept
            if len(self._open) >= self.ceiling and not self._make_room():
                await asyncio.sleep(EVICT_WAIT_S)  # those being shut down need a moment
                if self._make_room():
                    self._admit(loop, conn, factory)
                    continue
                conn.close()
                self.refused += 1
                self._say("%d connections open, the ceiling, all working: refusing more "
                          "(%d so far)", self.ceiling, self.refused)
                continue
            self._admit(loop, conn, factory)

    def _admit(self, loop: asyncio.AbstractEventLoop, conn: socket.socket, factory) -> None:
        self._open[conn] = _Conn(time.monotonic())
        self._by_fd[conn.fileno()] = conn
        start = loop.create_task(self._start(loop, conn, factory))
        self._starting.add(start)
        start.add_done_callback(self._starting.discard)

    async def _start(self, loop: asyncio.AbstractEventLoop, conn: socket.socket,
                     factory) -> None:
        tls = self.config.ssl
        try:
            await loop.connect_accepted_socket(
                factory, conn, ssl=tls,
                ssl_handshake_timeout=self.handshake_timeout_s if tls else None)
        except (TimeoutError, OSError, ssl.SSLError) as e:
            logger.debug("connection dropped before its first request: %s", e)
            conn.close()
