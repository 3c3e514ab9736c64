"""The frame pump of the speech stages: captured audio in, whole 16-kHz frames out.

``audio.seats.Segmenter`` and ``audio.arrayfront.ArrayFront`` both take blocks at the
capture rate, resample them (soxr, streaming, so no edge is heard at a block boundary),
keep what does not fill a frame for the next block, and at the end drain what the resampler
still holds. ``FramePump`` is that once. It imports nothing of ours, so that a stage using
it does not deepen the import graph.
"""

from __future__ import annotations

import numpy as np
import soxr


class FramePump:
    """``channels`` channels at ``sample_rate`` in, ``[frame_samples × channels]`` float32
    frames at ``speech_rate`` out, in order and without a sample lost or repeated."""

    def __init__(self, channels: int, sample_rate: int, speech_rate: int,
                 frame_samples: int) -> None:
        self.channels = channels
        self.frame_samples = frame_samples
        self._resampler = (soxr.ResampleStream(sample_rate, speech_rate, channels,
                                               dtype="float32", quality="HQ")
                           if sample_rate != speech_rate else None)
        self._pending = np.zeros((0, channels), dtype=np.float32)

    def frames(self, audio: np.ndarray) -> list[np.ndarray]:
        """The whole frames completed by ``audio`` (float32 at the capture rate)."""
        if self._resampler is not None:
            audio = self._resampler.resample_chunk(audio)
        return self._split(audio)

    def flush(self) -> list[np.ndarray]:
        """The frames the resampler still held at the end (a partial frame is dropped)."""
        if self._resampler is None:
            return []
        return self._split(self._resampler.resample_chunk(
            np.zeros((0, self.channels), dtype=np.float32), last=True))

    def _split(self, audio: np.ndarray) -> list[np.ndarray]:
        pending = np.concatenate([self._pending, audio]) if len(self._pending) else audio
        n = self.frame_samples
        whole = len(pending) // n * n
        self._pending = pending[whole:]
        return [pending[offset:offset + n] for offset in range(0, whole, n)]
