"""Two collectors sharing one centre (the database and the bucket, nothing else: each has
its own spool): one is killed with SIGKILL in the middle of its round; the other takes its
boxes once their leases expire, and in the end every record and object is there exactly
once and acknowledged."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from courtbox.central.objects import object_key
from tests.central.helpers import (
    SlowProxy,
    assert_audio_at_centre,
    box_acks,
    box_id,
    box_read,
    enroll,
    own_certificate,
    record_hearing,
)
from tests.conftest import RunningAgent, courtbox_cmd

LEASE_S = 6.0  # the test centre's collector.lease_s


@pytest.fixture()
def boxes(tmp_path: Path, cache_dir: Path):
    agents = [RunningAgent(tmp_path / f"box{i}", transcribe=False,
                           extra_config="[sync]\nadvertise = false\n") for i in range(2)]
    yield agents
    for a in agents:
        a.stop()


def collector(centre, spool: Path) -> subprocess.Popen:
    return subprocess.Popen([*courtbox_cmd(), "central", "run", "--config",
                             str(centre.config), "--data-dir", str(spool)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def holders(centre) -> list[str | None]:
    return [r[0] for r in centre.sql(
        "SELECT CASE WHEN expires_at > now() THEN holder END FROM box_leases ORDER BY box")]


def wait_for(what, deadline_s: float, step: float = 0.1):
    deadline = time.monotonic() + deadline_s
    while not (value := what()):
        assert time.monotonic() < deadline, f"not within {deadline_s} s"
        time.sleep(step)
    return value


def test_a_collector_killed_mid_round_loses_its_boxes_to_the_other(boxes, centre,
                                                                   tmp_path: Path) -> None:
    proxies = []
    a = b = None
    try:
        for n, agent in enumerate(boxes):
            record_hearing(agent, f"scale {n}", seconds=8)
            proxy = SlowProxy(agent.url, rate=60_000, certificate=own_certificate(agent))
            proxies.append(proxy)
            enroll(agent, centre, url=proxy.url)
        a = collector(centre, tmp_path / "a")
        name_a = f"{socket.gethostname()}:{a.pid}"
        # A holds both boxes and is inside their downloads.
        wait_for(lambda: holders(centre) == [name_a, name_a], 60)
        wait_for(lambda: any(p.stat().st_size > 20_000
                             for p in (tmp_path / "a" / "spool" / "parts").glob("*.part")), 60,
                 0.02)
        b = collector(centre, tmp_path / "b")
        name_b = f"{socket.gethostname()}:{b.pid}"
        time.sleep(1.0)  # B is up, and finds every box leased
        assert name_b not in holders(centre)
        a.send_signal(signal.SIGKILL)
        a.wait()
        killed = time.monotonic()
        wait_for(lambda: holders(centre) == [name_b, name_b]
                 or set(holders(centre)) <= {name_b, None} and centre.sql(
                     "SELECT bool_and(holder = %s) FROM box_leases", [name_b])[0][0], 30, 0.05)
        taken_after = time.monotonic() - killed
        assert taken_after < LEASE_S + 3, taken_after

        def all_in() -> bool:
            for agent in boxes:
                last = box_read(agent, lambda s: s.last_seq())
                if box_acks(agent) != (last, 0):
                    return False
            # The centre notes an ack once the box has answered it: wait for that too,
            # before the collectors are stopped.
            return centre.sql("SELECT COUNT(*) FROM box_objects WHERE acked_at IS NULL"
                              ) == [(0,)]

        wait_for(all_in, 120, 0.5)
        # systemctl stop: B ends its pulls, gives its leases back and exits cleanly.
        b.send_signal(signal.SIGTERM)
        assert b.wait(30) == 0
        assert name_b not in holders(centre)
    finally:
        for proc in (a, b):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for proxy in proxies:
            proxy.close()

    s3 = centre.s3()
    for agent in boxes:
        entries = box_read(agent, lambda s: s.outbox(0, 100000))
        assert centre.sql("SELECT seq, sha256 FROM entries WHERE box_id = %s ORDER BY seq",
                          [box_id(agent)]) == [(e.seq, e.sha256) for e in entries]
        assert_audio_at_centre(agent, centre)
        for seg in box_read(agent, lambda s: [x for h in s.hearings()
                                              for x in s.segments(h["id"])]):
            versions = s3.list_object_versions(Bucket=centre.bucket,
                                               Prefix=object_key(seg["sha256"]))["Versions"]
            assert len(versions) == 1  # uploaded once, by one of the two
    assert centre.sql("SELECT COUNT(*) FROM box_objects WHERE acked_at IS NULL") == [(0,)]
