"""The defences of docs/security.md, against a real recording agent: TLS only (and a
configured court certificate that cannot be used falls back to the box's own), login rate
limiting, oversized bodies (announced and chunked), ``../`` paths, a private data
directory, and no password or token in the log or the database. None of them disturbs the
recording."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, RunningAgent, run_courtbox


def test_bad_requests_are_refused_and_the_recording_goes_on(tmp_path: Path,
                                                           cache_dir: Path) -> None:
    (tmp_path / "court.crt").write_text("not a certificate")
    agent = RunningAgent(tmp_path, transcribe=False, extra_config=(
        f'[sync]\nadvertise = false\n[api]\ntls_cert = "{tmp_path / "court.crt"}"\n'
        f'tls_key = "{tmp_path / "court.key"}"\n'))
    try:
        # The court's certificate is unreadable: said, and the box's own is served.
        assert any(line.startswith("api.tls_cert: cannot read the TLS certificate")
                   for line in agent.said), agent.said
        assert agent.url.startswith("https://")
        with pytest.raises(httpx.HTTPError):  # no plain HTTP on the API's port
            httpx.get(agent.url.replace("https://", "http://") + "/api/v1/sync/identity")

        with agent.client("clerk1") as clerk:
            hid = clerk.post("/api/v1/hearings", json={"case_number": "sec"}).json()["id"]
            clerk.post(f"/api/v1/hearings/{hid}/start").raise_for_status()

            # Login rate limiting: five wrong passwords, then even the right one waits.
            for _ in range(5):
                r = httpx.post(agent.url + "/api/v1/session", verify=agent.verify,
                               json={"name": "judge1", "password": "guess-guess"})
                assert r.status_code == 401
            r = httpx.post(agent.url + "/api/v1/session", verify=agent.verify,
                           json={"name": "judge1", "password": PASSWORD})
            assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
            assert "too many failed logins" in r.json()["detail"]

            # Oversized bodies, announced or chunked: 413 before they are read whole.
            big = {"case_number": "x", "title": "长" * 700_000}
            r = clerk.post("/api/v1/hearings", json=big)
            assert r.status_code == 413 and "over" in r.json()["detail"]
            r = clerk.post("/api/v1/hearings", content=(b"{" + b" " * 65536 for _ in
                                                        range(40)),
                           headers={"content-type": "application/json"})
            assert r.status_code == 413

            # ../ in every path parameter: never a file outside what the route serves.
            token = run_courtbox("sync", "enroll", "probe", "--config", str(agent.config)
                                 ).stdout.split("--token ")[1].split()[0]
            for path, headers in (
                    ("/api/v1/sync/blobs/..%2F..%2Fcourtbox.db", {"Authorization":
                                                                 f"Bearer {token}"}),
                    ("/api/v1/sync/blobs/../../courtbox.db", {"Authorization":
                                                             f"Bearer {token}"}),
                    ("/web/..%2Fapi.py", {}),
                    (f"/api/v1/hearings/..%2F..%2F{hid}/audio", {}),
                    ("/api/v1/hearings/..%2F..%2Fidentity%2Fbox.key/export?format=txt", {})):
                r = clerk.get(path, headers=headers)
                assert r.status_code in (404, 422), (path, r.status_code)
                assert b"SQLite format" not in r.content and b"PRIVATE" not in r.content

            hearing = clerk.get(f"/api/v1/hearings/{hid}").json()
            assert hearing["state"] == "recording"
            clerk.post(f"/api/v1/hearings/{hid}/close").raise_for_status()
            segments = clerk.get(f"/api/v1/hearings/{hid}").json()
        assert segments["state"] == "closed"
    finally:
        assert agent.stop() == 0

    # The data directory is private; the key is the box's alone.
    assert stat.S_IMODE(agent.data.stat().st_mode) == 0o750
    for path in agent.data.rglob("*"):
        assert not stat.S_IMODE(path.stat().st_mode) & 0o007, path
    for key in ("box.key", "tls.key"):
        assert stat.S_IMODE((agent.data / "identity" / key).stat().st_mode) == 0o600

    # No password and no token, in the log or anywhere in the database.
    secrets = [PASSWORD.encode(), b"guess-guess", token.encode()]
    stored = b"".join(p.read_bytes() for p in agent.data.glob("courtbox.db*"))
    log = agent.log.read_bytes()
    for secret in secrets:
        assert secret not in stored and secret not in log
    db = sqlite3.connect(agent.data / "courtbox.db")
    try:
        refused = db.execute("SELECT detail FROM audit_log WHERE action = "
                             "'config.tls_refused'").fetchall()
    finally:
        db.close()
    assert len(refused) == 1 and "court.crt" in refused[0][0]
