"""The speech front of the live pipeline: captured blocks in, recognition requests out.

``SpeechFront`` joins the seat segmenter (``audio.seats``), Silero VAD (``transcribe.vad``)
and the partial policy (``transcribe.stream``). Each block it is fed yields *final*
requests for utterances that just ended and *partial* requests for utterances still going.
The recorder sends them to the recogniser process; ``courtbox bench`` sends them to a
recogniser on a simulated clock. Both therefore cut and schedule speech identically.
Stateful and not thread-safe: one thread feeds it.
"""

from __future__ import annotations

from courtbox.audio.seats import Segmenter, SegmenterOptions
from courtbox.audio.types import SPEECH_RATE, Block, Utterance
from courtbox.transcribe.stream import Kind, PartialPolicy, StreamOptions
from courtbox.transcribe.vad import SileroVad, VadOptions

Request = tuple[Kind, Utterance]


class SpeechFront:
    def __init__(self, seats: list[tuple[int, str]], *, channels: int, sample_rate: int,
                 segmenter_options: SegmenterOptions | None = None,
                 vad_options: VadOptions | None = None,
                 stream_options: StreamOptions | None = None, start: int = 0) -> None:
        """``seats``: (channel, seat id) pairs; ``start``: 16 kHz timeline sample of the
        first block."""
        self.vad = SileroVad(len(seats), vad_options)
        self.segmenter = Segmenter(seats, channels=channels, sample_rate=sample_rate,
                                   options=segmenter_options, start=start,
                                   speech_gate=self.vad.speech)
        self.policy = PartialPolicy(stream_options)

    @property
    def position(self) -> int:
        return self.segmenter.position

    def feed(self, block: Block) -> list[Request]:
        requests = self._finals(self.segmenter.feed(block))
        for live in self.segmenter.live():
            speech_s = (self.segmenter.position - live.speech_start) / SPEECH_RATE
            if self.policy.due(live.id, speech_s, live.silence_ms):
                requests.append(("partial", Utterance(
                    id=live.id, seat=live.seat, start=live.start, audio=live.audio,
                    speech_start=live.speech_start)))
        return requests

    def flush(self) -> list[Request]:
        return self._finals(self.segmenter.flush())

    def _finals(self, utterances: list[Utterance]) -> list[Request]:
        for u in utterances:
            self.policy.finished(u.id)
        return [("final", u) for u in utterances]
