"""Stage real Mandarin speech as a hearing in a simulated courtroom (fixed seeds).

Each room is a pyroomacoustics image-source shoebox of courtroom size (10–16 × 7–11 ×
3.2–4.5 m, RT60 0.3–0.8 s). Seats sit 1–6 m apart in a courtroom's layout (the bench at the
front, the clerk beside it, the parties' tables facing it, a witness stand); each seat has its
own gooseneck microphone 25–50 cm in front of the talker, omnidirectional or cardioid, and a
room may also have a microphone array (a ring of 6 or 8 capsules, 4–5 cm radius) on the table
or the ceiling. Speech from ``bench/speech/aishell-dev`` is staged as turns: one to three
sentences a turn, hesitation pauses of 0.3–1.0 s cut into sentences at the quietest point
between words, interruptions that start before the other seat ends, genuine double talk, and
raised and quiet voices. Noise: a diffuse floor (independent at the goosenecks, which stand
metres apart; across an array's capsules, centimetres apart, as coherent as a spherically
isotropic field makes it, sinc(2fd/c)) and a localised source (a projector fan, an air
vent) rendered through the room, together at 10–30 dB SNR below the speech at the
microphones; with ``--murmur DB``, also two or three people talking among themselves in the
gallery, DB below the speech (what must give no text).

Each room becomes ``<out>/<name>/hearing.flac`` (int16; the seat microphones first, then the
array's capsules; ``hearing.wav`` past FLAC's 8 channels) and ``hearing.json``: seats with
channels, the array's geometry, the room, and every utterance with its seat, t0/t1 on the
timeline, text, and whether it overlaps another seat's (``overlap``) or holds a hesitation
(``pauses``). The same seed gives the same room, byte for byte. Speakers: AISHELL's dev set
has two (S0150, S0252); ``--speakers`` picks which to use, so rooms for tuning and rooms for
reporting can hold different voices.

    scripts/simulate_courtroom.py --out /tmp/rooms --rooms 20 --seed 100

``--layout well`` places an array in the well of the court and the seats around it, 1.5–5
m away in directions at least ``0.55 × 360° / seats`` apart (tables facing the array);
``--seats-without-mics`` leaves those seats without a gooseneck (their ``channel`` is null:
the array alone hears them); ``--snr`` and ``--rt60`` bound the draw.

    scripts/simulate_courtroom.py --out /tmp/arrays --rooms 6 --layout well --array \
        --seats-without-mics --min-seats 4 --max-seats 6 --snr 10 20 --rt60 0.3 0.7
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyroomacoustics as pra
import soundfile as sf
from pyroomacoustics.directivities import Cardioid, DirectionVector
from scipy.signal import istft, oaconvolve, stft

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from courtbox.audio.arrays import Geometry  # noqa: E402

SPEECH = ROOT / "bench" / "speech" / "aishell-dev"
SR = 16000
MAX_ORDER = 20  # image-source order: measured RT60 within ~0.05 s of the target up to 0.8 s
ROLES = [("presiding_judge", "审判长"), ("clerk", "书记员"), ("plaintiff", "原告"),
         ("defendant", "被告"), ("judge", "审判员"), ("witness", "证人"),
         ("plaintiff", "原告代理人"), ("defendant", "被告代理人")]


@dataclass
class Seat:
    id: str
    role: str
    name: str
    channel: int | None  # None: no gooseneck, only the array hears the seat
    talker: list[float]  # mouth position, metres
    mic: list[float]
    pattern: str  # "omni" or "cardioid" (pointing at the talker)
    azimuth_deg: float | None = None  # seen from the array, when the room has one


@dataclass
class Array:
    channels: list[int]
    center: list[float]
    radius_m: float
    capsules: list[list[float]]  # coordinates relative to the center, metres


@dataclass
class Line:
    seat: str
    t0: float
    t1: float
    text: str
    source: str
    gain_db: float
    pauses: list[float] = field(default_factory=list)  # hesitation lengths inside it, seconds
    overlap: bool = False


@dataclass
class Room:
    name: str
    seed: int
    dims: list[float]
    rt60_target: float
    rt60_measured: float = 0.0
    snr_db: float = 0.0
    seats: list[Seat] = field(default_factory=list)
    array: Array | None = None


def db(x: float) -> float:
    return 10 ** (x / 20)


def speech_pool(speakers: set[str]) -> list[tuple[str, str, str]]:
    rows = (SPEECH / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return sorted((r.split("\t")[0], r.split("\t")[1], r.split("\t")[2]) for r in rows
                  if r.split("\t")[1] in speakers)


def well_spots(rng: np.random.Generator, dims: list[float], center: np.ndarray, seats: int
               ) -> list[tuple[float, float]]:
    """Seats around an array in the well: 1.5–5 m away, directions well apart, inside the
    room by 0.6 m at least."""
    while True:
        az = np.sort(rng.uniform(0, 2 * np.pi, seats))
        gaps = np.diff(np.concatenate([az, az[:1] + 2 * np.pi]))
        if gaps.min() >= 0.55 * 2 * np.pi / seats:
            break
    spots = []
    for a in az:
        limit = min(5.0, *(d for d in (
            (dims[0] - 0.6 - center[0]) / np.cos(a) if np.cos(a) > 1e-6 else np.inf,
            (0.6 - center[0]) / np.cos(a) if np.cos(a) < -1e-6 else np.inf,
            (dims[1] - 0.6 - center[1]) / np.sin(a) if np.sin(a) > 1e-6 else np.inf,
            (0.6 - center[1]) / np.sin(a) if np.sin(a) < -1e-6 else np.inf)))
        r = rng.uniform(1.5, max(1.6, limit))
        spots.append((center[0] + r * np.cos(a), center[1] + r * np.sin(a)))
    return spots


def draw_room(rng: np.random.Generator, name: str, seed: int, seats: int, array: bool,
              cardioid_share: float, args: argparse.Namespace | None = None) -> Room:
    dims = [float(rng.uniform(10, 16)), float(rng.uniform(7, 11)), float(rng.uniform(3.2, 4.5))]
    rt60 = rng.uniform(*(args.rt60 if args is not None else (0.3, 0.8)))
    room = Room(name, seed, [round(d, 2) for d in dims], round(float(rt60), 2))
    length, width, _ = dims
    # The bench across the front, the clerk beside it, the parties facing it, a witness between.
    spots = [(length * 0.15, width * 0.5), (length * 0.2, width * 0.5 + rng.uniform(1.5, 2.5)),
             (length * 0.55, width * 0.5 - rng.uniform(1.2, 2.2)),
             (length * 0.55, width * 0.5 + rng.uniform(1.2, 2.2)),
             (length * 0.15, width * 0.5 - rng.uniform(1.2, 2.0)),
             (length * 0.38, width * 0.5 + rng.uniform(-0.5, 0.5)),
             (length * 0.62, width * 0.5 - rng.uniform(2.6, 3.2)),
             (length * 0.62, width * 0.5 + rng.uniform(2.6, 3.2))]
    center = np.array([length * 0.4, width * 0.5])
    well = args is not None and args.layout == "well"
    if well:
        center = np.array([length * rng.uniform(0.4, 0.5), width * rng.uniform(0.45, 0.55)])
        spots = well_spots(rng, dims, center, seats)
    no_mics = well and args.seats_without_mics
    for i in range(seats):
        x, y = spots[i]
        talker = np.array([x + rng.uniform(-0.2, 0.2), y + rng.uniform(-0.2, 0.2),
                           rng.uniform(1.15, 1.3)])
        toward = center - talker[:2]
        toward /= np.linalg.norm(toward)
        dist = rng.uniform(0.25, 0.5)
        mic = np.array([*(talker[:2] + toward * dist), talker[2] - rng.uniform(0.05, 0.2)])
        role, label = ROLES[i]
        seat_id = role if all(s.id != role for s in room.seats) else f"{role}_{i}"
        pattern = "cardioid" if rng.uniform() < cardioid_share else "omni"
        room.seats.append(Seat(seat_id, role, label, None if no_mics else i,
                               talker.round(3).tolist(), mic.round(3).tolist(), pattern))
    if array:
        first = 0 if no_mics else seats
        n = int(rng.choice([6, 8]))
        radius = float(rng.uniform(0.04, 0.05))
        height = float(rng.choice([0.8, dims[2] - 0.5]))  # on the table or on the ceiling
        c = [float(center[0]), float(center[1]), height]
        caps = [[radius * np.cos(2 * np.pi * k / n), radius * np.sin(2 * np.pi * k / n), 0.0]
                for k in range(n)]
        room.array = Array(list(range(first, first + n)), [round(v, 3) for v in c],
                           round(radius, 4), [[round(v, 5) for v in p] for p in caps])
        for s in room.seats:
            dx, dy = s.talker[0] - c[0], s.talker[1] - c[1]
            s.azimuth_deg = round(float(np.degrees(np.arctan2(dy, dx))), 1)
    return room


def hesitate(audio: np.ndarray, rng: np.random.Generator, count: int) -> tuple[np.ndarray, list]:
    """Insert ``count`` pauses of 0.3–1.0 s at the quietest 20-ms frames between words (never
    within 0.4 s of either end), as a speaker who stops to think mid-sentence."""
    frame = 320
    n = len(audio) // frame
    if n < 60 or count == 0:
        return audio, []
    energy = np.array([np.mean(audio[i * frame:(i + 1) * frame] ** 2) for i in range(n)])
    margin = 20
    order = np.argsort(energy[margin:n - margin]) + margin
    cuts: list[int] = []
    for i in order:
        if all(abs(i - c) > 25 for c in cuts):
            cuts.append(int(i))
        if len(cuts) == count:
            break
    pieces, pauses, last = [], [], 0
    for c in sorted(cuts):
        pause = float(rng.uniform(0.3, 1.0))
        pieces += [audio[last:c * frame], np.zeros(int(pause * SR), dtype=audio.dtype)]
        pauses.append(round(pause, 3))
        last = c * frame
    pieces.append(audio[last:])
    return np.concatenate(pieces), pauses


def stage(rng: np.random.Generator, room: Room, pool: list[tuple[str, str, str]],
          duration_s: float, interrupts: float = 0.12, double_talk: float = 0.06,
          min_pauses: int = 0) -> tuple[list[Line], dict[str, np.ndarray]]:
    """Turns in a hearing's rhythm; returns the lines and each seat's dry track."""
    total = int((duration_s + 10) * SR)
    dry = {s.id: np.zeros(total, dtype=np.float64) for s in room.seats}
    lines: list[Line] = []
    t, prev_end, prev_seat = 1.0, 0.0, None
    order = rng.permutation(len(pool))
    k = 0
    while t < duration_s and k < len(order):
        seat = room.seats[int(rng.integers(len(room.seats)))]
        if seat.id == prev_seat and len(room.seats) > 1:
            continue
        gain = float(rng.choice([0.0, 0.0, 0.0, 6.0, -8.0]))  # normal, raised, quiet voices
        style = rng.uniform()
        if prev_seat is not None and style < interrupts:
            start = max(1.0, prev_end - rng.uniform(0.4, 1.2))  # interrupts the other seat
        elif prev_seat is not None and style < interrupts + double_talk:
            start = max(1.0, prev_end - rng.uniform(1.5, 2.5))  # genuine double talk
        else:
            start = prev_end + rng.uniform(0.4, 1.6)
        for _ in range(int(rng.integers(1, 4))):  # one to three sentences in the turn
            if k >= len(order):
                break
            name, _, text = pool[order[k]]
            k += 1
            audio, sr = sf.read(SPEECH / name, dtype="float64")
            assert sr == SR
            audio = audio / (np.sqrt(np.mean(audio ** 2)) + 1e-9) * db(-26 + gain)
            audio, pauses = hesitate(audio, rng, max(min_pauses,
                                                     int(rng.choice([0, 0, 1, 1, 2]))))
            i0 = int(start * SR)
            if i0 + len(audio) >= total:
                break
            dry[seat.id][i0:i0 + len(audio)] += audio
            lines.append(Line(seat.id, round(start, 3), round(start + len(audio) / SR, 3), text,
                              name, gain, pauses))
            start += len(audio) / SR + rng.uniform(0.25, 0.6)
        prev_end, prev_seat = lines[-1].t1 if lines else start, seat.id
        t = prev_end
    for a in lines:
        a.overlap = any(b.seat != a.seat and b.t0 < a.t1 and a.t0 < b.t1 for b in lines)
    end = int((max(a.t1 for a in lines) + 1.5) * SR)
    return lines, {k: v[:end] for k, v in dry.items()}


def mic_positions(room: Room) -> tuple[np.ndarray, list]:
    positions, directivities = [], []
    for s in room.seats:
        if s.channel is None:
            continue
        positions.append(s.mic)
        if s.pattern == "cardioid":
            v = np.array(s.talker) - np.array(s.mic)
            az = float(np.degrees(np.arctan2(v[1], v[0])))
            col = float(np.degrees(np.arccos(v[2] / np.linalg.norm(v))))
            directivities.append(Cardioid(DirectionVector(azimuth=az, colatitude=col,
                                                          degrees=True), gain=1.0))
        else:
            directivities.append(None)
    if room.array:
        for p in room.array.capsules:
            positions.append([room.array.center[i] + p[i] for i in range(3)])
            directivities.append(None)
    return np.array(positions).T, directivities


def render(room: Room, dry: dict[str, np.ndarray], rng: np.random.Generator,
           snr: tuple[float, float] = (10.0, 30.0), murmur: np.ndarray | None = None,
           murmur_db: float = 20.0) -> np.ndarray:
    e_abs, order = pra.inverse_sabine(room.rt60_target, room.dims)
    shoebox = pra.ShoeBox(room.dims, fs=SR, materials=pra.Material(e_abs),
                          max_order=min(order, MAX_ORDER))
    for s in room.seats:
        shoebox.add_source(s.talker)
    noise_at = [room.dims[0] * rng.uniform(0.6, 0.95), room.dims[1] * rng.uniform(0.05, 0.95),
                room.dims[2] - 0.3]
    shoebox.add_source(noise_at)
    if murmur is not None:  # (drawn only then: a seed without it gives the room it gave)
        shoebox.add_source([room.dims[0] * 0.92, room.dims[1] * rng.uniform(0.2, 0.8), 1.2])
    positions, directivities = mic_positions(room)
    if any(directivities):
        for p, d in zip(positions.T, directivities, strict=True):
            shoebox.add_microphone(p, directivity=d)
    else:
        shoebox.add_microphone_array(positions)
    shoebox.compute_rir()
    room.rt60_measured = round(float(np.median(shoebox.measure_rt60()[:, :len(room.seats)])), 2)
    length = len(next(iter(dry.values())))
    out = np.zeros((length, positions.shape[1]))
    for m in range(positions.shape[1]):
        for si, s in enumerate(room.seats):
            out[:, m] += oaconvolve(dry[s.id], shoebox.rir[m][si])[:length]
    speech_rms = np.sqrt(np.mean(out[np.abs(out) > 1e-4] ** 2))
    room.snr_db = round(float(rng.uniform(*snr)), 1)
    noise_rms = speech_rms * db(-room.snr_db)
    fan = brown_noise(length, rng)
    localised = np.stack([oaconvolve(fan, shoebox.rir[m][len(room.seats)])[:length]
                          for m in range(positions.shape[1])], axis=1)
    diffuse = np.stack([brown_noise(length, rng) for _ in range(positions.shape[1])], axis=1)
    if room.array:
        capsules = len(room.array.capsules)
        diffuse[:, -capsules:] = diffuse_field(diffuse[:, -capsules:],
                                               Geometry.explicit(room.array.capsules))
    for part in (localised, diffuse):  # half the noise power from each
        out += part / (np.sqrt(np.mean(part ** 2)) + 1e-12) * noise_rms * np.sqrt(0.5)
    if murmur is not None:  # talkers in the gallery, murmur_db below the speech
        track = np.zeros(length)
        track[:min(length, len(murmur))] = murmur[:length]
        heard = np.stack([oaconvolve(track, shoebox.rir[m][len(room.seats) + 1])[:length]
                          for m in range(positions.shape[1])], axis=1)
        out += heard / (np.sqrt(np.mean(heard ** 2)) + 1e-12) * speech_rms * db(-murmur_db)
    peak = np.max(np.abs(out))
    return out * min(1.0, db(-1) / peak)


def babble(rng: np.random.Generator, pool: list[tuple[str, str, str]], n: int) -> np.ndarray:
    """Two or three people talking among themselves at once (the gallery): sentences of
    the pool end to end on each voice, summed."""
    out = np.zeros(n)
    for _ in range(int(rng.integers(2, 4))):
        at = int(rng.uniform(0, 2) * SR)
        while at < n:
            audio, _ = sf.read(SPEECH / pool[int(rng.integers(len(pool)))][0], dtype="float64")
            piece = audio[:n - at]
            out[at:at + len(piece)] += piece / (np.sqrt(np.mean(audio ** 2)) + 1e-9)
            at += len(audio) + int(rng.uniform(0.2, 1.0) * SR)
    return out


def diffuse_field(noise: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Independent noise (samples × capsules) made as coherent between the capsules of
    ``geometry`` as a spherically isotropic field is: in each frequency bin the columns are
    mixed by the square root of the coherence matrix sinc(2fd/c)."""
    freqs, _, bins = stft(noise.T, fs=SR, nperseg=1024)
    for k, coherence in enumerate(geometry.diffuse_coherence(freqs)):
        w, v = np.linalg.eigh(coherence)
        bins[:, k, :] = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T @ bins[:, k, :]
    _, mixed = istft(bins, fs=SR, nperseg=1024)
    return mixed.T[:len(noise)]


