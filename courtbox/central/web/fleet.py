"""The boxes as operations sees them, in SQL: each box's state (recording, idle,
unreachable), what needs a technician, ranked, and its backlog, from its latest heartbeat
(``boxes.heartbeat``, as ``courtbox.web.health.box_health`` sends it), its row and the
quarantine.

- **State.** Unreachable when no heartbeat came for ``unreachable_s`` (the collector
  records one with every pull), else recording when the box says so, else idle.
- **Issues**, most urgent first (``ISSUES``; a box's ``priority`` is its first): unreachable,
  quarantine (the box is held before an entry that failed verification), dead microphones,
  disk low (full, or fewer than ``web.disk_low_hours`` of recording left), clock not
  synchronised, the last pull failed, any other alarm the box raises.
- **Backlog**: what the box reports it holds unacknowledged (records and audio bytes,
  ``sync.lag_*``), and how far its outbox is ahead of the centre's cursor; beside it what
  the centre holds of the box.

A heartbeat is the box's word and may carry anything: what is sorted and filtered on is
read from it once, when written, by its JSON type (schema 3's ``hb_*`` columns of
``boxes``), and what the page shows of it is checked the same way. The court and room of a
box are its row's (its latest hearing's, kept there by a trigger of schema 3, or its
heartbeat's), else what discovery heard.
"""

from __future__ import annotations

import psycopg
from psycopg.rows import dict_row

STATE_NAMES = {"recording": "录音中", "idle": "空闲", "unreachable": "失联"}
ISSUES = {"unreachable": "失联", "quarantine": "隔离待查", "dead_mics": "麦克风无信号",
          "disk_low": "磁盘将满", "clock_unsynced": "时钟未同步", "pull_error": "拉取出错",
          "alarm": "其他告警"}
# Alarms with an issue of their own; any other makes "alarm" (schema 3's hb_other_alarm).
OWN_ISSUE = ("dead_mics", "disk_low", "disk_full", "clock_unsynced")

SORTS = {
    "attention": ("priority {o}, cardinality(issues) {r}, age_s {r} NULLS FIRST", "asc"),
    "court": ("court {o}, room {o}", "asc"),
    "heartbeat_age": ("age_s {o} NULLS FIRST", "desc"),
    "disk_hours": ("disk_hours {o} NULLS LAST", "asc"),
    "backlog_bytes": ("lag_bytes {o} NULLS LAST", "desc"),
    "backlog_records": ("lag_records {o} NULLS LAST", "desc"),
    "state": ("state {o}, court, room", "asc"),
}


VIEW = """
WITH v AS (
  SELECT b.id, b.url, b.box_id, b.heartbeat_at, b.blocked, b.last_error,
    COALESCE(NULLIF(b.court, ''), d.court, '') AS court,
    COALESCE(NULLIF(b.room, ''), d.room, '') AS room,
    EXTRACT(EPOCH FROM now() - b.heartbeat_at)::float8 AS age_s,
    b.hb_recording AS recording, b.hb_disk_hours AS disk_hours, b.hb_disk_full AS disk_full,
    b.hb_dead_mics AS dead_mic_count, b.hb_clock_synced AS clock_synced,
    b.hb_lag_records AS lag_records, b.hb_lag_bytes AS lag_bytes,
    b.hb_last_seq - b.cursor AS not_pulled, b.hb_other_alarm AS other_alarm,
    COALESCE(q.n, 0) AS quarantined
  FROM boxes b
  LEFT JOIN discovered d ON d.box_id = b.box_id
  LEFT JOIN (SELECT box_id, COUNT(*) AS n FROM quarantine GROUP BY box_id) q
         ON q.box_id = b.box_id),
s AS (
  SELECT v.*,
    CASE WHEN v.heartbeat_at IS NULL OR v.age_s > %(unreachable_s)s THEN 'unreachable'
         WHEN v.recording THEN 'recording' ELSE 'idle' END AS state,
    array_remove(ARRAY[
      CASE WHEN v.heartbeat_at IS NULL OR v.age_s > %(unreachable_s)s THEN 'unreachable' END,
      CASE WHEN v.blocked IS NOT NULL OR v.quarantined > 0 THEN 'quarantine' END,
      CASE WHEN v.dead_mic_count > 0 THEN 'dead_mics' END,
      CASE WHEN v.disk_full OR v.disk_hours < %(disk_low)s THEN 'disk_low' END,
      CASE WHEN v.clock_synced = false THEN 'clock_unsynced' END,
      CASE WHEN v.last_error IS NOT NULL THEN 'pull_error' END,
      CASE WHEN v.other_alarm THEN 'alarm' END], NULL) AS issues
  FROM v),
r AS (
  SELECT s.*, COALESCE(array_position(%(ranks)s, s.issues[1]) - 1, 9) AS priority FROM s)
"""


