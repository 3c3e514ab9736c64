"""Assemble the bundled 4-channel sample court hearing from real Mandarin read speech.

AISHELL-1 utterances are staged as a courtroom conversation, one microphone channel per seat,
with delayed, attenuated bleed into the other microphones and a low room-noise floor. Writes
hearing.flac, hearing.json (seats, reference transcript, timings) and ATTRIBUTION.md; fixed seed.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SR = 16000
SEED = 20240611
SEATS = {"presiding_judge": "审判长", "clerk": "书记员", "plaintiff": "原告", "defendant": "被告"}
SPEAKER = {"presiding_judge": "S0150", "plaintiff": "S0150", "clerk": "S0252", "defendant": "S0252"}
BODY_S = 155.0  # once past this, the judge's next turn becomes the closing (~3 min in all)
MAX_UTT_S = 4.0  # keep utterances short so 40+ of them fit into three minutes
SPEECH_DBFS = -22.0
NOISE_DBFS = -62.0
PEAK_DBFS = -1.0
Pools = dict[str, list[tuple[str, str]]]  # speaker -> [(file, text)]
PLAIN_CHINESE = re.compile(r"^[\u4e00-\u9fff]+$")  # plain Chinese references only


@dataclass
class Utterance:
    seat: str
    start: int
    audio: np.ndarray
    source: str
    text: str


def db(value: float) -> float:
    return 10 ** (value / 20)


def load_pools(source: Path, rng: np.random.Generator) -> Pools:
    """Per speaker, a shuffled list of (file, text) of short utterances with plain-Chinese text."""
    pools: Pools = {}
    lines = (source / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[1:]
    for line in sorted(lines):
        name, speaker, text = line.split("\t")
        if PLAIN_CHINESE.match(text) and sf.info(str(source / name)).duration <= MAX_UTT_S:
            pools.setdefault(speaker, []).append((name, text))
    for items in pools.values():
        rng.shuffle(items)
    return pools


def active_rms(x: np.ndarray, frame: int = 320) -> float:
    """RMS over 20 ms frames within 30 dB of the loudest frame (a simple active-speech level)."""
    frames = x[: len(x) // frame * frame].reshape(-1, frame)
    power = (frames**2).mean(axis=1)
    return float(np.sqrt(power[power >= power.max() * 1e-3].mean()))


def load_utterance(path: Path) -> np.ndarray:
    x, sr = sf.read(str(path), dtype="float64")
    if sr != SR or x.ndim != 1:
        raise ValueError(f"{path}: expected 16 kHz mono, got {sr} Hz, shape {x.shape}")
    return x * db(SPEECH_DBFS) / active_rms(x)


def turn_seats(rng: np.random.Generator) -> Iterator[str]:
    """Endless courtroom turn order: judge leads, questions parties in turn, clerk now and then."""
    yield "clerk"
    yield "presiding_judge"
    party, other = "plaintiff", "defendant"
    while True:
        yield party
        if rng.random() < 0.3:  # the other side answers back before the judge steps in
            yield other
        yield "presiding_judge"
        if rng.random() < 0.15:
            yield "clerk"
            yield "presiding_judge"
        party, other = other, party


def turn_length(seat: str, rng: np.random.Generator) -> int:
    if seat == "clerk":
        return int(rng.choice([1, 2], p=[0.7, 0.3]))
    return int(rng.choice([1, 2, 3], p=[0.25, 0.45, 0.3]))


def place_turn(
    seat: str, count: int, cursor: float, pools: Pools, source: Path, rng: np.random.Generator
) -> tuple[list[Utterance], float]:
    """Lay out `count` utterances of one seat from `cursor` seconds; return them and the end."""
    placed = []
    for i in range(count):
        if i:
            cursor += rng.uniform(0.4, 0.9)
        name, text = pools[SPEAKER[seat]].pop()
        audio = load_utterance(source / name)
        start = round(cursor * SR)
        placed.append(Utterance(seat, start, audio, name, text))
        cursor = (start + len(audio)) / SR
    return placed, cursor


def build_timeline(source: Path, rng: np.random.Generator) -> tuple[list[Utterance], int]:
    """Place turns from 1 s on until ~BODY_S, close with judge and clerk; return total length."""
    pools = load_pools(source, rng)
    utterances: list[Utterance] = []
    cursor = 1.0
    for seat in turn_seats(rng):
        if cursor > BODY_S and seat == "presiding_judge":
            break
        cursor += rng.uniform(1.0, 2.5) if utterances else 0.0
        placed, cursor = place_turn(seat, turn_length(seat, rng), cursor, pools, source, rng)
        utterances += placed
    for seat, count in (("presiding_judge", 2), ("clerk", 1)):
        cursor += rng.uniform(1.0, 2.5)
        placed, cursor = place_turn(seat, count, cursor, pools, source, rng)
        utterances += placed
    return utterances, round((cursor + 1.5) * SR)


def lowpass(x: np.ndarray, cutoff: float) -> np.ndarray:
    """Second-order-like magnitude roll-off above `cutoff` Hz, applied in the frequency domain."""
    freq = np.fft.rfftfreq(len(x), 1 / SR)
    return np.fft.irfft(np.fft.rfft(x) / np.sqrt(1 + (freq / cutoff) ** 4), len(x))


def bleed_paths(rng: np.random.Generator) -> np.ndarray:
    """(gain, delay in samples, low-pass Hz) from each seat's talker to each microphone."""
    paths = np.zeros((4, 4, 3))
    for src in range(4):
        for mic in range(4):
            near = abs(src - mic) == 1
            atten = rng.uniform(18, 24) if near else rng.uniform(30, 36)
            delay_ms = rng.uniform(1, 3) if near else rng.uniform(3, 6)
            paths[src, mic] = (db(-atten), round(delay_ms * SR / 1000), 3000 if near else 2000)
        paths[src, src] = (1.0, 0, 0)
    return paths


