"""Microphone arrays measured: the cost of direction finding plus beams, seat accuracy, and
the recogniser's CER from one capsule, oracle beams, the live array path and the gooseneck.

    # the cost of DOA + tracking + beams + per-seat VAD, 8 capsules at 16 kHz (one core)
    scripts/bench_arrays.py cost --seconds 60
    # seat accuracy of the array front on rooms of scripts/simulate_courtroom.py
    scripts/bench_arrays.py seats /tmp/arrays/room-*
    # CER (Whisper base, each piece decoded as a final line) on rooms with an array
    scripts/bench_arrays.py cer /tmp/mixed/room-*

``cer`` decodes every reference utterance over its true span (±0.3 s) from: capsule 0
(``single``), a delay-and-sum beam steered at the true seat (``oracle_ds``), an MVDR beam
with the noise learned where nobody speaks (``oracle_mvdr``), a superdirective beam
(``oracle_sd``: MVDR against a diffuse field, ``audio.beams``), and the seat's own gooseneck
(``close``); and the live path (``live_ds``, ``live_mvdr``, ``live_sd``): the array front's own
utterances (its DOA, tracker, beam and cuts; the seats at their true directions, as a
calibration sets them), each decoded the same way and scored per seat by
``courtbox.room.seatscore`` (CER of a seat's lines in time order against its references in
time order, summed over seats; and the seat of each utterance). Decodes are cached by the
audio's hash (``--cache``), so a rerun decodes only what changed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from courtbox.audio.arrayfront import ArrayFront, ArraySeat, ArraySpec  # noqa: E402
from courtbox.audio.arrays import Geometry, SeatDirection, SeatTracker, SrpPhat  # noqa: E402
from courtbox.audio.beams import HOP, Beams, Stft  # noqa: E402
from courtbox.audio.seats import SegmenterOptions, UtteranceCutter  # noqa: E402
from courtbox.audio.types import Block, Utterance  # noqa: E402
from courtbox.room.seatscore import (  # noqa: E402
    RefUtterance,
    RoomReference,
    seat_accuracy,
    seat_score,
)

CUT = SegmenterOptions()
LIVE = ("live_ds", "live_mvdr", "live_sd")


def room_spec(meta: dict, beam: str = "sd") -> ArraySpec:
    """The room's array, its seats at their true directions; ``beam``: sd, mvdr or ds."""
    a = meta["array"]
    center = np.array(a["center"])
    seats = []
    for s in meta["seats"]:
        d = np.array(s["talker"]) - center
        el = abs(float(np.degrees(np.arctan2(d[2], np.hypot(*d[:2])))))
        seats.append(ArraySeat(s["id"], s["azimuth_deg"] % 360, el))
    return ArraySpec("well", a["channels"], Geometry.explicit(a["capsules"]), seats, beam)


def reference(meta: dict) -> RoomReference:
    return RoomReference(tuple((s["channel"] or 0, s["id"]) for s in meta["seats"]),
                         tuple(RefUtterance(u["seat"], u["t0"], u["t1"], u["text"])
                               for u in meta["utterances"]))


def lines_of(utterances: list[Utterance], texts: list[str] | None = None) -> list[dict]:
    """Utterances as the final lines ``seatscore`` reads."""
    return [{"seat": u.seat, "t0": u.t0, "t1": u.t1, "speech_t0": u.speech_t0,
             "speech_t1": u.speech_t1, "text": texts[i] if texts else ""}
            for i, u in enumerate(utterances)]


