#!/usr/bin/env python3
"""Sync benchmark: one collector pulling from many boxes, and one box's long backlog.

Boxes are real: each has its own data directory, made by the real archive writer
(``ArchiveWriter``: FLAC segments, fsync, sha256 chain) and the real store (hash-chained,
Ed25519-signed outbox) from real speech (the sample hearing's microphones, looped, with a
different noise floor per segment so that no two files are alike), and is served by the
agent's real FastAPI app with its sync API, each on its own loopback port under uvicorn,
over TLS with its own certificate as ``courtbox run`` serves it.
The collector is ``courtbox central run --once`` in its own process, as at a court, into
the centre's real engines: a PostgreSQL cluster and a SeaweedFS S3 store with Object Lock,
started on loopback by ``scripts/central_local.py`` for the run.

Reports, for ``--boxes`` boxes of ``--minutes`` each: records/s, MB/s and the wall time to
pull everything; and for one box holding ``--backlog-hours`` of ``--channels``-channel audio
(default 24 h: three court days of eight hours), the time to drain it.

Usage: scripts/bench_sync.py [--boxes 50] [--minutes 10] [--backlog-hours 24]
                             [--channels 8] [--concurrency 8] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import multiprocessing
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "courtbox" / "sample" / "hearing.flac"
RATE = 16000


def make_box(data_dir: Path, minutes: float, channels: int, seed: int) -> dict:
    """A box that recorded one hearing of ``minutes`` and closed it."""
    from courtbox.audio.archive import ArchiveWriter
    from courtbox.audio.types import Block
    from courtbox.config import Seat, load_config
    from courtbox.record.hearing import HearingInfo, close_hearing, open_hearing, start_hearing
    from courtbox.record.identity import open_store

    store = open_store(data_dir)
    config = load_config(None, data_dir=data_dir)
    seats = [Seat(channel=c, id=f"seat_{c}", role="other", name=f"席位{c}")
             for c in range(channels)]
    hid = open_hearing(store, config, HearingInfo(case_number=f"bench-{seed}"),
                       actor="bench", sample_rate=RATE, seats=seats)
    start_hearing(store, hid, actor="bench")
    speech, _ = sf.read(str(SAMPLE), dtype="int16")
    lanes = np.stack([np.roll(speech[:, c % speech.shape[1]], (c // 4) * RATE * 7)
                      for c in range(channels)], axis=1)
    rng = np.random.default_rng(seed)
    archive = ArchiveWriter(data_dir, hid, part=1, sample_rate=RATE, channels=channels,
                            segment_seconds=60, prev_sha256=None,
                            on_segment=lambda seg: store.add_segment(seg.as_row()))
    archive.start()
    total, pos, block = int(minutes * 60 * RATE), 0, RATE * 10
    while pos < total:
        n = min(block, total - pos)
        idx = (np.arange(pos, pos + n) % len(lanes))
        noise = rng.integers(-1, 2, size=(n, channels), dtype=np.int16)  # ±1 LSB: unique
        archive.put(Block(pos, lanes[idx] + noise))
        pos += n
        while archive.queue.qsize() > 20:  # hold memory down: the writer sets the pace
            time.sleep(0.01)
    archive.close()
    close_hearing(store, hid, actor="bench")
    out = {"box_id": store.identity.box_id, "fingerprint": store.identity.fingerprint,
           "records": store.last_seq(),
           "bytes": sum((data_dir / s["path"]).stat().st_size for s in store.segments(hid))}
    store.close()
    return out


def serve_boxes(dirs: list[Path], ports_file: Path) -> None:
    """Serve every box's real app on its own port, over TLS, until killed."""
    import uvicorn

    from courtbox.appliance.service import mount_sync
    from courtbox.record.identity import open_store
    from courtbox.room.healthwatch import database_check
    from courtbox.sync.server import enroll, sync_lag
    from courtbox.sync.tls import box_certificate
    from courtbox.web.app import create_app

    async def main() -> None:
        servers, tokens = [], []
        for d in dirs:
            store = open_store(d)
            tokens.append(enroll(store, "bench", actor="bench"))
            identity = store.identity
            store.close()
            cert = box_certificate(d, identity.box_id)
            app = create_app(d, database=database_check(d), sync_lag=sync_lag)
            mount_sync(app, identity=identity, certificate=cert, data_dir=d)
            server = uvicorn.Server(uvicorn.Config(
                app, host="127.0.0.1", port=0, log_level="error", lifespan="off",
                ssl_certfile=str(cert.cert_path), ssl_keyfile=str(cert.key_path)))
            servers.append(server)
            asyncio.create_task(server.serve())
        while not all(s.started for s in servers):
            await asyncio.sleep(0.05)
        ports = [s.servers[0].sockets[0].getsockname()[1] for s in servers]
        partial = ports_file.with_suffix(".partial")
        partial.write_text(json.dumps({"ports": ports, "tokens": tokens}))
        partial.rename(ports_file)  # whole or not at all: the reader polls for it
        await asyncio.Event().wait()

    asyncio.run(main())


