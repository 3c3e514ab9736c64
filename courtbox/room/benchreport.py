"""The bench's paperwork: the manifest it reads, what it measures of each file, and the
report it prints (``courtbox bench``; the drivers are in ``room.bench``).

A manifest lists recordings, one per line: ``path<TAB>reference[<TAB>language]`` (paths
relative to the manifest; ``#`` lines and blank lines are skipped; an empty reference means
"no speech here": every character recognised counts as an error). A line that is only a
``hearing.json`` (the bundled sample's, or a room of ``scripts/simulate_courtroom.py``) is a
multi-seat recording with a per-seat reference: its seats are its channels, its CER is
counted per seat, and the bench scores where each line landed (``room.seatscore``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from courtbox.audio.types import Utterance
from courtbox.errors import ConfigError
from courtbox.room.seatscore import (
    RoomReference,
    load_room_reference,
    seat_errors,
    seat_score,
    sum_scores,
)
from courtbox.transcribe.metrics import ErrorCount, errors_for

SIMULATE = "scripts/simulate_courtroom.py --out DIR --rooms 20 --seed 100 --duration 60"


@dataclass(frozen=True)
class ManifestEntry:
    path: Path
    reference: str
    language: str = "zh"
    room: RoomReference | None = None  # per-seat reference of a multi-seat recording


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
        if len(fields) == 1 and fields[0].strip().endswith(".json"):
            problem, entry = _room_entry(path, n, fields[0].strip(), default_language)
            if problem:
                problems.append(problem)
            else:
                entries.append(entry)
            continue
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


def _room_entry(manifest: Path, n: int, name: str, language: str
                ) -> tuple[str | None, ManifestEntry | None]:
    where = (manifest.parent / name).resolve()
    if not where.is_file():
        return (f"{manifest}:{n}: no such room reference {where} (rooms are generated: "
                f"{SIMULATE})", None)
    try:
        room = load_room_reference(where)
    except ConfigError as e:
        return f"{manifest}:{n}: {'; '.join(e.problems)}", None
    if room.audio is None or not room.audio.is_file():
        return f"{manifest}:{n}: {where} names no audio file beside it", None
    return None, ManifestEntry(room.audio, room.text(), language, room)


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
    offline_lines: list[dict] | None = None  # a room's utterances, each from its own mic
    revision_latencies: list[float] = field(default_factory=list)  # turn end -> revised

    def seats(self) -> dict | None:
        """Where the lines landed, for a recording with a per-seat reference."""
        room = self.entry.room
        return None if room is None else seat_score(self.lines, room, self.entry.language)

    @property
    def text(self) -> str:
        sep = " " if self.entry.language == "en" else ""
        return sep.join(ln["text"] for ln in sorted(self.lines, key=lambda x: x["t0"]))

    def errors(self) -> ErrorCount:
        if self.entry.room is not None:
            return _total(seat_errors(self.lines, self.entry.room, self.entry.language))
        return errors_for(self.entry.language, self.entry.reference, self.text)

    def offline_errors(self) -> ErrorCount | None:
        if self.offline_lines is not None and self.entry.room is not None:
            return _total(seat_errors(self.offline_lines, self.entry.room,
                                      self.entry.language))
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
            self.lines.append({"utterance_id": u.id, "seat": u.seat, "t0": round(u.t0, 3),
                               "t1": round(u.t1, 3),
                               "speech_t0": round(u.speech_t0, 3),
                               "speech_t1": round(u.speech_t1, 3), "text": text})

    def on_revision(self, u: Utterance, text: str, merged: tuple[str, ...], latency: float
                    ) -> None:
        """The recogniser read a whole turn again: its first line ``u`` now spans the turn
        and holds ``text``; the ``merged`` lines are in it."""
        self.revision_latencies.append(latency)
        self.lines = [ln for ln in self.lines if ln["utterance_id"] not in merged]
        for ln in self.lines:
            if ln["utterance_id"] == u.id:
                ln.update(text=text, t1=round(u.t1, 3), speech_t1=round(u.speech_t1, 3))

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
            **({"seats": self.seats(), "lines": self.lines} if self.entry.room else {}),
        }


def _total(per_seat: dict[str, ErrorCount]) -> ErrorCount:
    return sum(per_seat.values(), ErrorCount(0, 0))


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


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
            "revision_latency_s": _percentiles([v for f in self.files
                                                for v in f.revision_latencies]),
            "rtf": round(busy / audio_s, 4) if audio_s else None,
            "front_rtf": (round(sum(f.front_s for f in self.files) / audio_s, 4)
                          if audio_s and not self.realtime else None),
            "max_lag_s": round(max((f.max_lag_s for f in self.files), default=0.0), 3),
            "max_queue": max((f.max_queue for f in self.files), default=0),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "offline_rtf": (round(sum(f.offline_s for f in self.files) / audio_s, 4)
                            if off and audio_s else None),
            "wall_seconds": round(self.wall_s, 1), "model": self.model,
            "seats": sum_scores([s for f in self.files if (s := f.seats()) is not None]),
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
        f"turn revision latency:  {lat(summary['revision_latency_s'])}",
        f"utterances: {summary['utterances']}, with a partial: {summary['with_partial']}",
        f"real-time factor:       {summary['rtf']} (speech front "
        f"{summary['front_rtf'] if summary['front_rtf'] is not None else '—'}), "
        f"max lag {summary['max_lag_s']:.2f} s, max queue {summary['max_queue']}",
        f"peak RSS:               {summary['peak_rss_mb']:.0f} MB; "
        f"wall {summary['wall_seconds']:.0f} s",
    ]
    seats = summary.get("seats")
    if seats:
        def share(v: float | None) -> str:
            return "—" if v is None else f"{v:.1%}"

        lines += [
            f"lines on a silent seat: {share(seats['silent_share'])} "
            f"({seats['on_silent_seat']}/{seats['lines']})",
            f"utterances on own seat: {share(seats['own_share'])} "
            f"({seats['on_own_seat']}/{seats['utterances']}); double talk, both seats: "
            f"{share(seats['double_talk_share'])} "
            f"({seats['double_talk_found']}/{seats['double_talk']})",
            f"seat of an utterance:   alone {share(seats['alone_share'])} "
            f"({seats['alone_right']}/{seats['alone']}), overlapped "
            f"{share(seats['overlapped_share'])} "
            f"({seats['overlapped_right']}/{seats['overlapped']})",
        ]
    return "\n".join(lines)
