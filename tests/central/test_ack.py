"""The box hears "acknowledged" only after the object store confirmed the audio and
PostgreSQL committed the record: with either failing in between, nothing is acknowledged
and the box's retention releases nothing; the next pull completes it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg
import pytest

from courtbox.central.collector import Collector
from courtbox.central.objects import ObjectStore, object_key
from courtbox.central.store import CentralStore
from tests.central.helpers import box_acks, box_read, central, enroll, record_hearing
from tests.conftest import RunningAgent, run_courtbox


@pytest.fixture()
def agent(tmp_path: Path, cache_dir: Path):
    box = RunningAgent(tmp_path / "box", transcribe=False,
                       extra_config="[sync]\nadvertise = false\nretention_days = 0\n")
    yield box
    box.stop()


def released(agent: RunningAgent) -> int:
    run_courtbox("sync", "release", "--config", str(agent.config))
    return box_read(agent, lambda s: s.db.execute(
        "SELECT COUNT(*) FROM released_segments").fetchone()[0])


def test_nothing_is_acknowledged_while_the_object_store_is_down(agent, centre) -> None:
    record_hearing(agent, "s3 down")
    enroll(agent, centre)
    settings = centre.settings()
    down = settings.objects.model_copy(update={"endpoint": "http://127.0.0.1:9"})
    store = CentralStore(settings, objects=ObjectStore(down))
    try:
        (report,) = asyncio.run(Collector(store).pull_all())
    finally:
        store.close()
    assert "ObjectStoreError" in report.error and report.records == 0
    assert centre.sql("SELECT COUNT(*) FROM entries") == [(0,)]
    segments = box_read(agent, lambda s: [x for h in s.hearings() for x in s.segments(h["id"])])
    assert box_acks(agent) == (0, len(segments))
    assert released(agent) == 0

    central(centre, "run", "--once")  # the store is back
    assert box_acks(agent)[1] == 0 and released(agent) == len(segments)


def test_nothing_is_acknowledged_when_the_database_fails_after_the_upload(agent, centre
                                                                         ) -> None:
    """The database turns read-only (and drops the collector's connections) right after
    the object store confirmed the first audio file: the object is stored, locked, but
    no record is committed and the box hears nothing; the next pull finds the object
    already stored, commits and acknowledges."""
    record_hearing(agent, "pg fails")
    enroll(agent, centre)
    name = centre.dsn.rsplit("/", 1)[1]
    admin = centre.dsn.rsplit("/", 1)[0] + "/postgres"

    def database(read_only: bool) -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE {name} SET default_transaction_read_only = "
                         f"{'on' if read_only else 'off'}")
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = %s", [name])

    store = centre.store()
    uploaded = []
    real_put = store.objects.put

    def put_then_fail(sha, path):
        stored = real_put(sha, path)
        uploaded.append(sha)
        database(read_only=True)
        return stored

    store.objects.put = put_then_fail
    try:
        (report,) = asyncio.run(Collector(store).pull_all())
    finally:
        store.close()
        database(read_only=False)
    assert report.error and report.records == 0, report
    # Uploads run side by side: another may have finished before the failure was seen.
    assert uploaded, report
    for sha in uploaded:
        head = centre.s3().head_object(Bucket=centre.bucket, Key=object_key(sha))
        assert head["ObjectLockMode"] == "COMPLIANCE"
    assert centre.sql("SELECT COUNT(*) FROM entries") == [(0,)]
    segments = box_read(agent, lambda s: [x for h in s.hearings() for x in s.segments(h["id"])])
    assert len(uploaded) <= len(segments)
    assert box_acks(agent) == (0, len(segments))
    assert released(agent) == 0

    out = central(centre, "run", "--once").stdout
    entries = box_read(agent, lambda s: s.outbox(0, 100000))
    assert f"{len(segments) - len(uploaded)} blobs" in out  # the stored are not sent again
    assert box_acks(agent) == (entries[-1].seq, 0)
    assert released(agent) == len(segments)
    for sha in uploaded:  # uploaded once, never again
        versions = centre.s3().list_object_versions(Bucket=centre.bucket,
                                                    Prefix=object_key(sha))["Versions"]
        assert len(versions) == 1
