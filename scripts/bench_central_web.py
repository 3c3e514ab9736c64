#!/usr/bin/env python3
"""How fast the centre's web service answers for a fleet: ``N`` boxes (each with a
heartbeat as the box sends it, some unreachable, quarantined, with a dead microphone, a
nearly full disk or an unsynchronised clock) and hearings with transcript lines, seeded
into a PostgreSQL cluster of its own on loopback (``scripts/central_local.py``), then the
dashboard's and the e-case file's queries timed as the API runs them
(``courtbox.central.web.fleet`` and ``casefile``).

    .venv/bin/python scripts/bench_central_web.py --boxes 1000 30000 --lines 200000 [--json]

``seed_boxes`` is also what ``tests/central/test_web_browser.py`` fills its centre with.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

COURTS = ["北京市海淀区人民法院", "北京市朝阳区人民法院", "上海市浦东新区人民法院",
          "广州市天河区人民法院", "深圳市南山区人民法院", "杭州市西湖区人民法院",
          "成都市武侯区人民法院", "武汉市江汉区人民法院"]
# Every 53rd box unreachable, every 61st quarantined, every 71st with a dead microphone,
# every 89th with its disk nearly full, every 97th off the clock; a third recording.
SEED = """
INSERT INTO boxes (url, token, fingerprint, box_id, court, room, cursor, heartbeat,
                   heartbeat_at, blocked)
SELECT format('https://10.%s.%s.%s:8750', 9 + i / 62500, i / 250 % 250, i % 250), 't',
       'SHA256:seed', format('seed%s', lpad(i::text, 6, '0')),
       (ARRAY[{courts}])[1 + i % 8], format('第%s科技法庭', 1 + i / 8), 100 + i - i % 5,
       jsonb_build_object(
         'version', '0.9.0', 'recording', i % 3 = 0, 'clock_synced', i % 97 <> 5,
         'open_hearing', CASE WHEN i % 3 = 0 THEN md5(i::text) END,
         'disk', jsonb_build_object('hours_left', CASE WHEN i % 89 = 7 THEN 2.5
                                                  ELSE 40 + i % 100 END, 'full', false),
         'dead_mics', CASE WHEN i % 71 = 3 THEN '["原告"]'::jsonb ELSE '[]'::jsonb END,
         'sync', jsonb_build_object('last_seq', 100 + i, 'acked_seq', 100 + i - i % 5,
                                    'lag_records', i % 5, 'lag_bytes', (i % 5) * 3000000),
         'alarms', CASE WHEN i % 71 = 3 THEN '{"dead_mics": "no signal from 原告"}'::jsonb
                        ELSE '{}'::jsonb END),
       now() - CASE WHEN i % 53 = 11 THEN interval '3 hours'
                    ELSE (i % 20) * interval '1 second' END,
       CASE WHEN i % 61 = 17 THEN 'seq 42: signature does not verify' END
FROM generate_series({first}, {last}) i;
INSERT INTO box_leases (box, due_at) SELECT id, 'infinity' FROM boxes ON CONFLICT DO NOTHING;
"""
WORDS = ["原告", "被告", "请求", "判令", "支付", "货款", "违约金", "合同", "证据", "质证",
         "审判长", "认为", "质量", "不合格", "利息", "三万元", "本院", "陈述", "辩称", "异议"]
LINES = """
INSERT INTO hearings (box_id, hearing_id, case_number, court, room, state, created_at,
                      record, first_seq, last_seq)
SELECT format('seed%s', lpad((1 + h % {boxes})::text, 6, '0')), md5('h' || h),
       format('(2026)京0105民初%s号', h), (ARRAY[{courts}])[1 + h % 8], '第一科技法庭',
       'closed', now() - h * interval '1 hour', '{{}}', 1, 1
FROM generate_series(1, {hearings}) h;
INSERT INTO transcript_lines (box_id, seq, hearing_id, utterance_id, revision, seat, t0, t1,
                              text, received_at)
