"""Idle and stalled connections cannot take the box (issue 17, class 3): against a real
``courtbox run``, hundreds of connections that send nothing and TLS handshakes never
finished are closed by the box within its timeouts, the clerk gets in meanwhile (an idle
connection makes room at the ceiling), and the agent's descriptors stay below its limit.
Before: uvicorn held every one for ever (a TLS one for 60 s) and at the file limit
``accept()`` failed and the archive could not open its next segment."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import RunningAgent

CONFIG = ("[sync]\nadvertise = false\n[api]\nmax_connections = 64\n"
          "handshake_timeout_s = 2\nheader_timeout_s = 2\n")


def _closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _agent_sockets(pid: int) -> int:
    count = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            count += os.readlink(fd).startswith("socket:")
        except OSError:
            pass
    return count


def test_idle_connections_are_closed_and_the_clerk_gets_in(tmp_path: Path) -> None:
    agent = RunningAgent(tmp_path, transcribe=False, extra_config=CONFIG)
    host, port = agent.url.removeprefix("https://").rsplit(":", 1)
    idle: list[socket.socket] = []
    try:
        token = agent.token("clerk1")
        for i in range(200):
            sock = socket.create_connection((host, int(port)))
            if i % 4 == 0:
                sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a hello, cut
            sock.setblocking(False)
            idle.append(sock)
        assert _agent_sockets(agent.proc.pid) <= 64 + 64 + 16
        started = time.monotonic()
        for _ in range(5):  # each a new connection, at the ceiling
            t = time.monotonic()
            r = httpx.get(agent.url + "/api/v1/health", verify=agent.verify,
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)
            assert r.status_code == 200 and time.monotonic() - t < 2.0
        deadline = started + 6
        while not all(_closed_by_peer(s) for s in idle):
            assert time.monotonic() < deadline, sum(not _closed_by_peer(s) for s in idle)
            time.sleep(0.2)
    finally:
        for sock in idle:
            sock.close()
        assert agent.stop() == 0


CEILING = """
import resource
from courtbox.appliance.connections import RESERVED_FDS, connection_ceiling
resource.setrlimit(resource.RLIMIT_NOFILE, (400, 400))
print(connection_ceiling(1000), RESERVED_FDS)
"""


def test_the_ceiling_keeps_room_for_the_archive_below_the_file_limit() -> None:
    out = subprocess.run([sys.executable, "-c", CEILING], capture_output=True, text=True,
                         check=True).stdout.split()
    assert int(out[0]) == 400 - int(out[1])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft <= hard  # this process's own limit is untouched by the child's


def test_the_unit_gives_the_agent_a_file_limit() -> None:
    unit = (Path(__file__).parents[2] / "systemd" / "courtbox-agent.service").read_text()
    (line,) = [x for x in unit.splitlines() if x.startswith("LimitNOFILE=")]
    assert int(line.split("=")[1]) >= 4096
