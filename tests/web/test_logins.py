"""Logins under attack (issue 17, classes 2 and 4), against the app in this process over
ASGI: the limit is atomic, scrypt runs beside the writer, an attacker's address does not
lock the judge out, ``X-Forwarded-For`` counts only from a trusted proxy, and refused
attempts write one summary, not one row each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from courtbox.config import load_config
from courtbox.record import users
from courtbox.record.hearing import HearingInfo, open_hearing
from courtbox.web.app import create_app
from courtbox.web.logins import LoginGate, LoginLimits, flush
from tests.conftest import PASSWORD

LOGIN = "/api/v1/session"


@pytest.fixture
def app(tmp_path: Path) -> Iterator:
    data = tmp_path / "data"
    app = create_app(data)
    api = app.state.api
    config = load_config("/dev/null", data_dir=data)

    def prepare(s) -> str:
        for name, role in (("clerk1", "clerk"), ("judge1", "judge")):
            users.add_user(s, name, role, PASSWORD, actor="test")
        return open_hearing(s, config, HearingInfo(case_number="(2026)京0105民初1号"),
                            actor="test", sample_rate=16000)

    app.state.hearing = api.write(prepare)
    try:
        yield app
    finally:
        api.writer.close()
        api.writer.store.close()
        api.store.close()


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://box")


def _audit(app, action: str) -> list[dict]:
    return app.state.api.write(lambda s: [a for a in s.db["audit_log"].rows
                                          if a["action"] == action])


def _rows(app) -> int:
    return app.state.api.write(lambda s: s.db.execute("SELECT COUNT(*) FROM audit_log"
                                                      ).fetchone()[0])


def test_sixty_parallel_guesses_get_exactly_the_limit_checked(app) -> None:
    """Before: the limit was checked before and counted after the hash, so 60 parallel
    guesses got about 40 checked."""
    async def burst() -> list[int]:
        async with _client(app) as client:
            assert (await client.get(LOGIN)).status_code == 401  # the app's first request
            replies = await asyncio.gather(*(client.post(LOGIN, json={
                "name": "judge1", "password": f"guess-{i:04d}"}) for i in range(60)))
        return [r.status_code for r in replies]

    codes = asyncio.run(burst())
    assert codes.count(401) == 5 and codes.count(429) == 55, codes
    assert len(_audit(app, "user.login_failed")) == 5


def test_a_guessing_burst_does_not_stall_the_writer_or_reads(app) -> None:
    """20 logins from 20 addresses behind the trusted proxy while the clerk reads the
    hearing and the recording writes: both answer at once. Before: scrypt ran on the
    store's single writer, so each write waited for every hash queued before it."""
    app.state.logins = LoginGate(LoginLimits(), trusted=["127.0.0.1"])
    api, hid = app.state.api, app.state.hearing
    token = api.write(lambda s: users.login(s, "clerk1", PASSWORD))[0]

    async def run() -> tuple[float, float]:
        async with _client(app) as client:
            guesses = [asyncio.create_task(client.post(LOGIN, json={
                "name": "judge1", "password": "guess-guess"},
                headers={"X-Forwarded-For": f"10.1.0.{i}"})) for i in range(20)]
            await asyncio.sleep(0.3)
            t = time.monotonic()
            await asyncio.to_thread(api.writer.call, lambda s: s.audit(
                "capture", "audio.segment_test", hid))
            write_s = time.monotonic() - t
            t = time.monotonic()
            r = await client.get(f"/api/v1/hearings/{hid}",
                                 headers={"Authorization": f"Bearer {token}"})
            read_s = time.monotonic() - t
            assert r.status_code == 200
            codes = [g.status_code for g in await asyncio.gather(*guesses)]
            assert set(codes) == {401}, codes
        return write_s, read_s

    write_s, read_s = asyncio.run(run())
    assert write_s < 0.5 and read_s < 1.0, (write_s, read_s)


def test_an_attacker_does_not_lock_the_judge_out(app) -> None:
    """Failures are counted per account per address and per address: the attacker's
    address is refused, the bench's is not. Before: five failures of an account locked
    it for everyone."""
    app.state.logins = LoginGate(LoginLimits(), trusted=["127.0.0.1"])

    async def run() -> None:
        async with _client(app) as client:
            attacker = {"X-Forwarded-For": "10.9.9.9"}
            for _ in range(5):
                r = await client.post(LOGIN, json={"name": "judge1", "password": "x" * 8},
                                      headers=attacker)
                assert r.status_code == 401
            r = await client.post(LOGIN, json={"name": "judge1", "password": PASSWORD},
                                  headers=attacker)
            assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
            r = await client.post(LOGIN, json={"name": "judge1", "password": PASSWORD},
                                  headers={"X-Forwarded-For": "10.0.0.7"})
            assert r.status_code == 200, r.text
            # One address guessing many accounts meets the per-address limit.
            codes = [(await client.post(LOGIN, json={"name": f"u{i}", "password": "x" * 8},
                                        headers={"X-Forwarded-For": "10.8.8.8"})).status_code
                     for i in range(25)]
            assert codes.count(401) == 20 and codes[20:] == [429] * 5, codes

    asyncio.run(run())


def test_forwarded_for_counts_only_from_a_trusted_proxy(app) -> None:
    """Without ``api.trusted_proxies`` a client cannot pick its own address by sending
    X-Forwarded-For: all its guesses count against its peer address."""
    async def run() -> list[int]:
        async with _client(app) as client:
            return [(await client.post(LOGIN, json={"name": "judge1", "password": "x" * 8},
                                       headers={"X-Forwarded-For": f"10.2.0.{i}"})
                     ).status_code for i in range(8)]

    assert asyncio.run(run()) == [401] * 5 + [429] * 3


def test_refused_logins_are_one_summary_per_source(app) -> None:
    """500 attempts from one address once it is throttled: five failures logged, the
    refusals one ``user.login_throttled`` entry with the count. Before: one signed audit
    row and outbox entry per refused attempt."""
    before = _rows(app)

    async def run() -> None:
        async with _client(app) as client:
            for i in range(500):
                await client.post(LOGIN, json={"name": "judge1", "password": f"g{i:07d}"})
        await flush(app.state.api, app.state.logins, force=True)

    asyncio.run(run())
    assert _rows(app) - before == 6
    (summary,) = _audit(app, "user.login_throttled")
    assert '"refused":495' in summary["detail"] and '"client":"127.0.0.1"' in summary["detail"]


def test_failures_beyond_the_audit_budget_are_counted_not_logged(app) -> None:
    """Many addresses, each under its limit: past ``login_audit_per_minute`` the failures
    go into the summaries, so the database grows by a bounded number of rows."""
    app.state.logins = LoginGate(LoginLimits(audit_per_minute=10), trusted=["127.0.0.1"])
    before = _rows(app)

    async def run() -> None:
        async with _client(app) as client:
            await asyncio.gather(*(client.post(LOGIN, json={"name": "judge1", "password":
                                                            "x" * 8},
                                               headers={"X-Forwarded-For": f"10.3.{i}.1"})
                                   for i in range(25)))
        await flush(app.state.api, app.state.logins, force=True)

    asyncio.run(run())
    logged = len(_audit(app, "user.login_failed"))
    assert 10 <= logged <= 12  # the budget refills at 10 a minute while they run
    assert _rows(app) - before == logged + (25 - logged)  # one summary per other source
