"""Voice activity: Silero VAD (v6, the ONNX file shipped inside faster-whisper) on onnxruntime.

The model reads 16 kHz audio in windows of 512 samples (32 ms), each preceded by the last 64
samples of the window before, and carries an LSTM state from one window to the next. Its
batch axis is time: ``[n, 576]`` windows in, ``n`` speech probabilities out, so a stream can
be fed a few windows at a time and gives exactly what one pass over the whole file gives.

``SileroVad`` runs on one ONNX session per process (one thread: the analysis thread is not
the place to compete with the recogniser for cores; onnxruntime sessions may be shared
between threads) and keeps one ``_Stream`` of state per seat. It is stateful and not
thread-safe: one thread feeds it. It runs once, in the speech front: the utterances it cuts
carry their speech bounds to the recogniser, which runs no VAD of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from courtbox.errors import ModelError

logger = logging.getLogger(__name__)

WINDOW = 512  # samples at 16 kHz: 32 ms
CONTEXT = 64


def silero_model_path() -> Path:
    from faster_whisper.utils import get_assets_path

    return Path(get_assets_path()) / "silero_vad_v6.onnx"


@dataclass(frozen=True)
class VadOptions:
    threshold: float = 0.5  # a window at or above it starts speech
    neg_threshold: float = 0.35  # once speaking, speech lasts until a window falls below it


class _Stream:
    """One seat's LSTM state and the tail of its previous window."""

    def __init__(self) -> None:
        self.h = np.zeros((1, 1, 128), dtype=np.float32)
        self.c = np.zeros((1, 1, 128), dtype=np.float32)
        self.context = np.zeros(CONTEXT, dtype=np.float32)
        self.speaking = False


@lru_cache(maxsize=2)
def _session(model_path: Path):
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 4
    try:
        return onnxruntime.InferenceSession(str(model_path), sess_options=opts,
                                            providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own untyped errors
        raise ModelError(f"cannot load the Silero VAD model {model_path}: {e}") from e


class SileroVad:
    """Per-seat speech probability and speech/non-speech decision, 32 ms at a time."""

    def __init__(self, seats: int, options: VadOptions | None = None,
                 model_path: Path | None = None) -> None:
        self.options = options or VadOptions()
        self._session = _session(model_path or silero_model_path())
        self._streams = [_Stream() for _ in range(seats)]

    def probabilities(self, seat: int, audio: np.ndarray) -> np.ndarray:
        """Speech probability of each whole 512-sample window of ``audio`` (float32 mono,
        a multiple of 512 samples) for ``seat``'s stream."""
        n = len(audio) // WINDOW
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        s = self._streams[seat]
        windows = audio[: n * WINDOW].astype(np.float32, copy=False).reshape(n, WINDOW)
        contexts = np.concatenate([s.context[None, :], windows[:-1, -CONTEXT:]])
        batch = np.concatenate([contexts, windows], axis=1)
        probs, s.h, s.c = self._session.run(None, {"input": batch, "h": s.h, "c": s.c})
        s.context = windows[-1, -CONTEXT:].copy()
        return np.asarray(probs, dtype=np.float32).reshape(n)

    def speech(self, frame: np.ndarray) -> np.ndarray:
        """For one 512-sample ``[samples × seats]`` frame: which seats carry speech, with
        hysteresis (``threshold`` to start, ``neg_threshold`` to stop)."""
        out = np.zeros(frame.shape[1], dtype=bool)
        for i in range(frame.shape[1]):
            p = float(self.probabilities(i, frame[:, i])[0])
            s = self._streams[i]
            s.speaking = p >= (self.options.neg_threshold if s.speaking
                               else self.options.threshold)
            out[i] = s.speaking
        return out

