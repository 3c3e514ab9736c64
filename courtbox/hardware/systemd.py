"""The systemd notify protocol: READY, STATUS, STOPPING and the watchdog ping.

A unit with ``Type=notify`` waits for ``READY=1`` before it counts the service as started,
and one with ``WatchdogSec=`` restarts the service when ``WATCHDOG=1`` does not arrive in
time. Both are datagrams to the socket systemd names in ``$NOTIFY_SOCKET`` (a path, or an
abstract name starting with ``@``). Outside systemd there is no socket and every call is a
no-op that returns False, so the agent runs the same by hand and under the unit.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Coroutine
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _address() -> str | None:
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return None
    return "\0" + addr[1:] if addr.startswith("@") else addr


def notify(*fields: str) -> bool:
    """Send ``fields`` (``READY=1``, ``STATUS=...``) to systemd; False when not under it."""
    addr = _address()
    if addr is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(addr)
            sock.sendall("\n".join(fields).encode())
    except OSError as e:
        logger.warning("cannot notify systemd at %s: %s", addr.lstrip("\0"), e)
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between watchdog pings (half of ``WatchdogSec=``), or None without one."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2e6
    except ValueError:
        logger.warning("WATCHDOG_USEC=%r is not a number; no watchdog pings", usec)
        return None


async def run_notified(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` as the service's main work: READY when it starts, a watchdog ping
    every half ``WatchdogSec=`` while the event loop answers, STOPPING when it ends."""
    notify("READY=1")
    interval = watchdog_interval()

    async def ping() -> None:
        while True:
            notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    pinger = asyncio.create_task(ping()) if interval else None
    try:
        return await coro
    finally:
        notify("STOPPING=1")
        if pinger is not None:
            pinger.cancel()
