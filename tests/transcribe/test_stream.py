"""The streaming policy, exhaustively: job order and back-pressure, partial timing, the
stable prefix of partial lines, and the live-transcript state machine that the recorder and
the bench both drive (hypothesis; no audio, no model)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from courtbox.audio.types import SPEECH_RATE, Utterance
from courtbox.transcribe.engine import Recognition
from courtbox.transcribe.stream import (
    Final,
    Heard,
    Job,
    JobQueue,
    LiveTranscript,
    PartialLine,
    PartialLines,
    PartialPolicy,
    Speaking,
    StreamOptions,
    agree,
)

SEATS = ["judge", "clerk", "plaintiff", "defendant"]


def _utterance(seat: str, n: int) -> Utterance:
    return Utterance(id=f"{seat}-{n}", seat=seat, start=n, audio=np.zeros(0))


# An operation: ("partial"|"final", seat index, utterance number) or ("pop",).
ops = st.lists(st.one_of(
    st.tuples(st.sampled_from(["partial", "final"]), st.integers(0, 3), st.integers(0, 5)),
    st.just(("pop",))), max_size=80)


@settings(max_examples=400, deadline=None)
@given(ops)
def test_finals_are_never_dropped_and_always_go_first(operations) -> None:
    """Whatever arrives, every final comes out exactly once and in order; no partial comes
    out while a final waits, none for an utterance whose final was queued, and at most one
    partial per seat ever waits."""
    q = JobQueue()
    pushed_finals: list[str] = []
    popped: list[Job] = []
    ended: set[str] = set()
    clock = 0.0
    for op in operations:
        clock += 1
        if op[0] == "pop":
            finals_waiting = q.finals_waiting
            job = q.pop()
            if job is None:
                assert len(q) == 0
                continue
            if job.kind == "partial":
                assert finals_waiting == 0
                assert job.utterance.id not in ended
            popped.append(job)
            continue
        kind, seat, n = op
        u = _utterance(SEATS[seat], n)
        if kind == "final":
            if u.id in ended:
                continue  # an utterance ends once
            ended.add(u.id)
            pushed_finals.append(u.id)
        q.push(Job(kind, u, clock))
        partial_seats = [j.utterance.seat for j in q.jobs() if j.kind == "partial"]
        assert len(partial_seats) == len(set(partial_seats))
    while (job := q.pop()) is not None:
        popped.append(job)
    assert [j.utterance.id for j in popped if j.kind == "final"] == pushed_finals


def test_a_newer_partial_replaces_the_waiting_one_and_a_final_cancels_it() -> None:
    q = JobQueue()
    q.push(Job("partial", _utterance("judge", 1), 1.0))
    q.push(Job("partial", _utterance("judge", 1), 2.0))
    assert len(q) == 1 and q.stats.partials_replaced == 1
    q.push(Job("final", _utterance("judge", 1), 3.0))
    assert len(q) == 1 and q.stats.partials_skipped == 1
    q.push(Job("partial", _utterance("judge", 1), 4.0))  # too late: the final is queued
    assert len(q) == 1 and q.pop().kind == "final" and q.pop() is None


@given(st.lists(st.tuples(st.floats(0, 0.5), st.integers(0, 300), st.booleans()),
                max_size=60))
def test_partials_are_spaced_and_never_asked_for_in_a_pause(steps) -> None:
    """Requests come ``retry_s`` apart until one has shown text, then ``interval_s`` apart,
    and never once the speaker has been silent for ``quiet_ms``."""
    options = StreamOptions(first_partial_s=0.3, interval_s=1.0, retry_s=0.4, quiet_ms=250)
    policy = PartialPolicy(options)
    speech_s, shown, last = 0.0, False, None
    for advance, silence_ms, gives_text in steps:
        speech_s += advance
        if policy.due("u", speech_s, silence_ms):
            assert silence_ms < options.quiet_ms and speech_s >= options.first_partial_s
            if last is not None:
                assert speech_s - last >= (options.interval_s if shown else options.retry_s)
            last = speech_s
            if gives_text:
                policy.shown("u")
                shown = True


@given(st.text(max_size=30), st.text(max_size=30))
def test_agreement_is_the_longest_common_prefix(a: str, b: str) -> None:
    n = agree(a, b)
    assert a[:n] == b[:n]
    assert n == min(len(a), len(b)) or a[n] != b[n]


def test_partial_lines_show_the_agreed_prefix_and_give_way_to_the_final() -> None:
    lines = PartialLines()
    assert lines.update("judge-1", "judge", 1.0, "现在开庭").stable == 0
    line = lines.update("judge-1", "judge", 1.0, "现在开庭审理")
    assert line.stable == 4 and line.revisions == 2
    lines.final("judge-1", "judge")
    assert lines.current() == []
    assert lines.update("judge-1", "judge", 1.0, "现在开庭审理原告") is None


# -- LiveTranscript ------------------------------------------------------------------------

def _speaking(seat: str, start_s: float, now_s: float, silence_ms: int = 0) -> Speaking:
    """``seat``'s utterance from ``start_s``, heard up to ``now_s`` (the state machine reads
    positions, never the audio itself)."""
    start = round(start_s * SPEECH_RATE)
    return Speaking(Utterance(id=f"{seat}-{start}", seat=seat, start=start,
                              audio=np.zeros(0, dtype=np.float32), speech_start=start,
                              speech_end=round(now_s * SPEECH_RATE)), silence_ms)


def _heard(now_s: float, *speaking: Speaking, ended: tuple[Utterance, ...] = ()) -> Heard:
    return Heard(round(now_s * SPEECH_RATE), ended, speaking)


def test_a_live_utterance_is_asked_for_partials_then_its_final() -> None:
    t = LiveTranscript(StreamOptions(first_partial_s=0.3, interval_s=1.0, retry_s=0.25),
                       hotwords=("原告",))
    assert t.hear(_heard(0.2, _speaking("judge", 0.0, 0.2)), now=0.2) == []
    [job] = t.hear(_heard(0.4, _speaking("judge", 0.0, 0.4)), now=0.4)
    assert job.kind == "partial" and job.hotwords == ("原告",) and job.submitted_at == 0.4
    assert t.recognized(job, Recognition(text="")) is None  # nothing shown yet: retry soon
    assert t.hear(_heard(0.6, _speaking("judge", 0.0, 0.6)), now=0.6) == []
    [job] = t.hear(_heard(0.7, _speaking("judge", 0.0, 0.7)), now=0.7)
    line = t.recognized(job, Recognition(text="现在"))
    assert isinstance(line, PartialLine) and line.text == "现在" and t.lines.current() == [line]
    # Shown: now the normal interval, and never in a pause.
    assert t.hear(_heard(1.2, _speaking("judge", 0.0, 1.2)), now=1.2) == []
    assert t.hear(_heard(1.8, _speaking("judge", 0.0, 1.8, silence_ms=200)), now=1.8) == []
    [job] = t.hear(_heard(1.8, _speaking("judge", 0.0, 1.8)), now=1.8)
    assert t.recognized(job, Recognition(text="现在开庭")).stable == 2
    ended = job.utterance
    [final] = t.hear(_heard(2.5, ended=(ended,)), now=2.5)
    assert final.kind == "final" and final.utterance is ended
    out = t.recognized(final, Recognition(text="现在开庭。"))
    assert out == Final(ended, Recognition(text="现在开庭。"))
    assert t.lines.current() == []
    assert t.stats.finals == 1 and t.stats.partials == 3 and t.stats.shown == 2


def test_a_late_partial_shows_nothing_and_a_failed_final_says_why() -> None:
    t = LiveTranscript(StreamOptions(first_partial_s=0.3))
    [partial] = t.hear(_heard(0.5, _speaking("clerk", 0.0, 0.5)), now=0.5)
    [final] = t.hear(_heard(1.0, ended=(partial.utterance,)), now=1.0)
    assert t.recognized(final, None, "abandoned") == Final(partial.utterance, None,
                                                           "abandoned")
    assert t.recognized(partial, Recognition(text="书记员")) is None
    assert t.lines.current() == []


def test_without_partials_only_finals_are_asked_for() -> None:
    t = LiveTranscript(StreamOptions(partials=False))
    u = _speaking("judge", 0.0, 5.0).utterance
    jobs = t.hear(_heard(5.0, _speaking("clerk", 0.0, 5.0), ended=(u,)), now=5.0)
    assert [(j.kind, j.utterance.id) for j in jobs] == [("final", u.id)]


# An event: (seat index, seconds of audio to advance, trailing silence ms, ends now?,
# recognise the oldest waiting job and with text?).
events = st.lists(st.tuples(st.integers(0, 2), st.floats(0.03, 0.6), st.integers(0, 400),
                            st.booleans(), st.booleans(), st.booleans()), max_size=60)


@settings(max_examples=200, deadline=None)
@given(events)
def test_every_utterance_gets_one_final_after_its_partials_and_lines_follow(steps) -> None:
    """Whatever the speech and the recogniser do: each ended utterance is asked for exactly
    one final, no partial is asked for after it, no partial is shown once its final is in,
    and a line is on screen only for an utterance whose final is not."""
    t = LiveTranscript(StreamOptions(first_partial_s=0.3, interval_s=1.0, retry_s=0.25))
    now = 0.0
    started: dict[str, float] = {}  # seat -> start of its utterance in progress
    finals: list[str] = []
    finished: set[str] = set()  # final asked for
    answered: set[str] = set()  # final recognised
    waiting: list[Job] = []
    for seat_i, advance, silence_ms, ends, recognise, text in steps:
        now += advance
        seat = SEATS[seat_i]
        started.setdefault(seat, now - advance)
        speaking = {s: _speaking(s, t0, now, 0 if s == seat else silence_ms)
                    for s, t0 in started.items()}
        ended: tuple[Utterance, ...] = ()
        if ends:
            ended = (speaking.pop(seat).utterance,)
            del started[seat]
        jobs = t.hear(_heard(now, *speaking.values(), ended=ended), now)
        for job in jobs:
            assert job.utterance.id not in finished
            if job.kind == "final":
                finals.append(job.utterance.id)
                finished.add(job.utterance.id)
        assert [j.utterance.id for j in jobs if j.kind == "final"] == [u.id for u in ended]
        waiting += jobs
        if recognise and waiting:
            job = waiting.pop(0)
            out = t.recognized(job, Recognition(text="好" if text else ""))
            if job.kind == "final":
                assert isinstance(out, Final) and out.utterance is job.utterance
                answered.add(job.utterance.id)
            elif out is not None:
                assert out.utterance_id not in answered
        shown = {line.utterance_id for line in t.lines.current()}
        assert not shown & answered
        assert len(shown) == len({line.seat for line in t.lines.current()})
    assert len(finals) == len(set(finals)) == t.stats.finals
