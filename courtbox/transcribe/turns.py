"""Turns, not fragments; and one seat's speech on one seat only. Used by ``LiveTranscript``.

People pause mid-sentence. The segmenter ends an utterance after ``vad.hangover_ms`` of
silence so that its final line comes within a second and a half, and a hesitation longer
than that cuts a sentence in two: each piece decoded alone loses the words around the cut.
``SeatTurns`` keeps each seat's current *turn*: its utterances whose speech resumed within
``turn_gap_s`` of the previous one's end. The first lines are committed as they come (for
latency); once the seat has been quiet ``turn_ask_s`` (at most the gap, so the revision
comes soon) and the turn holds two lines or more, the whole turn (its utterances on the
timeline, the gaps between them silent) is asked of the recogniser again, and its answer is
a ``TurnRevision``: the turn's first line gets the whole text and span, the later lines are
merged into it. Speech that resumes within the gap after that joins the same turn, which is
read again when it next pauses. The store records it as a revision
by the recogniser, distinct from a clerk's correction.

``Duplicates`` is the last guard against bleed: no two seats' finals may carry the same
speech at the same time. When a final reads like an overlapping final of another seat, the
quieter microphone's over their shared span is the bleed, and its line is dropped.

Pure and synchronous; not thread-safe (``LiveTranscript``'s caller holds its lock).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # (at run time utterances come in and are copied: no import needed)
    from courtbox.audio.types import Utterance
    from courtbox.transcribe.engine import Recognition

SAME_SPEECH = 0.5  # similarity of two texts (difflib ratio) above which they are one speech
RECENT_S = 30.0  # how long a final is kept for the duplicate check


@dataclass(frozen=True)
class TurnRevision:
    """The recogniser's reading of a whole turn: the turn's first line (``utterance``, whose
    span is now the turn's) gets ``result``'s text; the lines ``merged`` are now in it."""

    utterance: Utterance  # the first line's utterance, spanning the whole turn
    result: Recognition
    merged: tuple[str, ...]  # utterance ids of the later lines of the turn
    ended_at: float  # end of the turn's speech on the timeline, seconds


@dataclass
class _Turn:
    pieces: list[Utterance] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # utterance id -> final text
    asked: bool = False  # a re-recognition of the pieces as they stand was asked for

    @property
    def speech_end(self) -> int:
        return self.pieces[-1].speech_end if self.pieces[-1].speech_end >= 0 else (
            self.pieces[-1].start + len(self.pieces[-1].audio))


def turn_audio(pieces: list[Utterance], seat: str, key: str) -> Utterance:
    """The turn as one utterance on the timeline: its pieces where they were, silence in the
    gaps between them (what the seat's microphone heard there was nobody's speech of this
    seat)."""
    start = pieces[0].start
    audio = np.zeros(pieces[-1].start + len(pieces[-1].audio) - start, dtype=np.float32)
    for p in pieces:
        audio[p.start - start:p.start - start + len(p.audio)] = p.audio
    first = pieces[0].speech_start if pieces[0].speech_start >= 0 else start
    last = pieces[-1].speech_end if pieces[-1].speech_end >= 0 else start + len(audio)
    return replace(pieces[0], id=key, seat=seat, start=start, audio=audio,
                   speech_start=first, speech_end=last)


class SeatTurns:
    """Each seat's current turn, and when it is due a re-recognition."""

    def __init__(self, gap_s: float, max_s: float, rate: int, ask_s: float | None = None
                 ) -> None:
        """``rate``: samples a second of the timeline; ``ask_s``: quiet before a turn is
        read again (default: the gap)."""
        self.gap = round(gap_s * rate)
        self.ask = round((gap_s if ask_s is None else ask_s) * rate)
        self.max = round(max_s * rate)
        self._turns: dict[str, _Turn] = {}
        self._asked: dict[str, tuple[str, ...]] = {}  # turn job id -> the pieces it holds

    def ended(self, u: Utterance) -> str:
        """``u`` ended: it joins its seat's turn or starts one. Returns the turn's text so
        far (the context its recognition may be given)."""
        turn = self._turns.get(u.seat)
        start = u.speech_start if u.speech_start >= 0 else u.start
        if (turn is None or start - turn.speech_end > self.gap
                or u.start + len(u.audio) - turn.pieces[0].start > self.max):
            turn = self._turns[u.seat] = _Turn()
        context = "".join(turn.texts.get(p.id, "") for p in turn.pieces)
        turn.pieces.append(u)
        turn.asked = False
        return context

    def recognized(self, u: Utterance, text: str) -> None:
        turn = self._turns.get(u.seat)
        if turn is not None and any(p.id == u.id for p in turn.pieces):
            turn.texts[u.id] = text

    def due(self, position: int, speaking: set[str]) -> list[Utterance]:
        """Turns of two pieces or more whose seat has been quiet ``ask``: each as one
        utterance to recognise again (once per state of the turn)."""
        out: list[Utterance] = []
        for seat, turn in self._turns.items():
            if (turn.asked or len(turn.pieces) < 2 or seat in speaking
                    or position - turn.speech_end < self.ask):
                continue
            turn.asked = True
            key = f"{turn.pieces[0].id}+{len(turn.pieces)}"
            self._asked[key] = tuple(p.id for p in turn.pieces)
            out.append(turn_audio(turn.pieces, seat, key))
        return out

    def revision(self, job: Utterance, result: Recognition | None) -> TurnRevision | None:
        """The turn job's answer as a revision of its lines; None when it would lose text
        (failed, empty, or far shorter than the lines it replaces) or change nothing."""
        ids = self._asked.pop(job.id, ())
        turn = self._turns.get(job.seat)
        if result is None or not result.text or turn is None:
            return None
        pieces = [p for p in turn.pieces if p.id in ids]
        texts = [turn.texts.get(p.id, "") for p in pieces]
        lined = [p for p, t in zip(pieces, texts, strict=True) if t]
        if not lined or len(result.text) < 0.5 * len("".join(texts)):
            return None
        if len(lined) == 1 and result.text == texts[pieces.index(lined[0])]:
            return None
        first = lined[0]
        whole = replace(first, audio=job.audio[first.start - job.start:],
                        speech_end=job.speech_end)
        for p in pieces:
            turn.texts[p.id] = result.text if p is first else ""
        return TurnRevision(whole, result, tuple(p.id for p in lined[1:]),
                            job.speech_t1)


@dataclass
class _Said:
    utterance: Utterance
    text: str


class Duplicates:
    """Recent finals of every seat, to keep one seat's speech off the others'."""

    def __init__(self) -> None:
        self._recent: list[_Said] = []

    def is_bleed(self, u: Utterance, text: str) -> bool:
        """Whether ``text`` of ``u`` repeats an overlapping final of another seat whose
        microphone was louder over their shared span. Remembers it otherwise."""
        self._recent = [s for s in self._recent if u.t0 - s.utterance.t1 < RECENT_S]
        for s in self._recent:
            other = s.utterance
            if other.seat == u.seat or not (other.t0 < u.t1 and u.t0 < other.t1):
                continue
            if difflib.SequenceMatcher(None, s.text, text).ratio() < SAME_SPEECH:
                continue
            if _level(u, other) < _level(other, u):
                return True
        self._recent.append(_Said(u, text))
        return False


def _level(u: Utterance, other: Utterance) -> float:
    """``u``'s level over the span it shares with ``other`` (dBFS)."""
    a = max(u.start, other.start) - u.start
    b = min(u.start + len(u.audio), other.start + len(other.audio)) - u.start
    piece = u.audio[a:b] if b > a else u.audio
    if not len(piece):
        return -100.0
    return float(10.0 * np.log10(np.mean(piece.astype(np.float64) ** 2) + 1e-12))
