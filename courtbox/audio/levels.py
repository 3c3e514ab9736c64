"""Per-channel level meters and the alarms a clerk must see: clipping and dead microphones.

``LevelMeter`` turns captured blocks into one ``LevelReport`` per window (100 ms: ten a
second, what a meter on the clerk's screen needs): RMS and peak in dBFS and the number of
clipped samples of every channel. It raises an ``Alarm``

- ``clipping`` when a window holds at least ``clip_samples`` samples at full scale (at most
  once per ``clip_repeat_s`` per channel, so a shouting witness is one alarm, not forty);
- ``dead_mic`` when a channel has been flat or silent (digital silence or a stuck value:
  what an unplugged or broken microphone delivers, unlike a live one in a quiet room, which
  always carries its noise floor) for ``dead_after_s`` while other channels carried speech;
  ``dead_mic_cleared`` when it comes back.

Each report also says which channels are dead now (``LevelReport.dead``): the meter is the
one place that state is kept. A level is ``audio.types.rms_db``, the same definition the seat
segmenter (``audio.seats``) uses on its 32-ms frames.

Pure and synchronous: no I/O, no clock but the sample count; not thread-safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from courtbox.audio.types import Block, rms_db

FULL_SCALE = 32767


@dataclass(frozen=True)
class MeterOptions:
    window_ms: int = 100
    silent_db: float = -80.0  # below this RMS a channel carries nothing, not even noise
    speech_db: float = -45.0  # above this RMS a channel carries speech
    dead_after_s: float = 120.0
    clip_samples: int = 4
    clip_repeat_s: float = 10.0


@dataclass(frozen=True)
class Alarm:
    kind: str  # clipping | dead_mic | dead_mic_cleared
    channel: int
    at_sample: int
    message: str


@dataclass(frozen=True)
class LevelReport:
    at_sample: int  # end of the window on the hearing timeline (capture rate)
    rms_db: list[float]
    peak_db: list[float]
    clipped: list[int]
    alarms: list[Alarm] = field(default_factory=list)
    dead: list[bool] = field(default_factory=list)  # per channel, after this window's alarms


def _peak_db(x: np.ndarray) -> np.ndarray:
    return np.round(20.0 * np.log10(np.maximum(x, 1e-6)), 1)


class LevelMeter:
    def __init__(self, channels: int, sample_rate: int,
                 options: MeterOptions | None = None, start: int = 0) -> None:
        self.o = options or MeterOptions()
        self.channels = channels
        self.rate = sample_rate
        self.window = max(1, sample_rate * self.o.window_ms // 1000)
        self._pending = np.zeros((0, channels), dtype=np.int16)
        self._position = start
        self._silent_since: list[int | None] = [None] * channels
        self._others_spoke: list[bool] = [False] * channels
        self._dead = [False] * channels
        self._last_clip: list[int | None] = [None] * channels

    def feed(self, block: Block) -> list[LevelReport]:
        data = np.concatenate([self._pending, block.data]) if len(self._pending) else block.data
        whole = len(data) // self.window * self.window
        reports = [self._measure(data[i:i + self.window]) for i in range(0, whole, self.window)]
        self._pending = data[whole:]
        return reports

    def _measure(self, window: np.ndarray) -> LevelReport:
        self._position += len(window)
        x = window.astype(np.float64) / 32768.0
        rms = np.round(rms_db(x), 1)
        peak = _peak_db(np.abs(x).max(axis=0))
        clipped = np.count_nonzero((window >= FULL_SCALE) | (window <= -FULL_SCALE - 1), axis=0)
        flat = window.max(axis=0) - window.min(axis=0) <= 1
        silent = (rms < self.o.silent_db) | flat
        speaking = rms > self.o.speech_db
        alarms: list[Alarm] = []
        for c in range(self.channels):
            alarms += self._clipping(c, int(clipped[c]))
            alarms += self._dead_mic(c, bool(silent[c]),
                                     bool(speaking[:c].any() or speaking[c + 1:].any()))
        return LevelReport(self._position, rms.tolist(), peak.tolist(),
                           [int(n) for n in clipped], alarms, list(self._dead))

    def _clipping(self, c: int, clipped: int) -> list[Alarm]:
        if clipped < self.o.clip_samples:
            return []
        last = self._last_clip[c]
        if last is not None and self._position - last < self.o.clip_repeat_s * self.rate:
            return []
        self._last_clip[c] = self._position
        return [Alarm("clipping", c, self._position,
                      f"channel {c + 1} is clipping ({clipped} samples at full scale): "
                      "lower its gain")]

    def _dead_mic(self, c: int, silent: bool, others_speaking: bool) -> list[Alarm]:
        if not silent:
            self._silent_since[c] = None
            self._others_spoke[c] = False
            if self._dead[c]:
                self._dead[c] = False
                return [Alarm("dead_mic_cleared", c, self._position,
                              f"channel {c + 1} carries signal again")]
            return []
        if self._silent_since[c] is None:
            self._silent_since[c] = self._position - self.window
        self._others_spoke[c] |= others_speaking
        silent_s = (self._position - self._silent_since[c]) / self.rate
        if not self._dead[c] and self._others_spoke[c] and silent_s >= self.o.dead_after_s:
            self._dead[c] = True
            return [Alarm("dead_mic", c, self._position,
                          f"channel {c + 1} has been silent for {silent_s / 60:.1f} min while "
                          "others spoke: check its microphone and cable")]
        return []
