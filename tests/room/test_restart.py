"""Power cuts and restarts, for real: ``courtbox run`` records the sample hearing and is
killed with SIGKILL at 20 random points and stopped with SIGTERM 5 times, restarted each
time on the same data. After every restart the hearing records on as a new part with the
gap audit-logged, ``courtbox verify`` passes, and nothing archived before the signal nor
acknowledged by the court's collector is missing or changed."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import socket
import time
from pathlib import Path

from courtbox.record.verify import verify
from tests.central.helpers import assert_audio_at_centre, box_read, central, enroll
from tests.conftest import RunningAgent, run_courtbox

SEED = int(os.environ.get("COURTBOX_RESTART_SEED", "7"))
NO_ADVERTISE = "[sync]\nadvertise = false\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def archive_files(data: Path) -> dict[str, str]:
    """Every audio file on disk (relative path -> sha256), partial ones included."""
    return {str(p.relative_to(data)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in (data / "audio").rglob("seg-*") if p.is_file()}


def test_twenty_kills_and_five_stops_lose_nothing(tmp_path: Path, cache_dir: Path,
                                                  centre) -> None:
    rng = random.Random(SEED)
    port = free_port()
    agent = RunningAgent(tmp_path / "run-00", transcribe=False, port=port,
                         extra_config=NO_ADVERTISE)
    with agent.client("clerk1") as clerk:
        hid = clerk.post("/api/v1/hearings", json={"case_number": "(2026)京0105民初7号"}
                         ).json()["id"]
        clerk.post(f"/api/v1/hearings/{hid}/start").raise_for_status()
    enroll(agent, centre)
    signals = [signal.SIGKILL] * 20 + [signal.SIGTERM] * 5
    rng.shuffle(signals)
    acked: dict[int, str] = {}  # seq -> sha256 of what the collector acknowledged
    try:
        for i, sig in enumerate(signals, 1):
            time.sleep(rng.uniform(0.1, 3.0))
            if i % 6 == 0:  # the court's collector pulls now and then, between restarts
                central(centre, "run", "--once")
                acked |= box_read(agent, lambda s: {e.seq: e.sha256 for e in s.outbox(
                    0, 1_000_000) if e.seq <= s.db.execute(
                        "SELECT acked_seq FROM collectors").fetchone()[0]})
            agent.proc.send_signal(sig)
            assert agent.proc.wait(60) == (0 if sig == signal.SIGTERM else -9), \
                agent.log.read_text()
            on_disk = archive_files(agent.data)
            parts_before = box_read(agent, lambda s: max(
                (x["part"] for x in s.segments(hid)), default=0))

            agent = RunningAgent(tmp_path / f"run-{i:02d}", transcribe=False, port=port,
                                 data=agent.data, extra_config=NO_ADVERTISE)
            why = f"restart {i} after {sig.name} (seed {SEED})"
            rows = box_read(agent, lambda s: {x["path"]: x["sha256"] for x in s.segments(hid)})
            for path, sha in on_disk.items():  # archived before the signal: all recorded
                if path.endswith(".partial"):  # the segment in progress, kept as defective
                    path = path.removesuffix(".flac.partial") + ".defective.flac"
                assert rows.get(path) == sha, f"{why}: {path} missing or changed"
                assert archive_files(agent.data)[path] == sha, why
            continued = box_read(agent, lambda s: [
                a["detail"] for a in s.audit_entries(hid)
                if a["action"] == "recording.continued"])
            assert len(continued) == i, why
            assert continued[-1]["part"] > parts_before and continued[-1]["gap_seconds"] > 0
            with agent.client("clerk1") as clerk:
                assert clerk.get(f"/api/v1/hearings/{hid}").json()["state"] == "recording"
            report = verify(agent.data)
            assert report.ok, f"{why}: {[h.broken for h in report.hearings]}"
            still = box_read(agent, lambda s: {e.seq: e.sha256
                                               for e in s.outbox(0, 1_000_000)})
            assert all(still.get(seq) == sha for seq, sha in acked.items()), why
        with agent.client("clerk1") as clerk:
            time.sleep(1)
            assert clerk.post(f"/api/v1/hearings/{hid}/close").json()["state"] == "closed"
        out = central(centre, "run", "--once").stdout
        assert "0 quarantined; ok" in out, out
    finally:
        agent.stop()

    assert verify(agent.data).ok
    assert_audio_at_centre(agent, centre)
    txt = run_courtbox("export", hid, "-f", "txt", "-o", str(tmp_path / "record.txt"),
                       "--data-dir", str(agent.data))
    assert (tmp_path / "record.txt").read_text().count("录音系统重启，继续录音") == 25, txt
