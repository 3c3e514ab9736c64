"""``courtbox bench``: the live transcript measured for accuracy, latency and cost.

A manifest lists recordings, one per line: ``path<TAB>reference[<TAB>language]`` (paths
relative to the manifest; ``#`` lines and blank lines are skipped; an empty reference means
"no speech here": every character recognised counts as an error). Each file is streamed
through the live pipeline, one seat per channel, and the bench reports:

- the error rate of the final lines (CER; WER for English), and the offline error rate of
  the same model on the same files (plain ``WhisperModel.transcribe`` of the whole file,
  mixed down to mono: faster-whisper's defaults, no courtbox prompt, window or VAD);
- latency as a live hearing sees it: *first partial*, from the first speech of an utterance
  to the first text shown for it (a partial, or the final when the utterance ended before
  any partial), and *final*, from the end of speech to the final line; p50 and p95;
- real-time factor (recogniser busy time / audio time), the speech front's own share, and
  peak resident memory.

Two clocks. With ``realtime`` each file is played at wall-clock pace through the real
``Recorder`` (capture, archive, store, recogniser process) and events are timed by the wall
clock. Without it, the same ``SpeechFront`` and ``JobQueue`` drive the recogniser on a
simulated clock: audio arrives at its own pace, the single recogniser takes each job when it
is free, and each job takes exactly the compute time it took; the clock never runs ahead of
the audio or of the recogniser, so a slow decode delays every later line as it would live.
The bench lives in ``agent`` because the live pipeline it drives spans ``audio`` and
``transcribe``.
"""

from __future__ import annotations

import math
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from courtbox.audio.capture import audio_file_info
from courtbox.audio.types import SPEECH_RATE, Block, Utterance
from courtbox.config import Config
from courtbox.errors import ConfigError
from courtbox.room.speech import SpeechFront
from courtbox.room.stack import speech_options
from courtbox.transcribe.engine import Recognition, WhisperEngine
from courtbox.transcribe.metrics import ErrorCount, errors_for
from courtbox.transcribe.stream import Job, JobQueue, PartialLines

BLOCK_S = 0.1


@dataclass(frozen=True)
class ManifestEntry:
    path: Path
    reference: str
    language: str = "zh"


