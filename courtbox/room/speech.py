"""The speech front of the live pipeline: captured blocks in, utterance events out.

``SpeechFront`` joins the seat segmenter (``audio.seats``) and Silero VAD
(``transcribe.vad``). Each block it is fed yields a ``stream.Heard``: the utterances that
just ended and every seat's utterance still going, each with its speech bounds, which
``stream.LiveTranscript`` turns into recognition jobs. The recorder sends them to the
recogniser process; ``courtbox bench`` sends them to a recogniser on a simulated clock;
``courtbox transcribe`` recognises each final in turn. All three therefore cut and schedule
speech identically. Stateful and not thread-safe: one thread feeds it.
"""

from __future__ import annotations

from courtbox.audio.seats import LiveUtterance, Segmenter, SegmenterOptions
from courtbox.audio.types import SPEECH_RATE, Block, Utterance
from courtbox.transcribe.stream import Heard, Speaking
from courtbox.transcribe.vad import SileroVad, VadOptions


class SpeechFront:
    def __init__(self, seats: list[tuple[int, str]], *, channels: int, sample_rate: int,
                 segmenter_options: SegmenterOptions | None = None,
                 vad_options: VadOptions | None = None, start: int = 0) -> None:
        """``seats``: (channel, seat id) pairs; ``start``: 16 kHz timeline sample of the
        first block."""
        self.vad = SileroVad(len(seats), vad_options)
        self.segmenter = Segmenter(seats, channels=channels, sample_rate=sample_rate,
                                   options=segmenter_options, start=start,
                                   speech_gate=self.vad.speech)

    @property
    def position(self) -> int:
        return self.segmenter.position

    def feed(self, block: Block) -> Heard:
        ended = tuple(self.segmenter.feed(block))
        return Heard(self.segmenter.position, ended,
                     tuple(_speaking(live) for live in self.segmenter.live()))

    def flush(self) -> Heard:
        return Heard(self.segmenter.position, tuple(self.segmenter.flush()))


def _speaking(live: LiveUtterance) -> Speaking:
    end = live.start + len(live.audio) - live.silence_ms * SPEECH_RATE // 1000
    return Speaking(Utterance(id=live.id, seat=live.seat, start=live.start, audio=live.audio,
                              speech_start=live.speech_start, speech_end=end),
                    live.silence_ms)
