"""The box under a hostile network (issue 17, the load test), loopback only, bounded in count
and time: while a hearing records from the sample file, 1,000 connections that send
nothing (a quarter a TLS ClientHello cut short), a login-guessing burst from 20 source
addresses (``X-Forwarded-For`` from 127.0.0.1, the trusted proxy of this config) and an
unauthenticated request flood. Throughout, the clerk pauses and resumes, each answered
within 1 s; afterwards the archive is the input sample for sample, ``courtbox verify``
passes, and the login attempts added at most ``audit_bound(seconds)`` audit rows: about
120 for the 200 guesses and 1,200 requests here, where one row per refusal was 10,000s."""

from __future__ import annotations

import resource
import socket
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

from tests.conftest import RunningAgent, run_courtbox, sample_dir

IDLE = 1000
SOURCES = 20
GUESSES = 8  # per source: 6 at the judge's account, 2 at others
FLOOD = 1200  # unauthenticated requests
ATTACK_S = 20.0  # at least; the clerk goes on until the attack is over (at most 60 s)
AUDIT_PER_MINUTE = 60



def audit_bound(seconds: float) -> int:
    """Failed logins logged one by one: the budget's burst plus its refill while the
    guesses ran (one a second here); refusal summaries: one per source per window, plus
    one for the rest."""
    return AUDIT_PER_MINUTE + int(seconds * AUDIT_PER_MINUTE / 60) + 1 + SOURCES + 1


CONFIG = ('[sync]\nadvertise = false\n[api]\ntrusted_proxies = ["127.0.0.1"]\n'
          f'login_audit_per_minute = {AUDIT_PER_MINUTE}\n')


def _idle_connections(host: str, port: int, stop: threading.Event, opened: list) -> None:
    """Keep about IDLE connections open that never send a request (the box closes them;
    each is replaced), at most 4 × IDLE in all."""
    socks: list[socket.socket] = []
    total = 0
    while not stop.is_set() and total < 4 * IDLE:
        alive = []
        for sock in socks:
            try:
                gone = sock.recv(1) == b""
            except BlockingIOError:
                gone = False
            except OSError:
                gone = True
            if gone:
                sock.close()
            else:
                alive.append(sock)
        socks = alive
        while len(socks) < IDLE and total < 4 * IDLE:
            try:
                sock = socket.create_connection((host, port), timeout=2)
            except OSError:
                break
            if total % 4 == 0:
                sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
            sock.setblocking(False)
            socks.append(sock)
            total += 1
        opened.append(total)
        stop.wait(0.5)
    for sock in socks:
        sock.close()


def _guesses(agent: RunningAgent, source: int) -> list[int]:
    headers = {"X-Forwarded-For": f"10.20.0.{source}"}
    codes = []
    with httpx.Client(base_url=agent.url, verify=agent.verify, timeout=30,
                      headers=headers) as client:
        for i in range(GUESSES):
            name = "judge1" if i < 6 else f"user{source}x{i}"
            codes.append(client.post("/api/v1/session", json={
                "name": name, "password": f"guess-{source}-{i}"}).status_code)
    return codes


def _flood(agent: RunningAgent, n: int) -> list[int]:
    codes = []
    with httpx.Client(base_url=agent.url, verify=agent.verify, timeout=30) as client:
        for i in range(n):
            if i % 3 == 0:
                r = client.post("/api/v1/session", content=b"{not json")
            elif i % 3 == 1:
                r = client.get("/api/v1/hearings")
            else:
                r = client.get("/api/v1/health", headers={"Authorization": "Bearer x"})
            codes.append(r.status_code)
    return codes


def _login_rows(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT COUNT(*) FROM audit_log WHERE action LIKE"
                            " 'user.login%'").fetchone()[0]


def test_the_box_records_on_under_a_hostile_network(tmp_path: Path) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    agent = RunningAgent(tmp_path, transcribe=False, extra_config=CONFIG)
    host, port = agent.url.removeprefix("https://").rsplit(":", 1)
    stop = threading.Event()
    opened: list[int] = []
    latencies: list[float] = []
    try:
        clerk = agent.client("clerk1")
        hid = clerk.post("/api/v1/hearings", json={"case_number": "load"}).json()["id"]
        clerk.post(f"/api/v1/hearings/{hid}/start").raise_for_status()
        rows_before = _login_rows(agent.data / "courtbox.db")
        idle = threading.Thread(target=_idle_connections,
                                args=(host, int(port), stop, opened))
        idle.start()
        with ThreadPoolExecutor(SOURCES + 4) as pool:
            guesses = [pool.submit(_guesses, agent, s) for s in range(1, SOURCES + 1)]
            floods = [pool.submit(_flood, agent, FLOOD // 4) for _ in range(4)]
            attack_started = time.monotonic()
            deadline = time.monotonic() + ATTACK_S
            attack = [*guesses, *floods]
            while time.monotonic() < deadline or (
                    not all(f.done() for f in attack) and time.monotonic() < deadline + 40):
                for action in ("pause", "resume"):
                    t = time.monotonic()
                    r = clerk.post(f"/api/v1/hearings/{hid}/{action}",
                                   json={"reason": "recess"} if action == "pause" else None)
                    latencies.append(time.monotonic() - t)
                    assert r.status_code == 200, (action, r.status_code, r.text)
                    time.sleep(0.5)
            guess_codes = [c for f in guesses for c in f.result()]
            attack_s = time.monotonic() - attack_started
            flood_codes = [c for f in floods for c in f.result()]
        stop.set()
        idle.join()
        clerk.post(f"/api/v1/hearings/{hid}/close").raise_for_status()
        clerk.close()
    finally:
        stop.set()
        assert agent.stop() == 0

    added = _login_rows(agent.data / "courtbox.db") - rows_before
    print(f"pause/resume: {len(latencies)} calls, max {max(latencies):.3f} s; idle "
          f"connections opened {max(opened)}; guesses {len(guess_codes)} "
          f"({guess_codes.count(429)} refused); flood {len(flood_codes)}; login audit rows "
          f"+{added} (bound {audit_bound(attack_s)}) over {attack_s:.0f} s")
    assert max(latencies) < 1.0, sorted(latencies)[-5:]
    assert max(opened) >= IDLE, opened[-5:]
    assert set(guess_codes) <= {401, 429} and guess_codes.count(429) >= SOURCES
    assert set(flood_codes) <= {401, 422}, set(flood_codes)
    assert added <= audit_bound(attack_s), (added, attack_s)

    run_courtbox("verify", "--data-dir", str(agent.data), timeout=120)
    original, _ = sf.read(str(sample_dir() / "hearing.flac"), dtype="int16", always_2d=True)
    with sqlite3.connect(f"file:{agent.data / 'courtbox.db'}?mode=ro", uri=True) as conn:
        segments = conn.execute("SELECT part, path FROM audio_segments WHERE hearing_id = ?"
                                " ORDER BY part, idx", [hid]).fetchall()
    parts: dict[int, list[np.ndarray]] = {}
    for part, path in segments:
        parts.setdefault(part, []).append(sf.read(str(agent.data / path), dtype="int16",
                                                  always_2d=True)[0])
    assert len(parts) >= 2  # the pauses split the recording into parts
    offset = 0
    for part in sorted(parts):
        audio = np.concatenate(parts[part])
        if not np.array_equal(audio, original[offset:offset + len(audio)]):
            offset = 0  # a source that plays the file from its start at every part
        assert np.array_equal(audio, original[offset:offset + len(audio)]), part
        offset += len(audio)
