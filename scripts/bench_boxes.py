#!/usr/bin/env python3
"""The boxes of ``scripts/bench_central.py``: each a real box data directory, made by the
box's own record code, and served over TLS on loopback with the box's real pull API.

``make_box`` writes one box: its identity (an Ed25519 key and id), its TLS certificate
(``courtbox.sync.tls``), one hearing opened, started and closed (``courtbox.record
.hearing``), its audio through the real archive writer (``ArchiveWriter``: FLAC segments,
fsync, sha256 chain) from the sample hearing's four microphones with a ±1 LSB noise floor
of the box's own (so no two boxes' files, hashes or chains are alike) and the sample's
transcript lines of those seconds as final lines (``Store.add_final``): every outbox entry
hash-chained and signed by that box's key.

``python scripts/bench_boxes.py SPEC.json`` serves the boxes SPEC lists from one process:
each box its own uvicorn server on its own port with its own certificate, all in one event
loop, with the agent's sync router (``appliance.service.mount_sync``) on the box's real
store, writer and health report. It enrolls the collector names SPEC gives (one token per
centre the benchmark runs) and writes what the centre needs to SPEC's ``out`` (ports,
tokens, fingerprints), then serves until killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "courtbox" / "sample"
RATE = 16000
INFO = "bench-box.json"


def sample_hearing() -> tuple[np.ndarray, dict]:
    speech, rate = sf.read(str(SAMPLE / "hearing.flac"), dtype="int16")
    assert rate == RATE, rate
    return speech, json.loads((SAMPLE / "hearing.json").read_text(encoding="utf-8"))


def make_box(data_dir: Path, seed: int, seconds: int, segment_seconds: int,
             speech: np.ndarray, meta: dict) -> dict:
    """A box that recorded ``seconds`` of one hearing, transcribed it and closed it."""
    from courtbox.audio.archive import ArchiveWriter
    from courtbox.audio.types import Block
    from courtbox.config import Seat, load_config
    from courtbox.record.hearing import HearingInfo, close_hearing, open_hearing, start_hearing
    from courtbox.record.identity import open_store
    from courtbox.sync.tls import box_certificate

    store = open_store(data_dir)
    box_certificate(data_dir, store.identity.box_id)
    config = load_config(None, data_dir=data_dir)
    seats = [Seat(**s) for s in meta["seats"]]
    hid = open_hearing(store, config, HearingInfo(case_number=f"(2026)京0105民初{seed}号"),
                       actor="bench", sample_rate=RATE, seats=seats)
    start_hearing(store, hid, actor="bench", warn_clock=False)
    archive = ArchiveWriter(data_dir, hid, part=1, sample_rate=RATE, channels=len(seats),
                            segment_seconds=segment_seconds, prev_sha256=None,
                            on_segment=lambda seg: store.add_segment(seg.as_row()))
    archive.start()
    rng = np.random.default_rng(seed)
    span = seconds * RATE
    start = (seed * 7 * RATE) % (len(speech) - span)  # each box its own stretch of the hearing
    for pos in range(0, span, RATE):
        chunk = speech[start + pos:start + min(pos + RATE, span)]
        noise = rng.integers(-1, 2, size=chunk.shape, dtype=np.int16)
        archive.put(Block(pos, chunk + noise))
    archive.close()
    offset = start / RATE
    for n, u in enumerate(meta["utterances"]):
        t0, t1 = u["t0"] - offset, u["t1"] - offset
        if t0 < 0 or t1 > seconds:
            continue
        step = (t1 - t0) / max(len(u["text"]), 1)
        words = [{"w": ch, "t0": round(t0 + i * step, 2), "t1": round(t0 + (i + 1) * step, 2),
                  "p": 0.93} for i, ch in enumerate(u["text"])]
        store.add_final(hearing_id=hid, utterance_id=f"u{n:03d}", seat=u["seat"], t0=t0,
                        t1=t1, text=u["text"], words=words, avg_logprob=-0.21)
    close_hearing(store, hid, actor="bench")
    segments = store.segments(hid)
    info = {"box_id": store.identity.box_id, "fingerprint": store.identity.fingerprint,
            "seconds": seconds, "segments": len(segments),
            "bytes": sum((data_dir / s["path"]).stat().st_size for s in segments),
            "lines": store.count_finals(hid)}
    store.close()
    (data_dir / INFO).write_text(json.dumps(info), encoding="utf-8")
    return info


class BoxServer(uvicorn.Server):
    """uvicorn, as many to a loop as there are boxes: no signal handlers of its own (the
    process is stopped from outside) and a tick once a second instead of ten times."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield

    async def main_loop(self) -> None:
        while not await self.on_tick(0):  # 0: refresh the Date header every tick
            await asyncio.sleep(1.0)


