"""A mixed courtroom end to end: goosenecks on the bench, a ring array in the well.

A simulated room (``scripts/simulate_courtroom.py --layout well --array``, fixed seed: 4
seats, each with a gooseneck, and a 6/8-capsule ring) is played through PortAudio (the ALSA
file-plugin device of ``tests/audio/test_capture.py``) into ``courtbox record``. Two seats
are configured on their goosenecks, the other two only at the array (calibrated from the
room's own labels with ``courtbox array calibrate --write``); the gooseneck channels of the
array seats are captured and archived but belong to no seat. The archive holds every
channel (past 8: RF64 segments), ``courtbox verify`` passes, and the transcript's lines
fall on the seats that spoke: the goosenecks do not take the well's voices, nor the array
the bench's.
"""

from __future__ import annotations

import json
import sqlite3
import tomllib
from pathlib import Path

import numpy as np
import soundfile as sf

from courtbox.config import parse_config
from courtbox.room.seatscore import load_room_reference, seat_score
from tests.conftest import alsa_file_device, load_script, run_courtbox

ROOT = Path(__file__).resolve().parents[2]
SEED = 701


def _room(tmp_path: Path) -> Path:
    load_script("simulate_courtroom").main([
        "--out", str(tmp_path / "rooms"), "--rooms", "1", "--seed", str(SEED),
        "--array", "--layout", "well", "--min-seats", "4", "--max-seats", "4",
        "--snr", "15", "20", "--rt60", "0.3", "0.45", "--duration", "22"])
    return tmp_path / "rooms" / f"room-{SEED}"


def _config(meta: dict, device: str) -> str:
    a = meta["array"]
    lines = ['[audio]', f'device = "{device}"', 'sample_rate = 16000', 'segment_seconds = 10',
             '', '[[arrays]]', 'id = "well"', f'channels = {a["channels"]}',
             'geometry = "explicit"', f'capsules = {a["capsules"]}', '']
    for i, s in enumerate(meta["seats"]):
        lines += ["[[seats]]", f'id = "{s["id"]}"', f'role = "{s["role"]}"']
        lines += [f"channel = {s['channel']}"] if i < 2 else ['array = "well"']
        lines.append("")
    return "\n".join(lines)


def test_mixed_room_is_recorded_archived_transcribed_and_verified(tmp_path: Path) -> None:
    room = _room(tmp_path)
    meta = json.loads((room / "hearing.json").read_text(encoding="utf-8"))
    samples, rate = sf.read(room / meta["audio"], dtype="int16", always_2d=True)
    samples = samples[:len(samples) // 1600 * 1600]  # whole capture blocks
    assert samples.shape[1] > 8 and rate == 16000  # 4 goosenecks + the capsules
    home = tmp_path / "home"
    raw = tmp_path / "mics.raw"
    samples.astype("<i2").tofile(raw)
    alsa_file_device(home, "courtbox_mics", raw)
    config = tmp_path / "agent.toml"
    config.write_text(_config(meta, "courtbox_mics"), encoding="utf-8")
    env = {"HOME": str(home)}
    run_courtbox("array", "calibrate", "--config", str(config), "--array", "well", "--from",
                 str(room / "hearing.json"), "--write", env=env, timeout=300)
    checked = parse_config(tomllib.loads(config.read_text(encoding="utf-8")))
    array_seats = [s for s in checked.seats if s.array == "well"]
    assert len(array_seats) == 2 and all(s.azimuth_deg is not None for s in array_seats)
    shown = json.loads(run_courtbox("devices", "--json", "--config", str(config),
                                    env=env).stdout)
    (mics,) = [d for d in shown if d["name"] == "courtbox_mics"]
    assert mics["arrays"][0]["channels"] == meta["array"]["channels"]

    data = tmp_path / "data"
    result = run_courtbox("record", "--config", str(config), "--data-dir", str(data),
                          "--case-number", "(2026)阵列1号", "--duration",
                          f"{len(samples) / rate:g}", "--json", env=env, timeout=300)
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["frames"] == len(samples)
    segments = sorted(data.rglob("seg-*.wav"))
    decoded = np.concatenate([sf.read(str(p), dtype="int16", always_2d=True)[0]
                              for p in segments])
    assert np.array_equal(decoded, samples)  # every raw capsule and gooseneck, exactly
    verified = run_courtbox("verify", "--data-dir", str(data), timeout=120)
    assert verified.stdout.startswith("OK"), verified.stdout

    db = sqlite3.connect(data / "courtbox.db")
    seats = {row[0]: row[1] for row in db.execute("SELECT seat_id, channel FROM seats")}
    assert {s.id for s in array_seats} <= set(seats)  # each with its facing capsule
    assert all(seats[s.id] in meta["array"]["channels"] for s in array_seats)
    lines = [{"seat": seat, "t0": t0, "t1": t1, "text": text} for seat, t0, t1, text in
             db.execute("SELECT seat, t0, t1, text FROM transcript WHERE kind = 'final'")]
    score = seat_score(lines, load_room_reference(room / "hearing.json"))
    print(score)
    spoken = {u["seat"] for u in meta["utterances"]}
    assert {ln["seat"] for ln in lines} >= spoken & {s.id for s in array_seats}
    assert score["on_silent_seat"] <= 1, score
    assert score["alone_right"] >= score["alone"] - 1, score
