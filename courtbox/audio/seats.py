"""From channels to seats: levels, who is speaking, and each seat's utterances.

In a courtroom every voice reaches several microphones. ``SeatActivity`` decides, frame by
frame (32 ms: one Silero VAD window), which seats are speaking: a channel is a candidate
when its level stands far enough above its own noise floor, and a candidate speaks only when
its microphone carries more than the bleed the room's learned seat-to-microphone coupling
predicts from the other seats (``audio.coupling``: in a reverberant hall a voice is only
10–15 dB down in the other microphones, so no fixed margin below the loudest seat tells a
second talker from bleed) and leads the other microphones as a talker's own does (murmur in
the gallery leads none). The loudest seat owns the frame or nobody does (a reverberant
tail). With a speech detector (``SpeechGate``: Silero VAD, from ``transcribe.vad``) a
channel is a candidate only where it hears speech, and only 6 dB above its floor: the
detector keeps coughs, knocks and chairs from opening an utterance, and level only has to
say whose microphone the voice is on. ``UtteranceCutter`` turns one seat's
frame decisions into utterances with pre-roll, hangover and a maximum length. ``Segmenter``
runs both over captured blocks after resampling them to 16 kHz, and shows each seat's
utterance in progress (``live``) for partial transcripts.

Long speech is cut where the speaker pauses: past ``soft_max_s`` a pause of ``cut_pause_ms``
ends the utterance; at ``max_utterance_s`` without one, the cut falls on the quietest frame
of the last three seconds (between two syllables). The pieces are contiguous and disjoint on
the timeline, so no word can be lost or transcribed twice at a cut; a cut inside a pause
also leaves each piece whole sentences for the recogniser, which a cut at a word timestamp
of a running hypothesis (whisper_streaming's LocalAgreement) does not.

The policies are pure and synchronous (no I/O, no threads); the segmenter is stateful and
not thread-safe: one thread feeds it.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from courtbox.audio.coupling import Coupling, CouplingOptions
from courtbox.audio.frames import FramePump
from courtbox.audio.types import SPEECH_RATE, Block, Utterance, power_db, rms_db


@dataclass(frozen=True)
class SegmenterOptions:
    frame_ms: int = 32
    start_snr_db: float = 15.0  # above its noise floor, a frame may be speech
    gated_snr_db: float = 6.0  # the same, when a speech gate has already heard speech
    coupling: CouplingOptions = field(default_factory=CouplingOptions)  # bleed vs speech
    smooth_frames: int = 3  # levels are averaged over this many frames
    floor_rise_db_per_s: float = 1.5  # how fast a noise floor may climb
    floor_fall: float = 0.3  # share of the gap a floor closes per frame when it falls
    initial_floor_db: float = -60.0  # a floor starts no higher, so speech at the very
    # start of a recording is not taken for the room's noise
    min_speech_ms: int = 150  # shorter bursts (a knock, a click) are not utterances
    hangover_ms: int = 500  # silence that ends an utterance
    pre_roll_ms: int = 200  # kept before the first speech frame (and after the last)
    soft_max_s: float = 12.0  # beyond this, a pause of cut_pause_ms ends the utterance
    cut_pause_ms: int = 160
    max_utterance_s: float = 20.0  # longer speech is cut at its quietest recent frame

    @property
    def frame_samples(self) -> int:
        return SPEECH_RATE * self.frame_ms // 1000

    def frames(self, ms: float) -> int:
        return max(1, int(round(ms / self.frame_ms)))


SpeechGate = Callable[[np.ndarray], np.ndarray]
"""Which seats of a ``[samples × seats]`` 16 kHz frame carry speech (bool per seat)."""


@dataclass(frozen=True)
class LiveUtterance:
    """A seat's utterance in progress: what has been heard so far."""

    id: str
    seat: str
    start: int
    speech_start: int
    audio: np.ndarray
    silence_ms: int  # trailing non-speech so far


