"""The recogniser: faster-whisper (CTranslate2 Whisper) on one utterance at a time.

``WhisperEngine.recognize`` takes 16 kHz float32 mono audio and returns a ``Recognition``
with normalised text, word timings shifted onto the hearing timeline and the model's
confidence. It is blocking and CPU-heavy: the agent runs it in the worker process
(``courtbox.transcribe.worker``), never on the event loop. faster-whisper returns a lazy
generator; it is consumed here, inside the call.

Two modes. A *final* is the line that is kept: beam search with word timestamps. A
*partial* only has to show the judge what is being said: greedy, no word timings. Both
decode at temperature 0 only, so the same audio always gives the same text; faster-whisper's
fallback to sampling at higher temperatures was, in our measurements, where invented
sentences came from (loops are cut by ``drop_loops`` and ``max_new_tokens`` instead). Both
get only the utterance's speech, with 0.5 s either side: its bounds come with the request
(``speech``), found once by the segmenter's VAD with the configured thresholds; the engine
runs no VAD of its own.

The encoder window. Whisper's encoder always reads a 30-s window; an utterance is a few
seconds, the rest is padding, and on a 2-core box that padding is most of the cost (Whisper
base, int8: 0.88 s for 30 s, 0.13 s for 10 s). ``WindowedWhisperModel`` cuts the padded
window to ``window_s`` (at least the utterance plus 2 s) before the encoder, and changes
nothing else. Cut to the utterance alone, Whisper loses its footing (CER 16 % → 100 % in our
measurement); with a few seconds of padding it keeps its accuracy. On 50 AISHELL dev
utterances (``courtbox bench``): a 10-s window for finals gave 20.5 % CER and a final-line
latency p95 of 1.28 s, 15 s gave 18.6 % (the offline baseline there: 18.9 %) within the
latency target. Partials use 10 s. ``model.window_s = 30`` turns the shortcut off.
"""

from __future__ import annotations

import logging
import math
import re
import time
import zlib
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

import numpy as np

from courtbox.audio.types import SPEECH_RATE
from courtbox.transcribe.hearingwords import sounds_like
from courtbox.transcribe.normalize import normalize_zh

logger = logging.getLogger(__name__)

PROMPT_ZH = "以下是普通话的庭审记录。"
NO_SPEECH_PROB = 0.6
LOW_WORD_PROB = 0.5
MAX_COMPRESSION_RATIO = 2.4  # faster-whisper's threshold for a failed decode
WINDOW_PAD_S = 2  # seconds of padding the encoder window keeps after the utterance
PARTIAL_WINDOW_S = 10  # a partial's shortest window: cheaper, and shorter ones wander
TAIL_S = 0.5  # audio kept before the first and after the last speech the VAD found
# (0.2 s cost 0.23 CER points on aishell-dev: the first and last syllables lose their onset)
END_SLACK_S = 0.3  # a segment ending this close to the end of speech is the last one
CONTEXT_CHARS = 40  # of a seat's own preceding text, given as context
TOKENS_PER_S = 12  # generous for Mandarin (about 5 characters a second, 1–2 tokens each)

Mode = Literal["final", "partial", "turn"]  # a turn: a seat's whole turn, as a final

# What Whisper, trained on subtitled video, writes over silence and noise: subtitle credits
# and requests to subscribe, as whole phrases. Single words (转发, 订阅, 字幕) are left
# alone: a defamation case speaks of forwarding and subscribing.
_SUBTITLE_CREDITS = re.compile(
    r"字幕由|Amara\.org|请不吝点赞|点赞订阅|订阅转发|打赏支持|明镜与点点|谢谢观看|感谢观看", re.I)
_LOOP = re.compile(r"(.)\1{5,}|(.{2,12}?)\2{3,}")


def drop_loops(text: str) -> str:
    """A decoder loop (a phrase four or more times in a row, a character six or more) is
    cut back to one occurrence: people repeat themselves, but not like that."""
    return _LOOP.sub(lambda m: m.group(1) or m.group(2), text)


