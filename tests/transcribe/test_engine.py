"""Real speech through the real recogniser: faster-whisper with the bundled Whisper base."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import opencc
import soundfile as sf

from courtbox.audio.types import Utterance
from courtbox.transcribe.engine import (
    EngineOptions,
    Recognition,
    WhisperEngine,
    compression_ratio,
    drop_loops,
    is_hallucination,
)
from courtbox.transcribe.metrics import char_errors
from courtbox.transcribe.worker import RecognizerProcess

SPEECH = Path(__file__).resolve().parents[2] / "bench" / "speech" / "aishell-dev"


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


def test_partial_mode_is_greedy_text_without_word_timings(
        model_dir: Path, aishell_wavs: dict[Path, str]) -> None:
    """A partial is quick text to show while someone speaks: no word timings, but close."""
    engine = WhisperEngine(_options(model_dir))
    for path, reference in aishell_wavs.items():
        audio, _ = sf.read(str(path), dtype="float32")
        result = engine.recognize(audio, offset_s=5.0, mode="partial")
        assert result.words == []
        assert char_errors(reference, result.text).rate <= 0.35, (reference, result.text)


def test_encoder_window_is_the_utterance_plus_padding_and_never_beyond_30_s() -> None:
    options = EngineOptions(model_dir="x", window_s=15)
    assert [options.window_for(s) for s in (1.0, 4.2, 14.5, 20.0, 40.0)] == [15, 15, 17, 22, 30]
    assert [options.window_for(s, "partial") for s in (1.0, 9.5, 20.0)] == [10, 12, 22]
    assert EngineOptions(model_dir="x", window_s=30).window_for(3.0) == 30


def test_decoder_loops_and_subtitle_credits_are_not_text() -> None:
    assert drop_loops("好的好的好的好的好的好的") == "好的"
    assert drop_loops("对对对，是的") == "对对对，是的"  # people do say that
    assert drop_loops("啊啊啊啊啊啊啊啊") == "啊"

    class Segment:
        text, no_speech_prob, avg_logprob, words = "字幕由Amara.org社区提供", 0.1, -0.2, []

    assert is_hallucination(Segment())
    Segment.text = "被告转发了原告的文章并订阅了该栏目"  # a defamation case, not a credit
    assert not is_hallucination(Segment())
    Segment.text = ("根据《中华人民共和国民法典》第一千一百六十五条的规定，行为人因过错侵害"
                    "他人民事权益造成损害的，应当承担侵权责任。")
    assert not is_hallucination(Segment()) and compression_ratio(Segment.text) < 1.5
    Segment.text = "这些人都认为，这些人都不认为，" * 5  # a loop drop_loops cannot mend
    assert is_hallucination(Segment())


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


def test_a_burst_drops_partials_first_never_finals_and_catches_up(
        model_dir: Path, aishell_wavs: dict[Path, str]) -> None:
    """Four seats talk at once for a while: far more work than the CPU can do. Every final
    is answered, in order per seat; stale partials are dropped; the queue depth and lag are
    visible while it lasts and back to nothing afterwards."""
    finals: list[str] = []
    partials: list[str] = []
    worker = RecognizerProcess(_options(model_dir))
    worker.start()
    try:
        audio = [sf.read(str(p), dtype="float32")[0] for p in aishell_wavs]
        for n in range(3):
            for seat in ("judge", "clerk", "plaintiff", "defendant"):
                clip = audio[n % 2]
                for cut in (0.25, 0.5, 0.75):  # the utterance growing, as partials see it
                    part = Utterance(id=f"{seat}-{n}", seat=seat, start=n * 80000,
                                     audio=clip[: int(len(clip) * cut)])
                    worker.submit(part, lambda u, r, e: partials.append(u.id),
                                  kind="partial")
                worker.submit(Utterance(id=f"{seat}-{n}", seat=seat, start=n * 80000,
                                        audio=clip),
                              lambda u, r, e: finals.append(u.id) if r else None)
        during = worker.metrics()
        assert during.queue_depth > 1 and during.finals_waiting > 1 and during.lag_s >= 0
        assert worker.drain(timeout=300)
        after = worker.metrics()
    finally:
        worker.close()
    assert len(finals) == 12
    for seat in ("judge", "clerk", "plaintiff", "defendant"):
        assert [f for f in finals if f.startswith(seat)] == [f"{seat}-{n}" for n in range(3)]
    assert after.partials_replaced + after.partials_skipped >= 24
    assert len(partials) <= 12 and after.partials_done == len(partials)
    assert after.finals_done == 12 and after.queue_depth == 0 and after.lag_s == 0.0
    assert after.max_depth >= 12


def test_the_legal_hotwords_write_themselves_into_nothing(model_dir: Path) -> None:
    """Given on every line, the hotwords wrote 书记 for 数据 and 被告证 for "Because of";
    now a line is read without them and again only with those it sounds like, so speech
    with nothing like them reads exactly as with no hotwords configured."""
    legal = ("审判长", "书记员", "原告", "被告", "诉讼请求", "举证", "质证")
    plain, biased = (WhisperEngine(replace(_options(model_dir), hotwords=words))
                     for words in ((), legal))
    for uid in ("BAC009S0252W0140", "BAC009S0150W0071", "BAC009S0252W0061"):
        audio, _ = sf.read(str(SPEECH / f"{uid}.flac"), dtype="float32")
        text = biased.recognize(audio).text
        assert text == plain.recognize(audio).text and "书记" not in text, (uid, text)
