"""``courtbox bench`` as an engineer runs it: the real CLI, the real model, real speech and
the bench's no-speech recordings; and the streaming pipeline on a long monologue."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from courtbox.config import Config
from courtbox.room.bench import ManifestEntry, SimulatedRun
from courtbox.transcribe.engine import EngineOptions, WhisperEngine
from courtbox.transcribe.metrics import char_errors
from courtbox.transcribe.normalize import scoring_form
from courtbox.transcribe.stream import StreamOptions
from tests.conftest import run_courtbox

ROOT = Path(__file__).resolve().parents[2]
AISHELL = ROOT / "bench" / "speech" / "aishell-dev"


def _aishell(n: int) -> list[tuple[Path, str]]:
    rows = (AISHELL / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [(AISHELL / r.split("\t")[0], r.split("\t")[2]) for r in rows[:n]]


def bench(manifest: Path, lines: list[str], *options: str) -> dict:
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = run_courtbox("bench", "--manifest", str(manifest), "--json", *options,
                          timeout=600)
    return json.loads(result.stdout)


def test_bench_reports_accuracy_latency_and_cost_and_no_text_without_speech(
        tmp_path: Path, model_dir: Path, aishell_wavs: dict[Path, str]) -> None:
    report = bench(tmp_path / "speech.tsv", ["# two utterances"] + [
        f"{p}\t{text}" for p, text in aishell_wavs.items()])
    assert report["files"] == 2 and report["clock"] == "simulated"
    assert report["final"]["rate"] <= 0.25 and report["offline"]["reference_length"] == 26
    assert report["utterances"] == 2 and report["with_partial"] == 2
    for key in ("first_partial_latency_s", "final_latency_s"):
        assert 0 < report[key]["p50"] <= report[key]["p95"] <= report[key]["max"] < 10
    assert 0 < report["rtf"] < 1 and report["peak_rss_mb"] > 100
    for f in report["per_file"]:
        assert f["final_text"] and f["offline_text"] and len(f["utterances"]) == 1
        u = f["utterances"][0]
        assert u["partials"] >= 1 and u["final_latency_s"] > 0

    # The no-speech recordings (offline Whisper on 3 min of noise would only add time).
    quiet = bench(tmp_path / "quiet.tsv", [
        f"{ROOT / 'bench' / 'audio' / name}\t"
        for name in ("silence-60s.flac", "room-noise-60s.flac", "coughs-60s.flac")],
        "--no-offline")
    assert quiet["files"] == 3 and quiet["utterances"] == 0
    for f in quiet["per_file"]:
        assert f["final_text"] == "" and f["utterances"] == [] and f["errors"] == 0, f


def test_bench_manifest_mistakes_name_file_and_line(tmp_path: Path) -> None:
    manifest = tmp_path / "bad.tsv"
    manifest.write_text("# ok\nmissing.flac\tsome text\nno-tab-here\n", encoding="utf-8")
    result = run_courtbox("bench", "--manifest", str(manifest), check=False, timeout=60)
    assert result.returncode == 2
    errors = result.stderr.strip().splitlines()
    assert errors[0].startswith("courtbox: error: ") and f"{manifest}:2: no such audio" in \
        errors[0]
    assert f"{manifest}:3: expected path<TAB>reference" in errors[1]


def test_a_long_monologue_is_cut_at_pauses_without_losing_or_repeating_words(
        tmp_path: Path, model_dir: Path) -> None:
    """Eight utterances read with 0.2-s pauses (shorter than the hangover): 30 s of speech
    that must be cut. The pieces follow each other without overlap, none is longer than the
    maximum; read again as one turn they make lines no longer than a turn may be, and
    together they say what was read, once."""
    clips = _aishell(8)
    pause = np.zeros(3200, dtype=np.float32)
    audio = np.concatenate([np.concatenate([sf.read(str(p), dtype="float32")[0], pause])
                            for p, _ in clips])
    path = tmp_path / "monologue.flac"
    sf.write(str(path), audio, 16000)
    reference = "".join(text for _, text in clips)
    engine = WhisperEngine(EngineOptions(model_dir=str(model_dir), cpu_threads=2))
    result = SimulatedRun(ManifestEntry(path, reference), engine, Config()).run()
    pieces = sorted(result.timings.values(), key=lambda t: t.speech_t0)
    assert len(pieces) >= 3
    assert all(b.speech_t0 >= a.speech_t1 for a, b in zip(pieces, pieces[1:], strict=False))
    assert max(t.speech_t1 - t.speech_t0 for t in pieces) <= Config().vad.max_utterance_s
    lines = sorted(result.lines, key=lambda x: x["t0"])
    assert all(b["t0"] >= a["t1"] - 1e-6 for a, b in zip(lines, lines[1:], strict=False))
    assert max(ln["t1"] - ln["t0"] for ln in lines) <= StreamOptions().max_turn_s + 1.0
    # Nothing lost, nothing said twice: as many characters as were read, and close to them.
    assert abs(len(scoring_form(result.text)) - len(scoring_form(reference))) <= 0.1 * len(
        scoring_form(reference)), result.text
    assert char_errors(reference, result.text).rate <= 0.3, result.text


def test_bench_scores_seats_on_a_simulated_reverberant_room(tmp_path: Path,
                                                           model_dir: Path) -> None:
    """A 4-seat courtroom (RT60 0.8 s, omni goosenecks, voices 8–17 dB down in the other
    microphones) through the bench from its ``hearing.json``: lines land on the seats that
    spoke, none on a silent one, and the baseline is each utterance decoded from its own
    seat's microphone."""
    import subprocess
    import sys

    subprocess.run([sys.executable, str(ROOT / "scripts" / "simulate_courtroom.py"),
                    "--out", str(tmp_path), "--rooms", "1", "--seed", "7",
                    "--duration", "25"], check=True, capture_output=True, timeout=300)
    report = bench(tmp_path / "rooms.tsv", ["room-7/hearing.json"])
    seats = report["seats"]
    assert seats["utterances"] >= 4 and seats["on_silent_seat"] == 0, seats
    assert seats["own_share"] == 1.0, seats
    (f,) = report["per_file"]
    assert {ln["seat"] for ln in f["lines"]} <= {"presiding_judge", "clerk", "plaintiff",
                                                  "defendant"}
    assert report["offline"]["reference_length"] == report["final"]["reference_length"]
    assert report["final"]["rate"] <= report["offline"]["rate"] + 0.15, report
