"""The values that travel between the audio stages and the parts above them.

Positions are sample indices on the hearing's timeline at the capture rate (``Block``) or at
the 16 kHz speech rate (``Utterance``); seconds are ``index / rate`` on the same timeline.
Levels are dBFS (``rms_db``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

logger = logging.getLogger(__name__)

SPEECH_RATE = 16000
_EPS = 1e-10  # the mean square of silence: its level is -100 dBFS, never -inf


def power_db(mean_square: np.ndarray) -> np.ndarray:
    """Level in dBFS of a mean square (full scale 1.0)."""
    return 10.0 * np.log10(mean_square + _EPS)


def rms_db(frame: np.ndarray) -> np.ndarray:
    """RMS level in dBFS of each channel of a ``[samples × channels]`` frame (full scale
    1.0): the one definition of a level, for the meters and the seat segmenter alike."""
    return power_db(np.mean(frame.astype(np.float64) ** 2, axis=0))


@dataclass(frozen=True)
class Block:
    """Captured audio: int16 ``[frames × channels]`` starting at ``start`` (capture rate)."""

    start: int
    data: np.ndarray

    @property
    def frames(self) -> int:
        return int(self.data.shape[0])


@dataclass(frozen=True)
class Utterance:
    """One seat's stretch of speech, 16 kHz float32 mono, ready for recognition."""

    id: str
    seat: str
    start: int  # first sample at SPEECH_RATE on the hearing timeline
    audio: np.ndarray = field(repr=False)
    speech_start: int = -1  # first and last speech sample (the rest is pre-roll and
    speech_end: int = -1  # trailing silence); -1: not known

    @property
    def t0(self) -> float:
        return self.start / SPEECH_RATE

    @property
    def t1(self) -> float:
        return (self.start + len(self.audio)) / SPEECH_RATE

    @property
    def speech_t0(self) -> float:
        return (self.speech_start if self.speech_start >= 0 else self.start) / SPEECH_RATE

    @property
    def speech_t1(self) -> float:
        end = self.speech_end if self.speech_end >= 0 else self.start + len(self.audio)
        return end / SPEECH_RATE


@dataclass(frozen=True)
class SegmentWritten:
    """An archived FLAC segment, durable on disk, to be recorded in the store."""

    id: str
    hearing_id: str
    part: int
    idx: int
    path: str  # relative to the data directory
    start_sample: int
    frames: int
    sample_rate: int
    channels: int
    sha256: str
    prev_sha256: str | None
    defective: bool = False

    def as_row(self) -> dict:
        return {**self.__dict__, "defective": int(self.defective)}


@dataclass(frozen=True)
class CaptureEvent:
    """Something the capture or archive stage noticed: overflow, device loss, disk full."""

    kind: str
    message: str
    at_sample: int = 0


def log_event(event: CaptureEvent) -> None:
    """The default handler of capture and archive events when nobody else takes them."""
    logger.warning("%s", event.message)
