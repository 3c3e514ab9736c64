"""What ``scripts/bench_central.py`` measured, turned into sizes: the database and the bucket
per box-hour recorded, and the machines a court of many boxes needs.

The database's growth is split by what it holds (``sizes``): every table's bytes with its
indexes and partitions (``pg_total_relation_size``), the outbox entries shared out over
their kinds by their rows' own sizes, so that a recorded hour can be costed as a real box
writes it (``HOUR``: 60 one-minute audio files, the sample hearing's rate of transcript
lines, one hearing) rather than as the benchmark's few seconds per box write it. The
court's figures (``court``) scale the 1-collector run's CPU per pull and per MB.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

SAMPLE = Path(__file__).resolve().parents[1] / "courtbox" / "sample" / "hearing.json"
SEGMENT_S = 60  # the agent's default audio.segment_seconds
HISTORY_S = 300  # the centre's default collector.heartbeat_history_s
GROUPS = {"entries": ("entries", "entry_keys"), "transcript": ("transcript_lines",),
          "audio": ("objects", "box_objects"), "hearings": ("hearings", "hearing_heads"),
          "heartbeats": ("heartbeats",),
          "boxes": ("boxes", "box_leases", "retired_certificates")}


def lines_per_hour() -> float:
    meta = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return len(meta["utterances"]) / meta["duration_s"] * 3600


def rounded(v: float | None, digits: int = 2) -> float | None:
    return None if v is None else round(v, digits)


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p95": None, "max": None, "samples": 0}
    a = np.asarray(values)
    return {"p50": round(float(np.percentile(a, 50)), 2),
            "p95": round(float(np.percentile(a, 95)), 2), "max": round(float(a.max()), 2),
            "samples": len(values)}


def _bytes(conn, tables: tuple[str, ...]) -> int:
    total = 0
    for t in tables:
        if conn.execute("SELECT to_regclass(%s)", [t]).fetchone()[0] is not None:
            # A plain table is no partition tree: its own size, then.
            total += conn.execute(
                "SELECT COALESCE((SELECT SUM(pg_total_relation_size(relid)) FROM"
                " pg_partition_tree(%s::regclass)), pg_total_relation_size(%s::regclass))",
                [t, t]).fetchone()[0]
    return int(total)


def bucket(endpoint: str, config: Path) -> tuple[int, int]:
    """(objects, bytes) in the run's bucket, as its S3 API lists them."""
    import tomllib

    import boto3
    from botocore.config import Config

    name = tomllib.loads(config.read_text(encoding="utf-8"))["objects"]["bucket"]
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="bench", aws_secret_access_key="bench",
                      config=Config(s3={"addressing_style": "path"}))
    n = size = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for obj in page.get("Contents", []):
            n, size = n + 1, size + obj["Size"]
    return n, size


def sizes(conn, db0: int, endpoint: str, config: Path, boxes: list[dict]) -> dict:
    """The database and the bucket after a run, and per box-hour recorded."""
    db = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    groups = {k: _bytes(conn, v) for k, v in GROUPS.items()}
    kinds = {k: (n, int(b)) for k, n, b in conn.execute(
        "SELECT kind, COUNT(*), SUM(pg_column_size(e.*)) FROM entries e GROUP BY kind")}
    rows = {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("transcript_lines", "box_objects", "hearings", "heartbeats", "boxes")}
    row_total = sum(b for _, b in kinds.values()) or 1
    entry = {k: groups["entries"] * b / row_total / n for k, (n, b) in kinds.items()}
    per = lambda group, table: groups[group] / max(rows[table], 1)  # noqa: E731
    line = entry.get("transcript", 0) + per("transcript", "transcript_lines")
    segment = entry.get("audio_segment", 0) + per("audio", "box_objects")
    others = sum(entry[k] * n for k, (n, _) in kinds.items()
                 if k not in ("transcript", "audio_segment"))
    hearing = others / max(rows["hearings"], 1) + per("hearings", "hearings")
    hour = {"audio_segment": 3600 / SEGMENT_S, "transcript": lines_per_hour(), "hearing": 1}
    box_hours = sum(b["seconds"] for b in boxes) / 3600
    objects, stored = bucket(endpoint, config)
    return {
        "database_bytes": db, "database_growth_bytes": db - db0, "tables_bytes": groups,
        "entries_by_kind": {k: n for k, (n, _) in kinds.items()}, "rows": rows,
        "bytes_per": {"transcript_line": round(line), "audio_segment": round(segment),
                      "hearing": round(hearing),
                      "heartbeat_kept": round(per("heartbeats", "heartbeats")),
                      "box": round(per("boxes", "boxes"))},
        "box_hours": round(box_hours, 3),
        "database_per_box_hour_as_run": round((db - db0) / box_hours),
        "database_per_box_hour": round(hour["audio_segment"] * segment
                                       + hour["transcript"] * line + hearing),
        "heartbeats_per_box_day": round(86400 / HISTORY_S * per("heartbeats", "heartbeats")),
        "a_recorded_hour": {k: round(v, 1) for k, v in hour.items()},
        "bucket_objects": objects, "bucket_bytes": stored,
        "bucket_per_box_hour": round(stored / box_hours)}