def compression_ratio(text: str) -> float:
    """How much a text repeats itself (Whisper's measure: above 2.4, a decoder loop)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def _mean_word_probability(seg) -> float:
    return sum(w.probability for w in seg.words) / len(seg.words) if seg.words else 1.0


def is_hallucination(seg, first: bool = True) -> bool:
    """A segment the model itself thinks is not speech and is unsure of, one that reads like
    a subtitle credit, one that repeats itself past what ``drop_loops`` mends (decoding at
    one temperature, faster-whisper keeps such a result instead of retrying), or (after the
    first) one whose words the model doubts.

    The last rule is for the tail of an utterance: with a short encoder window Whisper
    sometimes goes on past the speech into the padding and adds a line it is unsure of
    (嗯 at p=0.02; a made-up sentence after a fallback to sampling), where a real second
    sentence is recognised with word probabilities of 0.7 and more.

    faster-whisper drops a segment only when no_speech_prob is high AND avg_logprob is
    below -1; on the trailing silence of an utterance Whisper, primed by the hotword
    prompt, instead echoes the hotwords with a fair avg_logprob but a no_speech_prob
    above 0.9 and words of near-zero probability and duration. Measured on the sample
    hearing: without this guard almost every line ended in 审判长 书记员."""
    if _SUBTITLE_CREDITS.search(seg.text):
        return True
    if compression_ratio(drop_loops(seg.text)) > MAX_COMPRESSION_RATIO:
        return True
    if not first and seg.words and _mean_word_probability(seg) < LOW_WORD_PROB:
        return True
    if seg.no_speech_prob <= NO_SPEECH_PROB:
        return False
    if seg.avg_logprob < -1.0:
        return True
    if seg.words is None:  # decoded without word timings (a partial): logprob decides
        return False
    return not seg.words or _mean_word_probability(seg) < LOW_WORD_PROB


@dataclass(frozen=True)
class EngineOptions:
    model_dir: str
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = 0
    language: str = "zh"  # "zh", "en" or "auto"
    beam_size: int = 5
    hotwords: tuple[str, ...] = ()
    window_s: int = 15  # shortest encoder window of a final, seconds (30: Whisper's own)
    prompt: str = PROMPT_ZH  # for Mandarin only

    @classmethod
    def from_config(cls, model, model_dir) -> EngineOptions:  # model: config.ModelSection
        return cls(model_dir=str(model_dir), device=model.device,
                   compute_type=model.compute_type, cpu_threads=model.cpu_threads,
                   language=model.language, beam_size=model.beam_size,
                   hotwords=tuple(model.hotwords), window_s=model.window_s,
                   prompt=model.prompt)

    def window_for(self, seconds: float, mode: Mode = "final") -> int:
        """Encoder window in seconds for an utterance of ``seconds``."""
        shortest = self.window_s if mode == "final" else PARTIAL_WINDOW_S
        return min(30, max(shortest, math.ceil(seconds) + WINDOW_PAD_S))


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


def windowed_model(options: EngineOptions):
    """A faster-whisper model whose encoder reads ``window_frames`` mel frames, not 3000."""
    from faster_whisper import WhisperModel

    class WindowedWhisperModel(WhisperModel):
        window_frames: int | None = None

        def encode(self, features):
            if self.window_frames and features.shape[-1] > self.window_frames:
                features = features[..., : self.window_frames]
            return super().encode(features)

    return WindowedWhisperModel(options.model_dir, device=options.device,
                                compute_type=options.compute_type,
                                cpu_threads=options.cpu_threads)


class WhisperEngine:
    """A loaded faster-whisper model; stateful and not thread-safe."""

    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        self.model = windowed_model(options)

    def _max_new_tokens(self, seconds: float, hotwords: str | None, prompt_text: str) -> int:
        """A bound on tokens for the audio's length, so a decoder loop ends early; the prompt
        (hotwords, at most half the context, and the initial prompt) and the answer must fit
        Whisper's 448-token context together."""
        encode = self.model.hf_tokenizer.encode
        prompt = min(len(encode(" " + hotwords).ids), 223) if hotwords else 0
        prompt += len(encode(" " + prompt_text).ids) + 8
        return max(16, min(math.ceil(seconds * TOKENS_PER_S) + 16,
                           self.model.max_length - prompt))

    def recognize(self, audio: np.ndarray, offset_s: float = 0.0,
                  extra_hotwords: tuple[str, ...] = (), mode: Mode = "final",
                  speech: tuple[float, float] | None = None, context: str = ""
                  ) -> Recognition:
        """Recognise one utterance starting at ``offset_s`` on the hearing timeline;
        ``speech``: where in ``audio`` its speech begins and ends, in seconds (None: all of
        it is speech); ``context``: the seat's own text just before it (the same turn),
        given to Whisper after the prompt; ``extra_hotwords``: the hearing's own words,
        given to Whisper only for a final line that holds something like one of them
        (``courtbox.transcribe.hearingwords``)."""
        o = self.options
        started = time.perf_counter()
        # Whisper writes text into silence it is given (before and after the speech, and
        # wherever a sampling fallback wanders): it gets the speech with TAIL_S either side.
        speech_start, speech_end = speech or (0.0, len(audio) / SPEECH_RATE)
        first = max(0, round((speech_start - TAIL_S) * SPEECH_RATE))
        audio = audio[first: round((speech_end + TAIL_S) * SPEECH_RATE)]
        offset_s += first / SPEECH_RATE
        language = None if o.language == "auto" else o.language
        final = mode != "partial"
        # Frames per second of mel features: 100.
        self.model.window_frames = self.options.window_for(
            len(audio) / SPEECH_RATE, "final" if final else "partial") * 100
        prompt = ((o.prompt + context[-CONTEXT_CHARS:]) or None
                  if language in ("zh", None) else None)
        speech_end -= first / SPEECH_RATE
        decode = (audio.astype(np.float32, copy=False), offset_s, speech_end, language,
                  prompt, final)
        # Hotwords given on every line write themselves into speech that does not hold
        # them (数据 → 书记, an English title → 被告证): a line is read without them, and
        # again with those it holds something like (``transcribe.hearingwords``).
        rec = self._decode(*decode, None)
        heard = sounds_like(rec.text, (*o.hotwords, *extra_hotwords)) if final else ()
        if heard:
            again = self._decode(*decode, " ".join(heard))
            if any(w in again.text for w in heard):
                logger.debug("hearing word in %r: %r", rec.text, again.text)
                rec = again
        return replace(rec, compute_s=time.perf_counter() - started)

    def _decode(self, audio: np.ndarray, offset_s: float, speech_end: float,
                language: str | None, prompt: str | None, final: bool,
                hotwords: str | None) -> Recognition:
        o = self.options
        seconds = len(audio) / SPEECH_RATE
        segments, info = self.model.transcribe(
            audio, language=language, beam_size=o.beam_size if final else 1,
            temperature=0.0, initial_prompt=prompt, hotwords=hotwords,
            condition_on_previous_text=False, word_timestamps=final,
            without_timestamps=True,
            max_new_tokens=self._max_new_tokens(seconds, hotwords, prompt or ""),
            vad_filter=False)
        texts: list[str] = []
        words: list[Word] = []
        logprobs: list[float] = []
        no_speech: list[float] = []
        for seg in segments:
            if is_hallucination(seg, first=not texts):
                logger.debug("dropped a no-speech segment: %r", seg.text)
            else:
                texts.append(seg.text)
                logprobs.append(seg.avg_logprob)
                no_speech.append(seg.no_speech_prob)
                words += [Word(w.word.strip(), round(offset_s + w.start, 3),
                               round(offset_s + w.end, 3), round(w.probability, 3))
                          for w in seg.words or ()]
            # With word timings faster-whisper decodes again from the last word to the end
            # of the audio; past the end of speech that pass finds only what it invents.
            if seg.end >= speech_end - END_SLACK_S:
                break
        lang = info.language
        # A character split between tokens at the end decodes to U+FFFD: never text.
        raw = drop_loops("".join(texts).replace("\ufffd", "").strip())
        if o.prompt and o.prompt.rstrip("。.") in raw:
            # Unsure of the audio, Whisper sometimes recites its prompt instead.
            raw = raw.replace(o.prompt, "").replace(o.prompt.rstrip("。."), "").strip()
        text = normalize_zh(raw) if lang == "zh" else " ".join(raw.split())
        return Recognition(
            text=text, words=words,
            avg_logprob=round(float(np.mean(logprobs)), 4) if logprobs else None,
            no_speech_prob=round(float(np.max(no_speech)), 4) if no_speech else None,
            language=lang)
