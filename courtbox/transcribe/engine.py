"""The recogniser: faster-whisper (CTranslate2 Whisper) on one utterance at a time.

``WhisperEngine.recognize`` takes 16 kHz float32 mono audio and returns a ``Recognition``
with normalised text, word timings shifted onto the hearing timeline and the model's
confidence. It is blocking and CPU-heavy: the agent runs it in the worker process
(``courtbox.transcribe.worker``), never on the event loop. faster-whisper returns a lazy
generator; it is consumed here, inside the call.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from courtbox.transcribe.normalize import normalize_zh

logger = logging.getLogger(__name__)

PROMPT_ZH = "以下是普通话的庭审记录。"
NO_SPEECH_PROB = 0.6
LOW_WORD_PROB = 0.5


def is_hallucination(seg) -> bool:
    """A segment the model itself thinks is not speech and is unsure of.

    faster-whisper drops a segment only when no_speech_prob is high AND avg_logprob is
    below -1; on the trailing silence of an utterance Whisper, primed by the hotword
    prompt, instead echoes the hotwords with a fair avg_logprob but a no_speech_prob
    above 0.9 and words of near-zero probability and duration. Measured on the sample
    hearing: without this guard almost every line ended in 审判长 书记员."""
    if seg.no_speech_prob <= NO_SPEECH_PROB:
        return False
    if seg.avg_logprob < -1.0 or not seg.words:
        return True
    return sum(w.probability for w in seg.words) / len(seg.words) < LOW_WORD_PROB


@dataclass(frozen=True)
class EngineOptions:
    model_dir: str
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 0
    language: str = "zh"  # "zh", "en" or "auto"
    beam_size: int = 5
    hotwords: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, model, model_dir) -> EngineOptions:  # model: config.ModelSection
        return cls(model_dir=str(model_dir), device=model.device,
                   compute_type=model.compute_type, cpu_threads=model.cpu_threads,
                   language=model.language, beam_size=model.beam_size,
                   hotwords=tuple(model.hotwords))


@dataclass(frozen=True)
class Word:
    w: str
    t0: float
    t1: float
    p: float


@dataclass(frozen=True)
class Recognition:
    text: str
    words: list[Word] = field(default_factory=list)
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    language: str = ""
    compute_s: float = 0.0

    def words_as_dicts(self) -> list[dict]:
        return [asdict(w) for w in self.words]


class WhisperEngine:
    """A loaded faster-whisper model; stateful and not thread-safe."""

    def __init__(self, options: EngineOptions) -> None:
        from faster_whisper import WhisperModel

        self.options = options
        self.model = WhisperModel(options.model_dir, device=options.device,
                                  compute_type=options.compute_type,
                                  cpu_threads=options.cpu_threads)

    def recognize(self, audio: np.ndarray, offset_s: float = 0.0,
                  extra_hotwords: tuple[str, ...] = ()) -> Recognition:
        o = self.options
        started = time.perf_counter()
        language = None if o.language == "auto" else o.language
        hotwords = " ".join((*o.hotwords, *extra_hotwords)) or None
        segments, info = self.model.transcribe(
            audio.astype(np.float32, copy=False),
            language=language,
            beam_size=o.beam_size,
            initial_prompt=PROMPT_ZH if language in ("zh", None) else None,
            hotwords=hotwords,
            condition_on_previous_text=False,
            word_timestamps=True,
            vad_filter=False,
        )
        texts: list[str] = []
        words: list[Word] = []
        logprobs: list[float] = []
        no_speech: list[float] = []
        for seg in segments:
            if is_hallucination(seg):
                logger.debug("dropped a no-speech segment: %r", seg.text)
                continue
            texts.append(seg.text)
            logprobs.append(seg.avg_logprob)
            no_speech.append(seg.no_speech_prob)
            words += [Word(w.word.strip(), round(offset_s + w.start, 3),
                           round(offset_s + w.end, 3), round(w.probability, 3))
                      for w in seg.words or ()]
        lang = info.language
        raw = "".join(texts).strip()
        text = normalize_zh(raw) if lang == "zh" else " ".join(raw.split())
        return Recognition(
            text=text, words=words,
            avg_logprob=round(float(np.mean(logprobs)), 4) if logprobs else None,
            no_speech_prob=round(float(np.max(no_speech)), 4) if no_speech else None,
            language=lang, compute_s=time.perf_counter() - started)
