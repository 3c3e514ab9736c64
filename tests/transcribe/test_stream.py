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
from courtbox.transcribe.turns import TurnRevision

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
            elif isinstance(out, PartialLine):
                assert out.utterance_id not in answered
        shown = {line.utterance_id for line in t.lines.current()}
        assert not shown & answered
        assert len(shown) == len({line.seat for line in t.lines.current()})
    assert len(finals) == len(set(finals)) == t.stats.finals


# -- turns and the duplicate guard ------------------------------------------------------------


def _piece(seat: str, t0: float, t1: float, level: float = 0.1) -> Utterance:
    """An utterance of ``t0``–``t1`` s whose speech is all of it, at ``level`` (RMS)."""
    n = round((t1 - t0) * SPEECH_RATE)
    start = round(t0 * SPEECH_RATE)
    return Utterance(id=f"{seat}-{start}", seat=seat, start=start,
                     audio=np.full(n, level, dtype=np.float32), speech_start=start,
                     speech_end=start + n)


def test_a_turn_cut_by_a_hesitation_is_read_again_whole_and_revises_its_lines() -> None:
    """A judge pauses 0.8 s mid-sentence: two finals are committed as they come; once the
    judge has been quiet ``turn_gap_s`` the whole turn (the pause silent) goes to the
    recogniser, after every final, and its text becomes the first line's revision with the
    second merged into it. A seat that resumes only after the gap starts a new turn."""
    t = LiveTranscript(StreamOptions(partials=False, turn_gap_s=1.0))
    a, b = _piece("judge", 1.0, 3.0), _piece("judge", 3.8, 5.0)
    [fa] = t.hear(_heard(3.5, ended=(a,)), now=3.5)
    t.recognized(fa, Recognition(text="本庭现在"))
    [fb] = t.hear(_heard(5.5, ended=(b,)), now=5.5)
    assert t.hear(_heard(5.9), now=5.9) == []  # not yet quiet the gap
    t.recognized(fb, Recognition(text="开亭"))
    [turn] = t.hear(_heard(6.0), now=6.0)
    assert turn.kind == "turn" and turn.utterance.t0 == a.t0 and turn.utterance.t1 == b.t1
    audio = turn.utterance.audio
    gap = slice(a.start + len(a.audio) - a.start, b.start - a.start)
    assert (audio[gap] == 0).all() and (audio[: len(a.audio)] == a.audio).all()
    assert t.hear(_heard(7.0), now=7.0) == []  # once per state of the turn
    out = t.recognized(turn, Recognition(text="本庭现在开庭"))
    assert isinstance(out, TurnRevision)
    assert out.utterance.id == a.id and out.utterance.t1 == b.t1 and out.merged == (b.id,)
    assert out.result.text == "本庭现在开庭" and out.ended_at == b.speech_t1
    # After a longer silence the judge's next words are a turn of their own: one piece.
    c = _piece("judge", 8.5, 10.0)
    [fc] = t.hear(_heard(10.5, ended=(c,)), now=10.5)
    t.recognized(fc, Recognition(text="请坐"))
    assert t.hear(_heard(12.0), now=12.0) == []
    assert t.stats.turns == 1 and t.stats.revisions == 1