class BoxWatch:
    """What the agent's ``HealthWatch`` reports for a box at rest (no room recording):
    its disk, load, memory and clock probes, database check and alarms."""

    def __init__(self, data_dir: Path, config) -> None:
        from courtbox.room.healthwatch import database_check

        self.data_dir, self.config = data_dir, config
        self.database = database_check(data_dir)

    def read(self) -> dict:
        from courtbox.hardware.health import Thresholds, alarms, read_probes

        c = self.config
        probes = read_probes(self.data_dir, channels=c.channels,
                             sample_rate=c.audio.sample_rate,
                             reserve_bytes=c.storage.reserve_mb << 20)
        probes.update(database=self.database(), dead_mics=[], model_problem=None,
                      audio_device={"present": True, "name": "bench", "message": ""},
                      lag={"archive_s": 0.0, "transcription_s": 0.0})
        probes["alarms"] = alarms(probes, Thresholds.of(c.health))
        return probes


def box_app(data_dir: Path, names: list[str]):
    """The box's pull API on its real store and writer; the tokens for ``names``."""
    from fastapi import FastAPI

    from courtbox.appliance.service import mount_sync
    from courtbox.config import load_config
    from courtbox.record.identity import open_store
    from courtbox.record.store import Store
    from courtbox.record.writer import StoreWriter
    from courtbox.sync.server import enroll, sync_lag
    from courtbox.sync.tls import box_certificate
    from courtbox.web.deps import Api

    writer = StoreWriter(open_store(data_dir))  # before the reader: it sees the WAL then
    tokens = {n: writer.call(lambda s, n=n: enroll(s, n, actor="bench")) for n in names}
    identity = writer.store.identity
    api = Api(data_dir=data_dir, store=Store.in_dir(data_dir), writer=writer,
              watch=BoxWatch(data_dir, load_config(None, data_dir=data_dir)),
              sync_lag=sync_lag)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.api = api
    cert = box_certificate(data_dir, identity.box_id)
    mount_sync(app, identity=identity, certificate=cert, data_dir=data_dir)
    return app, cert, tokens, api.read(lambda s: s.last_seq())


async def serve(spec: dict) -> None:
    servers, boxes = [], []
    for d in map(Path, spec["dirs"]):
        info = json.loads((d / INFO).read_text(encoding="utf-8"))
        app, cert, tokens, last_seq = box_app(d, spec["names"])
        server = BoxServer(uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="error", lifespan="off",
            access_log=False, ssl_certfile=str(cert.cert_path),
            ssl_keyfile=str(cert.key_path), timeout_keep_alive=30))
        servers.append(server)
        boxes.append({**info, "dir": str(d), "tokens": tokens, "records": last_seq})
        asyncio.get_running_loop().create_task(server.serve())
    while not all(s.started for s in servers):
        await asyncio.sleep(0.05)
    for box, server in zip(boxes, servers, strict=True):
        box["port"] = server.servers[0].sockets[0].getsockname()[1]
    out = Path(spec["out"])
    partial = out.with_suffix(".partial")
    partial.write_text(json.dumps(boxes), encoding="utf-8")
    partial.rename(out)  # whole or not at all: the benchmark polls for it
    await asyncio.Event().wait()


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    # A box holds a listening socket, two SQLite connections (with -wal and -shm) and the
    # collectors' connections: hundreds of boxes need more than the usual 1,024.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    started = time.monotonic()
    speech = meta = None
    for d, seed in zip(map(Path, spec["dirs"]), spec["seeds"], strict=True):
        if not (d / INFO).exists():
            if speech is None:
                speech, meta = sample_hearing()
            make_box(d, seed, spec["seconds"], spec["segment_seconds"], speech, meta)
    Path(spec["out"]).with_suffix(".made").write_text(f"{time.monotonic() - started:.1f}")
    asyncio.run(serve(spec))


if __name__ == "__main__":
    main()
