"""Properties of the audio policies, over inputs hypothesis draws: which seat is active given
per-channel levels and bleed (``SeatActivity``), how speech is cut into utterances
(``UtteranceCutter``, ``Segmenter``), and what the level meter reads and alarms
(``LevelMeter``)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from courtbox.audio.levels import LevelMeter, MeterOptions
from courtbox.audio.seats import SeatActivity, Segmenter, SegmenterOptions, UtteranceCutter
from courtbox.audio.types import SPEECH_RATE, Block, rms_db

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

# -- seat activity --------------------------------------------------------------------------

NOISE_DB = -60.0


def _warmed(channels: int, options: SegmenterOptions, noise_db: float = NOISE_DB,
            frames: int = 10) -> SeatActivity:
    """A ``SeatActivity`` whose channels have all heard the same room noise a while."""
    activity = SeatActivity(channels, options)
    for _ in range(frames):
        activity.update(np.full(channels, noise_db))
    return activity


@FAST
@given(channels=st.integers(2, 6), data=st.data())
def test_bleed_never_takes_the_line_from_the_speaker(channels: int, data) -> None:
    """One seat speaks; its voice reaches every other microphone at least 15 dB down (what
    bleed in a courtroom is): no other seat is ever active, and the speaker's is once its
    level has been smoothed over ``smooth_frames``."""
    o = SegmenterOptions()
    speaker = data.draw(st.integers(0, channels - 1))
    activity = _warmed(channels, o)
    for n in range(data.draw(st.integers(1, 30))):
        level = data.draw(st.floats(NOISE_DB + o.start_snr_db + 3, -3))
        bleed = [data.draw(st.floats(15, 40)) for _ in range(channels)]
        levels = np.array([level if c == speaker else max(level - bleed[c], NOISE_DB)
                           for c in range(channels)])
        active = activity.update(levels)
        assert [c for c in range(channels) if active[c]] == (
            [speaker] if n + 1 >= o.smooth_frames else [speaker] if active.any() else [])


@FAST
@given(channels=st.integers(1, 6), data=st.data())
def test_room_noise_alone_is_nobody_speaking(channels: int, data) -> None:
    """Levels that swing a few dB (ventilation, projectors) about the room's noise never
    make a seat active, however long they go on."""
    activity = _warmed(channels, SegmenterOptions())
    for _ in range(data.draw(st.integers(1, 200))):
        levels = np.array([NOISE_DB + data.draw(st.floats(-5, 5)) for _ in range(channels)])
        assert not activity.update(levels).any()


@FAST
@given(channels=st.integers(1, 5), data=st.data())
def test_activity_is_the_loudest_above_its_floor_and_what_the_gate_allows(channels: int,
                                                                          data) -> None:
    """Whatever the levels: with a speech gate, only seats the gate heard are active;
    without one, whenever any seat is active the one loudest above its floor is among
    them; and the decision does not depend on the order of the channels."""
    o = SegmenterOptions()
    order = data.draw(st.permutations(range(channels)))
    plain, gated, permuted = (SeatActivity(channels, o) for _ in range(3))
    for _ in range(data.draw(st.integers(1, 40))):
        levels = np.array([data.draw(st.floats(-100, 0)) for _ in range(channels)])
        speech = np.array([data.draw(st.booleans()) for _ in range(channels)])
        active = plain.update(levels)
        assert not (gated.update(levels, speech) & ~speech).any()
        assert (permuted.update(levels[order]) == active[order]).all()
        if active.any():
            smoothed = 10 * np.log10(np.mean(plain._recent, axis=0) + 1e-10)
            assert active[int(np.argmax(smoothed - plain.floor))]


# -- utterance cutting ----------------------------------------------------------------------

# One sample a frame's worth of ms, so that a few hundred frames exercise every rule: pre-roll,
# hangover, minimum length, the soft cut at a pause and the hard cut at the quietest frame.
TINY = SegmenterOptions(frame_ms=1, min_speech_ms=3, hangover_ms=5, pre_roll_ms=2,
                        soft_max_s=0.03, cut_pause_ms=2, max_utterance_s=0.05)
N = TINY.frame_samples  # 16 samples a frame


def _cut(active: list[bool], levels: list[float], start: int = 0):
    """Run one seat's cutter over frames whose samples carry their frame's index."""
    cutter = UtteranceCutter("s", TINY)
    out = []
    for i, (on, level) in enumerate(zip(active, levels, strict=True)):
        out += cutter.push(start + i * N, np.full(N, float(i), dtype=np.float32), level, on)
    out += cutter.flush()
    assert not cutter.speaking and cutter.live() is None  # flush ends everything
    return out


def _frames_of(u) -> list[int]:
    return [int(x) for x in u.audio.reshape(-1, N)[:, 0]]


def _runs(runs: list[tuple[bool, int]]) -> list[bool]:
    return [on for on, n in runs for _ in range(n)]


# Speech and silence come in runs (a frame-by-frame coin would never speak for long enough
# to reach a hard cut), the levels anything.
frames_strategy = st.lists(st.tuples(st.booleans(), st.integers(1, 70)), min_size=1,
                           max_size=12).map(_runs).flatmap(lambda active: st.tuples(
                               st.just(active), st.lists(st.floats(-90, 0),
                                                         min_size=len(active),
                                                         max_size=len(active))))


@settings(max_examples=300, deadline=None)
@given(frames=frames_strategy, start=st.integers(0, 10_000))
def test_utterances_are_whole_contiguous_disjoint_and_in_order(frames, start: int) -> None:
    """Each utterance is a contiguous stretch of the timeline, its audio exactly those
    frames; utterances never overlap and come in order; speech bounds lie inside them; none
    is longer than ``max_utterance_s``."""
    active, levels = frames
    start *= N
    out = _cut(active, levels, start)
    last_end = start
    for u in out:
        first = (u.start - start) // N
        assert u.start % N == start % N and _frames_of(u) == list(
            range(first, first + len(u.audio) // N))
        assert u.start >= last_end
        assert u.start <= u.speech_start < u.speech_end <= u.start + len(u.audio)
        assert len(u.audio) <= TINY.frames(TINY.max_utterance_s * 1000) * N
        last_end = u.start + len(u.audio)
    assert [u.id for u in out] == [f"s-{u.start}" for u in out]


@settings(max_examples=300, deadline=None)
@given(frames=frames_strategy)
def test_every_speech_frame_lands_in_exactly_one_utterance(frames) -> None:
    """A frame of speech in a burst long enough to be speech (``min_speech_ms``) is in
    exactly one utterance, between its speech bounds; a frame is never in two."""
    active, levels = frames
    out = _cut(active, levels)
    owner: dict[int, int] = {}
    for n, u in enumerate(out):
        for f in _frames_of(u):
            assert f not in owner, f"frame {f} in two utterances"
            owner[f] = n
    run = 0
    for i, on in enumerate([*active, False]):
        if on:
            run += 1
            continue
        if run >= TINY.frames(TINY.min_speech_ms):
            for f in range(i - run, i):
                assert f in owner, f"speech frame {f} (run of {run}) lost"
                u = out[owner[f]]
                assert u.speech_start <= f * N < u.speech_end
        run = 0


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cuts=st.lists(st.integers(1, 9000), max_size=12))
def test_the_utterances_do_not_depend_on_how_capture_blocks_the_audio(seed: int,
                                                                      cuts: list[int]) -> None:
    """Two seats of noise with bursts of loud tone: fed in blocks of any sizes, the
    segmenter cuts the same utterances as when fed the whole recording at once."""
    rng = np.random.default_rng(seed)
    seconds = 3
    pcm = rng.normal(0, 30, size=(seconds * SPEECH_RATE, 2))
    t = np.arange(len(pcm)) / SPEECH_RATE
    for _ in range(4):
        seat, at = rng.integers(0, 2), rng.uniform(0, seconds - 0.5)
        length = rng.uniform(0.2, 1.5)
        burst = (t >= at) & (t < at + length)
        pcm[burst, seat] += 8000 * np.sin(2 * np.pi * 220 * t[burst])
        pcm[burst, 1 - seat] += 300 * np.sin(2 * np.pi * 220 * t[burst])  # bleed
    pcm = np.clip(pcm, -32768, 32767).astype(np.int16)
    seats = [(0, "a"), (1, "b")]

    def run(bounds: list[int]):
        seg = Segmenter(seats, channels=2, sample_rate=SPEECH_RATE)
        out = []
        for lo, hi in zip([0, *bounds], [*bounds, len(pcm)], strict=True):
            out += seg.feed(Block(lo, pcm[lo:hi]))
        return out + seg.flush()

    whole = run([])
    pieces = run(sorted(set(np.cumsum(cuts)[np.cumsum(cuts) < len(pcm)].tolist())))
    assert [(u.id, u.speech_start, u.speech_end) for u in pieces] == [
        (u.id, u.speech_start, u.speech_end) for u in whole]
    assert all(np.array_equal(a.audio, b.audio) for a, b in zip(pieces, whole, strict=True))
    assert {u.seat for u in whole} <= {"a", "b"} and whole


# -- level metering -------------------------------------------------------------------------

RATE = 16000
WINDOW = RATE // 10


@FAST
@given(amplitude=st.integers(100, 32000), periods=st.integers(1, 80),
       channels=st.integers(1, 4))
def test_a_sine_reads_its_rms_and_peak_in_dbfs(amplitude: int, periods: int,
                                               channels: int) -> None:
    """A sine of amplitude A (whole periods per window) reads A/√2 RMS and A peak, in dBFS,
    on every channel, to the meter's 0.1 dB; it is not silent, so it is never dead. (Below
    full scale: a sine that touches ±32767 is clipping, and the meter rightly says so.)"""
    t = np.arange(WINDOW * 5)
    wave = np.round(amplitude * np.sin(2 * np.pi * periods * t / WINDOW)).astype(np.int16)
    data = np.repeat(wave[:, None], channels, axis=1)
    reports = LevelMeter(channels, RATE).feed(Block(0, data))
    rms = 20 * np.log10(np.sqrt(np.mean((wave[:WINDOW] / 32768.0) ** 2)))
    peak = 20 * np.log10(np.abs(wave[:WINDOW]).max() / 32768.0)
    assert len(reports) == 5
    for r in reports:
        assert all(abs(db - rms) <= 0.051 for db in r.rms_db)
        assert all(abs(db - peak) <= 0.051 for db in r.peak_db)
        assert r.dead == [False] * channels and not r.alarms


@FAST
@given(value=st.integers(-32768, 32767))
def test_a_constant_signal_reads_its_level_and_counts_as_silent(value: int) -> None:
    """A stuck value (DC) reads 20·log10(|v|) dBFS, and digital silence -100 dBFS: both are
    what a broken microphone delivers, so with others speaking they go dead."""
    data = np.zeros((WINDOW * 30, 2), dtype=np.int16)
    data[:, 0] = value
    data[:, 1] = (8000 * np.sin(np.arange(len(data)) / 3)).astype(np.int16)
    meter = LevelMeter(2, RATE, MeterOptions(dead_after_s=1.0))
    reports = meter.feed(Block(0, data))
    if abs(value) >= 32:  # down to -60 dBFS, where the -100 dBFS floor is no matter
        assert abs(reports[0].rms_db[0] - 20 * np.log10(abs(value) / 32768.0)) <= 0.051
    elif value == 0:
        assert reports[0].rms_db[0] == -100.0
    assert float(np.round(rms_db(np.zeros((10, 1)))[0], 1)) == -100.0
    assert reports[-1].dead == [True, False]
    assert [(a.kind, a.channel) for r in reports for a in r.alarms
            if a.kind != "clipping"] == [("dead_mic", 0)]


def _channel(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "silent":
        return np.zeros(n)
    if kind == "stuck":
        return np.full(n, 123.0)
    if kind == "noise":  # a live microphone in a quiet room
        return rng.normal(0, 40, n)
    return rng.normal(0, 6000, n)  # speech


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1),
       plan=st.lists(st.tuples(st.lists(st.sampled_from(["silent", "stuck", "noise",
                                                         "speech"]), min_size=3,
                                        max_size=3),
                               st.integers(1, 25)), min_size=1, max_size=8),
       blocks=st.integers(1, 5000))
def test_dead_microphone_alarms_follow_the_rules(seed: int, plan, blocks: int) -> None:
    """Over any schedule of silence, stuck values, noise and speech per channel: a channel
    goes dead only after ``dead_after_s`` of silence during which another one spoke, comes
    back the moment it carries signal, its alarms alternate dead → cleared → dead, and each
    report's ``dead`` says where the alarms left it. How the audio is blocked changes
    nothing."""
    rng = np.random.default_rng(seed)
    options = MeterOptions(dead_after_s=0.5)
    data = np.concatenate([np.stack([_channel(k, windows * WINDOW, rng) for k in kinds],
                                    axis=1) for kinds, windows in plan])
    data = np.clip(data, -32768, 32767).astype(np.int16)
    reports = LevelMeter(3, RATE, options).feed(Block(0, data))
    meter = LevelMeter(3, RATE, options)
    chunked = []
    for lo in range(0, len(data), blocks):
        chunked += meter.feed(Block(lo, data[lo:lo + blocks]))
    assert chunked == reports
    assert [r.at_sample for r in reports] == [WINDOW * (i + 1) for i in range(len(reports))]
    for c in range(3):
        state, silent_since, others_spoke = False, None, False
        for i, r in enumerate(reports):
            window = data[i * WINDOW:(i + 1) * WINDOW]
            silent = r.rms_db[c] < options.silent_db or np.ptp(window[:, c]) <= 1
            if not silent:
                silent_since, others_spoke = None, False
            else:
                silent_since = i if silent_since is None else silent_since
                others_spoke |= any(r.rms_db[o] > options.speech_db for o in range(3) if o != c)
            kinds = [a.kind for a in r.alarms if a.channel == c]
            if "dead_mic" in kinds:
                assert not state and silent and others_spoke
                assert (i + 1 - silent_since) * WINDOW >= options.dead_after_s * RATE
                state = True
            if "dead_mic_cleared" in kinds:
                assert state and not silent
                state = False
            assert r.dead[c] == state
            if not silent:
                assert not r.dead[c]
