"""``kill -9`` at random moments of a recording: every completed segment survives intact, the
segment in progress is kept as defective, the chains verify and SQLite stays sound."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from courtbox.appliance.demo import sample_dir
from tests.conftest import courtbox_cmd, run_courtbox

ROUNDS = 20
SEGMENT_S = 5


def test_kill_9_loses_at_most_the_segment_in_progress(tmp_path: Path) -> None:
    """20 rounds of record → SIGKILL at a random moment → restart; then everything checks."""
    audio, rate = sf.read(str(sample_dir() / "hearing.flac"), dtype="int16")
    source = tmp_path / "mics.flac"
    sf.write(str(source), audio[: 20 * rate], rate)
    tail = tmp_path / "one-second.flac"
    sf.write(str(tail), audio[: rate], rate)
    config = tmp_path / "agent.toml"
    config.write_text(f"[audio]\nsegment_seconds = {SEGMENT_S}\n", encoding="utf-8")
    data = tmp_path / "data"
    base = ["record", "--config", str(config), "--data-dir", str(data), "--no-transcribe"]
    rng = random.Random(2026)
    for n in range(ROUNDS):
        proc = subprocess.Popen([*courtbox_cmd(), *base, "--case-number", f"(2026)断电{n}号",
                                 "--audio", str(source)], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        line = proc.stdout.readline()
        assert line.startswith("recording "), line
        time.sleep(rng.uniform(0.05, 7.5))  # in the first segment, or in the second
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    run_courtbox(*base, "--case-number", "(2026)恢复号", "--audio", str(tail), "--json",
                 timeout=120)

    db = sqlite3.connect(data / "courtbox.db")
    db.row_factory = sqlite3.Row
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check = run_courtbox("verify", "--data-dir", str(data), timeout=120)
    assert check.stdout.count("OK ") == ROUNDS + 1
    assert not list(data.rglob("*.partial"))

    defective_total = 0
    for hearing in db.execute("SELECT id, case_number FROM hearings WHERE case_number"
                              " LIKE '%断电%'"):
        segments = db.execute("SELECT * FROM audio_segments WHERE hearing_id = ?"
                              " ORDER BY idx", [hearing["id"]]).fetchall()
        files = sorted((data / "audio" / hearing["id"]).rglob("seg-*"))
        assert len(files) == len(segments), hearing["case_number"]
        defective = [s for s in segments if s["defective"]]
        assert len(defective) <= 1 and (not defective or defective[0] == segments[-1])
        defective_total += len(defective)
        for seg in segments:
            decoded, _ = sf.read(str(data / seg["path"]), dtype="int16", frames=seg["frames"])
            expected = audio[seg["start_sample"]: seg["start_sample"] + seg["frames"]]
            assert np.array_equal(decoded, expected), seg["path"]
            if not seg["defective"]:
                assert seg["frames"] == SEGMENT_S * rate
        if segments:
            actions = [r[0] for r in db.execute(
                "SELECT action FROM audit_log WHERE hearing_id = ?", [hearing["id"]])]
            assert "recording.interrupted" in actions
    assert defective_total >= ROUNDS // 2, "the kills should mostly land mid-segment"
