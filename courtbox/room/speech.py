"""The speech front of the live pipeline: captured blocks in, utterance events out.

``SpeechFront`` joins the seat segmenter (``audio.seats``) and Silero VAD
(``transcribe.vad``). Each block it is fed yields a ``stream.Heard``: the utterances that
just ended and every seat's utterance still going, each with its speech bounds, which
``stream.LiveTranscript`` turns into recognition jobs. The recorder sends them to the
recogniser process; ``courtbox bench`` sends them to a recogniser on a simulated clock;
``courtbox transcribe`` recognises each final in turn. All three therefore cut and schedule
speech identically. Stateful and not thread-safe: one thread feeds it.

Seats at a microphone array (``arrays``: ``audio.arrayfront.ArraySpec``) are heard by an
``ArrayFront`` in front of the same cutting: a beam per seat toward its direction, the seat
active where the direction finder hears it. Their utterances join the gooseneck seats' in
one ``Heard``, on the same timeline; ``heard_arrays`` is what the clerk's console shows.
In a mixed room (goosenecks on the bench, an array in the well) each array's first capsule
also sits in the goosenecks' seat decision, without a seat of its own, so that a voice
from the well is the array's and not the nearest gooseneck's, and a frame a gooseneck seat
owns is none of the array's seats'.
"""

from __future__ import annotations

from courtbox.audio.arrayfront import ArrayFront, ArraySpec
from courtbox.audio.seats import LiveUtterance, Segmenter, SegmenterOptions, UtteranceCutter
from courtbox.audio.types import SPEECH_RATE, Block, Utterance
from courtbox.transcribe.stream import Heard, Speaking
from courtbox.transcribe.vad import SileroVad, VadOptions

_LISTENER = "@"  # the seat id of an array's capsule in the seats' decision (no seat's id)


class SpeechFront:
    def __init__(self, seats: list[tuple[int, str]], *, channels: int, sample_rate: int,
                 segmenter_options: SegmenterOptions | None = None,
                 vad_options: VadOptions | None = None, start: int = 0,
                 arrays: tuple[ArraySpec, ...] = ()) -> None:
        """``seats``: (channel, seat id) pairs; ``start``: 16 kHz timeline sample of the
        first block; ``arrays``: the arrays and the seats they hear (those seats in ``seats``
        are heard by the array, not by their reference capsule)."""
        at_array = {s.seat for a in arrays for s in a.seats}
        own = [(ch, seat) for ch, seat in seats if seat not in at_array]
        arrays = tuple(a for a in arrays if a.seats)
        # In a mixed room a seat's gooseneck also hears the array's talkers: each array's
        # first capsule joins the seats' decision as a listener (its utterances dropped),
        # so that the coupling gives a voice from the well to the array, not to the nearest
        # gooseneck; and a frame a gooseneck owns is no array seat's.
        listeners = [(a.channels[0], _LISTENER + a.name) for a in arrays] if own else []
        self._own = len(own)
        self.vad = SileroVad(len(own) + len(listeners), vad_options)
        self.segmenter = Segmenter(own + listeners, channels=channels,
                                   sample_rate=sample_rate, options=segmenter_options,
                                   start=start, speech_gate=self.vad.speech) if own else None
        cut = segmenter_options or SegmenterOptions()
        self.arrays = [ArrayFront(a, sample_rate=sample_rate, options=cut, start=start,
                                  make_cutter=lambda seat: UtteranceCutter(seat, cut),
                                  speech_gate=SileroVad(len(a.seats), vad_options).speech,
                                  elsewhere=self._gooseneck_owns if own else None)
                       for a in arrays]
        self._parts: list[Segmenter | ArrayFront] = [
            *([self.segmenter] if self.segmenter else []), *self.arrays]

    @property
    def position(self) -> int:
        return min(part.position for part in self._parts)

    def heard_arrays(self) -> list[dict]:
        """Per array: the seats it hears now, the voice's direction, dead capsules."""
        return [a.heard() for a in self.arrays]

    def _gooseneck_owns(self, position: int) -> bool:
        """Whether a seat with its own microphone, and no array, speaks in this frame."""
        active = self.segmenter.decided.get(position) if self.segmenter else None
        return active is not None and bool(active[:self._own].any()) and not bool(
            active[self._own:].any())

    def feed(self, block: Block) -> Heard:
        ended = tuple(u for part in self._parts for u in part.feed(block)
                      if not u.seat.startswith(_LISTENER))
        return Heard(self.position, ended, tuple(
            _speaking(live) for part in self._parts for live in part.live()
            if not live.seat.startswith(_LISTENER)))

    def flush(self) -> Heard:
        return Heard(self.position, tuple(u for part in self._parts for u in part.flush()
                                          if not u.seat.startswith(_LISTENER)))


def _speaking(live: LiveUtterance) -> Speaking:
    end = live.start + len(live.audio) - live.silence_ms * SPEECH_RATE // 1000
    return Speaking(Utterance(id=live.id, seat=live.seat, start=live.start, audio=live.audio,
                              speech_start=live.speech_start, speech_end=end),
                    live.silence_ms)
