"""Retention against the box's own pull API (in this process, real SQLite, real files):
the period counts from the acknowledgement, not from the recording; an ack counts only
for a blob the box served that collector whole; a revoked (``courtbox sync revoke``) or
disabled collector's acks release nothing, and neither do those from before a
re-enrolment."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from courtbox.config import load_config
from courtbox.record.hearing import HearingInfo, open_hearing
from courtbox.sync.collectors import enroll
from courtbox.sync.retention import release
from courtbox.web.app import create_app
from tests.conftest import run_courtbox

API = "/api/v1/sync"
DAYS = 90
AUDIO = bytes(range(256)) * 40  # 10240 bytes: served in several pieces below


def stamp(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@pytest.fixture
def box(tmp_path: Path) -> Iterator[dict]:
    """A closed hearing with one audio segment recorded 100 days ago, the sync API mounted,
    and collector ``central-1`` enrolled."""
    from courtbox.appliance.service import mount_sync

    data = tmp_path / "data"
    app = create_app(data)
    api = app.state.api
    mount_sync(app, identity=api.writer.store.identity, certificate=None, data_dir=data)
    config = load_config("/dev/null", data_dir=data)
    (data / "audio").mkdir(parents=True)
    (data / "audio" / "old.flac").write_bytes(AUDIO)
    sha = hashlib.sha256(AUDIO).hexdigest()
    old = stamp(datetime.now(UTC) - timedelta(days=100))

    def prepare(s) -> dict:
        hid = open_hearing(s, config, HearingInfo(case_number="(2025)京0105民初1号"),
                           actor="test", sample_rate=16000)
        s.add_segment({"id": f"{hid}:1:0", "hearing_id": hid, "part": 1, "idx": 0,
                       "path": "audio/old.flac", "start_sample": 0, "frames": 16000,
                       "sample_rate": 16000, "channels": 1, "sha256": sha,
                       "prev_sha256": None})
        s.db.execute("UPDATE audio_segments SET created_at = ?", [old])
        s.update_hearing(hid, state="closed")
        return {"hid": hid, "token": enroll(s, "central-1", actor="test")}

    with TestClient(app) as client:
        parts = api.write(prepare)
        yield {**parts, "client": client, "api": api, "sha": sha, "data": data,
               "config": tmp_path / "box.toml"}


def get(box: dict, token: str | None = None, **headers: str):
    return box["client"].get(f"{API}/blobs/{box['sha']}", headers={
        "Authorization": f"Bearer {token or box['token']}", **headers})


def ack(box: dict, token: str | None = None) -> dict:
    last = box["api"].read(lambda s: s.last_seq())
    r = box["client"].post(f"{API}/ack", json={"seq": last, "blobs": [box["sha"]]},
                           headers={"Authorization": f"Bearer {token or box['token']}"})
    r.raise_for_status()
    return r.json()


def released_after(box: dict, days: float) -> list[dict]:
    """What retention releases ``days`` from now (the writer's own connection)."""
    now = datetime.now(UTC) + timedelta(days=days)
    return box["api"].write(lambda s: release(s, box["data"], DAYS, now=now))


def test_retention_counts_from_the_acknowledgement(box: dict) -> None:
    """Before: a segment recorded 100 days ago was released the moment it was acked."""
    assert get(box).content == AUDIO
    assert ack(box) == {"collector": "central-1", "acked_seq": ack(box)["acked_seq"],
                        "blobs": 1, "not_downloaded": 0}
    assert released_after(box, 0) == []
    assert released_after(box, DAYS - 1) == []
    assert (box["data"] / "audio" / "old.flac").exists()
    (seg,) = released_after(box, DAYS + 1)
    assert seg["sha256"] == box["sha"]
    assert not (box["data"] / "audio" / "old.flac").exists()


def test_an_ack_of_a_blob_never_downloaded_releases_nothing(box: dict) -> None:
    """Before: acking a sha256 was enough, downloaded or not."""
    assert ack(box)["not_downloaded"] == 1
    assert released_after(box, 10 * DAYS) == []
    # The last byte alone, or a piece that does not continue what it has, is not whole.
    assert get(box, Range="bytes=-1").status_code == 206
    assert get(box, Range="bytes=5000-").status_code == 206
    assert ack(box)["not_downloaded"] == 1
    assert released_after(box, 10 * DAYS) == []
    # A download that breaks and resumes where it stopped is whole.
    assert get(box, Range="bytes=0-4095").content == AUDIO[:4096]
    assert ack(box)["not_downloaded"] == 1
    assert get(box, Range="bytes=4096-").content == AUDIO[4096:]
    assert ack(box)["not_downloaded"] == 0
    assert released_after(box, DAYS - 1) == []
    assert len(released_after(box, DAYS + 1)) == 1


def test_a_revoked_collector_is_refused_and_its_acks_release_nothing(box: dict) -> None:
    """Before: there was no `courtbox sync revoke`."""
    get(box)
    ack(box)
    (box["config"]).write_text(f'[storage]\ndata_dir = "{box["data"]}"\n')
    r = run_courtbox("sync", "revoke", "central-1", "--config", str(box["config"]))
    assert r.returncode == 0, r.stderr
    assert "central-1 revoked" in r.stdout
    assert get(box).status_code == 401
    assert box["client"].post(f"{API}/ack", json={"seq": 0}, headers={
        "Authorization": f"Bearer {box['token']}"}).status_code == 401
    assert released_after(box, 10 * DAYS) == []
    assert box["api"].read(lambda s: s.db.execute(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'sync.revoke'").fetchone()[0]) == 1
    again = run_courtbox("sync", "revoke", "central-1", "--config", str(box["config"]),
                         check=False)
    assert again.returncode == 1 and "revoked already" in again.stderr
    nobody = run_courtbox("sync", "revoke", "central-9", "--config", str(box["config"]),
                          check=False)
    assert nobody.returncode == 1
    assert nobody.stderr.strip() == ("courtbox: error: no collector central-9 "
                                     "(courtbox sync enroll NAME)")


def test_a_disabled_collectors_acks_release_nothing(box: dict) -> None:
    """Before: a disabled collector's acks still released audio."""
    get(box)
    ack(box)
    box["api"].write(lambda s: s.db.execute("UPDATE collectors SET disabled = 1"))
    assert released_after(box, 10 * DAYS) == []


def test_re_enrolling_drops_the_old_acks(box: dict) -> None:
    """Before: the new token inherited the old acks and downloads."""
    get(box)
    ack(box)
    token = box["api"].write(lambda s: enroll(s, "central-1", actor="test"))
    assert get(box).status_code == 401  # the old token is gone
    assert released_after(box, 10 * DAYS) == []
    last = box["api"].read(lambda s: s.db.execute(
        "SELECT acked_seq FROM collectors").fetchone()[0])
    assert last == 0
    assert ack(box, token)["not_downloaded"] == 1  # it must download again
    assert get(box, token).content == AUDIO
    ack(box, token)
    assert len(released_after(box, DAYS + 1)) == 1


def test_an_ack_by_one_collector_of_a_blob_another_downloaded_releases_nothing(
        box: dict) -> None:
    other = box["api"].write(lambda s: enroll(s, "central-2", actor="test"))
    get(box)  # central-1 downloads, central-2 acks
    assert ack(box, other)["not_downloaded"] == 1
    assert released_after(box, 10 * DAYS) == []
