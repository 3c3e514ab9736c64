#!/usr/bin/env python3
"""Capture + archive benchmark: 8 channels at 48 kHz through real PortAudio.

Builds a realistic input (the sample hearing's four microphones, resampled to 48 kHz and
laid out twice with an offset to fill eight channels, looped to the requested length),
serves it as an ALSA capture device (``type file``, ``slave.pcm "null"``), and runs
``courtbox record --no-transcribe`` on it in a child process. ALSA's null slave has no
clock, so the device delivers as fast as the process reads: the CPU cost per second of
audio is measured directly. Reports:

- dropped blocks: PortAudio input overflows, and frames missing from the archive;
- capture+archive CPU share of one core: child CPU seconds per second of audio (the
  Python start-up, measured by a 0.1-s run, is subtracted);
- bytes per hour on disk: archived FLAC bytes per hour of audio.

Usage: scripts/bench_archive.py [--minutes 10] [--channels 8] [--rate 48000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "courtbox" / "sample" / "hearing.flac"


def build_input(path: Path, minutes: float, channels: int, rate: int) -> int:
    speech, sr = sf.read(str(SAMPLE), dtype="float32")
    speech = soxr.resample(speech, sr, rate)
    lanes = [np.roll(speech[:, c % speech.shape[1]], (c // speech.shape[1]) * rate * 7)
             for c in range(channels)]
    block = (np.stack(lanes, axis=1) * 32767).astype("<i2")
    frames = int(minutes * 60 * rate)
    with open(path, "wb") as f:
        written = 0
        while written < frames:
            chunk = block[: frames - written]
            f.write(chunk.tobytes())
            written += len(chunk)
    return frames


def run_record(home: Path, config: Path, data: Path, seconds: float) -> tuple[dict, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    exe = shutil.which("courtbox", path=str(Path(sys.executable).parent)) or "courtbox"
    result = subprocess.run(
        [exe, "record", "--config", str(config), "--data-dir", str(data), "--case-number",
         "bench", "--duration", str(seconds), "--no-transcribe", "--json"],
        env={**os.environ, "HOME": str(home)}, capture_output=True, text=True, check=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(result.stdout), cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--rate", type=int, default=48000, choices=[16000, 44100, 48000])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    seconds = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="courtbox-bench-") as tmp:
        tmp = Path(tmp)
        raw = tmp / "mics.raw"
        frames = build_input(raw, args.minutes, args.channels, args.rate)
        home = tmp / "home"
        home.mkdir()
        (home / ".asoundrc").write_text(
            f'pcm.bench_mics {{\n type file\n slave.pcm "null"\n file "/dev/null"\n'
            f' infile "{raw}"\n format "raw"\n}}\n')
        seats = "".join(f'[[seats]]\nchannel = {c}\nid = "seat_{c}"\nrole = "other"\n\n'
                        for c in range(args.channels))
        config = tmp / "agent.toml"
        config.write_text(f'[audio]\ndevice = "bench_mics"\nsample_rate = {args.rate}\n\n'
                          f"{seats}", encoding="utf-8")
        _, startup_cpu, _ = run_record(home, config, tmp / "warmup", 0.1)
        summary, cpu, wall = run_record(home, config, tmp / "data", seconds)
        archived = sum(p.stat().st_size for p in (tmp / "data" / "audio").rglob("*.flac"))
    net_cpu = max(cpu - startup_cpu, 0.0)
    report = {
        "channels": args.channels, "sample_rate": args.rate, "audio_seconds": seconds,
        "dropped_blocks": summary["overflows"],
        "missing_frames": frames - summary["frames"],
        "cpu_seconds": round(cpu, 2), "startup_cpu_seconds": round(startup_cpu, 2),
        "cpu_share_of_one_core": round(net_cpu / seconds, 4),
        "wall_seconds": round(wall, 2),
        "flac_bytes": archived,
        "bytes_per_hour": round(archived * 3600 / seconds),
        "raw_bytes_per_hour": args.channels * args.rate * 2 * 3600,
        "segments": summary["segments"],
    }
    if args.json:
        print(json.dumps(report))
        return
    print(f"{args.channels} ch × {args.rate} Hz, {args.minutes:g} min of audio through "
          f"PortAudio (ALSA file device) into the FLAC archive")
    print(f"  dropped blocks:         {report['dropped_blocks']} "
          f"(missing frames: {report['missing_frames']})")
    print(f"  capture+archive CPU:    {report['cpu_share_of_one_core']:.1%} of one core "
          f"({net_cpu:.1f} CPU-s for {seconds:.0f} s of audio)")
    print(f"  on disk:                {report['bytes_per_hour'] / 1e9:.2f} GB per hour "
          f"(raw PCM {report['raw_bytes_per_hour'] / 1e9:.2f} GB), "
          f"{report['segments']} segments")


if __name__ == "__main__":
    main()
