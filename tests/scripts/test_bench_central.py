"""``scripts/bench_central.py`` end to end, small: three real boxes served over TLS, pulled
by a real collector into the session's PostgreSQL and SeaweedFS (the 1,000-box run of
docs/central.md pulls with one and then two); the report adds up, its databases are dropped
and nothing it started is left running."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]


def running_under(folder: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(folder) in cmd:
            found.append(cmd)
    return found


def test_three_boxes_pulled_measured_and_sized(postgres, seaweed, tmp_path: Path) -> None:
    work, out = tmp_path / "work", tmp_path / "report.json"
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench_central.py"), "--boxes", "3",
         "--collectors", "1", "--seconds", "2", "--interval", "1", "--audio-seconds", "10",
         "--database", postgres.dsn(), "--s3", seaweed.endpoint, "--workdir", str(work),
         "--json", str(out)], capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    (run,) = report["runs"]
    assert report["boxes"] == 3 and run["collectors"] == 1
    ingest, sizes = run["ingest"], run["sizes"]
    assert ingest["audio_files"] == 6  # 10 s a box, in 5-s files
    assert ingest["records"] > 20 and ingest["records_per_s"] > 0
    assert (run["quarantined"], run["box_errors"]) == (0, 0)
    assert (sizes["bucket_objects"], sizes["bucket_bytes"]) == (6, ingest["bytes"])
    assert sizes["rows"]["transcript_lines"] > 0 and sizes["database_per_box_hour"] > 0
    assert run["steady"]["pulls"] >= 1 and run["steady"]["heartbeat_age_s"]["p95"] > 0
    assert run["sweep"]["wall_s"] > 0 and run["per_1000_boxes"]["collector_rss_mb"] > 0
    court = report["court"]
    assert court["boxes"] == 30000 and court["collector_machines"] >= 2
    assert court["store_pb_per_year"] == 15.0  # 30,000 × 4 h × 250 days × 0.5 GB
    assert "| collectors |" in r.stdout and "A court of 30,000 boxes" in r.stdout

    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'bench%'"
                            ).fetchall()
    assert left == []
    assert running_under(work) == []
