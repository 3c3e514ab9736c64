"""The appliance: ``courtbox install`` into a staging root, both units accepted by
``systemd-analyze verify`` with a low exposure score, uninstall keeping the data, and the
agent speaking systemd's notify protocol (READY once up, watchdog pings only while capture
is alive, STOPPING on SIGTERM) to a real datagram socket."""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from courtbox.appliance.service import ping_watchdog
from courtbox.audio.capture import ABANDONED_STREAMS
from courtbox.config import load_config
from courtbox.room.courtroom import Courtroom
from courtbox.room.live import LiveHub
from courtbox.room.stack import RecordingStack
from tests.conftest import RunningAgent, courtbox_cmd, run_courtbox

UNITS = ("courtbox-agent.service", "courtbox-central.service",
         "courtbox-central-web.service")
needs_systemd_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                           reason="systemd-analyze is not installed")


@pytest.fixture()
def installed(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    run_courtbox("install", "--root", str(root), "--central", timeout=120)
    return root


def test_install_creates_accounts_config_and_units(installed: Path) -> None:
    passwd = (installed / "etc/passwd").read_text()
    assert re.search(r"^courtbox:x:\d+:\d+:.*:/var/lib/courtbox:/usr/sbin/nologin$", passwd,
                     re.M)
    assert re.search(r"^audio:x:\d+:courtbox$", (installed / "etc/group").read_text(), re.M)
    config = installed / "etc/courtbox/agent.toml"
    run_courtbox("config", "check", "--config", str(config), timeout=120)
    for unit in UNITS:
        text = (installed / "etc/systemd/system" / unit).read_text()
        assert f"ExecStart={Path(courtbox_cmd()[0])} " in text
        for line in ("Type=notify", "Restart=always", "ProtectSystem=strict",
                     "NoNewPrivileges=yes", "CapabilityBoundingSet=\n", "PrivateTmp=yes",
                     "SystemCallFilter=@system-service"):
            assert line in text, (unit, line)
    agent = (installed / "etc/systemd/system" / UNITS[0]).read_text()
    assert "SupplementaryGroups=audio" in agent and "WatchdogSec=" in agent
    # A second install keeps the technician's config.
    config.write_text(config.read_text() + "\n# edited\n")
    run_courtbox("install", "--root", str(installed), timeout=120)
    assert config.read_text().endswith("# edited\n")


@needs_systemd_analyze
def test_units_verify_and_score_low_exposure(installed: Path) -> None:
    for unit in UNITS:
        path = installed / "etc/systemd/system" / unit
        r = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0 and not r.stderr.strip(), r.stderr
        r = subprocess.run(["systemd-analyze", "security", "--offline=true", str(path)],
                           capture_output=True, text=True, timeout=60)
        score = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout)[1])
        print(f"{unit}: exposure {score}")
        assert score <= 2.0, r.stdout  # "OK" on systemd's 0-10 scale


def test_uninstall_keeps_data_and_config(installed: Path) -> None:
    data = installed / "var/lib/courtbox"
    data.mkdir(parents=True)
    (data / "courtbox.db").write_bytes(b"evidence")
    r = run_courtbox("uninstall", "--root", str(installed), timeout=120)
    assert "kept: the data" in r.stdout
    assert not any((installed / "etc/systemd/system" / u).exists() for u in UNITS)
    assert (data / "courtbox.db").read_bytes() == b"evidence"
    assert (installed / "etc/courtbox/agent.toml").exists()


class NotifySocket:
    """The datagram socket systemd listens on for a ``Type=notify`` service."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.got: list[tuple[float, str]] = []

    def read(self, seconds: float) -> list[str]:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                self.got.append((time.monotonic(), self.sock.recv(4096).decode()))
            except TimeoutError:
                pass
        return [m for _, m in self.got]

    def close(self) -> None:
        self.sock.close()


def test_agent_notifies_ready_pings_while_recording_and_says_stopping(
        tmp_path: Path, cache_dir: Path) -> None:
    notify = NotifySocket(tmp_path / "notify.sock")
    agent = RunningAgent(tmp_path, transcribe=False, env={
        "NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "1000000"})
    try:
        got = notify.read(0.5)
        assert any(m.startswith("READY=1\nSTATUS=listening on 127.0.0.1:") for m in got), got
        with agent.client("clerk1") as clerk:
            hid = clerk.post("/api/v1/hearings", json={"case_number": "notify"}).json()["id"]
            clerk.post(f"/api/v1/hearings/{hid}/start").raise_for_status()
            pings = notify.read(3).count("WATCHDOG=1")
            assert pings >= 4, notify.got  # every half second while capture is alive
    finally:
        assert agent.stop() == 0
    assert "STOPPING=1" in notify.read(0.3)
    notify.close()


def test_a_stuck_capture_stops_the_watchdog_pings(tmp_path: Path, monkeypatch) -> None:
    """A stream stuck in the audio driver (what ``Capture.stop`` leaves when a vanished
    device never returns) is what only a restart cures: the pings stop."""
    notify = NotifySocket(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify.path))
    monkeypatch.setenv("WATCHDOG_USEC", "400000")
    config = load_config(None, tmp_path / "data")

    async def watch() -> list[str]:
        with RecordingStack(config, tmp_path / "data", transcribe=False) as stack:
            room = Courtroom(config, stack, LiveHub(asyncio.get_running_loop()))
            task = asyncio.create_task(ping_watchdog(room))
            await asyncio.sleep(1.0)
            assert "WATCHDOG=1" in notify.read(0.05)
            ABANDONED_STREAMS.append(object())
            try:
                await asyncio.sleep(0.5)  # a ping already on its way may still arrive
                notify.got.clear()
                stuck = notify.read(0.05)
                notify.got.clear()
                await asyncio.sleep(1.0)
            finally:
                ABANDONED_STREAMS.pop()
                task.cancel()
        return stuck, notify.read(0.3)

    stuck, after = asyncio.run(watch())
    notify.close()
    assert "WATCHDOG=1" not in after, after
    assert any(m.startswith("STATUS=capture stuck: 1 input stream(s) stuck") for m in stuck)
