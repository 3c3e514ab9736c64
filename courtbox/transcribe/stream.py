"""The streaming policy: what to recognise next, and how a line grows while someone speaks.

Pure and synchronous (no I/O, no threads, no clock of its own: time is passed in), so that
the live pipeline, the benchmark's simulated clock and the tests run the same decisions.

- ``PartialPolicy`` decides when a seat's utterance in progress is due a *partial*
  recognition: once it holds ``first_partial_s`` of speech, again every ``retry_s`` until a
  partial has shown text (the first fraction of a second often gives none), then every
  ``interval_s``; never while the speaker has fallen silent (the final is about to be
  needed, and must not queue behind a partial).
- ``JobQueue`` orders the recogniser's work. Finals are never dropped and always go first,
  in order; then a seat's turn re-recognition (at most one a seat waiting: a newer one
  covers the older one's lines); a seat has at most one partial waiting, and a newer one
  replaces it. So when the
  CPU cannot keep up, partial refreshes are what give way, and the backlog of finals drains
  as soon as the burst is over.
- ``agree`` is LocalAgreement (whisper_streaming): of two successive partial hypotheses of
  the same utterance, their longest common prefix is stable and shown as such; the rest is
  tentative. The final line replaces both.
- ``LiveTranscript`` is the one state machine the recorder and the benchmark both drive
  (in the spirit of whisper_streaming's insert-audio / process / finish): ``hear`` takes what
  the speech front made of a block (``Heard``: the utterances that ended, the ones still
  going) and answers the jobs to send to the recogniser now; ``recognized`` takes a job's
  result and answers what it changes (a ``PartialLine`` shown, the ``Final``, or a
  ``TurnRevision`` of a seat's whole turn, ``transcribe.turns``). The recogniser's own
  queue (``JobQueue``) and its clock stay with whoever runs it.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from courtbox.audio.types import SPEECH_RATE, Utterance
from courtbox.transcribe.turns import Duplicates, SeatTurns, TurnRevision

if TYPE_CHECKING:
    from courtbox.transcribe.engine import Recognition

Kind = Literal["partial", "final", "turn"]


@dataclass(frozen=True)
class StreamOptions:
    first_partial_s: float = 0.3  # speech heard before the first partial is asked for
    interval_s: float = 1.0  # between partial refreshes of one utterance
    # Between requests while no partial has shown any text yet. Whisper needs 1–2 s of
    # speech before it writes anything (short audio gets its prompt recited back, which
    # is dropped), so how often it is asked sets the first partial's delay: on
    # aishell-dev 0.25 s gave p95 1.23 s where 0.4 s gave 1.55 s, at no extra RTF.
    retry_s: float = 0.25
    quiet_ms: int = 150  # trailing silence after which no partial is asked for
    partials: bool = True
    # A seat's speech that resumes within turn_gap_s of its last is the same turn; once the
    # seat has been quiet turn_ask_s, a turn of two lines or more is recognised again whole
    # (``TurnRevision``), up to max_turn_s of audio, and again if the turn goes on. On the
    # turn rooms of seed 400 (tuning): a 1-s gap 359 errors, 1.5 s 353, 2 s 342, a 2-s gap
    # asked at 1 s 338 (offline 350).
    turns: bool = True
    turn_gap_s: float = 2.0
    turn_ask_s: float = 1.0
    max_turn_s: float = 28.0
    context: bool = False  # the turn's earlier lines as the recogniser's prompt


@dataclass
class Job:
    kind: Kind
    utterance: Utterance
    submitted_at: float  # seconds, on whatever clock the caller runs (wall or simulated)
    hotwords: tuple[str, ...] = ()
    key: int = 0  # the caller's handle
    context: str = ""  # the seat's own text earlier in the turn: the recogniser's prompt


class PartialPolicy:
    """When each live utterance is due its next partial."""

    def __init__(self, options: StreamOptions | None = None) -> None:
        self.options = options or StreamOptions()
        self._last: dict[str, float] = {}  # utterance id -> speech seconds at last request
        self._shown: set[str] = set()  # utterances whose partial has shown text

    def due(self, utterance_id: str, speech_s: float, silence_ms: int) -> bool:
        """``speech_s``: seconds from the first speech frame to now; ``silence_ms``: trailing
        non-speech. Records the request when it answers True."""
        o = self.options
        if not o.partials or silence_ms >= o.quiet_ms or speech_s < o.first_partial_s:
            return False
        last = self._last.get(utterance_id)
        interval = o.interval_s if utterance_id in self._shown else o.retry_s
        if last is not None and speech_s - last < interval:
            return False
        self._last[utterance_id] = speech_s
        return True

    def shown(self, utterance_id: str) -> None:
        """A partial of ``utterance_id`` has shown text: refresh at the normal interval."""
        if utterance_id in self._last:
            self._shown.add(utterance_id)

    def finished(self, utterance_id: str) -> None:
        self._last.pop(utterance_id, None)
        self._shown.discard(utterance_id)


@dataclass
class QueueStats:
    finals_queued: int = 0
    partials_queued: int = 0
    partials_replaced: int = 0  # dropped for a newer partial of the same seat
    partials_skipped: int = 0  # dropped because their utterance had already ended
    max_depth: int = 0


class JobQueue:
    """Finals first and in order; at most one partial per seat, the newest."""

    def __init__(self) -> None:
        self._finals: collections.deque[Job] = collections.deque()
        self._turns: dict[str, Job] = {}  # seat -> its turn's latest re-recognition
        self._partials: dict[str, Job] = {}  # seat -> newest partial
        self._ended: set[str] = set()  # utterance ids whose final is queued or done
        self.stats = QueueStats()

    def __len__(self) -> int:
        return len(self._finals) + len(self._turns) + len(self._partials)

    @property
    def finals_waiting(self) -> int:
        return len(self._finals)

    def push(self, job: Job) -> list[Job]:
        """Queue ``job``; returns the partials this drops (possibly ``job`` itself)."""
        seat = job.utterance.seat
        dropped: list[Job] = []
        if job.kind == "final":
            self._finals.append(job)
            self._ended.add(job.utterance.id)
            self.stats.finals_queued += 1
            stale = self._partials.get(seat)
            if stale is not None and stale.utterance.id == job.utterance.id:
                dropped.append(self._partials.pop(seat))
                self.stats.partials_skipped += 1
        elif job.kind == "turn":
            # A newer reading of a seat's turn holds every line the older one did.
            if seat in self._turns:
                dropped.append(self._turns[seat])
            self._turns[seat] = job
        elif job.utterance.id in self._ended:
            self.stats.partials_skipped += 1
            return [job]
        else:
            if seat in self._partials:
                dropped.append(self._partials[seat])
                self.stats.partials_replaced += 1
            self._partials[seat] = job
            self.stats.partials_queued += 1
        self.stats.max_depth = max(self.stats.max_depth, len(self))
        return dropped

    def push_front(self, job: Job) -> None:
        """Put back a final whose recognition was interrupted, ahead of the others."""
        self._finals.appendleft(job)

    def peek(self) -> Job | None:
        """The job ``pop`` would hand out next."""
        if self._finals:
            return self._finals[0]
        if self._turns:
            return min(self._turns.values(), key=lambda j: j.submitted_at)
        if self._partials:
            return min(self._partials.values(), key=lambda j: j.submitted_at)
        return None

    def pop(self) -> Job | None:
        job = self.peek()
        if job is None:
            return None
        if job.kind == "final":
            return self._finals.popleft()
        if job.kind == "turn":
            return self._turns.pop(job.utterance.seat)
        return self._partials.pop(job.utterance.seat)

    def oldest_final(self) -> Job | None:
        return self._finals[0] if self._finals else None

    def jobs(self) -> list[Job]:
        """Every waiting job, in the order ``pop`` would hand them out."""
        return (list(self._finals)
                + sorted(self._turns.values(), key=lambda j: j.submitted_at)
                + sorted(self._partials.values(), key=lambda j: j.submitted_at))

    def forget(self, utterance_id: str) -> None:
        """The final of ``utterance_id`` has been delivered: its id need not be kept."""
        self._ended.discard(utterance_id)


def agree(previous: str, current: str) -> int:
    """Length of the longest common prefix of two hypotheses (LocalAgreement-2)."""
    n = 0
    for a, b in zip(previous, current, strict=False):
        if a != b:
            break
        n += 1
    return n


@dataclass
class PartialLine:
    """What the bench screen shows for a seat while its speaker talks."""

    utterance_id: str
    seat: str
    t0: float
    text: str
    stable: int = 0  # characters of ``text`` that two hypotheses agree on
    revisions: int = 1
    history: list[str] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        return {"utterance_id": self.utterance_id, "seat": self.seat, "t0": self.t0,
                "text": self.text, "stable": self.stable, "kind": "partial"}


class PartialLines:
    """The partial line of every seat: updated by partial results, cleared by the final."""

    def __init__(self) -> None:
        self._lines: dict[str, PartialLine] = {}  # seat -> line
        self._done: set[str] = set()

    def update(self, utterance_id: str, seat: str, t0: float, text: str
               ) -> PartialLine | None:
        """A partial result; None when it arrives after its utterance's final."""
        if utterance_id in self._done:
            return None
        line = self._lines.get(seat)
        if line is None or line.utterance_id != utterance_id:
            line = PartialLine(utterance_id, seat, t0, text)
            self._lines[seat] = line
            return line
        line.stable = agree(line.text, text)
        line.text = text
        line.revisions += 1
        return line

    def final(self, utterance_id: str, seat: str) -> None:
        self._done.add(utterance_id)
        line = self._lines.get(seat)
        if line is not None and line.utterance_id == utterance_id:
            del self._lines[seat]

    def current(self) -> list[PartialLine]:
        """The lines now shown; safe to call from another thread (a copy, taken at once)."""
        return sorted(list(self._lines.values()), key=lambda line: line.t0)


