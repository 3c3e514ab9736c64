"""A corrupt database file: the agent starts anyway, keeps the damaged file byte for byte
beside a salvaged one, says so in one line of its log, and every audio file recorded
before is still there, unchanged. A corrupt model directory: the agent says so, records
without transcription and raises a health alarm. (The other bad inputs: malformed config
in test_config, missing device in test_capture, full disk in test_disk, a damaged bundled
model in test_model, wrong credentials, oversized bodies and ``../`` paths in
test_security.)"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

from tests.conftest import RunningAgent
from tests.room.test_restart import archive_files
from tests.sync.test_sync import box_read, record_hearing


def test_a_corrupt_database_is_salvaged_and_no_audio_is_lost(tmp_path: Path,
                                                            cache_dir: Path) -> None:
    agent = RunningAgent(tmp_path / "first", transcribe=False,
                         extra_config="[sync]\nadvertise = false\n")
    try:
        record_hearing(agent, "before the damage", seconds=6)
    finally:
        assert agent.stop() == 0
    audio = archive_files(agent.data)
    assert audio
    db = agent.data / "courtbox.db"
    data = bytearray(db.read_bytes())
    data[4096 * 3: 4096 * 4] = b"\xff" * 4096  # one page of the file overwritten
    db.write_bytes(bytes(data))
    damaged_sha = hashlib.sha256(bytes(data)).hexdigest()

    again = RunningAgent(tmp_path / "second", transcribe=False, data=agent.data,
                         extra_config="[sync]\nadvertise = false\n")
    try:
        with again.client("clerk1") as clerk:  # accounts that still read still log in
            assert clerk.get("/api/v1/hearings").status_code == 200
        record_hearing(again, "after the damage", seconds=3)
    finally:
        assert again.stop() == 0
    log = again.log.read_text()
    assert "is damaged" in log and "moved to" in log, log
    (kept,) = (agent.data / "damaged").glob("courtbox-*.db")
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == damaged_sha
    now = archive_files(agent.data)
    assert all(now.get(path) == sha for path, sha in audio.items())
    salvaged = box_read(again, lambda s: [a for a in s.db["audit_log"].rows
                                          if a["action"] == "database.salvaged"])
    assert len(salvaged) == 1


def test_a_corrupt_model_records_without_transcription_and_raises_an_alarm(
        tmp_path: Path, cache_dir: Path) -> None:
    from courtbox.transcribe.model import bundled_model_dir

    model = tmp_path / "whisper-small"  # what a technician copied, cut short
    shutil.copytree(bundled_model_dir(cache_dir), model)
    with open(model / "model.bin", "r+b") as f:
        f.truncate(4096)
    agent = RunningAgent(tmp_path, extra_config=(
        f'[model]\npath = "{model}"\n[health]\ninterval_s = 1\n'
        '[sync]\nadvertise = false\n'))
    try:
        (said,) = [line for line in agent.said if "without transcription" in line]
        assert str(model) in said, said
        hid = record_hearing(agent, "no model", seconds=4)
        with agent.client("clerk1") as clerk:
            health = clerk.get("/api/v1/health").json()
            assert health["status"] == "alarm"
            assert "without transcription" in health["alarms"]["model_unavailable"]
            deadline = time.monotonic() + 10
            while not (alarm := [a for a in box_read(agent, lambda s: list(
                    s.db["audit_log"].rows)) if a["action"] == "health.alarm"
                    and "model_unavailable" in a["detail"]]):
                assert time.monotonic() < deadline
                time.sleep(0.5)
    finally:
        assert agent.stop() == 0
    segments = box_read(agent, lambda s: s.segments(hid))
    assert sum(s["frames"] for s in segments) >= 3 * 16000 and alarm
