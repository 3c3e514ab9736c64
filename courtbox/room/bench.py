"""``courtbox bench``: the live transcript measured for accuracy, latency and cost.

Each file of a manifest (``room.benchreport``) is streamed through the live pipeline, one
seat per channel, and the bench reports:

- the error rate of the final lines (CER; WER for English), and the offline error rate of
  the same model on the same files (plain ``WhisperModel.transcribe`` of the whole file,
  mixed down to mono: faster-whisper's defaults, no courtbox prompt, window or VAD); for a
  room with a per-seat reference, CER is counted per seat, the baseline decodes each
  utterance from its own seat's microphone over its true span, and where each line landed
  is scored (``room.seatscore``: lines on silent seats, utterances on their own seat,
  double talk found);
- latency as a live hearing sees it: *first partial*, from the first speech of an utterance
  to the first text shown for it (a partial, or the final when the utterance ended before
  any partial), and *final*, from the end of speech to the final line; p50 and p95;
- real-time factor (recogniser busy time / audio time), the speech front's own share, and
  peak resident memory.

Two clocks. With ``realtime`` each file is played at wall-clock pace through the real
``Recorder`` (capture, archive, store, recogniser process) and events are timed by the wall
clock. Without it, the hearing's own ``SpeechFront`` and ``LiveTranscript`` (what to
recognise when, what each result shows) and the recogniser's ``JobQueue`` drive the
recogniser on a simulated clock: audio arrives at its own pace, the single recogniser takes
each job when it is free, and each job takes exactly the compute time it took; the clock
never runs ahead of the audio or of the recogniser, so a slow decode delays every later line
as it would live. The bench lives in ``room`` because the live pipeline it drives spans
``audio`` and ``transcribe``.
"""

from __future__ import annotations

import math
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from courtbox.audio.arrayfront import ArraySeat, ArraySpec
from courtbox.audio.arrays import Geometry
from courtbox.audio.beams import beam_recording
from courtbox.audio.capture import audio_file_info
from courtbox.audio.types import SPEECH_RATE, Block, Utterance
from courtbox.config import Config, Seat
from courtbox.room.benchreport import (
    BenchReport,
    FileResult,
    ManifestEntry,
    format_report,
    read_manifest,
)
from courtbox.room.events import Quiet
from courtbox.room.options import RecorderOptions
from courtbox.room.speech import SpeechFront
from courtbox.transcribe.engine import Recognition, WhisperEngine
from courtbox.transcribe.stream import Final, Heard, Job, JobQueue, LiveTranscript
from courtbox.transcribe.turns import TurnRevision
from courtbox.transcribe.worker import job_request

__all__ = ["BenchReport", "FileResult", "ManifestEntry", "SimulatedRun", "format_report",
           "read_manifest", "run_bench"]

BLOCK_S = 0.1


def _blocks(path: Path) -> Iterator[Block]:
    with sf.SoundFile(str(path)) as f:
        frames = max(1, round(f.samplerate * BLOCK_S))
        position = 0
        for data in f.blocks(blocksize=frames, dtype="int16", always_2d=True):
            yield Block(position, data)
            position += len(data)


def bench_seats(entry: ManifestEntry, channels: int) -> list[tuple[int, str]]:
    """(channel, seat) pairs: a room's own seats, else one seat per channel."""
    if entry.room is not None:
        return list(entry.room.seats)
    return [(c, f"ch{c}") for c in range(channels)]


def room_array(array: dict) -> ArraySpec:
    """A room reference's array (``seatscore.RoomReference.array``) as the front hears it,
    when the config names none: its seats at the directions the reference gives."""
    return ArraySpec("array", array["channels"], Geometry.explicit(array["capsules"]),
                     [ArraySeat(seat, az, el) for seat, az, el in array["seats"]])


def mono_16k(path: Path) -> np.ndarray:
    """The whole file mixed down to mono at 16 kHz (for the offline baseline)."""
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    return mono if rate == SPEECH_RATE else soxr.resample(mono, rate, SPEECH_RATE)