SELECT format('seed%s', lpad((1 + (n / 100) % {boxes})::text, 6, '0')), n,
       md5('h' || (1 + n / 100)), 'u' || n, 0, 'plaintiff', n % 100 * 5, n % 100 * 5 + 4,
       (SELECT string_agg((ARRAY[{words}])[1 + (n * 7 + k * 13) % 20], '')
        FROM generate_series(1, 6) k) || CASE WHEN n % 997 = 0 THEN '保证金' ELSE '' END,
       now()
FROM generate_series(0, {lines} - 1) n;
"""


def seed_boxes(conn: psycopg.Connection, first: int, last: int) -> float:
    """Boxes ``first``…``last`` (and their leases, never due); returns the seconds taken."""
    started = time.monotonic()
    courts = ", ".join(f"'{c}'" for c in COURTS)
    with conn.transaction():
        conn.execute(SEED.replace("{courts}", courts).replace("{first}", str(first))
                     .replace("{last}", str(last)))
    return time.monotonic() - started


def _timed(fn, repeat: int) -> dict:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 1),
            "max_ms": round(times[-1], 1)}


def measure(conn: psycopg.Connection, repeat: int) -> dict:
    from courtbox.central.web import casefile, fleet

    limits = {"unreachable_s": 60.0, "disk_low": 8.0}
    page = {"sort": "attention", "order": None, "limit": 50, "offset": 0, **limits}
    search = {"court": None, "date_from": None, "date_to": None, "tz": ZoneInfo(
        "Asia/Shanghai"), "limit": 50, "offset": 0}
    return {
        "dashboard_page": _timed(lambda: fleet.page(conn, {}, **page), repeat),
        "dashboard_filtered": _timed(lambda: fleet.page(
            conn, {"court": COURTS[3], "needs_technician": True}, **page), repeat),
        "fleet_counts": _timed(lambda: fleet.counts(conn, **limits), repeat),
        "search_case": _timed(lambda: casefile.search(
            conn, case_number="民初1234号", text=None, **search), repeat),
        "search_rare_2": _timed(lambda: casefile.search(
            conn, case_number=None, text="证金", **search), repeat),
        "search_rare_3": _timed(lambda: casefile.search(
            conn, case_number=None, text="保证金", **search), repeat),
        "search_common": _timed(lambda: casefile.search(
            conn, case_number=None, text="货款", **search), repeat),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boxes", type=int, nargs="+", default=[1000, 30000])
    ap.add_argument("--lines", type=int, default=200000, help="transcript lines")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    spec = importlib.util.spec_from_file_location(
        "central_local", Path(__file__).with_name("central_local.py"))
    local = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(local)
    root = Path(tempfile.mkdtemp(prefix="courtbox-bench-web-"))
    root.chmod(0o755)
    pg = local.LocalPostgres(root / "cluster", fast=True)
    results = []
    try:
        from courtbox.central.schema import migrate

        with psycopg.connect(pg.dsn(), autocommit=True) as conn:
            migrate(conn)
            have = 0
            for n in sorted(args.boxes):
                seeded = seed_boxes(conn, have + 1, n)
                have = n
                words = ", ".join(f"'{w}'" for w in WORDS)
                courts = ", ".join(f"'{c}'" for c in COURTS)
                conn.execute("TRUNCATE hearings, transcript_lines")
                started = time.monotonic()
                conn.execute(LINES.format(boxes=n, hearings=args.lines // 100 + 1,
                                          lines=args.lines, words=words, courts=courts))
                conn.execute("ANALYZE")
                results.append({"boxes": n, "lines": args.lines, "seed_boxes_s": round(
                    seeded, 2), "seed_lines_s": round(time.monotonic() - started, 2),
                    **measure(conn, args.repeat)})
    finally:
        pg.stop()
    if args.json:
        print(json.dumps(results, ensure_ascii=False, indent=2))
        return
    for r in results:
        print(f"{r['boxes']} boxes, {r['lines']} lines (seeded in {r['seed_boxes_s']} s +"
              f" {r['seed_lines_s']} s):")
        for k, v in r.items():
            if isinstance(v, dict):
                print(f"  {k:20s} p50 {v['p50_ms']:8.1f} ms   max {v['max_ms']:8.1f} ms")


if __name__ == "__main__":
    main()