def cost(seconds: float, beam: str) -> dict:
    """DOA (two hops a frame), tracking, 6 beams and 6 VAD streams on 8 capsules."""
    from courtbox.transcribe.vad import SileroVad

    geometry = Geometry.ring(8, 0.05)
    srp = SrpPhat(geometry)
    tracker = SeatTracker([SeatDirection(f"s{i}", i * 60.0) for i in range(6)])
    beams = Beams(geometry, [(i * 60.0, 10.0) for i in range(6)], beam)
    vad = SileroVad(6)
    stft = Stft(8)
    audio = np.random.default_rng(0).normal(size=(int(seconds * 16000), 8)).astype(
        np.float32) * 0.01
    used = {"doa_beams": 0.0, "vad": 0.0}
    for k in range(len(audio) // 512):
        t = time.process_time()
        spectra = stft.analyse(audio[k * 512:(k + 1) * 512])
        power = np.mean([srp.power(x) for x in spectra], axis=0)
        tracker.update(tracker.hits(power, srp.azimuths, True))
        if k % 4 == 0:
            beams.learn_noise(spectra)
        out = beams.apply(spectra)
        used["doa_beams"] += time.process_time() - t
        t = time.process_time()
        vad.speech(out)
        used["vad"] += time.process_time() - t
    return {"audio_s": seconds, "beam": beam,
            **{f"{k}_share_of_one_core": round(v / seconds, 4) for k, v in used.items()}}


def front_utterances(room: Path, beam: str = "sd") -> tuple[dict, list[Utterance]]:
    from courtbox.transcribe.vad import SileroVad

    meta = json.loads((room / "hearing.json").read_text(encoding="utf-8"))
    data, rate = sf.read(room / meta["audio"], dtype="int16", always_2d=True)
    spec = room_spec(meta, beam)
    front = ArrayFront(spec, sample_rate=rate, speech_gate=SileroVad(len(spec.seats)).speech,
                       options=CUT, make_cutter=lambda seat: UtteranceCutter(seat, CUT))
    out = []
    for i in range(0, len(data), rate // 10):
        out += front.feed(Block(i, data[i:i + rate // 10]))
    return meta, out + front.flush()


def seats(rooms: list[Path]) -> dict:
    total: dict[str, int] = {}
    for room in rooms:
        meta, utterances = front_utterances(room)
        got = seat_accuracy(lines_of(utterances), reference(meta))
        total = {k: total.get(k, 0) + v for k, v in got.items()}
        print(room.name, got, file=sys.stderr, flush=True)
    return {**total, "alone_share": round(total["alone_right"] / max(total["alone"], 1), 4),
            "overlapped_share": round(total["overlapped_right"]
                                      / max(total["overlapped"], 1), 4)}


def oracle_beams(meta: dict, capsules: np.ndarray, kind: str) -> np.ndarray:
    """``[samples × seats]``: a beam at every true seat over the whole recording; MVDR
    learns its noise from hops where no reference utterance is going."""
    spec = room_spec(meta, kind)
    beams = Beams(spec.geometry, [(s.azimuth_deg, s.elevation_deg) for s in spec.seats],
                  spec.beam)
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


class Decoder:
    """Whisper base as courtbox decodes a final line (``WhisperEngine.recognize``: beam 5,
    temperature 0, the hallucination and loop guards, the configured prompt and hotwords),
    each piece decoded once (cached). Plain ``transcribe`` (temperature fallback, no
    guards) let one invented loop outweigh a room: 230 % CER on one room for one beam."""

    def __init__(self, cache: Path) -> None:
        from courtbox.config import Config
        from courtbox.transcribe.engine import EngineOptions, WhisperEngine
        from courtbox.transcribe.model import model_info

        config = Config()
        model = model_info(config.model.path, config.cache_dir())
        self.engine = WhisperEngine(EngineOptions.from_config(config.model, model.path))
        self.cache_path = cache
        self.cache = json.loads(cache.read_text()) if cache.is_file() else {}

    def __call__(self, piece: np.ndarray) -> str:
        piece = np.ascontiguousarray(piece, dtype=np.float32)
        key = "final:" + hashlib.sha1(piece.tobytes()).hexdigest()
        if key not in self.cache:
            self.cache[key] = self.engine.recognize(piece).text
            if len(self.cache) % 10 == 0:
                self.save()
        return self.cache[key]

    def save(self) -> None:
        if self.cache_path.is_file():  # another run's decodes too
            self.cache = json.loads(self.cache_path.read_text()) | self.cache
        tmp = self.cache_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.cache, ensure_ascii=False))
        tmp.replace(self.cache_path)


def room_cer(room: Path, decode: Decoder, variants: set[str]) -> dict[str, list[int]]:
    from courtbox.transcribe.metrics import char_errors

    totals: dict[str, list[int]] = {}

    def add(name: str, ref: str, hyp: str) -> None:
        e = char_errors(ref, hyp)
        t = totals.setdefault(name, [0, 0])
        t[0] += e.errors
        t[1] += e.reference_length

    meta = json.loads((room / "hearing.json").read_text(encoding="utf-8"))
    data, _ = sf.read(room / meta["audio"], dtype="float32", always_2d=True)
    capsules = data[:, meta["array"]["channels"]]
    order = [s["id"] for s in meta["seats"]]
    channel = {s["id"]: s["channel"] for s in meta["seats"]}
    oracles = {k: oracle_beams(meta, capsules, k[7:]) for k in sorted(variants)
               if k.startswith("oracle_")}
    for u in meta["utterances"]:
        a, b = max(0, int((u["t0"] - 0.3) * 16000)), int((u["t1"] + 0.3) * 16000)
        i = order.index(u["seat"])
        if "single" in variants:
            add("single", u["text"], decode(capsules[a:b, 0]))
        for name, beams in oracles.items():
            add(name, u["text"], decode(beams[a:b, i]))
        if "close" in variants and channel[u["seat"]] is not None:
            add("close", u["text"], decode(data[a:b, channel[u["seat"]]]))
    for name in sorted(v for v in variants if v.startswith("live_")):
        _, utterances = front_utterances(room, name[5:])
        lines = [ln for ln in lines_of(utterances, [decode(u.audio) for u in utterances])
                 if ln["text"]]
        score = seat_score(lines, reference(meta))
        totals[name] = [sum(e for e, _ in score["per_seat"].values()),
                        sum(n for _, n in score["per_seat"].values())]
        for k in ("lines", "on_silent_seat", "alone", "alone_right", "overlapped",
                  "overlapped_right"):
            totals[f"{name}_{k}"] = [score[k], 0]
    return totals


def cer(rooms: list[Path], variants: set[str], cache: Path) -> dict:
    decode = Decoder(cache)
    totals: dict[str, list[int]] = {}
    try:
        for room in rooms:
            got = room_cer(room, decode, variants)
            for k, v in got.items():
                t = totals.setdefault(k, [0, 0])
                t[0] += v[0]
                t[1] += v[1]
            print(room.name, {k: round(v[0] / v[1], 4) if v[1] else v[0]
                              for k, v in got.items()}, file=sys.stderr, flush=True)
    finally:
        decode.save()
    return {k: {"errors": v[0], "chars": v[1], "cer": round(v[0] / v[1], 4)} if v[1]
            else v[0] for k, v in totals.items()}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    c = sub.add_parser("cost")
    c.add_argument("--seconds", type=float, default=60.0)
    c.add_argument("--beam", choices=["ds", "mvdr", "sd"], default="sd")
    sub.add_parser("seats").add_argument("rooms", nargs="+", type=Path)
    e = sub.add_parser("cer")
    e.add_argument("rooms", nargs="+", type=Path)
    e.add_argument("--variants", nargs="+", default=["single", "oracle_ds", "oracle_mvdr",
                                                      "oracle_sd", "close", *LIVE])
    e.add_argument("--cache", type=Path, default=Path("/tmp/bench_arrays_decodes.json"))
    args = p.parse_args(argv)
    result = (cost(args.seconds, args.beam) if args.what == "cost" else
              seats(args.rooms) if args.what == "seats" else
              cer(args.rooms, set(args.variants), args.cache))
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
