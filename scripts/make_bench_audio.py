#!/usr/bin/env python3
"""Builds the benchmark's manifests and its no-speech recordings under ``bench/``.

- ``bench/aishell-dev.tsv``: the 200 AISHELL utterances of ``bench/speech/aishell-dev``
  with their reference text.
- ``bench/sample-hearing.tsv``: the bundled 4-seat sample hearing, with its utterances'
  reference text joined in time order.
- ``bench/no-speech.tsv`` and ``bench/audio/``: 60 s of silence (a −80 dBFS dither, as a
  muted preamp gives), 60 s of room noise (ventilation-like pink noise at −50 dBFS with
  50 Hz mains hum) and 60 s of coughs over that noise. The coughs are synthesised: a burst
  of band-limited noise with a sharp attack and a 150–350 ms decay, some voiced (a 120–260 Hz
  pulse train under it), some in pairs. Nothing here should ever become text.

Deterministic (fixed seeds): running it again gives the same files.

    scripts/make_bench_audio.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
AISHELL = ROOT / "bench" / "speech" / "aishell-dev"
SAMPLE = ROOT / "courtbox" / "sample"
RATE = 16000


def db(level: float) -> float:
    return 10 ** (level / 20)


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.normal(size=n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    f[0] = f[1]
    x = np.fft.irfft(spectrum / np.sqrt(f), n)
    return x / np.sqrt(np.mean(x**2))


def room_noise(seconds: float, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    hum = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in (1, 2, 3))
    return db(-50) * pink(n, rng) + db(-62) * hum


def band_noise(n: int, low: float, high: float, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.normal(size=n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    spectrum[(f < low) | (f > high)] = 0
    return np.fft.irfft(spectrum, n)


def cough(rng: np.random.Generator) -> np.ndarray:
    length = rng.uniform(0.15, 0.35)
    n = int(length * RATE)
    t = np.arange(n) / RATE
    envelope = (1 - np.exp(-t / 0.004)) * np.exp(-t / (length / 4))
    burst = band_noise(n, rng.uniform(150, 400), rng.uniform(2500, 5000), rng)
    burst /= np.max(np.abs(burst))
    if rng.random() < 0.5:  # voiced: the vocal folds take part
        f0 = rng.uniform(120, 260)
        burst += 2.0 * np.sign(np.sin(2 * np.pi * f0 * t)) * np.exp(-t / 0.05)
    burst *= envelope
    return db(rng.uniform(-14, -6)) * burst / np.max(np.abs(burst))


def cough_track(seconds: float, rng: np.random.Generator) -> np.ndarray:
    track = room_noise(seconds, rng)
    at = 1.0
    while at < seconds - 2:
        c = cough(rng)
        if rng.random() < 0.4:  # a second cough right after the first
            c = np.concatenate([c, np.zeros(int(rng.uniform(0.1, 0.3) * RATE)), cough(rng)])
        i = int(at * RATE)
        track[i:i + len(c)] += c
        at += len(c) / RATE + rng.uniform(1.5, 5.0)
    return track


def write(name: str, audio: np.ndarray) -> str:
    (BENCH / "audio").mkdir(parents=True, exist_ok=True)
    sf.write(str(BENCH / "audio" / name), np.clip(audio, -1, 1), RATE, subtype="PCM_16")
    return f"audio/{name}"


def main() -> None:
    BENCH.mkdir(exist_ok=True)
    rng = np.random.default_rng(20261123)
    rows = [
        (write("silence-60s.flac", db(-80) * rng.normal(size=60 * RATE)), "silence"),
        (write("room-noise-60s.flac", room_noise(60, rng)), "room noise"),
        (write("coughs-60s.flac", cough_track(60, rng)), "coughs over room noise"),
    ]
    (BENCH / "no-speech.tsv").write_text(
        "# Recordings without speech: every recognised character is an error.\n"
        + "".join(f"# {what}\n{path}\t\n" for path, what in rows), encoding="utf-8")

    lines = ["# AISHELL-1 dev utterances (speech/aishell-dev, Apache-2.0: see its ATTRIBUTION.md)"]
    for row in (AISHELL / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        name, _, text = row.split("\t")
        lines.append(f"speech/aishell-dev/{name}\t{text}")
    (BENCH / "aishell-dev.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    sample = json.loads((SAMPLE / "hearing.json").read_text(encoding="utf-8"))
    text = "".join(u["text"] for u in sorted(sample["utterances"], key=lambda u: u["t0"]))
    (BENCH / "sample-hearing.tsv").write_text(
        "# The bundled sample hearing: 4 seats, 186 s; reference in time order\n"
        f"../courtbox/sample/hearing.flac\t{text}\n", encoding="utf-8")


if __name__ == "__main__":
    main()