def per_thousand(run: dict, boxes: int, interval: float) -> dict:
    """One run's costs for 1,000 boxes (CPU scales with pulls; RSS as measured)."""
    st, k = run["steady"], 1000 / boxes
    pulls = st["pulls"] or None
    cpu = _per(st["cpu_s"]["collectors"], pulls)
    pg = _per(st["cpu_s"]["postgres"], pulls)
    return {"sweep_s": round(run["sweep"]["wall_s"] * k, 1),
            "sweep_collector_cpu_s": round(run["sweep"]["collector_cpu_s"] * k, 2),
            "collector_cpu_s_per_sweep": rounded(cpu and cpu * 1000),
            "collector_core_pct": rounded(cpu and cpu * 1000 / interval * 100, 1),
            "database_cpu_s_per_sweep": rounded(pg and pg * 1000),
            "database_core_pct": rounded(pg and pg * 1000 / interval * 100, 1),
            "collector_rss_mb": st["collector_rss_mb"],
            "ingest_collector_cpu_s_per_gb": rounded(
                run["ingest"]["cpu_s"]["collectors"] / (run["ingest"]["bytes"] / 1e9), 1)}


def add_arguments(ap) -> None:
    g = ap.add_argument_group("the court to size")
    g.add_argument("--court-boxes", type=int, default=30000)
    g.add_argument("--hours-per-day", type=float, default=4, help="Recorded per box.")
    g.add_argument("--court-day-hours", type=float, default=8,
                   help="Hours of the day the recording falls in.")
    g.add_argument("--days-per-year", type=int, default=250, help="Court days a year.")
    g.add_argument("--gb-per-hour", type=float, default=0.5, help="Audio per recorded hour.")
    g.add_argument("--machine-cores", type=int, default=16,
                   help="Cores of one collector machine (sized to half of them busy).")


def _per(a: float | None, b: float) -> float | None:
    return None if a is None or not b else a / b


def data_costs(run: dict) -> dict:
    """What one run's ingest cost beyond a sweep of heartbeats (the same pulls and process
    starts, without the data), and how much data: per group of processes."""
    ing, sw, st = run["ingest"], run["sweep"], run["steady"]
    pg_pull = _per(st["cpu_s"]["postgres"], st["pulls"])
    boxes = run["sweep_boxes"]
    return {"records": ing["records"], "files": ing["audio_files"], "mb": ing["bytes"] / 1e6,
            "collectors": max(ing["cpu_s"]["collectors"] - sw["collector_cpu_s"], 0.0),
            "postgres": None if pg_pull is None else max(
                ing["cpu_s"]["postgres"] - pg_pull * boxes, 0.0),
            "seaweedfs": ing["cpu_s"]["seaweedfs"]}


def _split(a: dict, b: dict | None, group: str, by: str, per_mb: bool
           ) -> tuple[float, float] | None:
    """CPU seconds per ``by`` (records or files) and per MB: solved from two runs whose
    files differ in size; where that gives one of them below zero, or there is one run, all
    of it per MB (``per_mb``) or all per ``by``: an upper bound at a real box's files."""
    if a[group] is None:
        return None
    if b is not None and b[group] is not None:
        det = a[by] * b["mb"] - b[by] * a["mb"]
        if det:
            x = (a[group] * b["mb"] - b[group] * a["mb"]) / det
            y = (a[by] * b[group] - b[by] * a[group]) / det
            if x >= 0 and y >= 0:
                return x, y
            per_mb = x < 0
    return (0.0, a[group] / a["mb"]) if per_mb else (a[group] / a[by], 0.0)