class SimulatedRun:
    """One file through ``SpeechFront``, ``LiveTranscript`` and a single recogniser on a
    simulated clock."""

    def __init__(self, entry: ManifestEntry, engine: WhisperEngine, config: Config,
                 hotwords: tuple[str, ...] = ()) -> None:
        info = audio_file_info(entry.path)
        self.entry = entry
        self.engine = engine
        self.rate = info.samplerate
        options = RecorderOptions.from_config(config)
        if not options.arrays and entry.room is not None and entry.room.array:
            options = replace(options, arrays=(room_array(entry.room.array),))
        self.front = SpeechFront(bench_seats(entry, info.channels),
                                 channels=info.channels, sample_rate=info.samplerate,
                                 segmenter_options=options.segmenter,
                                 vad_options=options.vad, arrays=options.arrays)
        self.transcript = LiveTranscript(options.stream, hotwords)
        self.queue = JobQueue()  # the recogniser process's queue, as it keeps it
        self.free_at = 0.0  # when the recogniser is next free
        self.result = FileResult(entry, info.frames / info.samplerate, info.channels)

    def run(self) -> FileResult:
        now = 0.0
        for block in _blocks(self.entry.path):
            arrival = (block.start + block.frames) / self.rate
            self._work_until(arrival)
            now = arrival
            started = time.perf_counter()
            heard = self.front.feed(block)
            self.result.front_s += time.perf_counter() - started
            self._hear(heard, now)
        self._hear(self.front.flush(), now)
        self._work_until(math.inf)
        return self.result

    def _hear(self, heard: Heard, now: float) -> None:
        for job in self.transcript.hear(heard, now):
            self.queue.push(job)
        self._note_lag(now)

    def _note_lag(self, now: float) -> None:
        oldest = self.queue.oldest_final()
        if oldest is not None:
            self.result.max_lag_s = max(self.result.max_lag_s, now - oldest.submitted_at)
        self.result.max_queue = max(self.result.max_queue, len(self.queue))

    def _work_until(self, until: float) -> None:
        """Let the recogniser take jobs that it would start before ``until``."""
        while (job := self.queue.peek()) is not None:
            start = max(self.free_at, job.submitted_at)
            if start >= until:
                return
            self.queue.pop()
            rec: Recognition = self.engine.recognize(*job_request(job))
            self.free_at = start + rec.compute_s
            self.result.busy_s += rec.compute_s
            self._note_lag(self.free_at)
            self._take(job, rec)

    def _take(self, job: Job, rec: Recognition) -> None:
        u = job.utterance
        if job.kind == "final":
            self.queue.forget(u.id)
        update = self.transcript.recognized(job, rec)
        if isinstance(update, Final):
            self.result.on_final(u, update.result.text if update.result else "",
                                 self.free_at)
        elif isinstance(update, TurnRevision):
            self.result.on_revision(update.utterance, update.result.text, update.merged,
                                    self.free_at - update.ended_at)
        elif update is not None:
            self.result.on_partial(u, self.free_at)


class _Timed(Quiet):
    """The real recorder's events, timed from ``started``: when each utterance first
    showed a partial line, and when its final line was durable."""

    def __init__(self, result: FileResult) -> None:
        self.result = result
        self.started = 0.0
        self.first_seen: dict[str, float] = {}

    def partial(self, hearing_id: str, line) -> None:
        self.first_seen.setdefault(line.utterance_id, time.monotonic() - self.started)

    def final(self, hearing_id: str, line: dict) -> None:
        at = time.monotonic() - self.started
        u = Utterance(id=line["utterance_id"], seat=line["seat"],
                      start=round(line["t0"] * SPEECH_RATE),
                      audio=np.zeros(round((line["t1"] - line["t0"]) * SPEECH_RATE)),
                      speech_start=round(line["speech_t0"] * SPEECH_RATE),
                      speech_end=round(line["speech_t1"] * SPEECH_RATE))
        if line["utterance_id"] in self.first_seen:
            self.result.on_partial(u, self.first_seen[line["utterance_id"]])
        self.result.on_final(u, line["text"], at)

    def revised(self, hearing_id: str, line: dict, merged: list[str]) -> None:
        u = Utterance(id=line["utterance_id"], seat=line["seat"],
                      start=round(line["t0"] * SPEECH_RATE),
                      audio=np.zeros(round((line["t1"] - line["t0"]) * SPEECH_RATE)),
                      speech_start=round(line["speech_t0"] * SPEECH_RATE),
                      speech_end=round(line["speech_t1"] * SPEECH_RATE))
        self.result.on_revision(u, line["text"], tuple(merged),
                                time.monotonic() - self.started - line["speech_t1"])


