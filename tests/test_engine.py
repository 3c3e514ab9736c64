"""Real speech through the real recogniser: faster-whisper with the bundled Whisper base."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import opencc
import soundfile as sf

from courtbox.audio.types import Utterance
from courtbox.transcribe.engine import EngineOptions, Recognition, WhisperEngine
from courtbox.transcribe.metrics import char_errors
from courtbox.transcribe.worker import RecognizerProcess


def _options(model_dir: Path) -> EngineOptions:
    return EngineOptions(model_dir=str(model_dir), cpu_threads=2, language="zh")


def test_aishell_utterances_are_transcribed_in_simplified_chinese(
        model_dir: Path, aishell_wavs: dict[Path, str]) -> None:
    """Both AISHELL-1 utterances come out close to their references, simplified, timed."""
    engine = WhisperEngine(_options(model_dir))
    t2s = opencc.OpenCC("t2s")
    for path, reference in aishell_wavs.items():
        audio, rate = sf.read(str(path), dtype="float32")
        assert rate == 16000
        result = engine.recognize(audio, offset_s=100.0)
        assert result.text == t2s.convert(result.text)
        assert char_errors(reference, result.text).rate <= 0.25, (reference, result.text)
        assert result.words and all(100.0 <= w.t0 <= w.t1 <= 100.0 + len(audio) / rate + 0.5
                                    for w in result.words)
        assert result.avg_logprob is not None and result.avg_logprob > -1.0


def test_silence_gives_no_text(model_dir: Path) -> None:
    """Ten seconds of a quiet room noise floor produce no words at all."""
    engine = WhisperEngine(_options(model_dir))
    noise = np.random.default_rng(1).normal(0, 10 ** (-62 / 20), 160000).astype(np.float32)
    assert engine.recognize(noise).text == ""


def _utterance(path: Path, uid: str) -> Utterance:
    audio, _ = sf.read(str(path), dtype="float32")
    return Utterance(id=uid, seat="plaintiff", start=16000, audio=audio)


def test_worker_killed_mid_job_is_restarted_and_backlog_transcribed(
        model_dir: Path, aishell_wavs: dict[Path, str]) -> None:
    """kill -9 of the recogniser process loses no utterance: all are answered after restart."""
    results: dict[str, Recognition | None] = {}

    def done(u: Utterance, r: Recognition | None, error: str | None) -> None:
        results[u.id] = r

    worker = RecognizerProcess(_options(model_dir))
    worker.start()
    try:
        paths = list(aishell_wavs)
        for n in range(4):
            worker.submit(_utterance(paths[n % 2], f"u{n}"), done)
        deadline = time.monotonic() + 30
        while worker._busy is None and time.monotonic() < deadline:
            time.sleep(0.02)
        first_pid = worker.pid
        worker._proc.kill()
        assert worker.drain(timeout=180)
        assert worker.restarts == 1 and worker.pid != first_pid
        assert sorted(results) == ["u0", "u1", "u2", "u3"]
        for n in range(4):
            result = results[f"u{n}"]
            assert result is not None
            assert char_errors(aishell_wavs[paths[n % 2]], result.text).rate <= 0.25
    finally:
        worker.close()