class SeatActivity:
    """Per frame: which channels carry their own seat's speech (not bleed, not noise).

    Room noise (ventilation, projectors) swings several dB from one 30-ms frame to the
    next, so decisions use the level smoothed over the last ``smooth_frames`` frames
    (mean power), and each channel's noise floor follows that smoothed level: down
    quickly, up slowly. A floor that snapped to the quietest single frame would let
    every ordinary noise frame look like speech."""

    def __init__(self, channels: int, options: SegmenterOptions) -> None:
        self.options = options
        self.floor = np.full(channels, np.nan)
        self._recent: collections.deque = collections.deque(maxlen=options.smooth_frames)
        self._rise = options.floor_rise_db_per_s * options.frame_ms / 1000
        self.coupling = Coupling(channels, options.frame_ms, options.coupling)

    def update(self, levels_db: np.ndarray, speech: np.ndarray | None = None) -> np.ndarray:
        """Which seats speak in this frame. ``speech``: what a speech detector heard on each
        channel; with it, level only has to tell the speaker's own microphone from the
        others (so the soft end of a sentence still counts), without it level alone must
        tell speech from noise."""
        self._recent.append(10.0 ** (levels_db / 10.0))
        smoothed = power_db(np.mean(self._recent, axis=0))
        floor = self.floor
        fresh = np.isnan(floor)
        floor[fresh] = np.minimum(smoothed[fresh], self.options.initial_floor_db)
        below = smoothed < floor
        floor[below] += self.options.floor_fall * (smoothed[below] - floor[below])
        floor[~below] += self._rise
        np.maximum(floor, -100.0, out=floor)
        snr = smoothed - floor
        o = self.options
        candidates = snr >= (o.start_snr_db if speech is None else o.gated_snr_db)
        excess = np.maximum(10.0 ** (smoothed / 10.0) - 10.0 ** (floor / 10.0), 0.0)
        # Ownership is decided on level among all channels, speech or not: when the
        # detector blinks off on the speaker's own microphone for a frame, the bleed on a
        # neighbour's must still not take the line.
        owners = self.coupling.active(excess, candidates)
        self.coupling.learn(excess, snr)
        if not candidates.any():
            return candidates
        # The loudest seat above its floor owns the frame or nobody does: when even it
        # carries no more than the bleed predicted for it, the frame is a reverberant tail.
        loudest = int(np.argmax(np.where(candidates, snr, -np.inf)))
        if not owners[loudest]:
            return np.zeros_like(candidates)
        return owners if speech is None else owners & speech