def _where(f: dict) -> tuple[str, dict]:
    clauses, params = ["true"], {}
    if f.get("court"):
        clauses.append("court = %(court)s")
        params["court"] = f["court"]
    if f.get("state"):
        clauses.append("state = %(state)s")
        params["state"] = f["state"]
    if f.get("text"):
        clauses.append("(url ILIKE %(text)s OR box_id ILIKE %(text)s OR court ILIKE"
                       " %(text)s OR room ILIKE %(text)s)")
        params["text"] = "%" + like_escape(f["text"]) + "%"
    if f.get("needs_technician"):
        clauses.append("cardinality(issues) > 0")
    return " AND ".join(clauses), params


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _base(unreachable_s: float, disk_low: float) -> dict:
    return {"unreachable_s": unreachable_s, "disk_low": disk_low, "ranks": list(ISSUES)}


def page(conn: psycopg.Connection, filters: dict, *, sort: str, order: str | None,
         limit: int, offset: int, unreachable_s: float, disk_low: float
         ) -> tuple[int, list[dict]]:
    """(matching boxes, the page of them) in the order asked."""
    where, params = _where(filters)
    params.update(_base(unreachable_s, disk_low), limit=limit, offset=offset)
    template, natural = SORTS[sort]
    o = (order or natural).upper()
    by = template.format(o=o, r="ASC" if o == "DESC" else "DESC")
    total = conn.execute(f"{VIEW} SELECT COUNT(*) FROM r WHERE {where}", params).fetchone()[0]
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(f"{VIEW} SELECT * FROM r WHERE {where} ORDER BY {by}, id"
                           " LIMIT %(limit)s OFFSET %(offset)s", params).fetchall()
    _details(conn, rows)
    return total, rows


def counts(conn: psycopg.Connection, *, unreachable_s: float, disk_low: float
           ) -> dict[str, int]:
    """Boxes per state and per issue, and how many need a technician, over the fleet."""
    rows = conn.execute(
        f"{VIEW} SELECT k, COUNT(*) FROM r, LATERAL unnest(array_prepend(state,"
        " array_remove(issues, 'unreachable'))) k GROUP BY k UNION ALL"
        " SELECT 'needs_technician', COUNT(*) FILTER (WHERE cardinality(issues) > 0) FROM r"
        " UNION ALL SELECT 'total', COUNT(*) FROM r",
        _base(unreachable_s, disk_low)).fetchall()
    out = dict.fromkeys([*STATE_NAMES, *ISSUES], 0)
    out.update({k: n for k, n in rows})
    return out


def _text(value) -> str | None:
    return value[:200] if isinstance(value, str) else None


def _details(conn: psycopg.Connection, rows: list[dict]) -> None:
    """For the boxes on the page: what their heartbeat names (dead microphones, alarms,
    version, open hearing) and what the centre holds of each (records, audio bytes)."""
    found = {r[0]: r[1] for r in conn.execute(
        "SELECT id, heartbeat FROM boxes WHERE id = ANY(%s)", [[r["id"] for r in rows]])}
    ids = [r["box_id"] for r in rows if r["box_id"]]
    records = dict(conn.execute("SELECT box_id, COUNT(*) FROM entry_keys WHERE box_id ="
                                " ANY(%s) GROUP BY box_id", [ids]).fetchall())
    size = dict(conn.execute(
        "SELECT x.box_id, SUM(o.size) FROM (SELECT DISTINCT box_id, sha256 FROM box_objects"
        " WHERE box_id = ANY(%s)) x JOIN objects o USING (sha256) GROUP BY x.box_id",
        [ids]).fetchall())
    for r in rows:
        hb = found.get(r["id"])
        hb = hb if isinstance(hb, dict) else {}
        mics, alarms = hb.get("dead_mics"), hb.get("alarms")
        r["dead_mics"] = [str(m) for m in mics][:64] if isinstance(mics, list) else []
        r["alarms"] = ({str(k): str(v)[:300] for k, v in list(alarms.items())[:64]}
                       if isinstance(alarms, dict) else {})
        r["version"] = _text(hb.get("version"))
        r["open_hearing"] = _text(hb.get("open_hearing"))
        r["held_records"] = records.get(r["box_id"], 0)
        r["held_bytes"] = int(size.get(r["box_id"], 0))


def courts(conn: psycopg.Connection, *, unreachable_s: float, disk_low: float
           ) -> list[tuple[str, int, int]]:
    """Every court named by a box or a hearing: (court, boxes, hearings)."""
    boxes = dict(conn.execute(f"{VIEW} SELECT court, COUNT(*) FROM r GROUP BY court",
                              _base(unreachable_s, disk_low)).fetchall())
    hearings = dict(conn.execute("SELECT court, COUNT(*) FROM hearings GROUP BY court"
                                 ).fetchall())
    names = sorted(set(boxes) | set(hearings))
    return [(c, boxes.get(c, 0), hearings.get(c, 0)) for c in names if c][:5000]
