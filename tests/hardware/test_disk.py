"""A disk that fills up mid-hearing: the archive stops cleanly, holds the audio, resumes when
space returns, and the record is complete and verifies. Uses a real, small tmpfs."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import courtbox_cmd, run_courtbox, seats_toml

RATE, CHANNELS, SECONDS, RESERVE_MB = 48000, 8, 16, 16


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(mnt)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); needs root")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_mid_hearing_loses_nothing(tmp_path: Path, small_disk: Path) -> None:
    """The disk reaches the reserve after ~5 s; space returns at ~9 s; every sample is kept."""
    rng = np.random.default_rng(5)
    samples = rng.integers(-8000, 8000, size=(RATE * SECONDS, CHANNELS), dtype=np.int16)
    source = tmp_path / "noise.flac"
    sf.write(str(source), samples, RATE)
    seats = seats_toml(CHANNELS)
    config = tmp_path / "agent.toml"
    config.write_text(f"[storage]\nreserve_mb = {RESERVE_MB}\nwarn_hours = 1\n\n"
                      f"[audio]\nsegment_seconds = 5\n\n{seats}", encoding="utf-8")
    data = small_disk / "data"
    data.mkdir()
    filler = small_disk / "filler"
    free = shutil.disk_usage(small_disk).free
    with open(filler, "wb") as f:
        f.write(b"\0" * (free - (RESERVE_MB + 4) * (1 << 20)))
        os.fsync(f.fileno())
    proc = subprocess.Popen(
        [*courtbox_cmd(), "record", "--config", str(config), "--data-dir", str(data),
         "--case-number", "(2026)满盘1号", "--audio", str(source), "--no-transcribe", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(9)
    filler.unlink()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "archive paused" in err and "archive resumed" in err
    assert json.loads(out.strip().splitlines()[-1])["frames"] == RATE * SECONDS

    db = sqlite3.connect(data / "courtbox.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id")]
    assert {"disk.low", "audio.disk_low", "audio.disk_full", "audio.disk_resumed"} <= set(actions)
    assert "audio.audio_dropped" not in actions
    segments = db.execute("SELECT path, start_sample, frames, defective FROM audio_segments"
                          " ORDER BY idx").fetchall()
    assert not any(s[3] for s in segments)
    decoded = np.concatenate([sf.read(str(data / s[0]), dtype="int16")[0] for s in segments])
    assert np.array_equal(decoded, samples)
    run_courtbox("verify", "--data-dir", str(data), timeout=60)