class UtteranceCutter:
    """One seat's state machine from speech/non-speech frames to utterances."""

    def __init__(self, seat: str, options: SegmenterOptions) -> None:
        self.seat = seat
        self.o = options
        self._pre: collections.deque = collections.deque(maxlen=options.frames(
            options.pre_roll_ms))
        self._frames: list[np.ndarray] = []
        self._levels: list[float] = []
        self._start = 0  # timeline sample of _frames[0]
        self._first = -1  # index in _frames of the first and last speech frame
        self._last = -1
        self._speech = 0
        self._silence = 0
        self._soft_frames = options.frames(options.soft_max_s * 1000)
        self._max_frames = options.frames(options.max_utterance_s * 1000)

    @property
    def speaking(self) -> bool:
        return bool(self._frames)

    def live(self) -> LiveUtterance | None:
        if not self._frames or self._first < 0:
            return None
        n = self.o.frame_samples
        return LiveUtterance(id=self._id(self._start), seat=self.seat, start=self._start,
                             speech_start=self._start + self._first * n,
                             audio=np.concatenate(self._frames),
                             silence_ms=self._silence * self.o.frame_ms)

    def _id(self, start: int) -> str:
        return f"{self.seat}-{start}"

    def push(self, position: int, frame: np.ndarray, level_db: float, active: bool
             ) -> list[Utterance]:
        """Feed one frame starting at ``position`` (16 kHz timeline)."""
        o = self.o
        if not self._frames:
            if not active:
                self._pre.append((position, frame, level_db))
                return []
            self._start = self._pre[0][0] if self._pre else position
            self._frames = [f for _, f, _ in self._pre]
            self._levels = [lv for _, _, lv in self._pre]
            self._pre.clear()
            self._speech = self._silence = 0
            self._first = -1
        self._frames.append(frame)
        self._levels.append(level_db)
        if active:
            self._speech += 1
            self._silence = 0
            self._last = len(self._frames) - 1
            if self._first < 0:
                self._first = self._last
        else:
            self._silence += 1
        if self._silence >= o.frames(o.hangover_ms):
            return self._emit(len(self._frames))
        if (len(self._frames) >= self._soft_frames
                and self._silence == o.frames(o.cut_pause_ms)):
            return self._emit(len(self._frames))
        if len(self._frames) >= self._max_frames:
            return self._cut_at_quietest()
        return []

    def flush(self) -> list[Utterance]:
        return self._emit(len(self._frames)) if self._frames else []

    def _cut_at_quietest(self) -> list[Utterance]:
        window = min(len(self._frames) // 2, self.o.frames(3000))
        tail = np.asarray(self._levels[-window:])
        # At most the last frame: an empty rest would leave the cutter idle, and the speech
        # that follows would start from nothing and could be dropped as too short.
        cut = min(len(self._frames) - window + int(np.argmin(tail)) + 1, len(self._frames) - 1)
        rest_frames, rest_levels = self._frames[cut:], self._levels[cut:]
        rest_start = self._start + cut * self.o.frame_samples
        out = self._emit(cut, keep_going=True)
        self._frames, self._levels, self._start = rest_frames, rest_levels, rest_start
        # The rest goes on with speech already long enough to be an utterance: however
        # short it is when the speaker stops, it is kept (a word is never lost at a cut).
        self._speech = max(len(rest_frames), self.o.frames(self.o.min_speech_ms))
        self._first, self._last = 0, len(rest_frames) - 1
        self._silence = 0
        return out

    def _emit(self, n: int, keep_going: bool = False) -> list[Utterance]:
        frames, start, speech = self._frames[:n], self._start, self._speech
        first, last = self._first, min(self._last, n - 1)
        # Trim the hangover down to a short tail of silence after the last speech.
        keep_tail = self.o.frames(self.o.pre_roll_ms)
        if not keep_going and self._silence > keep_tail:
            frames = frames[: len(frames) - (self._silence - keep_tail)]
        self._frames, self._levels = [], []
        self._speech = self._silence = 0
        self._first = self._last = -1
        if speech < self.o.frames(self.o.min_speech_ms) or not frames:
            return []
        n = self.o.frame_samples
        return [Utterance(id=self._id(start), seat=self.seat, start=start,
                          audio=np.concatenate(frames), speech_start=start + first * n,
                          speech_end=start + (last + 1) * n)]


class Segmenter:
    """Captured blocks in, per-seat utterances out (16 kHz float32).

    ``speech_gate``, when given, must agree that a frame is speech before a seat that owns
    it counts as speaking."""

    def __init__(self, seats: list[tuple[int, str]], *, channels: int, sample_rate: int,
                 options: SegmenterOptions | None = None, start: int = 0,
                 speech_gate: SpeechGate | None = None) -> None:
        self.options = options or SegmenterOptions()
        self.channels = channels
        self.seat_channels = [ch for ch, _ in seats]
        self.activity = SeatActivity(len(seats), self.options)
        self.cutters = [UtteranceCutter(seat, self.options) for _, seat in seats]
        self.speech_gate = speech_gate
        self._pump = FramePump(len(seats), sample_rate, SPEECH_RATE,
                               self.options.frame_samples)
        self._position = start  # 16 kHz timeline sample of the next frame
        # The last frames' decisions by timeline sample, for a stage that decides later.
        self.decided: collections.OrderedDict[int, np.ndarray] = collections.OrderedDict()

    @property
    def position(self) -> int:
        """16 kHz timeline sample up to which audio has been analysed."""
        return self._position

    def live(self) -> list[LiveUtterance]:
        """Every seat's utterance in progress."""
        return [u for c in self.cutters if (u := c.live()) is not None]

    def feed(self, block: Block) -> list[Utterance]:
        audio = block.data[:, self.seat_channels].astype(np.float32) / 32768.0
        return self._cut(self._pump.frames(audio))

    def flush(self) -> list[Utterance]:
        out = self._cut(self._pump.flush())
        for cutter in self.cutters:
            out += cutter.flush()
        return out

    def _cut(self, frames: list[np.ndarray]) -> list[Utterance]:
        out: list[Utterance] = []
        for frame in frames:
            levels = rms_db(frame)
            speech = self.speech_gate(frame) if self.speech_gate is not None else None
            active = self.activity.update(levels, speech)
            self.decided[self._position] = active
            if len(self.decided) > 64:
                self.decided.popitem(last=False)
            for i, cutter in enumerate(self.cutters):
                out += cutter.push(self._position, frame[:, i].copy(), float(levels[i]),
                                   bool(active[i]))
            self._position += len(frame)
        return out
