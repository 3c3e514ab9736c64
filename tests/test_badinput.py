"""A corrupt database file: the agent starts anyway, keeps the damaged file byte for byte
beside a salvaged one, says so in one line of its log, and every audio file recorded
before is still there, unchanged. (The other bad inputs: malformed config in
test_config, missing device in test_capture, full disk in test_disk, damaged model in
test_model, wrong credentials, oversized bodies and ``../`` paths in test_security.)"""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.conftest import RunningAgent
from tests.test_restart import archive_files
from tests.test_sync import box_read, record_hearing


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