def room_noise(n: int, seed: int) -> np.ndarray:
    """Pink noise rolled off above ~700 Hz (ventilation rumble) at NOISE_DBFS RMS."""
    rng = np.random.default_rng(seed)
    freq = np.fft.rfftfreq(n, 1 / SR)
    freq[0] = freq[1]
    pink = np.fft.irfft(np.fft.rfft(rng.standard_normal(n)) / np.sqrt(freq), n)
    shaped = lowpass(pink, 700)
    return shaped * db(NOISE_DBFS) / np.sqrt((shaped**2).mean())


def mix(utterances: list[Utterance], n: int, rng: np.random.Generator) -> np.ndarray:
    """Render all four microphone channels, then scale down if needed so peaks stay <= -1 dBFS."""
    seat_index = {seat: i for i, seat in enumerate(SEATS)}  # dict order = channel order
    paths = bleed_paths(rng)
    out = np.zeros((n, 4))
    for utt in utterances:
        for mic in range(4):
            gain, delay, cutoff = paths[seat_index[utt.seat], mic]
            audio = lowpass(utt.audio, cutoff) if cutoff else utt.audio
            start = utt.start + int(delay)
            out[start : start + len(audio), mic] += gain * audio
    for mic in range(4):
        out[:, mic] += room_noise(n, SEED + 1 + mic)
    return out * min(1.0, db(PEAK_DBFS) / np.abs(out).max())


def write_json(path: Path, utterances: list[Utterance], n: int) -> None:
    seats = [
        {"channel": i, "id": s, "role": s, "name": name}
        for i, (s, name) in enumerate(SEATS.items())
    ]
    records = [
        {
            "seat": u.seat,
            "t0": round(u.start / SR, 3),
            "t1": round((u.start + len(u.audio)) / SR, 3),
            "source": u.source,
            "text": u.text,
        }
        for u in utterances
    ]
    doc = {
        "title": "示例庭审（AISHELL-1 朗读语音编排的演示录音）",
        "sample_rate": SR,
        "channels": 4,
        "duration_s": round(n / SR, 3),
        "seats": seats,
        "utterances": records,
    }
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_attribution(path: Path, utterances: list[Utterance]) -> None:
    used = "\n".join(
        f"- `{u.source}` ({SPEAKER[u.seat]}, as {SEATS[u.seat]}): {u.text}" for u in utterances
    )
    path.write_text(
        f"""# Sample hearing: attribution

The speech in `hearing.flac` is Mandarin read speech from **AISHELL-1**, released by
Beijing Shell Shell Technology Co., Ltd. under the Apache License 2.0, taken from an
AISHELL sample pack. Speakers: S0150 and S0252.

The file was assembled by `scripts/make_sample_hearing.py` (fixed seed): the utterances
below were level-normalised, placed one after another as a conversation on four seat
microphones (审判长, 书记员, 原告, 被告), with attenuated, delayed bleed into the other
microphones and a synthetic low room-noise floor on each channel.

The courtroom roles are a staging: the speakers read unrelated sentences and did not take
part in any hearing. `hearing.json` gives each utterance's seat, timing and reference text.

## Utterances used ({len(utterances)}, in order of appearance)

{used}
""",
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = ROOT / "bench/speech/aishell-dev"
    parser.add_argument("--source", type=Path, default=source, help="FLACs + transcripts.tsv")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "courtbox/sample", help="output dir"
    )
    args = parser.parse_args(argv)
    rng = np.random.default_rng(SEED)
    utterances, n = build_timeline(args.source, rng)
    audio = mix(utterances, n, rng)
    args.out.mkdir(parents=True, exist_ok=True)
    flac = args.out / "hearing.flac"
    sf.write(str(flac), audio, SR, subtype="PCM_16", format="FLAC", compression_level=1.0)
    write_json(args.out / "hearing.json", utterances, n)
    write_attribution(args.out / "ATTRIBUTION.md", utterances)
    counts = ", ".join(f"{s} {sum(u.seat == s for u in utterances)}" for s in SEATS)
    print(
        f"{flac}: {n / SR:.1f} s, {len(utterances)} utterances ({counts}), "
        f"{flac.stat().st_size / 1e6:.2f} MB"
    )


if __name__ == "__main__":
    main()
