"""Level meters and alarms on the real sample hearing: no false alarms on a healthy room,
a dead microphone and a clipping one are found, and both reach the audit log."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import soundfile as sf

from courtbox.appliance.demo import sample_dir
from courtbox.audio.levels import LevelMeter, LevelReport, MeterOptions
from courtbox.audio.types import Block
from tests.conftest import run_courtbox


def _meter(data: np.ndarray, rate: int, **options: float) -> list[LevelReport]:
    meter = LevelMeter(data.shape[1], rate, MeterOptions(**options))
    reports: list[LevelReport] = []
    for i in range(0, len(data), 1600):
        reports += meter.feed(Block(i, data[i:i + 1600]))
    return reports


def _room(seconds: int) -> tuple[np.ndarray, int]:
    audio, rate = sf.read(str(sample_dir() / "hearing.flac"), dtype="int16")
    return audio[: seconds * rate], rate


def test_a_healthy_room_gives_ten_reports_a_second_and_no_alarm() -> None:
    """The sample hearing's four live microphones: meters only, no alarm."""
    audio, rate = _room(60)
    reports = _meter(audio, rate, dead_after_s=20)
    assert len(reports) == 600
    assert not [a for r in reports for a in r.alarms]
    quiet = reports[3]  # 0.4 s: before anyone speaks, only the room noise floor
    assert all(-70 < db < -50 for db in quiet.rms_db)
    assert max(max(r.rms_db) for r in reports) > -30


def test_a_dead_microphone_and_its_return_are_alarmed() -> None:
    """A channel of digital silence alarms after dead_after_s of others' speech, and clears."""
    audio, rate = _room(60)
    dead = audio.copy()
    dead[: 40 * rate, 2] = 0
    alarms = [a for r in _meter(dead, rate, dead_after_s=30) for a in r.alarms]
    assert [(a.kind, a.channel) for a in alarms] == [("dead_mic", 2), ("dead_mic_cleared", 2)]
    assert 30 * rate <= alarms[0].at_sample <= 31 * rate
    assert 40 * rate <= alarms[1].at_sample <= 40.2 * rate


def test_clipping_is_alarmed_once_per_burst() -> None:
    """A channel driven into full scale alarms, at most once per clip_repeat_s."""
    audio, rate = _room(30)
    hot = audio.copy()
    hot[:, 0] = np.clip(audio[:, 0].astype(np.int32) * 16, -32768, 32767)
    alarms = [a for r in _meter(hot, rate, clip_repeat_s=10) for a in r.alarms]
    assert alarms and {(a.kind, a.channel) for a in alarms} == {("clipping", 0)}
    times = [a.at_sample / rate for a in alarms]
    assert all(b - a >= 10 for a, b in zip(times, times[1:], strict=False))


def test_a_dead_microphone_reaches_the_audit_log(tmp_path: Path) -> None:
    """Recording with a dead channel writes an audio.dead_mic audit entry naming the seat."""
    audio, rate = _room(20)
    audio[:, 3] = 0
    source = tmp_path / "room.flac"
    sf.write(str(source), audio, rate)
    config = tmp_path / "agent.toml"
    config.write_text("[audio]\ndead_mic_minutes = 0.2\n", encoding="utf-8")
    result = run_courtbox("record", "--config", str(config), "--data-dir", str(tmp_path / "d"),
                          "--case-number", "x", "--audio", str(source), "--no-transcribe",
                          "--json", timeout=120)
    assert "channel 4 has been silent" in result.stderr
    db = sqlite3.connect(tmp_path / "d" / "courtbox.db")
    rows = db.execute("SELECT detail FROM audit_log WHERE action = 'audio.dead_mic'").fetchall()
    assert len(rows) == 1 and json.loads(rows[0][0])["seat"] == "defendant"
