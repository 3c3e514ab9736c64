"""``courtbox verify`` finds any altered byte of a segment and any altered row."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import numpy as np
import pytest

from courtbox.audio.archive import ArchiveWriter
from courtbox.audio.types import Block
from courtbox.config import load_config
from courtbox.record.hearing import HearingInfo, close_hearing, open_hearing, start_hearing
from courtbox.record.store import Store
from courtbox.record.verify import verify
from tests.conftest import courtbox_cmd


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[Path, str]:
    """A closed hearing with three archived segments, two final lines and an annotation."""
    config = load_config("/dev/null", data_dir=tmp_path)
    store = Store.in_dir(tmp_path)
    hid = open_hearing(store, config, HearingInfo("(2026)京0105民初1号"), actor="clerk",
                       sample_rate=16000)
    start_hearing(store, hid, actor="clerk")
    archive = ArchiveWriter(tmp_path, hid, part=1, sample_rate=16000, channels=4,
                            segment_seconds=5, prev_sha256=None,
                            on_segment=lambda s: store.add_segment(s.as_row()))
    archive.start()
    rng = np.random.default_rng(3)
    data = rng.integers(-3000, 3000, size=(16000 * 12, 4), dtype=np.int16)
    for i in range(0, len(data), 1600):
        archive.put(Block(i, data[i:i + 1600]))
    archive.close()
    for n, text in enumerate(["现在开庭。", "原告陈述诉讼请求。"]):
        store.add_final(hearing_id=hid, utterance_id=f"u{n}", seat="presiding_judge",
                        t0=n * 3.0, t1=n * 3.0 + 2.5, text=text,
                        words=[{"w": text, "t0": 0.0, "t1": 1.0, "p": 0.9}], avg_logprob=-0.3)
    store.add_annotation(hearing_id=hid, t=4.0, label="举证", text="原告出示证据一", author="clerk")
    close_hearing(store, hid, actor="clerk")
    store.close()
    return tmp_path, hid


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*courtbox_cmd(), "verify", "--data-dir", str(data_dir), *args],
                          capture_output=True, text=True, timeout=60)


def test_untouched_record_verifies(recorded: tuple[Path, str]) -> None:
    """A hearing as recorded passes, on the command line too."""
    data_dir, hid = recorded
    report = verify(data_dir)
    assert report.ok and report.hearings[0].segments == 3
    result = _run(data_dir, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["hearings"][0]["hearing_id"] == hid


def test_one_flipped_byte_in_a_segment_is_named(recorded: tuple[Path, str]) -> None:
    """A single altered byte inside the second segment breaks the chain right there."""
    data_dir, hid = recorded
    seg = sorted(data_dir.rglob("seg-00002.flac"))[0]
    raw = bytearray(seg.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    seg.write_bytes(bytes(raw))
    result = _run(data_dir)
    assert result.returncode == 1
    assert "audio segment part 1 #2" in result.stdout and "altered" in result.stdout


@pytest.mark.parametrize("sql, needle", [
    ("UPDATE transcript SET text = '原告撤回诉讼请求。' WHERE utterance_id = 'u1'",
     "transcript row u1:0 differs"),
    ("UPDATE audio_segments SET sha256 = prev_sha256 WHERE idx = 3", "audio segment part 1 #3"),
    ("UPDATE hearings SET case_number = '(2026)京0105民初2号'", "hearing row"),
    ("UPDATE annotations SET text = '无'", "annotations row"),
    ("DELETE FROM audit_log WHERE action = 'hearing.start'", "missing from the table"),
    ("UPDATE outbox SET body = replace(body, '现在开庭', '现在休庭')", "altered"),
    ("INSERT INTO transcript (hearing_id, utterance_id, seat, t0, t1, text, kind, created_at)"
     " SELECT id, 'x', 'clerk', 9, 10, '补录', 'final', '2026' FROM hearings",
     "has no outbox record"),
])
def test_an_altered_row_is_named(recorded: tuple[Path, str], sql: str, needle: str) -> None:
    """Editing the database behind courtbox's back is found and named."""
    data_dir, _ = recorded
    db = sqlite3.connect(data_dir / "courtbox.db")
    db.execute(sql)
    db.commit()
    db.close()
    result = _run(data_dir)
    assert result.returncode == 1, result.stdout
    assert "BROKEN" in result.stdout and needle in result.stdout, result.stdout


def test_missing_database_is_one_clear_error(tmp_path: Path) -> None:
    """Verifying an empty directory says there is no database there."""
    result = _run(tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"courtbox: error: no courtbox database in {tmp_path}"