def local_centre(root: Path):
    """A PostgreSQL and a SeaweedFS of scripts/central_local.py, and the central TOML."""
    spec = importlib.util.spec_from_file_location("central_local",
                                                  ROOT / "scripts" / "central_local.py")
    local = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(local)
    pg = local.LocalPostgres(root / "pg", fast=False)
    weed = local.LocalSeaweed(root / "seaweedfs")
    config = root / "central.toml"
    config.write_text(local.CONFIG.format(dsn=pg.dsn(), root=root, endpoint=weed.endpoint),
                      encoding="utf-8")
    return pg, weed, config


def pull(boxes: list[dict], dirs: list[Path], central: Path, concurrency: int) -> dict:
    ports_file = central.parent / f"ports-{central.name}.json"
    central.mkdir(parents=True, exist_ok=True)
    central.chmod(0o755)
    pg, weed, config = local_centre(central)
    server = multiprocessing.get_context("spawn").Process(
        target=serve_boxes, args=(dirs, ports_file), daemon=True)
    server.start()
    try:
        while not ports_file.exists():
            time.sleep(0.1)
        served = json.loads(ports_file.read_text())
        exe = shutil.which("courtbox", path=str(Path(sys.executable).parent)) or "courtbox"
        subprocess.run([exe, "central", "migrate", "--config", str(config)], check=True,
                       capture_output=True)
        for box, port, token in zip(boxes, served["ports"], served["tokens"], strict=True):
            subprocess.run([exe, "central", "add-box", f"https://127.0.0.1:{port}", "--token",
                            token, "--fingerprint", box["fingerprint"], "--config",
                            str(config)], check=True, capture_output=True)
        started = time.monotonic()
        result = subprocess.run([exe, "central", "run", "--once", "--concurrency",
                                 str(concurrency), "--config", str(config)],
                                capture_output=True, text=True)
        wall = time.monotonic() - started
    finally:
        server.kill()
        weed.stop()
        pg.stop()
    if result.returncode != 0:
        sys.exit(f"collector failed:\n{result.stdout}{result.stderr}")
    records = sum(b["records"] for b in boxes)
    size = sum(b["bytes"] for b in boxes)
    return {"boxes": len(boxes), "records": records, "bytes": size,
            "wall_s": round(wall, 2), "records_per_s": round(records / wall, 1),
            "mb_per_s": round(size / wall / 1e6, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boxes", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=10.0, help="Audio per box.")
    parser.add_argument("--backlog-hours", type=float, default=24.0)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report: dict = {}
    with tempfile.TemporaryDirectory(prefix="courtbox-bench-sync-") as tmp:
        tmp = Path(tmp)
        tmp.chmod(0o755)  # PostgreSQL runs as nobody when we are root: it must reach its folder
        if args.boxes:
            t = time.monotonic()
            dirs = [tmp / f"box{i:03d}" for i in range(args.boxes)]
            boxes = [make_box(d, args.minutes, 4, i) for i, d in enumerate(dirs)]
            made = time.monotonic() - t
            report["fleet"] = {**pull(boxes, dirs, tmp / "central-fleet", args.concurrency),
                               "minutes_per_box": args.minutes, "channels": 4,
                               "made_in_s": round(made, 1)}
            for d in dirs:
                shutil.rmtree(d)
        if args.backlog_hours:
            t = time.monotonic()
            d = tmp / "backlog"
            box = make_box(d, args.backlog_hours * 60, args.channels, 10_000)
            made = time.monotonic() - t
            drained = pull([box], [d], tmp / "central-backlog", args.concurrency)
            report["backlog"] = {**drained, "hours": args.backlog_hours,
                                 "channels": args.channels, "made_in_s": round(made, 1)}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    if "fleet" in report:
        f = report["fleet"]
        print(f"{f['boxes']} boxes × {f['minutes_per_box']:g} min ({f['channels']} ch): "
              f"{f['records']} records, {f['bytes'] / 1e6:.0f} MB pulled, verified and "
              f"acknowledged in {f['wall_s']} s: {f['records_per_s']} records/s, "
              f"{f['mb_per_s']} MB/s")
    if "backlog" in report:
        b = report["backlog"]
        print(f"backlog of {b['hours']:g} h × {b['channels']} ch ({b['bytes'] / 1e9:.2f} GB,"
              f" {b['records']} records) drained in {b['wall_s']} s ({b['mb_per_s']} MB/s)")


if __name__ == "__main__":
    main()
