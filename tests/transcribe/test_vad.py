"""Silero VAD from faster-whisper's bundled ONNX file, streamed per seat, on real speech and
on the benchmark's no-speech recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from courtbox.transcribe.vad import WINDOW, SileroVad, VadOptions

BENCH_AUDIO = Path(__file__).resolve().parents[2] / "bench" / "audio"


def test_streaming_a_few_windows_at_a_time_equals_one_pass(aishell_wavs) -> None:
    audio, _ = sf.read(str(next(iter(aishell_wavs))), dtype="float32")
    audio = audio[: len(audio) // WINDOW * WINDOW]
    whole = SileroVad(1).probabilities(0, audio)
    vad = SileroVad(1)
    parts = [vad.probabilities(0, audio[i:i + 3 * WINDOW])
             for i in range(0, len(audio), 3 * WINDOW)]
    assert np.allclose(np.concatenate(parts), whole, atol=1e-5)


def test_seats_keep_their_own_state(aishell_wavs) -> None:
    """Two seats fed different audio in one frame each get their own answer."""
    speech, _ = sf.read(str(next(iter(aishell_wavs))), dtype="float32")
    vad = SileroVad(2)
    n = len(speech) // WINDOW
    quiet = np.zeros(WINDOW, dtype=np.float32)
    decisions = np.array([vad.speech(np.stack([speech[i * WINDOW:(i + 1) * WINDOW], quiet],
                                              axis=1)) for i in range(n)])
    assert decisions[:, 0].mean() > 0.5 and not decisions[:, 1].any()


def _speech_windows(audio: np.ndarray) -> np.ndarray:
    """Indices of the 32-ms windows at or above the speech threshold, in one pass."""
    probs = SileroVad(1).probabilities(0, audio[: len(audio) // WINDOW * WINDOW])
    return np.flatnonzero(probs >= VadOptions().threshold)


def test_speech_is_found_over_the_utterance_and_nothing_else(aishell_wavs) -> None:
    for path in aishell_wavs:
        audio, rate = sf.read(str(path), dtype="float32")
        speech = _speech_windows(audio) * WINDOW / rate
        assert len(speech) and 0 <= speech[0] < 1.0
        assert len(audio) / rate - 1.0 < speech[-1] + WINDOW / rate <= len(audio) / rate + 0.05


def test_no_speech_in_silence_room_noise_or_coughs() -> None:
    for name in ("silence-60s.flac", "room-noise-60s.flac", "coughs-60s.flac"):
        audio, _ = sf.read(str(BENCH_AUDIO / name), dtype="float32")
        assert len(_speech_windows(audio)) == 0, name
