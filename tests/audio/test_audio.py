"""The audio stages on real audio: the archive is lossless and chained, the segmenter puts
the sample hearing's speech on the right seats."""

from __future__ import annotations

import hashlib
import queue
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from courtbox.appliance.demo import sample_dir
from courtbox.audio.archive import ArchiveWriter
from courtbox.audio.capture import FileCapture
from courtbox.audio.seats import Segmenter
from courtbox.audio.types import Block, SegmentWritten


def _blocks(data: np.ndarray, size: int) -> list[Block]:
    return [Block(i, data[i:i + size]) for i in range(0, len(data), size)]


def test_archive_is_lossless_chained_and_durable(tmp_path: Path) -> None:
    """8 channels at 48 kHz in 5-s segments decode to exactly the samples that went in."""
    rate, channels, seconds = 48000, 8, 12
    rng = np.random.default_rng(7)
    data = rng.integers(-20000, 20000, size=(rate * seconds, channels), dtype=np.int16)
    written: list[SegmentWritten] = []
    archive = ArchiveWriter(tmp_path, "h1", part=1, sample_rate=rate, channels=channels,
                            segment_seconds=5, prev_sha256="ab" * 32,
                            on_segment=written.append)
    archive.start()
    for block in _blocks(data, 4800):
        archive.put(block)
    archive.close()
    assert archive.error is None
    assert [s.frames for s in written] == [5 * rate, 5 * rate, 2 * rate]
    assert [s.start_sample for s in written] == [0, 5 * rate, 10 * rate]
    assert written[0].prev_sha256 == "ab" * 32
    for before, after in zip(written, written[1:], strict=False):
        assert after.prev_sha256 == before.sha256
    decoded = []
    for seg in written:
        path = tmp_path / seg.path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == seg.sha256
        audio, sr = sf.read(str(path), dtype="int16", always_2d=True)
        assert sr == rate and audio.shape[1] == channels
        decoded.append(audio)
    assert np.array_equal(np.concatenate(decoded), data)
    assert not list(tmp_path.rglob("*.partial"))


def test_segmenter_puts_each_utterance_on_its_speakers_seat(sample: dict) -> None:
    """Every reference utterance of the sample is covered by an utterance of its own seat,
    and bleed into neighbouring microphones does not become an utterance of another seat."""
    seats = [(s["channel"], s["id"]) for s in sample["seats"]]
    capture = FileCapture(sample_dir() / "hearing.flac", realtime=False)
    segmenter = Segmenter(seats, channels=capture.channels, sample_rate=capture.sample_rate)
    blocks: queue.SimpleQueue = queue.SimpleQueue()
    capture.start(blocks.put)
    assert capture.wait(60)
    utterances = []
    while not blocks.empty():
        utterances += segmenter.feed(blocks.get())
    utterances += segmenter.flush()

    def overlap(a0: float, a1: float, b0: float, b1: float) -> float:
        return max(0.0, min(a1, b1) - max(a0, b0))

    for ref in sample["utterances"]:
        own = sum(overlap(u.t0, u.t1, ref["t0"], ref["t1"]) for u in utterances
                  if u.seat == ref["seat"])
        assert own >= 0.9 * (ref["t1"] - ref["t0"]), ref
    for u in utterances:
        speech_of_own_seat = sum(overlap(u.t0, u.t1, r["t0"], r["t1"])
                                 for r in sample["utterances"] if r["seat"] == u.seat)
        assert speech_of_own_seat >= 0.5 * (u.t1 - u.t0), (u.seat, u.t0, u.t1)


def _speech_span(voice: np.ndarray, start: int, rate: int) -> tuple[float, float]:
    """Where the recording's speech really is: 30-ms frames within 15 dB of its loudest."""
    frames = voice[: len(voice) // 480 * 480].reshape(-1, 480)
    db = 10 * np.log10((frames ** 2).mean(axis=1) + 1e-12)
    loud = np.flatnonzero(db > db.max() - 15)
    return (start + loud[0] * 480) / rate, (start + (loud[-1] + 1) * 480) / rate


def test_genuine_overlap_gives_both_seats_an_utterance(aishell_wavs: dict[Path, str]) -> None:
    """Two people talking at once each get their utterance; the bleed of each into the
    other's microphone (-20 dB) does not extend either seat's speech."""
    rate = 16000
    a, b = (sf.read(str(p), dtype="float32")[0] for p in aishell_wavs)
    a_start = rate // 2
    b_start = a_start + len(a) - int(1.5 * rate)
    length = b_start + len(b) + rate
    mix = np.random.default_rng(2).normal(0, 10 ** (-62 / 20), (length, 2))
    for own, other, voice, start in ((0, 1, a, a_start), (1, 0, b, b_start)):
        mix[start:start + len(voice), own] += voice
        mix[start:start + len(voice), other] += 0.1 * voice
    pcm = (np.clip(mix, -1, 1) * 32767).astype(np.int16)
    segmenter = Segmenter([(0, "plaintiff"), (1, "defendant")], channels=2, sample_rate=rate)
    utterances = []
    for block in _blocks(pcm, 1600):
        utterances += segmenter.feed(block)
    utterances += segmenter.flush()
    spans = {"plaintiff": _speech_span(a, a_start, rate),
             "defendant": _speech_span(b, b_start, rate)}
    for seat, (s0, s1) in spans.items():
        own = [u for u in utterances if u.seat == seat]
        covered = sum(max(0.0, min(u.t1, s1) - max(u.t0, s0)) for u in own)
        outside = sum(u.t1 - u.t0 for u in own) - covered
        assert covered >= 0.9 * (s1 - s0), (seat, [(u.t0, u.t1) for u in own])
        assert outside <= 0.8, (seat, [(u.t0, u.t1) for u in own])


def test_48k_capture_is_resampled_to_the_same_utterances(sample: dict) -> None:
    """At 48 kHz (the archive's native rate) the segmenter finds the same utterances on the
    same seats as at 16 kHz, within one 30-ms frame of resampling delay."""
    audio, rate = sf.read(str(sample_dir() / "hearing.flac"), dtype="float32")
    audio = audio[: 40 * rate]
    seats = [(s["channel"], s["id"]) for s in sample["seats"]]

    def cut(pcm: np.ndarray, sr: int) -> list[tuple[str, float, float]]:
        seg = Segmenter(seats, channels=pcm.shape[1], sample_rate=sr)
        out = []
        for block in _blocks(pcm, sr // 10):
            out += seg.feed(block)
        out += seg.flush()
        return [(u.seat, u.t0, u.t1) for u in out]

    native = cut((audio * 32767).astype(np.int16), rate)
    upsampled = (soxr.resample(audio, rate, 48000) * 32767).astype(np.int16)
    at_48k = cut(upsampled, 48000)
    assert [u[0] for u in at_48k] == [u[0] for u in native]
    for (_, a0, a1), (_, b0, b1) in zip(native, at_48k, strict=True):
        assert abs(a0 - b0) <= 0.061 and abs(a1 - b1) <= 0.061