@dataclass(frozen=True)
class Speaking:
    """A seat's utterance in progress: the audio so far (``speech_start`` known,
    ``speech_end`` the end of its last speech frame) and the silence that follows it."""

    utterance: Utterance
    silence_ms: int


@dataclass(frozen=True)
class Heard:
    """What the speech front made of one block of audio."""

    position: int  # 16 kHz timeline sample analysed up to
    ended: tuple[Utterance, ...] = ()  # utterances that ended with this block
    speaking: tuple[Speaking, ...] = ()  # every seat's utterance still going


@dataclass(frozen=True)
class Final:
    """The recogniser's answer for an utterance that ended: the line to keep (``result``
    None: recognition failed, with ``error``)."""

    utterance: Utterance
    result: Recognition | None
    error: str | None = None


@dataclass
class TranscriptStats:
    finals: int = 0  # final jobs asked for
    partials: int = 0  # partial jobs asked for
    shown: int = 0  # partial results that changed a line on screen
    turns: int = 0  # turn re-recognitions asked for
    revisions: int = 0  # of them, those that revised the turn's lines
    duplicates: int = 0  # finals dropped: another seat's louder final of the same speech


class LiveTranscript:
    """From utterance events to recogniser jobs, and from results to what is shown.

    Pure and synchronous: no I/O, no threads, no clock (``now`` is passed in, on whatever
    clock the caller runs). Not thread-safe: a caller that hears on one thread and takes
    results on another holds a lock around both (``lines.current`` alone may be read from
    any thread)."""

    def __init__(self, options: StreamOptions | None = None,
                 hotwords: tuple[str, ...] = ()) -> None:
        self.options = options or StreamOptions()
        self.hotwords = hotwords
        self.policy = PartialPolicy(self.options)
        self.lines = PartialLines()
        self.stats = TranscriptStats()
        self.turns = SeatTurns(self.options.turn_gap_s, self.options.max_turn_s,
                               SPEECH_RATE, self.options.turn_ask_s)
        self.duplicates = Duplicates()

    def hear(self, heard: Heard, now: float) -> list[Job]:
        """The jobs to send to the recogniser now: a final for each utterance that ended,
        in order, then a partial for each utterance in progress that is due one."""
        jobs: list[Job] = []
        for u in heard.ended:
            self.policy.finished(u.id)
            context = self.turns.ended(u)
            jobs.append(Job("final", u, now, self.hotwords,
                            context=context if self.options.context else ""))
        self.stats.finals += len(heard.ended)
        for s in heard.speaking:
            u = s.utterance
            speech_s = (heard.position - u.speech_start) / SPEECH_RATE
            if self.policy.due(u.id, speech_s, s.silence_ms):
                jobs.append(Job("partial", u, now, self.hotwords))
                self.stats.partials += 1
        if self.options.turns:
            speaking = {s.utterance.seat for s in heard.speaking}
            for turn in self.turns.due(heard.position, speaking):
                jobs.append(Job("turn", turn, now, self.hotwords))
                self.stats.turns += 1
        return jobs

    def recognized(self, job: Job, result: Recognition | None, error: str | None = None
                   ) -> PartialLine | Final | TurnRevision | None:
        """A job's result: the ``Final`` of a final job (its text emptied when it is a
        louder seat's speech again, ``turns.Duplicates``); the ``TurnRevision`` of a turn
        job, or None when it changes nothing; for a partial, the line it changed, or None
        when it shows nothing (no text, or its final came first)."""
        u = job.utterance
        if job.kind == "turn":
            revision = self.turns.revision(u, result)
            self.stats.revisions += revision is not None
            return revision
        if job.kind == "final":
            self.lines.final(u.id, u.seat)
            if result is not None and result.text and self.duplicates.is_bleed(
                    u, result.text):
                self.stats.duplicates += 1
                result = replace(result, text="", words=[])
            self.turns.recognized(u, result.text if result is not None else "")
            return Final(u, result, error)
        if result is None or not result.text:
            return None
        line = self.lines.update(u.id, u.seat, u.t0, result.text)
        if line is not None:
            self.policy.shown(u.id)
            self.stats.shown += 1
        return line
