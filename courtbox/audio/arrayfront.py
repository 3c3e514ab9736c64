"""An array's seats as the recogniser sees them: a beam per seat, cut into utterances.

``ArrayFront`` takes the captured blocks, keeps the array's capsule channels (resampled to
16 kHz by ``frames.FramePump``, as the seat segmenter's are), and per 32-ms frame (one
Silero VAD window, two STFT hops): finds where the voice comes from (``arrays.SrpPhat``),
steers a beam at every seat of the array (``beams.Beams``), runs the speech detector on
each seat's beam (one VAD stream per seat, as per gooseneck: a quiet far talker stands out
of the room's noise in the beam toward them, not in one capsule or in the capsules' mean),
decides which seats speak (``arrays.SeatTracker``: the direction, where some beam hears
speech; a seat speaks where the tracker holds it and its own beam hears speech), and feeds
each seat's beam and decision to that seat's ``seats.UtteranceCutter`` — the very cutter
a gooseneck seat has, so pre-roll, hangover, long-speech cuts, partials and finals behave
the same. The beams lag the capsules by one hop (16 ms), so a frame's decision waits for
its beams; utterances are placed on the hearing's 16 kHz timeline exactly.

A capsule that is flat (digital silence, a stuck value) or ``dead_db`` below the array's
median level for ``dead_after_s`` is dropped from the direction finder and the beams
until it has carried signal again for a second; the level meters alarm it as a dead
microphone like any other channel (``audio.levels``). ``heard`` says, for the clerk's
console, which seat the array hears now and from which direction.

Stateful and not thread-safe: one thread feeds it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from courtbox.audio.arrays import Geometry, SeatDirection, SeatTracker, SrpPhat, TrackerOptions
from courtbox.audio.beams import HOP, BeamKind, Beams, Stft
from courtbox.audio.frames import FramePump
from courtbox.audio.types import SPEECH_RATE, Block, Utterance, rms_db
from courtbox.config_arrays import capsule_positions

if TYPE_CHECKING:
    from courtbox.audio.seats import LiveUtterance, SegmenterOptions, UtteranceCutter
    from courtbox.config import Config

SpeechGate = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ArraySeat:
    seat: str
    azimuth_deg: float
    elevation_deg: float = 0.0
    sector_deg: float = 40.0


@dataclass(frozen=True)
class ArraySpec:
    """An array as the audio stage needs it (from ``config.ArrayConfig``)."""

    name: str
    channels: list[int]
    geometry: Geometry
    seats: list[ArraySeat]
    beam: BeamKind = "sd"
    tracker: TrackerOptions = field(default_factory=TrackerOptions)


def specs_from_config(config: Config) -> tuple[ArraySpec, ...]:
    """The configured arrays with the seats in front of each."""
    return tuple(ArraySpec(a.id, list(a.channels), Geometry(capsule_positions(a)),
                           [ArraySeat(s.id, float(s.azimuth_deg or 0.0) % 360.0,
                                      s.elevation_deg, s.sector_deg)
                            for s in config.seats
                            if s.array == a.id and s.azimuth_deg is not None], a.beam)
                 for a in config.arrays)


class ArrayFront:
    """Captured blocks in, the array seats' utterances out (16 kHz beams)."""

    dead_db = 30.0
    dead_after_s = 2.0

    def __init__(self, spec: ArraySpec, *, sample_rate: int, options: SegmenterOptions,
                 make_cutter: Callable[[str], UtteranceCutter], start: int = 0,
                 speech_gate: SpeechGate | None = None,
                 elsewhere: Callable[[int], bool] | None = None) -> None:
        """``make_cutter``: a seat's ``seats.UtteranceCutter`` with ``options`` (passed in,
        so that this stage does not deepen the import graph); ``speech_gate``: speech in
        each seat's beam (``[samples × seats]`` in, bool per seat out), or None (all);
        ``elsewhere``: whether the frame at a timeline sample is a voice of a seat with its
        own microphone (a mixed room), which no seat of the array then takes."""
        self.spec = spec
        self.options = options
        self.srp = SrpPhat(spec.geometry)
        self.tracker = SeatTracker([SeatDirection(s.seat, s.azimuth_deg, s.sector_deg)
                                    for s in spec.seats], spec.tracker)
        self.beams = Beams(spec.geometry, [(s.azimuth_deg, s.elevation_deg)
                                           for s in spec.seats], spec.beam)
        self.cutters = [make_cutter(s.seat) for s in spec.seats]
        self.speech_gate = speech_gate
        self.elsewhere = elsewhere
        m = len(spec.channels)
        self.stft = Stft(m)
        self._pump = FramePump(m, sample_rate, SPEECH_RATE, options.frame_samples)
        self._out = np.zeros((0, len(spec.seats)), dtype=np.float32)
        self._skip = HOP  # the beams' first hop lies before the timeline starts
        self._position = start  # timeline sample of the next beam frame to cut
        self._dead_frames = np.zeros(m, dtype=np.int64)
        self._alive_frames = np.zeros(m, dtype=np.int64)
        self.dead = np.zeros(m, dtype=bool)
        self.active = np.zeros(len(spec.seats), dtype=bool)
        self.azimuth: float | None = None  # of the strongest voice in the last frame
        self._analysed: list[tuple[np.ndarray, ...]] = []  # (SRP power, spectra, level)
        self._noise_psd: np.ndarray | None = None  # per bin, where nobody speaks

    @property
    def position(self) -> int:
        return self._position

    def live(self) -> list[LiveUtterance]:
        return [u for c in self.cutters if (u := c.live()) is not None]

    def heard(self) -> dict:
        """Which of the array's seats speak now, and the direction of the strongest voice."""
        return {"array": self.spec.name,
                "seats": [s.seat for s, on in zip(self.spec.seats, self.active, strict=True)
                          if on],
                "azimuth_deg": None if self.azimuth is None else round(self.azimuth, 1),
                "dead_capsules": [self.spec.channels[i] for i in np.flatnonzero(self.dead)]}

    def feed(self, block: Block) -> list[Utterance]:
        audio = block.data[:, self.spec.channels].astype(np.float32) / 32768.0
        return self._frames(self._pump.frames(audio))

    def flush(self) -> list[Utterance]:
        out = self._frames(self._pump.flush())
        for cutter in self.cutters:
            out += cutter.flush()
        return out

    def _frames(self, frames: list[np.ndarray]) -> list[Utterance]:
        out: list[Utterance] = []
        for frame in frames:
            self._analyse(frame)
            out += self._cut()
        return out

    def _analyse(self, frame: np.ndarray) -> None:
        """Direction and beams of one capsule frame; the decision waits for its beams."""
        self._watch_capsules(frame)
        spectra = self.stft.analyse(frame)  # [2 × F × M]
        alive = spectra[:, :, ~self.dead]
        level = np.mean(np.abs(alive) ** 2, axis=(0, 2))  # [F]
        weights = self.srp.votes(level, self._noise_psd)
        power = np.mean([self.srp.power(x, weights) for x in alive], axis=0)
        beams = self.beams.apply(spectra)
        if self._skip:
            beams, self._skip = beams[self._skip:], 0
        self._out = np.concatenate([self._out, beams])
        self._analysed.append((power, spectra, level))

    def _decide(self, frame: np.ndarray) -> np.ndarray:
        """Which seats speak in this frame of beams: speech heard in a seat's own beam (a
        quiet far talker stands out of the noise there, not in one capsule) and the
        direction finder hearing that seat."""
        power, spectra, level = self._analysed.pop(0)
        n = len(self.spec.seats)
        speech = (np.broadcast_to(np.asarray(self.speech_gate(frame), dtype=bool), (n,))
                  if self.speech_gate else np.ones(n, dtype=bool))
        heard = bool(speech.any())
        self.azimuth = float(self.srp.azimuths[int(np.argmax(power))]) if heard else None
        self.active = self.tracker.update(self.tracker.hits(power, self.srp.azimuths,
                                                            heard)) & speech
        if self.elsewhere is not None and self.elsewhere(self._position):
            self.active = np.zeros_like(self.active)
        if not heard and not self.tracker.active.any():
            self.beams.learn_noise(spectra)
            self._noise_psd = level if self._noise_psd is None else (
                0.95 * self._noise_psd + 0.05 * level)
        return self.active

    def _cut(self) -> list[Utterance]:
        n = self.options.frame_samples
        out: list[Utterance] = []
        while len(self._out) >= n and self._analysed:
            frame, self._out = self._out[:n], self._out[n:]
            active = self._decide(frame)
            levels = rms_db(frame)
            for i, cutter in enumerate(self.cutters):
                out += cutter.push(self._position, frame[:, i].copy(), float(levels[i]),
                                   bool(active[i]))
            self._position += n
        return out

    def _watch_capsules(self, frame: np.ndarray) -> None:
        levels = rms_db(frame)
        flat = (frame.max(axis=0) - frame.min(axis=0)) <= 1.5 / 32768.0
        quiet = flat | (levels < np.median(levels) - self.dead_db)
        self._dead_frames = np.where(quiet, self._dead_frames + 1, 0)
        self._alive_frames = np.where(quiet, 0, self._alive_frames + 1)
        per_s = 1000 / self.options.frame_ms
        dead = self.dead.copy()
        dead[self._dead_frames >= self.dead_after_s * per_s] = True
        dead[self._alive_frames >= per_s] = False
        if (~dead).sum() >= 2 and not np.array_equal(dead, self.dead):
            self.dead = dead
            self.srp.set_geometry(self.spec.geometry.without(dead))
            self.beams.set_alive(~dead)
