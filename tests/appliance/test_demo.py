"""``courtbox demo`` and ``courtbox transcribe`` as a user runs them: real subprocesses, the
real model, the real sample hearing, the real page over a loopback socket."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import opencc
import soundfile as sf

from courtbox.appliance.demo import sample_dir
from courtbox.record.store import Store
from tests.conftest import courtbox_cmd, run_courtbox

T2S = opencc.OpenCC("t2s")


def test_demo_fast_json_records_and_transcribes_the_sample(tmp_path: Path, model_dir: Path,
                                                           sample: dict) -> None:
    """The whole sample hearing: archived, chained, transcribed per seat, CER printed."""
    data = tmp_path / "data"
    result = run_courtbox("demo", "--fast", "--json", "--port", "0", "--data-dir", str(data),
                          timeout=600)
    summary = json.loads(result.stdout)
    assert {"hearing_id", "seats", "final_lines", "cer", "audio_seconds",
            "wall_seconds"} <= set(summary)
    assert summary["audio_seconds"] == round(sample["duration_s"], 3)
    # Audio arrives far faster than real time: partials give way, finals never do.
    asr = summary["recognizer"]
    assert asr["finals_done"] == summary["utterances"] and asr["queue_depth"] == 0
    assert asr["max_depth"] > 1 and asr["lag_s"] == 0.0
    assert summary["cer"] <= 0.30
    seats = {s["id"]: s for s in summary["seats"]}
    assert all(seats[s]["lines"] > 0 and seats[s]["cer"] <= 0.45 for s in seats)
    for line in summary["final_lines"]:
        assert line["text"] == T2S.convert(line["text"])
        refs = [u for u in sample["utterances"] if u["t0"] < line["t1"] and line["t0"] < u["t1"]]
        assert refs and all(u["seat"] == line["seat"] for u in refs), line

    db = sqlite3.connect(data / "courtbox.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("SELECT state FROM hearings").fetchone()[0] == "closed"
    segments = db.execute("SELECT path, frames, sha256, prev_sha256 FROM audio_segments "
                          "ORDER BY idx").fetchall()
    assert sum(s[1] for s in segments) == sf.info(str(sample_dir() / "hearing.flac")).frames
    assert segments[0][3] is None
    assert all(b[3] == a[2] for a, b in zip(segments, segments[1:], strict=False))
    archived = np.concatenate([sf.read(str(data / s[0]), dtype="int16")[0] for s in segments])
    original, _ = sf.read(str(sample_dir() / "hearing.flac"), dtype="int16")
    assert np.array_equal(archived, original)
    # Every revision is a row; the summary is the transcript as it stands (each line's
    # latest revision, lines merged into a turn's revision gone), as the store counts it.
    store = Store.in_dir(data, read_only=True)
    finals = store.count_finals(summary["hearing_id"])
    store.close()
    assert finals == len(summary["final_lines"])
    actions = [r[0] for r in db.execute("SELECT action FROM audit_log ORDER BY id")]
    assert actions[:2] == ["hearing.open", "hearing.start"] and actions[-1] == "hearing.close"
    seqs = [r[0] for r in db.execute("SELECT seq FROM outbox ORDER BY rowid")]
    rows = db.execute("SELECT COUNT(*) FROM transcript WHERE kind = 'final'").fetchone()[0]
    assert seqs == sorted(seqs) and len(seqs) >= rows + len(segments)  # every revision too


def test_demo_serves_the_live_page_while_recording_in_real_time(tmp_path: Path,
                                                                model_dir: Path) -> None:
    """At wall-clock pace, lines appear on the served page while the hearing runs."""
    audio, rate = sf.read(str(sample_dir() / "hearing.flac"), dtype="int16")
    short = tmp_path / "short.flac"
    sf.write(str(short), audio[: 24 * rate], rate)
    proc = subprocess.Popen(
        [*courtbox_cmd(), "demo", "--audio", str(short), "--port", "0", "--exit",
         "--seats", "presiding_judge:审判长,clerk:书记员,plaintiff:原告,defendant:被告"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        started = time.monotonic()
        for line in proc.stdout:
            if line.startswith("live transcript: "):
                url = line.split(": ", 1)[1].strip()
                break
        assert url, proc.stderr.read()
        page = httpx.get(url, timeout=5)
        assert page.status_code == 200 and "实时庭审记录" in page.text
        lines: list[dict] = []
        partials: list[dict] = []
        while not (lines and partials) and time.monotonic() - started < 22:
            hearings = httpx.get(url + "api/v1/hearings", timeout=5).json()
            if hearings:
                api = url + f"api/v1/hearings/{hearings[0]['id']}"
                lines = lines or httpx.get(api + "/transcript", timeout=5).json()
                partials = partials or httpx.get(api + "/partials", timeout=5).json()
            time.sleep(0.2)
        assert lines, "no line reached the page before the recording ended"
        assert partials, "no partial line was shown while someone spoke"
        assert partials[0]["kind"] == "partial" and partials[0]["text"]
        assert 0 <= partials[0]["stable"] <= len(partials[0]["text"])
        assert hearings[0]["state"] == "recording"
        assert {"seat", "t0", "t1", "text", "words"} <= set(lines[0])
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert "审判长：" in out or "书记员：" in out
    finally:
        if proc.poll() is None:
            proc.kill()


def test_transcribe_writes_json_txt_and_srt(tmp_path: Path, model_dir: Path,
                                            aishell_wavs: dict[Path, str]) -> None:
    """A mono file is transcribed offline to the three formats."""
    wav = next(iter(aishell_wavs))
    run_courtbox("transcribe", str(wav), "-o", str(tmp_path / "out"), timeout=300)
    doc = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert doc["seats"][0]["id"] == "speaker" and doc["lines"]
    assert "发言人：" in (tmp_path / "out.txt").read_text(encoding="utf-8")
    srt = (tmp_path / "out.srt").read_text(encoding="utf-8")
    assert srt.startswith("1\n00:00:00,") and " --> " in srt


def test_demo_with_a_missing_seat_channel_says_so(tmp_path: Path, model_dir: Path) -> None:
    """A seat map that needs more channels than the file has is one clear error."""
    wav = tmp_path / "mono.wav"
    sf.write(str(wav), np.zeros(16000, dtype=np.int16), 16000)
    result = run_courtbox("demo", "--audio", str(wav), "--fast", "--port", "0", "--seats",
                          "presiding_judge,clerk", check=False, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"courtbox: error: {wav} has 1 channel(s); the seats need 2"]