def court(report: dict, args, calibration: dict | None = None) -> dict:
    """The machines and capacity for ``args.court_boxes`` boxes, from the first run (and a
    run with minute-long files, ``calibration``, to split the data's cost into per record
    and per MB)."""
    r = report["runs"][0]
    st, sz = r["steady"], r["sizes"]
    cpu_pull = _per(st["cpu_s"]["collectors"], st["pulls"]) or 0.0
    pg_pull = _per(st["cpu_s"]["postgres"], st["pulls"])
    a = data_costs({**r, "sweep_boxes": report["boxes"]})
    b = None if calibration is None else data_costs(
        {**calibration["runs"][0], "sweep_boxes": calibration["boxes"]})
    n = args.court_boxes
    pulls_s = n / report["interval_s"]
    at_once = n * args.hours_per_day / args.court_day_hours
    hour = sz["a_recorded_hour"]
    hour_mb = args.gb_per_hour * 1000
    per_hour = {}
    for group, by, count, per_mb in (("collectors", "records", sum(hour.values()), True),
                                     ("postgres", "records", sum(hour.values()), False),
                                     ("seaweedfs", "files", hour["audio_segment"], True)):
        xy = _split(a, b, group, by, per_mb)
        per_hour[group] = None if xy is None else count * xy[0] + hour_mb * xy[1]
    cores = {g: None if v is None else at_once * v / 3600 for g, v in per_hour.items()}
    collector_cores = pulls_s * cpu_pull + cores["collectors"]
    db_cores = None if pg_pull is None else pulls_s * pg_pull + cores["postgres"]
    box_hours = n * args.hours_per_day * args.days_per_year
    db_year = box_hours * sz["database_per_box_hour"] + n * 365 * sz["heartbeats_per_box_day"]
    return {
        "boxes": n, "pulls_per_s": round(pulls_s), "recording_at_once": round(at_once),
        "ingest_mb_per_s": round(at_once * hour_mb / 3600),
        "records_per_s": round(at_once * sum(hour.values()) / 3600),
        "calibrated": b is not None,
        "collector_cpu_s_per_pull": rounded(cpu_pull, 5),
        "cpu_s_per_recorded_hour": {g: rounded(v) for g, v in per_hour.items()},
        "collector_cores": round(collector_cores, 1),
        "collector_machines": math.ceil(collector_cores / (args.machine_cores / 2)) + 1,
        "machine_cores": args.machine_cores, "collector_rss_mb": st["collector_rss_mb"],
        "database_cpu_s_per_pull": rounded(pg_pull, 5),
        "database_cores": None if db_cores is None else round(db_cores, 1),
        "database_tb_per_year": round(db_year / 1e12, 2),
        "store_cores": None if cores["seaweedfs"] is None else round(cores["seaweedfs"], 1),
        "box_hours_per_year": box_hours,
        "store_pb_per_year": round(box_hours * args.gb_per_hour / 1e6, 2),
        "store_tb_per_day": round(n * args.hours_per_day * args.gb_per_hour / 1000, 1)}


def _mb(b: float) -> str:
    return f"{b / 1e6:,.1f} MB"


def table(report: dict) -> str:
    lines = [f"{report['boxes']} boxes ({report['audio_seconds_per_box']} s recorded each; "
             f"{report['served']['servers']} box server processes, made in "
             f"{report['served']['made_s']} s), {report['cores']} cores, pulled every "
             f"{report['interval_s']:g} s, concurrency {report['concurrency']} per collector",
             "", "| collectors | ingest | records/s | MB/s | sweep (--once) | heartbeat age"
             " p50 / p95 | pulls/s | collector CPU s per 1,000 pulls | collector RSS |"
             " DB per box-hour | bucket per box-hour |", "|" + "---|" * 11]
    for r in report["runs"]:
        i, s, w, z = r["ingest"], r["steady"], r["sweep"], r["sizes"]
        per_k = _per(s["cpu_s"]["collectors"], s["pulls"] / 1000)
        lines.append(
            f"| {r['collectors']} | {i['wall_s']} s | {i['records_per_s']} | {i['mb_per_s']} |"
            f" {w['wall_s']} s | {s['heartbeat_age_s']['p50']} / {s['heartbeat_age_s']['p95']}"
            f" s | {s['pulls_per_s']} | {rounded(per_k)} | {s['collector_rss_mb']} MB |"
            f" {_mb(z['database_per_box_hour'])} | {_mb(z['bucket_per_box_hour'])} |")
    c = report["court"]
    lines += ["", f"A court of {c['boxes']:,} boxes: {c['pulls_per_s']:,} pulls/s, "
              f"{c['recording_at_once']:,} recording at once, {c['ingest_mb_per_s']:,} MB/s "
              f"and {c['records_per_s']:,} records/s in court hours",
              f"- collectors: {c['collector_cores']} cores -> {c['collector_machines']} "
              f"machines of {c['machine_cores']} cores (half busy, one spare), "
              f"{c['collector_rss_mb']} MB RSS each",
              f"- database: {c['database_cores']} cores, {c['database_tb_per_year']} TB a year",
              f"- object store: {c['store_pb_per_year']} PB a year "
              f"({c['store_tb_per_day']} TB a court day), {c['store_cores']} cores of "
              f"S3 gateway"]
    return "\n".join(lines)