def realtime_run(entry: ManifestEntry, config: Config,
                 hotwords: tuple[str, ...] = ()) -> FileResult:
    """One file at wall-clock pace through the real ``Recorder`` (archive, store and the
    recogniser process included), in a temporary data directory."""
    from courtbox.audio.capture import FileCapture
    from courtbox.record.hearing import HearingInfo, close_hearing, open_hearing, start_hearing
    from courtbox.room.recorder import Recorder
    from courtbox.room.stack import RecordingStack

    info = audio_file_info(entry.path)
    result = FileResult(entry, info.frames / info.samplerate, info.channels)
    seats = [Seat(channel=c, id=seat, role="other", name=seat)
             for c, seat in bench_seats(entry, info.channels)]
    events = _Timed(result)
    with tempfile.TemporaryDirectory(prefix="courtbox-bench-") as data_dir, \
            RecordingStack(config, Path(data_dir)) as stack:
        capture = FileCapture(entry.path, block_ms=round(BLOCK_S * 1000), realtime=True)
        hearing_id = stack.writer.call(lambda s: open_hearing(
            s, config, HearingInfo(case_number="bench"), actor="bench",
            sample_rate=capture.sample_rate, seats=seats))
        recorder = Recorder(stack, hearing_id, capture, seats, events=events,
                            hotwords=hotwords)
        stack.writer.call(lambda s: start_hearing(s, hearing_id, actor="bench"))
        events.started = time.monotonic()
        recorder.start()
        while not recorder.wait_source(0.2):
            m = stack.recognizer.metrics()
            result.max_lag_s = max(result.max_lag_s, m.lag_s)
            result.max_queue = max(result.max_queue, m.queue_depth)
        recorder.stop()
        stack.writer.call(lambda s: close_hearing(s, hearing_id, actor="bench"))
        result.busy_s = stack.recognizer.metrics().busy_s
        result.worker_rss_mb = child_peak_rss_mb(stack.recognizer.pid)
    return result


def peak_rss_mb() -> float:
    """Peak resident memory of this process."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_peak_rss_mb(pid: int | None) -> float:
    """Peak resident memory of a running child process (VmHWM in /proc), 0 if unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def run_bench(config: Config, entries: list[ManifestEntry], *, realtime: bool,
              offline: bool, progress: Callable[[FileResult], None] | None = None,
              hotwords: tuple[str, ...] = ()) -> BenchReport:
    """``hotwords``: a hearing's own words, added to the configured ones as a hearing adds
    them (``record.hearing.hearing_hotwords``)."""
    from courtbox.transcribe.engine import EngineOptions
    from courtbox.transcribe.model import model_info

    model = model_info(config.model.path, config.cache_dir())
    options = EngineOptions.from_config(config.model, model.path)
    started = time.monotonic()
    engine = WhisperEngine(options) if (offline or not realtime) else None
    results: list[FileResult] = []
    for entry in entries:
        if realtime:
            result = realtime_run(entry, config, hotwords)
        else:
            result = SimulatedRun(entry, engine, config, hotwords).run()
        if offline:
            t = time.perf_counter()
            if entry.room is not None:
                result.offline_lines = own_mic_offline(engine, entry)
                result.offline_text = "".join(ln["text"] for ln in result.offline_lines)
            else:
                result.offline_text = offline_transcribe(engine, entry)
            result.offline_s = time.perf_counter() - t
        results.append(result)
        if progress:
            progress(result)
    worker = max((r.worker_rss_mb for r in results), default=0.0)
    return BenchReport(results, realtime, time.monotonic() - started,
                       peak_rss_mb() + worker, model.as_dict())


def offline_transcribe(engine: WhisperEngine, entry: ManifestEntry) -> str:
    """Plain ``WhisperModel.transcribe`` of the whole file: the baseline."""
    from courtbox.transcribe.normalize import normalize_zh

    engine.model.window_frames = None  # Whisper's own 30-s window
    segments, _ = engine.model.transcribe(mono_16k(entry.path), language=entry.language)
    sep = " " if entry.language == "en" else ""
    text = sep.join(s.text.strip() for s in segments)
    return normalize_zh(text) if entry.language == "zh" else text


def own_mic_offline(engine: WhisperEngine, entry: ManifestEntry) -> list[dict]:
    """A room's baseline: plain ``transcribe`` of each reference utterance from its own
    seat's microphone over its true span (what the model can do in that room when the seat
    decision is perfect); a seat only an array hears, from a delay-and-sum beam at it."""
    from courtbox.transcribe.normalize import normalize_zh

    room = entry.room
    assert room is not None
    audio, rate = sf.read(str(entry.path), dtype="float32", always_2d=True)
    if rate != SPEECH_RATE:
        audio = soxr.resample(audio, rate, SPEECH_RATE)
    tracks = {seat: audio[:, c] for c, seat in room.seats}
    if room.array:  # a seat only the array hears: a delay-and-sum beam at its direction
        spec = room_array(room.array)
        beams = beam_recording(spec.geometry, [(s.azimuth_deg, s.elevation_deg)
                                               for s in spec.seats], audio[:, spec.channels])
        tracks |= {s.seat: beams[:, i] for i, s in enumerate(spec.seats)}
    engine.model.window_frames = None
    lines = []
    for u in room.utterances:
        if u.seat not in tracks:
            continue
        piece = tracks[u.seat][round(u.t0 * SPEECH_RATE):round(u.t1 * SPEECH_RATE)]
        segments, _ = engine.model.transcribe(piece, language=entry.language)
        sep = " " if entry.language == "en" else ""
        text = sep.join(s.text.strip() for s in segments)
        lines.append({"seat": u.seat, "t0": u.t0, "t1": u.t1,
                      "text": normalize_zh(text) if entry.language == "zh" else text})
    return lines
