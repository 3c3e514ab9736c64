"""The streaming policy, exhaustively: job order and back-pressure, partial timing, and the
stable prefix of partial lines (hypothesis; no audio, no model)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from courtbox.audio.types import Utterance
from courtbox.transcribe.stream import (
    Job,
    JobQueue,
    PartialLines,
    PartialPolicy,
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
