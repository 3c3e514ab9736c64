"""``courtbox transcribe FILE``: a recorded file through the live code path, offline.

The file is read block by block, cut into per-seat utterances by the same ``SpeechFront``
(seat activity and Silero VAD, with the config's ``vad`` settings) the live pipeline uses,
without partials, and each utterance is recognised by the same ``WhisperEngine`` (in this
process: there is no recording here to protect), given the same request as the recogniser
process. Output writers for JSON, TXT and SRT live here too; the demo and later exports
reuse them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

from courtbox.audio.capture import audio_file_info, require_channels
from courtbox.audio.types import Block
from courtbox.config import Config, Seat
from courtbox.record import export
from courtbox.room.options import RecorderOptions
from courtbox.room.speech import SpeechFront
from courtbox.transcribe.engine import EngineOptions, WhisperEngine
from courtbox.transcribe.stream import Heard, Job
from courtbox.transcribe.worker import job_request

FORMATS = ("json", "txt", "srt")


@dataclass
class FileTranscript:
    file: str
    duration_s: float
    seats: list[Seat]
    lines: list[dict] = field(default_factory=list)

    def seat_names(self) -> dict[str, str]:
        return {s.id: s.name for s in self.seats}


def to_json(t: FileTranscript) -> str:
    return json.dumps({"file": t.file, "duration_s": round(t.duration_s, 3),
                       "seats": [s.model_dump() for s in t.seats], "lines": t.lines},
                      ensure_ascii=False, indent=2)


def line_text(line: dict, names: dict[str, str]) -> str:
    """``[hh:mm:ss] 审判长：text``: a transcript line as the console and TXT show it."""
    return export.line_text(line["t0"], names.get(line["seat"], line["seat"]), line["text"])


def to_txt(t: FileTranscript) -> str:
    names = t.seat_names()
    return "".join(line_text(line, names) + "\n" for line in t.lines)


def to_srt(t: FileTranscript) -> str:
    names = t.seat_names()
    return export.srt((line["t0"], line["t1"], names.get(line["seat"], line["seat"]),
                       line["text"]) for line in t.lines)


WRITERS: dict[str, Callable[[FileTranscript], str]] = {
    "json": to_json, "txt": to_txt, "srt": to_srt}


def transcribe_file(path: Path, seats: list[Seat], options: EngineOptions, *,
                    progress: Callable[[float], None] | None = None,
                    engine: WhisperEngine | None = None,
                    config: Config | None = None) -> FileTranscript:
    """Recognise every seat of ``path``; ``progress`` gets seconds of audio consumed;
    utterances are cut with ``config``'s ``vad`` settings (the defaults without one)."""
    info = audio_file_info(path)
    require_channels(path, info.channels, seats)
    engine = engine or WhisperEngine(options)
    speech = RecorderOptions.from_config(config or Config())
    front = SpeechFront([(s.channel, s.id) for s in seats], channels=info.channels,
                        sample_rate=info.samplerate, segmenter_options=speech.segmenter,
                        vad_options=speech.vad, arrays=speech.arrays)
    result = FileTranscript(file=str(path), duration_s=info.frames / info.samplerate,
                            seats=seats)

    def recognise(heard: Heard) -> None:
        for u in heard.ended:
            rec = engine.recognize(*job_request(Job("final", u, 0.0)))
            if rec.text:
                result.lines.append({"seat": u.seat, "t0": round(u.t0, 3),
                                     "t1": round(u.t1, 3), "text": rec.text,
                                     "words": rec.words_as_dicts(),
                                     "avg_logprob": rec.avg_logprob})

    position = 0
    block_frames = info.samplerate // 10
    with sf.SoundFile(str(path)) as f:
        for data in f.blocks(blocksize=block_frames, dtype="int16", always_2d=True):
            recognise(front.feed(Block(position, data)))
            position += len(data)
            if progress:
                progress(len(data) / info.samplerate)
    recognise(front.flush())
    result.lines.sort(key=lambda line: (line["t0"], line["seat"]))
    return result


def write_outputs(t: FileTranscript, base: Path, formats: list[str]) -> list[Path]:
    written = []
    for fmt in formats:
        out = base.with_suffix(f".{fmt}")
        out.write_text(WRITERS[fmt](t), encoding="utf-8")
        written.append(out)
    return written