def read_manifest(path: Path, default_language: str = "zh") -> list[ManifestEntry]:
    """Parse a bench manifest; every problem is a ``ConfigError`` naming file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([f"--manifest {path}: cannot read: {e}"]) from e
    entries: list[ManifestEntry] = []
    problems: list[str] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) not in (2, 3):
            problems.append(f"{path}:{n}: expected path<TAB>reference[<TAB>language], "
                            f"found {len(fields)} field(s)")
            continue
        audio = (path.parent / fields[0].strip()).resolve()
        language = fields[2].strip() if len(fields) == 3 else default_language
        if not audio.is_file():
            problems.append(f"{path}:{n}: no such audio file {audio}")
        elif language not in ("zh", "en"):
            problems.append(f"{path}:{n}: language must be zh or en, not {language!r}")
        else:
            entries.append(ManifestEntry(audio, fields[1].strip(), language))
    if problems:
        raise ConfigError(problems, str(path))
    if not entries:
        raise ConfigError([f"{path}: the manifest lists no audio file"], str(path))
    return entries


@dataclass
class UtteranceTiming:
    id: str
    speech_t0: float
    speech_t1: float
    first_text_at: float | None = None  # clock time the first partial (or final) appeared
    final_at: float | None = None
    partials: int = 0

    @property
    def first_latency(self) -> float | None:
        return None if self.first_text_at is None else self.first_text_at - self.speech_t0

    @property
    def final_latency(self) -> float | None:
        return None if self.final_at is None else self.final_at - self.speech_t1


@dataclass
class FileResult:
    entry: ManifestEntry
    duration_s: float
    channels: int
    lines: list[dict] = field(default_factory=list)  # finals: seat, t0, t1, text
    timings: dict[str, UtteranceTiming] = field(default_factory=dict)
    busy_s: float = 0.0  # recogniser compute
    front_s: float = 0.0  # segmenter + VAD compute (simulated clock only)
    offline_text: str | None = None
    offline_s: float = 0.0
    max_lag_s: float = 0.0
    max_queue: int = 0
    worker_rss_mb: float = 0.0  # the recogniser process's peak (realtime only)

    @property
    def text(self) -> str:
        sep = " " if self.entry.language == "en" else ""
        return sep.join(ln["text"] for ln in sorted(self.lines, key=lambda x: x["t0"]))

    def errors(self) -> ErrorCount:
        return errors_for(self.entry.language, self.entry.reference, self.text)

    def offline_errors(self) -> ErrorCount | None:
        if self.offline_text is None:
            return None
        return errors_for(self.entry.language, self.entry.reference, self.offline_text)

    def on_partial(self, u: Utterance, at: float) -> None:
        t = self._timing(u)
        t.partials += 1
        if t.first_text_at is None:
            t.first_text_at = at

    def on_final(self, u: Utterance, text: str, at: float) -> None:
        t = self._timing(u)
        t.speech_t1 = u.speech_t1
        t.final_at = at
        if t.first_text_at is None and text:
            t.first_text_at = at
        if text:
            self.lines.append({"seat": u.seat, "t0": round(u.t0, 3), "t1": round(u.t1, 3),
                               "text": text})

    def _timing(self, u: Utterance) -> UtteranceTiming:
        if u.id not in self.timings:
            self.timings[u.id] = UtteranceTiming(u.id, u.speech_t0, u.speech_t1)
        return self.timings[u.id]

    def as_dict(self) -> dict:
        e, off = self.errors(), self.offline_errors()
        return {
            "path": str(self.entry.path), "language": self.entry.language,
            "duration_s": round(self.duration_s, 3), "channels": self.channels,
            "reference": self.entry.reference, "final_text": self.text,
            "errors": e.errors, "reference_length": e.reference_length,
            "offline_text": self.offline_text,
            "offline_errors": off.errors if off else None,
            "utterances": [{"id": t.id, "speech_t0": round(t.speech_t0, 3),
                            "speech_t1": round(t.speech_t1, 3), "partials": t.partials,
                            "first_partial_latency_s": _round(t.first_latency),
                            "final_latency_s": _round(t.final_latency)}
                           for t in self.timings.values() if t.final_at is not None],
            "busy_s": round(self.busy_s, 3), "max_lag_s": round(self.max_lag_s, 3),
        }


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


def _blocks(path: Path) -> Iterator[Block]:
    with sf.SoundFile(str(path)) as f:
        frames = max(1, round(f.samplerate * BLOCK_S))
        position = 0
        for data in f.blocks(blocksize=frames, dtype="int16", always_2d=True):
            yield Block(position, data)
            position += len(data)


def mono_16k(path: Path) -> np.ndarray:
    """The whole file mixed down to mono at 16 kHz (for the offline baseline)."""
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    return mono if rate == SPEECH_RATE else soxr.resample(mono, rate, SPEECH_RATE)


class SimulatedRun:
    """One file through ``SpeechFront`` and a single recogniser on a simulated clock."""

    def __init__(self, entry: ManifestEntry, engine: WhisperEngine, config: Config) -> None:
        info = audio_file_info(entry.path)
        self.entry = entry
        self.engine = engine
        self.rate = info.samplerate
        seg, vad, stream = speech_options(config)
        self.front = SpeechFront([(c, f"ch{c}") for c in range(info.channels)],
                                 channels=info.channels, sample_rate=info.samplerate,
                                 segmenter_options=seg, vad_options=vad,
                                 stream_options=stream)
        self.queue = JobQueue()
        self.partial_lines = PartialLines()
        self.free_at = 0.0  # when the recogniser is next free
        self.result = FileResult(entry, info.frames / info.samplerate, info.channels)

    def run(self) -> FileResult:
        now = 0.0
        for block in _blocks(self.entry.path):
            arrival = (block.start + block.frames) / self.rate
            self._work_until(arrival)
            now = arrival
            started = time.perf_counter()
            requests = self.front.feed(block)
            self.result.front_s += time.perf_counter() - started
            self._push(requests, now)
        self._push(self.front.flush(), now)
        self._work_until(math.inf)
        return self.result

    def _push(self, requests, now: float) -> None:
        for kind, utterance in requests:
            self.queue.push(Job(kind, utterance, now))
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
            u = job.utterance
            rec: Recognition = self.engine.recognize(u.audio, u.t0, job.hotwords,
                                                     mode=job.kind)
            self.free_at = start + rec.compute_s
            self.result.busy_s += rec.compute_s
            self._note_lag(self.free_at)
            if job.kind == "final":
                self.queue.forget(u.id)
                self.partial_lines.final(u.id, u.seat)
                self.result.on_final(u, rec.text, self.free_at)
            elif rec.text and self.partial_lines.update(u.id, u.seat, u.t0, rec.text):
                self.front.policy.shown(u.id)
                self.result.on_partial(u, self.free_at)


def realtime_run(entry: ManifestEntry, config: Config) -> FileResult:
    """One file at wall-clock pace through the real ``Recorder`` (archive, store and the
    recogniser process included), in a temporary data directory."""
    from courtbox.audio.capture import FileCapture
    from courtbox.record.hearing import HearingInfo, close_hearing, open_hearing, start_hearing
    from courtbox.room.stack import RecordingStack

    info = audio_file_info(entry.path)
    result = FileResult(entry, info.frames / info.samplerate, info.channels)
    seats = [{"channel": c, "id": f"ch{c}", "role": "other", "name": f"ch{c}"}
             for c in range(info.channels)]
    started = 0.0
    first_seen: dict[str, float] = {}

    def on_partial(line) -> None:
        first_seen.setdefault(line.utterance_id, time.monotonic() - started)

    def on_final(line: dict) -> None:
        at = time.monotonic() - started
        u = Utterance(id=line["utterance_id"], seat=line["seat"],
                      start=round(line["t0"] * SPEECH_RATE), audio=np.zeros(0),
                      speech_start=round(line["speech_t0"] * SPEECH_RATE),
                      speech_end=round(line["speech_t1"] * SPEECH_RATE))
        if line["utterance_id"] in first_seen:
            result.on_partial(u, first_seen[line["utterance_id"]])
        result.on_final(u, line["text"], at)

    with tempfile.TemporaryDirectory(prefix="courtbox-bench-") as data_dir, \
            RecordingStack(config, Path(data_dir)) as stack:
        capture = FileCapture(entry.path, block_ms=round(BLOCK_S * 1000), realtime=True)
        hearing_id = stack.writer.call(lambda s: open_hearing(
            s, config, HearingInfo(case_number="bench"), actor="bench",
            sample_rate=capture.sample_rate, seats=seats))
        recorder = stack.recorder(hearing_id, capture, seats, on_final=on_final,
                                  on_partial=on_partial, hotwords=())
        stack.writer.call(lambda s: start_hearing(s, hearing_id, actor="bench"))
        started = time.monotonic()
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


@dataclass
class BenchReport:
    files: list[FileResult]
    realtime: bool
    wall_s: float
    peak_rss_mb: float
    model: dict

    def summary(self) -> dict:
        audio_s = sum(f.duration_s for f in self.files)
        total = sum((f.errors() for f in self.files), ErrorCount(0, 0))
        offline = [f.offline_errors() for f in self.files]
        off = (sum(offline, ErrorCount(0, 0)) if all(o is not None for o in offline)
               else None)
        timings = [t for f in self.files for t in f.timings.values() if t.final_at]
        first = [t.first_latency for t in timings if t.first_latency is not None]
        final = [t.final_latency for t in timings if t.final_latency is not None]
        metric = "wer" if all(f.entry.language == "en" for f in self.files) else "cer"
        busy = sum(f.busy_s for f in self.files)
        return {
            "files": len(self.files), "audio_seconds": round(audio_s, 3),
            "clock": "wall (realtime)" if self.realtime else "simulated",
            "metric": metric,
            "final": _rate(total), "offline": _rate(off) if off else None,
            "utterances": len(timings),
            "with_partial": sum(1 for t in timings if t.partials),
            "first_partial_latency_s": _percentiles(first),
            "final_latency_s": _percentiles(final),
            "rtf": round(busy / audio_s, 4) if audio_s else None,
            "front_rtf": (round(sum(f.front_s for f in self.files) / audio_s, 4)
                          if audio_s and not self.realtime else None),
            "max_lag_s": round(max((f.max_lag_s for f in self.files), default=0.0), 3),
            "max_queue": max((f.max_queue for f in self.files), default=0),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "offline_rtf": (round(sum(f.offline_s for f in self.files) / audio_s, 4)
                            if off and audio_s else None),
            "wall_seconds": round(self.wall_s, 1), "model": self.model,
        }

    def as_dict(self) -> dict:
        return {**self.summary(), "per_file": [f.as_dict() for f in self.files]}


def _rate(e: ErrorCount) -> dict:
    return {"rate": round(e.rate, 4), "errors": e.errors, "reference_length":
            e.reference_length}


def _percentiles(values: list[float]) -> dict | None:
    if not values:
        return None
    return {"p50": round(float(np.percentile(values, 50)), 3),
            "p95": round(float(np.percentile(values, 95)), 3),
            "max": round(float(max(values)), 3), "n": len(values)}


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
              offline: bool, progress: Callable[[FileResult], None] | None = None
              ) -> BenchReport:
    from courtbox.transcribe.engine import EngineOptions
    from courtbox.transcribe.model import model_info

    model = model_info(config.model.path, config.cache_dir())
    options = EngineOptions.from_config(config.model, model.path)
    started = time.monotonic()
    engine = WhisperEngine(options) if (offline or not realtime) else None
    results: list[FileResult] = []
    for entry in entries:
        if realtime:
            result = realtime_run(entry, config)
        else:
            result = SimulatedRun(entry, engine, config).run()
        if offline:
            t = time.perf_counter()
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


def format_report(summary: dict) -> str:
    def pct(r: dict | None) -> str:
        if r is None:
            return "—"
        if not r["reference_length"]:
            return f"{r['errors']} character(s) recognised where nobody spoke"
        return f"{r['rate']:.2%} ({r['errors']}/{r['reference_length']})"

    def lat(p: dict | None) -> str:
        return "—" if p is None else f"p50 {p['p50']:.2f} s, p95 {p['p95']:.2f} s " \
                                     f"(max {p['max']:.2f} s, n={p['n']})"

    m = summary["metric"].upper()
    lines = [
        f"files: {summary['files']}, audio {summary['audio_seconds']:.1f} s, "
        f"clock: {summary['clock']}, model {summary['model']['name']}",
        f"{m} of final lines:      {pct(summary['final'])}",
        f"{m} offline (same model): {pct(summary['offline'])}",
        f"first partial latency:  {lat(summary['first_partial_latency_s'])}",
        f"final latency:          {lat(summary['final_latency_s'])}",
        f"utterances: {summary['utterances']}, with a partial: {summary['with_partial']}",
        f"real-time factor:       {summary['rtf']} (speech front "
        f"{summary['front_rtf'] if summary['front_rtf'] is not None else '—'}), "
        f"max lag {summary['max_lag_s']:.2f} s, max queue {summary['max_queue']}",
        f"peak RSS:               {summary['peak_rss_mb']:.0f} MB; "
        f"wall {summary['wall_seconds']:.0f} s",
    ]
    return "\n".join(lines)