def test_speech_that_resumes_within_the_gap_after_a_revision_is_read_again_with_its_turn(
        ) -> None:
    """The turn is read again after ``turn_ask_s`` (1 s) of quiet, so the revision comes
    soon; but the judge resumes 1.5 s after the pause, within ``turn_gap_s`` (2 s): the new
    words join the same turn, which is read again whole when it next pauses, and the new
    line is merged into the turn's first line too."""
    t = LiveTranscript(StreamOptions(partials=False, turn_gap_s=2.0, turn_ask_s=1.0))
    a, b, c = (_piece("judge", 1.0, 3.0), _piece("judge", 3.8, 5.0),
               _piece("judge", 6.5, 8.0))
    for u, text in ((a, "本庭现在"), (b, "开亭")):
        [f] = t.hear(_heard(u.t1 + 0.5, ended=(u,)), now=u.t1 + 0.5)
        t.recognized(f, Recognition(text=text))
    [first] = t.hear(_heard(6.0), now=6.0)  # 1 s after the turn's speech, not 2
    assert t.recognized(first, Recognition(text="本庭现在开庭")).merged == (b.id,)
    [fc] = t.hear(_heard(8.5, ended=(c,)), now=8.5)
    t.recognized(fc, Recognition(text="请坐"))
    [again] = t.hear(_heard(9.0), now=9.0)
    assert again.utterance.t0 == a.t0 and again.utterance.t1 == c.t1
    out = t.recognized(again, Recognition(text="本庭现在开庭，请坐"))
    assert out.utterance.id == a.id and out.merged == (c.id,)
    assert t.stats.turns == 2 and t.stats.revisions == 2

def test_a_turn_reading_that_would_lose_text_changes_nothing() -> None:
    t = LiveTranscript(StreamOptions(partials=False))
    a, b = _piece("clerk", 1.0, 3.0), _piece("clerk", 3.5, 5.0)
    for u, text in ((a, "请当事人核对"), (b, "笔录内容")):
        [f] = t.hear(_heard(u.t1 + 0.5, ended=(u,)), now=u.t1 + 0.5)
        t.recognized(f, Recognition(text=text))
    [turn] = t.hear(_heard(6.5), now=6.5)
    assert t.recognized(turn, Recognition(text="请")) is None  # far shorter: kept as is
    assert t.recognized(turn, None) is None and t.stats.revisions == 0


def test_the_same_speech_on_two_seats_keeps_only_the_louder_microphone() -> None:
    """Bleed that slipped past the seat decision: the clerk's microphone carries the judge's
    sentence 12 dB down at the same time. Whichever final comes first, the judge's stays
    and the clerk's copy is emptied; a different sentence at the same time (double talk)
    stays on both."""
    for order in ((0, 1), (1, 0)):
        t = LiveTranscript(StreamOptions(partials=False))
        judge, clerk = _piece("judge", 1.0, 4.0, 0.2), _piece("clerk", 1.1, 4.1, 0.05)
        jobs = t.hear(_heard(4.6, ended=(judge, clerk)), now=4.6)
        texts = {}
        for i in order:
            out = t.recognized(jobs[i], Recognition(text="现在开庭审理原告诉被告"))
            texts[out.utterance.seat] = out.result.text
        if order == (0, 1):
            assert texts == {"judge": "现在开庭审理原告诉被告", "clerk": ""}
        else:  # the copy came first and is already kept: the louder is not dropped
            assert texts["judge"] == "现在开庭审理原告诉被告"
    t = LiveTranscript(StreamOptions(partials=False))
    judge, clerk = _piece("judge", 1.0, 4.0, 0.2), _piece("clerk", 1.1, 4.1, 0.05)
    jobs = t.hear(_heard(4.6, ended=(judge, clerk)), now=4.6)
    t.recognized(jobs[0], Recognition(text="现在开庭审理原告诉被告"))
    assert t.recognized(jobs[1], Recognition(text="请书记员宣读法庭纪律")).result.text
    assert t.stats.duplicates == 0


def test_turn_jobs_wait_behind_finals_and_a_newer_one_replaces_the_older() -> None:
    q = JobQueue()
    u = _piece("judge", 0.0, 1.0)
    older, newer = Job("turn", u, 1.0), Job("turn", u, 2.0)
    q.push(Job("partial", _piece("clerk", 0.0, 1.0), 0.5))
    assert q.push(older) == [] and q.push(newer) == [older]
    q.push(Job("final", _piece("plaintiff", 0.0, 1.0), 3.0))
    assert [j.kind for j in (q.pop(), q.pop(), q.pop())] == ["final", "turn", "partial"]
    assert q.pop() is None
