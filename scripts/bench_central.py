#!/usr/bin/env python3
"""The centre's benchmark: ``--boxes`` real boxes pulled by one, then two, real collectors
into PostgreSQL and SeaweedFS, and what a court of ``--court-boxes`` boxes needs from it.

Every box is its own data directory (``scripts/bench_boxes.py``: its own Ed25519 identity,
TLS certificate and signed, hash-chained record of one hearing with FLAC audio and
transcript lines, written by the box's own record code), served over TLS on loopback by a
few processes that each run many uvicorn servers in one event loop with the agent's real
sync API. The centre is a PostgreSQL cluster and a SeaweedFS S3 store started by
``scripts/central_local.py`` (or ``--database``/``--s3``: existing ones), and the
collectors are ``courtbox central run`` processes. For each ``--collectors`` count, on a
fresh database and bucket:

1. **ingest**: the collectors start on boxes never pulled; the time until every record
   is in PostgreSQL and every audio file in the bucket and acknowledged gives records/s
   and MB/s, with the collectors' CPU per MB;
2. **steady state** for ``--seconds``: boxes pulled every ``--interval`` s (heartbeats
   only); sampled every second: heartbeat age of every box (p50/p95), pulls, full sweeps
   (every box's heartbeat renewed), CPU of collectors, PostgreSQL, SeaweedFS and the box
   servers, collector RSS;
3. **full sweep**: the collectors stopped, then as many ``courtbox central run --once``
   processes pull every box once as fast as they can: the time for a sweep of all
   heartbeats and its CPU;
4. database size (per table group) and bucket size, per box-hour recorded.

From those, the sizing of a court of ``--court-boxes`` boxes recording ``--hours-per-day``
hours on ``--days-per-year`` days at ``--gb-per-hour``.

    .venv/bin/python scripts/bench_central.py --boxes 1000 --seconds 60 --json out.json

Every process it starts is stopped at the end, on Ctrl-C and on SIGTERM too. Beside it:
``bench_boxes.py`` (the boxes), ``bench_centre.py`` (PostgreSQL and S3), ``bench_processes
.py`` (CPU, RSS, stopping), ``bench_sizing.py`` (sizes per box-hour, the court's machines).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))
import bench_sizing as sizing  # noqa: E402  (beside this script)
from bench_centre import Centre  # noqa: E402
from bench_processes import Meter, Processes, proc_cpu, proc_rss, tree_cpu  # noqa: E402

BOXES_PER_SERVER = 250


def courtbox_exe() -> list[str]:
    exe = shutil.which("courtbox", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "courtbox.cli.main"]


# -- the boxes --------------------------------------------------------------------------

def start_boxes(args, work: Path, procs: Processes, names: list[str]) -> tuple[list, dict]:
    """Make (or reuse) and serve the boxes; their ports, tokens and contents."""
    n_servers = args.servers or max(1, math.ceil(args.boxes / BOXES_PER_SERVER))
    started, outs = time.monotonic(), []
    for k in range(n_servers):
        idx = list(range(k, args.boxes, n_servers))
        out = work / f"served-{k}.json"
        for stale in (out, out.with_suffix(".made")):
            stale.unlink(missing_ok=True)
        spec = {"dirs": [str(work / "boxes" / f"box{i:05d}") for i in idx], "seeds": idx,
                "names": names, "seconds": args.audio_seconds,
                "segment_seconds": args.segment_seconds, "out": str(out)}
        (work / f"serve-{k}.json").write_text(json.dumps(spec), encoding="utf-8")
        outs.append(out)
        procs.start([sys.executable, str(ROOT / "scripts" / "bench_boxes.py"),
                     str(work / f"serve-{k}.json")], work / f"serve-{k}.log")
    servers = procs.procs[-n_servers:]
    while not all(o.exists() for o in outs):
        for p in servers:
            if p.poll() is not None:
                sys.exit(f"a box server exited {p.returncode}: see {work}/serve-*.log")
        time.sleep(0.2)
    made = max(float(o.with_suffix(".made").read_text()) for o in outs)
    boxes = [b for o in outs for b in json.loads(o.read_text(encoding="utf-8"))]
    return boxes, {"servers": n_servers, "made_s": round(made, 1),
                   "ready_s": round(time.monotonic() - started, 1),
                   "pids": [p.pid for p in servers]}


# -- one centre, one count of collectors ------------------------------------------------

def add_boxes(config: Path, boxes: list[dict], name: str) -> None:
    """What ``courtbox central migrate`` and then ``add-box`` for every box do, in this one
    process (``CentralStore.migrate``, ``ensure_bucket``, ``add_box``)."""
    from courtbox.central.config import load_central_config
    from courtbox.central.store import CentralStore

    store = CentralStore(load_central_config(config), pool_size=2)
    try:
        store.migrate()
        store.objects.ensure_bucket()
        for b in boxes:
            store.add_box(f"https://127.0.0.1:{b['port']}", b["tokens"][name], b["fingerprint"])
    finally:
        store.close()


def counts(conn) -> tuple[int, int]:
    return conn.execute("SELECT (SELECT COUNT(*) FROM entries), (SELECT COUNT(*) FROM"
                        " box_objects WHERE acked_at IS NOT NULL)").fetchone()


def ingest(conn, meter: Meter, boxes: list[dict], timeout: float) -> dict:
    want = (sum(b["records"] for b in boxes), sum(b["segments"] for b in boxes))
    deadline = time.monotonic() + timeout
    while (have := counts(conn)) != want:
        if time.monotonic() > deadline:
            sys.exit(f"ingest not done in {timeout} s: {have} of {want} (records, audio)")
        time.sleep(0.25)
    lap = meter.lap()
    size = sum(b["bytes"] for b in boxes)
    return {"records": want[0], "audio_files": want[1], "bytes": size,
            "wall_s": round(lap["wall"], 2),
            "records_per_s": round(want[0] / lap["wall"], 1),
            "mb_per_s": round(size / lap["wall"] / 1e6, 2),
            "cpu_s": {k: sizing.rounded(v) for k, v in lap.items() if k != "wall"}}


def steady(conn, meter: Meter, collectors: list, seconds: float) -> dict:
    """Heartbeat ages, pulls, sweeps, CPU and RSS while the collectors pull every box
    every interval."""
    meter.lap()
    ages: list[float] = []
    pulls, sweeps, rss = 0, [], 0
    mark = last = conn.execute("SELECT now()").fetchone()[0]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(1.0)
        now, oldest, done, batch = conn.execute(
            "SELECT now(), (SELECT min(heartbeat_at) FROM boxes),"
            " (SELECT COUNT(*) FROM box_leases WHERE done_at > %s),"
            " (SELECT array_agg(extract(epoch FROM now() - heartbeat_at)::float8)"
            "  FROM boxes)", [last]).fetchone()
        pulls += done
        last = now
        ages += batch or []
        if oldest is not None and oldest >= mark:
            sweeps.append((now - mark).total_seconds())
            mark = now
        rss = max(rss, sum(proc_rss(p.pid) for p in collectors))
    lap = meter.lap()
    return {"seconds": round(lap["wall"], 1), "pulls": pulls,
            "pulls_per_s": round(pulls / lap["wall"], 1),
            "heartbeat_age_s": sizing.percentiles(ages),
            "sweeps_s": [round(s, 1) for s in sweeps],
            "cpu_s": {k: sizing.rounded(v) for k, v in lap.items() if k != "wall"},
            "collector_rss_mb": round(rss / 2**20, 1)}


def sweep_once(config: Path, work: Path, tag: str, n: int, concurrency: int) -> dict:
    """``n`` ``courtbox central run --once`` processes together: every box pulled once."""
    started = time.monotonic()
    logs = [work / f"once-{tag}-{k}.log" for k in range(n)]
    procs = []
    for k, log in enumerate(logs):
        with log.open("wb") as out:
            procs.append(subprocess.Popen(
                [*courtbox_exe(), "central", "run", "--once", "--concurrency",
                 str(concurrency), "--config", str(config), "--data-dir",
                 str(work / f"once-{tag}-{k}")], stdout=out, stderr=subprocess.STDOUT))
    cpu, rss, failed = 0.0, 0, []
    try:
        for p, log in zip(procs, logs, strict=True):
            _, status, usage = os.wait4(p.pid, 0)  # its own CPU and peak RSS
            p.returncode = os.waitstatus_to_exitcode(status)
            cpu += usage.ru_utime + usage.ru_stime
            rss = max(rss, usage.ru_maxrss * 1024)
            if p.returncode:
                failed.append(log.read_text(errors="replace")[-2000:])
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                p.wait()
    if failed:
        sys.exit(f"courtbox central run --once failed:\n{failed[0]}")
    return {"wall_s": round(time.monotonic() - started, 2), "collector_cpu_s": round(cpu, 2),
            "collector_rss_mb": round(rss / 2**20, 1)}


def phase(args, centre: Centre, work: Path, boxes: list[dict], server_pids: list[int],
          n: int) -> dict:
    tag = f"c{n}"
    dsn, config = centre.new(work, tag, args.interval, args.concurrency)
    add_boxes(config, boxes, f"bench-{tag}")
    procs = Processes()
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        db0 = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        pg = centre.postmaster()
        weed = centre.weed.proc.pid if centre.weed else None
        collectors = []
        meter = Meter({"collectors": lambda: sum(proc_cpu(p.pid) for p in collectors),
                       "postgres": lambda: tree_cpu(pg),
                       "seaweedfs": lambda: proc_cpu(weed) if weed else None,
                       "box_servers": lambda: sum(proc_cpu(p) for p in server_pids)})
        for k in range(n):
            collectors.append(procs.start(
                [*courtbox_exe(), "central", "run", "--config", str(config), "--data-dir",
                 str(work / f"collector-{tag}-{k}")], work / f"collector-{tag}-{k}.log"))
        report = {"collectors": n, "ingest": ingest(conn, meter, boxes, args.ingest_timeout)}
        report["steady"] = steady(conn, meter, collectors, args.seconds)
        stopping = time.monotonic()
        procs.stop(signal.SIGINT)
        report["collectors_stopped_in_s"] = round(time.monotonic() - stopping, 1)
        report["sweep"] = sweep_once(config, work, tag, n, args.concurrency)
        report["sizes"] = sizing.sizes(conn, db0, centre.endpoint, config, boxes)
        report["per_1000_boxes"] = sizing.per_thousand(report, len(boxes), args.interval)
        problems = conn.execute("SELECT (SELECT COUNT(*) FROM quarantine), (SELECT COUNT(*)"
                                " FROM boxes WHERE last_error IS NOT NULL)").fetchone()
        report["quarantined"], report["box_errors"] = problems
    finally:
        procs.stop(signal.SIGINT)
        conn.close()
    return report


# -- the run ----------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boxes", type=int, default=1000, help="Boxes served (default 1000).")
    ap.add_argument("--collectors", default="1,2",
                    help="Collector counts to run, each on a fresh centre (default 1,2).")
    ap.add_argument("--seconds", type=float, default=60, help="Steady state per count.")
    ap.add_argument("--interval", type=float, default=10,
                    help="Seconds between two pulls of a box (collector.interval_s).")
    ap.add_argument("--concurrency", type=int, default=16, help="Boxes per collector at once.")
    ap.add_argument("--audio-seconds", type=int, default=15, help="Recorded per box.")
    ap.add_argument("--segment-seconds", type=int, default=5, help="Per audio file.")
    ap.add_argument("--servers", type=int, default=0,
                    help=f"Box server processes (0: one per {BOXES_PER_SERVER} boxes).")
    ap.add_argument("--workdir", type=Path, default=None,
                    help="Kept: boxes made there are reused by the next run (default: a "
                    "temporary folder, removed).")
    ap.add_argument("--database", default=None, help="DSN of an existing PostgreSQL "
                    "(a superuser's: a database per run is created and dropped there); "
                    "default: a local cluster in the work folder.")
    ap.add_argument("--s3", default=None, help="Endpoint of an existing S3 store with "
                    "Object Lock; default: a local SeaweedFS in the work folder.")
    ap.add_argument("--ingest-timeout", type=float, default=600)
    ap.add_argument("--calibration", type=Path, default=None, metavar="REPORT",
                    help="The JSON report of a run with minute-long files (--boxes 20 "
                    "--audio-seconds 300 --segment-seconds 60): splits the data's CPU "
                    "into per record and per MB for the court's sizing.")
    ap.add_argument("--from-report", type=Path, default=None, metavar="REPORT",
                    help="Run nothing: size the court again from this JSON report.")
    ap.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                    help="Write the report as JSON to FILE (or stdout).")
    sizing.add_arguments(ap)
    return ap.parse_args(argv)


def run(args: argparse.Namespace, work: Path) -> dict:
    counts_ = [int(c) for c in args.collectors.split(",") if c.strip()]
    procs = Processes()
    centre = None
    try:
        centre = Centre(work / "centre", args.database, args.s3)
        boxes, served = start_boxes(args, work, procs, [f"bench-c{n}" for n in counts_])
        report = {"boxes": len(boxes), "audio_seconds_per_box": args.audio_seconds,
                  "interval_s": args.interval, "concurrency": args.concurrency,
                  "served": {k: v for k, v in served.items() if k != "pids"},
                  "cores": os.cpu_count(), "runs": []}
        for n in counts_:
            report["runs"].append(phase(args, centre, work, boxes, served["pids"], n))
            report["load_average"] = os.getloadavg()
            if args.json not in (None, "-"):  # what is done is kept, whatever comes next
                Path(args.json).write_text(json.dumps(report, indent=2), encoding="utf-8")
        report["court"] = sizing.court(report, args, calibration(args))
        return report
    finally:
        procs.stop()
        if centre is not None:
            centre.close()


def calibration(args) -> dict | None:
    if args.calibration is None:
        return None
    return json.loads(args.calibration.read_text(encoding="utf-8"))


def main() -> None:
    args = parse_args()
    if args.from_report is not None:
        report = json.loads(args.from_report.read_text(encoding="utf-8"))
        report["court"] = sizing.court(report, args, calibration(args))
        if args.json not in (None, "-"):
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(report["court"], indent=2) if args.json == "-"
              else sizing.table(report))
        return
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # cleaned up like Ctrl-C
    keep = args.workdir is not None
    work = (args.workdir or Path(tempfile.mkdtemp(prefix="courtbox-bench-central-"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o755)  # PostgreSQL runs as nobody when we are root: it must reach its folder
    try:
        report = run(args, work)
    except KeyboardInterrupt:
        sys.exit("interrupted: every process stopped")
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        text = json.dumps(report, indent=2, ensure_ascii=False)
        if args.json == "-":
            print(text)
            return
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    print(sizing.table(report))


if __name__ == "__main__":
    main()
