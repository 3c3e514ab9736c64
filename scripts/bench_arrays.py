"""Microphone arrays measured: the cost of direction finding plus beams, seat accuracy, and
the recogniser's CER from one capsule, oracle beams, the live array path and the gooseneck.

    # the cost of DOA + tracking + MVDR beams for 8 capsules at 16 kHz (share of one core)
    scripts/bench_arrays.py cost --seconds 60
    # seat accuracy of the array front on rooms of scripts/simulate_courtroom.py
    scripts/bench_arrays.py seats /tmp/arrays/room-*
    # CER (Whisper base, plain transcribe of each piece) on rooms with goosenecks and an array
    scripts/bench_arrays.py cer /tmp/mixed/room-*

``cer`` decodes every reference utterance over its true span (±0.3 s) from: capsule 0
(``single``), a delay-and-sum beam steered at the true seat (``oracle_ds``), an MVDR beam
with the noise learned where nobody speaks (``oracle_mvdr``), and the seat's own gooseneck
(``close``); and the live path: the array front's own utterances (its DOA, tracker, MVDR
beam and cuts), each decoded the same way and scored per seat (CER of a seat's lines in
time order against its references in time order, summed over seats).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from courtbox.audio.arrayfront import ArrayFront, ArraySeat, ArraySpec  # noqa: E402
from courtbox.audio.arrays import Geometry, SeatTracker, SrpPhat  # noqa: E402
from courtbox.audio.beams import HOP, Beams, Stft  # noqa: E402
from courtbox.audio.seats import SegmenterOptions, UtteranceCutter  # noqa: E402
from courtbox.audio.types import Block  # noqa: E402

CUT = SegmenterOptions()


def room_spec(meta: dict, beam: str = "mvdr") -> ArraySpec:
    a = meta["array"]
    center = np.array(a["center"])
    seats = []
    for s in meta["seats"]:
        d = np.array(s["talker"]) - center
        el = abs(float(np.degrees(np.arctan2(d[2], np.hypot(*d[:2])))))
        seats.append(ArraySeat(s["id"], s["azimuth_deg"] % 360, el))
    return ArraySpec("well", a["channels"], Geometry.explicit(a["capsules"]), seats, beam)


def cost(seconds: float) -> dict:
    """DOA (two hops a frame), tracking and 6 MVDR beams on 8 capsules of noise."""
    geometry = Geometry.ring(8, 0.05)
    srp = SrpPhat(geometry)
    from courtbox.audio.arrays import SeatDirection
    tracker = SeatTracker([SeatDirection(f"s{i}", i * 60.0) for i in range(6)])
    beams = Beams(geometry, [(i * 60.0, 10.0) for i in range(6)], "mvdr")
    stft = Stft(8)
    audio = np.random.default_rng(0).normal(size=(int(seconds * 16000), 8)).astype(
        np.float32) * 0.01
    t = time.process_time()
    for k in range(len(audio) // 512):
        spectra = stft.analyse(audio[k * 512:(k + 1) * 512])
        power = np.mean([srp.power(x) for x in spectra], axis=0)
        tracker.update(tracker.hits(power, srp.azimuths, True))
        if k % 4 == 0:
            beams.learn_noise(spectra)
        beams.apply(spectra)
    used = time.process_time() - t
    return {"audio_s": seconds, "cpu_s": round(used, 3),
            "share_of_one_core": round(used / seconds, 4)}


def front_utterances(room: Path, beam: str = "mvdr") -> tuple[dict, list]:
    from courtbox.transcribe.vad import SileroVad
    meta = json.loads((room / "hearing.json").read_text(encoding="utf-8"))
    data, rate = sf.read(room / meta["audio"], dtype="int16", always_2d=True)
    front = ArrayFront(room_spec(meta, beam), sample_rate=rate,
                       speech_gate=SileroVad(1).speech,
                       options=CUT, make_cutter=lambda seat: UtteranceCutter(seat, CUT))
    out = []
    for i in range(0, len(data), rate // 10):
        out += front.feed(Block(i, data[i:i + rate // 10]))
    return meta, out + front.flush()


def seats(rooms: list[Path]) -> dict:
    alone = overlapped = alone_ok = overlapped_ok = 0
    for room in rooms:
        meta, utterances = front_utterances(room)
        for ref in meta["utterances"]:
            cover: dict[str, float] = {}
            for u in utterances:
                ov = min(ref["t1"], u.speech_t1) - max(ref["t0"], u.speech_t0)
                if ov > 0:
                    cover[u.seat] = cover.get(u.seat, 0.0) + ov
            if ref["overlap"]:
                overlapped += 1
                overlapped_ok += cover.get(ref["seat"], 0) >= 0.3 * (ref["t1"] - ref["t0"])
            else:
                alone += 1
                alone_ok += bool(cover) and max(cover, key=cover.get) == ref["seat"]
        print(f"{room.name}: alone {alone_ok}/{alone}, double talk "
              f"{overlapped_ok}/{overlapped}", file=sys.stderr, flush=True)
    return {"alone": alone, "alone_right": alone_ok,
            "alone_share": round(alone_ok / max(alone, 1), 4), "double_talk": overlapped,
            "double_talk_both": overlapped_ok,
            "double_talk_share": round(overlapped_ok / max(overlapped, 1), 4)}


def oracle_beams(meta: dict, capsules: np.ndarray, kind: str) -> np.ndarray:
    """``[samples × seats]``: a beam at every true seat over the whole recording; MVDR
    learns its noise from hops where no reference utterance is going."""
    spec = room_spec(meta)
    beams = Beams(spec.geometry, [(s.azimuth_deg, s.elevation_deg) for s in spec.seats], kind)
    stft = Stft(capsules.shape[1])
    busy = np.zeros(len(capsules) // HOP + 2, dtype=bool)
    for u in meta["utterances"]:
        busy[int(u["t0"] * 16000) // HOP:int(u["t1"] * 16000) // HOP + 2] = True
    out = []
    for k in range(len(capsules) // 512):
        spectra = stft.analyse(capsules[k * 512:(k + 1) * 512])
        if not busy[2 * k]:
            beams.learn_noise(spectra)
        out.append(beams.apply(spectra))
    return np.concatenate(out)[HOP:]


def cer(rooms: list[Path]) -> dict:
    from courtbox.config import Config
    from courtbox.transcribe.engine import EngineOptions, WhisperEngine
    from courtbox.transcribe.metrics import char_errors
    from courtbox.transcribe.model import model_info
    from courtbox.transcribe.normalize import normalize_zh

    config = Config()
    model = model_info(config.model.path, config.cache_dir())
    engine = WhisperEngine(EngineOptions.from_config(config.model, model.path))

    def decode(piece: np.ndarray) -> str:
        segments, _ = engine.model.transcribe(piece.astype(np.float32), language="zh")
        return normalize_zh("".join(s.text.strip() for s in segments))

    totals: dict[str, list[int]] = {}

    def add(name: str, ref: str, hyp: str) -> None:
        e = char_errors(ref, hyp)
        t = totals.setdefault(name, [0, 0])
        t[0] += e.errors
        t[1] += e.reference_length

    for room in rooms:
        meta = json.loads((room / "hearing.json").read_text(encoding="utf-8"))
        data, _ = sf.read(room / meta["audio"], dtype="float32", always_2d=True)
        capsules = data[:, meta["array"]["channels"]]
        order = [s["id"] for s in meta["seats"]]
        channel = {s["id"]: s["channel"] for s in meta["seats"]}
        ds, mvdr = oracle_beams(meta, capsules, "ds"), oracle_beams(meta, capsules, "mvdr")
        for u in meta["utterances"]:
            a, b = max(0, int((u["t0"] - 0.3) * 16000)), int((u["t1"] + 0.3) * 16000)
            i = order.index(u["seat"])
            add("single", u["text"], decode(capsules[a:b, 0]))
            add("oracle_ds", u["text"], decode(ds[a:b, i]))
            add("oracle_mvdr", u["text"], decode(mvdr[a:b, i]))
            if channel[u["seat"]] is not None:
                add("close", u["text"], decode(data[a:b, channel[u["seat"]]]))
        _, utterances = front_utterances(room)
        for seat in order:
            ref = "".join(u["text"] for u in sorted(meta["utterances"], key=lambda u: u["t0"])
                          if u["seat"] == seat)
            hyp = "".join(decode(u.audio) for u in sorted(utterances, key=lambda u: u.start)
                          if u.seat == seat)
            add("live", ref, hyp)
        print(room.name, {k: round(v[0] / max(v[1], 1), 4) for k, v in totals.items()},
              file=sys.stderr, flush=True)
    return {k: {"errors": v[0], "chars": v[1], "cer": round(v[0] / max(v[1], 1), 4)}
            for k, v in totals.items()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    c = sub.add_parser("cost")
    c.add_argument("--seconds", type=float, default=60.0)
    for name in ("seats", "cer"):
        sub.add_parser(name).add_argument("rooms", nargs="+", type=Path)
    args = p.parse_args(argv)
    result = (cost(args.seconds) if args.what == "cost" else
              seats(args.rooms) if args.what == "seats" else cer(args.rooms))
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
