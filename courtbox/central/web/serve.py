"""``courtbox central serve``: the app under uvicorn over HTTPS, with the certificate and key
of ``[web]`` (the court's CA's; there is no plain-HTTP mode). The socket is bound before
uvicorn starts, so the address printed (``listening on https://HOST:PORT``, the port
chosen when ``web.port`` is 0) is already accepting."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import ssl
from pathlib import Path

from courtbox.errors import ConfigError
from courtbox.hardware.systemd import run_notified


def check_tls(web) -> None:
    """One line naming the key when the certificate or key cannot be used."""
    for key in ("tls_cert", "tls_key"):
        if not getattr(web, key):
            raise ConfigError([f"web.{key}: the web service speaks HTTPS only; name a PEM "
                               "file (the court CA's certificate and its key)"], "")
        if not Path(getattr(web, key)).is_file():
            raise ConfigError([f"web.{key}: no such file {getattr(web, key)}"], "")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            web.tls_cert, web.tls_key)
    except (ssl.SSLError, OSError) as e:
        raise ConfigError([f"web.tls_cert: cannot be served with web.tls_key: {e}"],
                          "") from e


def _quiet_exit(server) -> None:
    """SIGTERM and SIGINT stop the service gracefully and it exits 0 (uvicorn would raise
    the signal again once stopped, and the process would die of it)."""
    @contextlib.contextmanager
    def capture_signals():
        old = {s: signal.signal(s, server.handle_exit) for s in (signal.SIGINT,
                                                                  signal.SIGTERM)}
        try:
            yield
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
    server.capture_signals = capture_signals


def serve(config, *, host: str | None = None, port: int | None = None,
          announce=print) -> None:
    import uvicorn

    from courtbox.central.web.app import create_app

    web = config.web
    check_tls(web)
    host = host or web.host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, web.port if port is None else port))
    sock.listen(1024)
    app = create_app(config)
    server = uvicorn.Server(uvicorn.Config(
        app, ssl_certfile=web.tls_cert, ssl_keyfile=web.tls_key, log_level="warning",
        proxy_headers=False, server_header=False, timeout_graceful_shutdown=5))
    _quiet_exit(server)
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    announce(f"listening on https://{shown}:{sock.getsockname()[1]}")
    # Type=notify under systemd: READY once listening, watchdog pings while the loop answers.
    asyncio.run(run_notified(server.serve(sockets=[sock])))