def brown_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Room-like noise: white noise tilted toward the low end (−6 dB/octave above 200 Hz)."""
    white = rng.normal(size=n)
    spectrum = np.fft.rfft(white)
    f = np.fft.rfftfreq(n, 1 / SR)
    spectrum /= np.maximum(f, 200.0) / 200.0
    return np.fft.irfft(spectrum, n)


def build(out: Path, index: int, seed: int, args: argparse.Namespace) -> Path:
    rng = np.random.default_rng(seed)
    seats = int(rng.integers(args.min_seats, args.max_seats + 1))
    room = draw_room(rng, f"room-{seed}", seed, seats, args.array, args.cardioid, args)
    lines, dry = stage(rng, room, speech_pool(set(args.speakers)), args.duration,
                       args.interrupts, args.double_talk, args.min_pauses)
    murmur = None if args.murmur is None else babble(rng, speech_pool(set(args.speakers)),
                                                    len(next(iter(dry.values()))))
    audio = render(room, dry, rng, tuple(args.snr), murmur,
                   20.0 if args.murmur is None else args.murmur)
    where = out / room.name
    where.mkdir(parents=True, exist_ok=True)
    # FLAC holds at most 8 channels: a room with more (goosenecks and an array) is a WAV.
    file = "hearing.flac" if audio.shape[1] <= 8 else "hearing.wav"
    sf.write(where / file, (audio * 32767).astype(np.int16), SR, subtype="PCM_16")
    meta = {"title": f"模拟法庭 {room.name}", "audio": file, "sample_rate": SR,
            "channels": audio.shape[1], "duration_s": round(len(audio) / SR, 3),
            "room": asdict(room) | {"seats": None},
            "seats": [asdict(s) for s in room.seats],
            "array": asdict(room.array) if room.array else None,
            "utterances": [asdict(a) for a in lines]}
    meta["room"].pop("seats")
    meta["room"].pop("array")
    (where / "hearing.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1),
                                        encoding="utf-8")
    print(f"{room.name}: {len(room.seats)} seats, RT60 {room.rt60_measured} s, SNR "
          f"{room.snr_db} dB, {len(lines)} utterances, {len(audio) / SR:.0f} s", flush=True)
    return where


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="folder for the rooms")
    p.add_argument("--rooms", type=int, default=20)
    p.add_argument("--seed", type=int, default=100, help="room i uses seed + i")
    p.add_argument("--duration", type=float, default=90.0, help="seconds of hearing per room")
    p.add_argument("--min-seats", type=int, default=4)
    p.add_argument("--max-seats", type=int, default=4)
    p.add_argument("--cardioid", type=float, default=0.0, help="share of cardioid seat mics")
    p.add_argument("--array", action="store_true", help="add a 6/8-capsule ring array")
    p.add_argument("--speakers", nargs="+", default=["S0150", "S0252"])
    p.add_argument("--min-pauses", type=int, default=0, choices=range(0, 4),
                   help="hesitations in every sentence at least (turns with pauses)")
    p.add_argument("--layout", choices=["court", "well"], default="court",
                   help="court: a courtroom's seating; well: seats around the array")
    p.add_argument("--seats-without-mics", action="store_true",
                   help="with --layout well: no gooseneck, the array alone hears the seats")
    p.add_argument("--snr", type=float, nargs=2, default=[10.0, 30.0], metavar=("MIN", "MAX"))
    p.add_argument("--rt60", type=float, nargs=2, default=[0.3, 0.8], metavar=("MIN", "MAX"))
    p.add_argument("--interrupts", type=float, default=0.12,
                   help="share of turns that start before the other seat ends")
    p.add_argument("--murmur", type=float, default=None, metavar="DB",
                   help="talkers murmuring in the gallery, DB below the speech")
    p.add_argument("--double-talk", type=float, default=0.06,
                   help="share of turns that overlap the other seat by 1.5–2.5 s")
    args = p.parse_args(argv)
    for i in range(args.rooms):
        build(args.out, i, args.seed + i, args)


if __name__ == "__main__":
    main()
