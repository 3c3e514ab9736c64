"""The archived audio of one seat, or the mix of all seats, as one WAV file on the hearing's
timeline, read in byte ranges.

Byte ``44 + 2·n`` of the file is sample ``n`` of the timeline (mono, 16-bit, the capture
rate), so a player that seeks to second ``t`` of the file hears second ``t`` of the hearing;
pauses and device outages are silence, as long as they were. Nothing is converted ahead:
a range is decoded from the FLAC segments that overlap it when it is asked for, so a
browser's ``<audio>`` element can start anywhere in a three-hour hearing at once (HTTP
Range, RFC 9110 §14). Segments still being written are not yet in the store and so not yet
playable.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

HEADER_BYTES = 44
CHUNK_FRAMES = 1 << 16


class RangeError(ValueError):
    """A ``Range`` this resource cannot satisfy: answered 416 with ``bytes */SIZE``."""


_RANGE = re.compile(r"[ \t]*bytes[ \t]*=[ \t]*([0-9]*)[ \t]*-[ \t]*([0-9]*)[ \t]*",
                    re.IGNORECASE | re.ASCII)
_DIGITS = 18  # a position longer than this is past any file: never int() a huge string


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) bytes of ``size`` a ``Range`` header asks for (RFC 9110
    §14.1.2), None for the whole; ``RangeError`` for what cannot be satisfied: more than
    one range, another unit, a first position past the end, last before first, a suffix
    of no bytes (``bytes=-0``). Positions of any length are read without converting them
    whole: one longer than 18 digits is past the end of every file."""
    if header is None or not header.strip():
        return None
    m = _RANGE.fullmatch(header)
    if not m or m.group(1) == m.group(2) == "":
        raise RangeError(f"unsupported Range {header[:80]!r}: one bytes=first-last range")
    first, last = (_position(g) for g in m.groups())
    if first is None:  # the last N bytes
        if last == 0 or size == 0:
            raise RangeError(f"Range {header[:80]!r} asks for no bytes of the {size}")
        return max(0, size - last), size - 1
    if last is not None and last < first:
        raise RangeError(f"Range {header[:80]!r} ends before it starts")
    if first >= size:
        raise RangeError(f"Range {header[:80]!r} is outside the {size} bytes")
    return first, size - 1 if last is None else min(last, size - 1)


def _position(digits: str) -> int | None:
    if not digits:
        return None
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= _DIGITS else 10 ** _DIGITS


def wav_header(frames: int, sample_rate: int) -> bytes:
    data = frames * 2
    return (b"RIFF" + struct.pack("<I", 36 + data) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
            + b"data" + struct.pack("<I", data))


@dataclass(frozen=True)
class _Segment:
    path: Path
    start: int
    frames: int


class HearingAudio:
    def __init__(self, data_dir: Path, segments: list[dict], sample_rate: int,
                 channels: list[int]) -> None:
        self.sample_rate = sample_rate
        self.channels = channels  # one: a seat; several: their mix
        self.segments = [_Segment(Path(data_dir) / s["path"], s["start_sample"], s["frames"])
                         for s in segments if (Path(data_dir) / s["path"]).is_file()]
        self.frames = max((s.start + s.frames for s in self.segments), default=0)
        self.size = HEADER_BYTES + 2 * self.frames

    def byte_range(self, header: str | None) -> tuple[int, int] | None:
        """The inclusive (first, last) bytes a ``Range`` header asks for, None for all."""
        return byte_range(header, self.size)

    def iter_bytes(self, first: int, last: int) -> Iterator[bytes]:
        """Bytes ``first`` to ``last`` inclusive, in chunks."""
        header = wav_header(self.frames, self.sample_rate)
        if first < HEADER_BYTES:
            yield header[first:min(last + 1, HEADER_BYTES)]
            first = HEADER_BYTES
        while first <= last:
            f0 = (first - HEADER_BYTES) // 2
            f1 = min(f0 + CHUNK_FRAMES, (last - HEADER_BYTES) // 2 + 1)
            data = self.samples(f0, f1).tobytes()
            skip = (first - HEADER_BYTES) % 2
            chunk = data[skip:skip + last + 1 - first]
            yield chunk
            first += len(chunk)

    def samples(self, f0: int, f1: int) -> np.ndarray:
        """Timeline samples ``f0`` to ``f1`` of the seat or mix, int16; silence in gaps."""
        out = np.zeros(f1 - f0, dtype=np.int32)
        for seg in self.segments:
            lo, hi = max(f0, seg.start), min(f1, seg.start + seg.frames)
            if lo >= hi:
                continue
            try:
                with sf.SoundFile(str(seg.path)) as f:
                    f.seek(lo - seg.start)
                    block = f.read(hi - lo, dtype="int16", always_2d=True)
            except (sf.LibsndfileError, RuntimeError, OSError):
                continue  # unreadable: heard as silence; `courtbox verify` reports it
            picked = block[:, [c for c in self.channels if c < block.shape[1]]]
            mixed = picked.astype(np.int32).sum(axis=1)  # a mixer's sum, clipped below
            out[lo - f0:lo - f0 + len(mixed)] = mixed
        return np.clip(out, -32768, 32767).astype("<i2")
