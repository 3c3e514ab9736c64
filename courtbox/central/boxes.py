"""The boxes the centre pulls, in PostgreSQL: their pins, cursors, heartbeats, leases and
the boxes seen on the network. Plain SQL; every function takes an autocommit connection.

A box is pulled by one collector at a time: its ``box_leases`` row names the holder and
until when. ``take`` claims due boxes whose lease is free or expired with ``FOR UPDATE SKIP
LOCKED``, so collectors asking together get different boxes and never wait on each other;
``renew`` extends the holder's leases while it pulls, and reports the ones it lost;
``release`` hands a box back with its next pull's time. A collector that dies keeps its
leases until they expire; then any other takes the boxes.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

BOX_COLUMNS = ("url", "token", "fingerprint", "box_id", "algorithm", "public_key",
               "tls_certificate", "cursor", "court", "room", "heartbeat", "last_pull",
               "last_error", "blocked")

_SELECT = """SELECT b.*, COALESCE((SELECT array_agg(r.sha256 ORDER BY r.retired_at, r.sha256)
                                   FROM retired_certificates r WHERE r.box = b.id),
                                  '{}') AS retired_certificates
             FROM boxes b"""


def add_box(conn: psycopg.Connection, url: str, token: str, fingerprint: str) -> None:
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO boxes (url, token, fingerprint) VALUES (%s, %s, %s)"
            " ON CONFLICT (url) DO UPDATE SET token = excluded.token,"
            " fingerprint = excluded.fingerprint RETURNING id",
            [url.rstrip("/"), token, fingerprint]).fetchone()
        conn.execute("INSERT INTO box_leases (box) VALUES (%s) ON CONFLICT DO NOTHING", row)


def boxes(conn: psycopg.Connection, where: str = "", params: list | None = None
          ) -> list[dict]:
    """Boxes as dicts (``retired_certificates``: a list of sha256s), by url."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(f"{_SELECT} {where} ORDER BY b.url", params or []).fetchall()
    return [{**r, "retired_certificates": list(r["retired_certificates"])} for r in rows]


def update_box(conn: psycopg.Connection, url: str, changes: dict) -> None:
    """Set columns of a box; ``retired_certificates`` adds the sha256s not yet listed,
    ``heartbeat`` also stamps its time."""
    changes = dict(changes)
    retired = changes.pop("retired_certificates", None)
    if "heartbeat" in changes:
        changes["heartbeat"] = Jsonb(changes["heartbeat"])
    unknown = set(changes) - set(BOX_COLUMNS)
    if unknown:
        raise ValueError(f"not a column of boxes: {sorted(unknown)}")
    with conn.transaction():
        if changes:
            sets = ", ".join(f"{k} = %({k})s" for k in changes)
            if "heartbeat" in changes:
                sets += ", heartbeat_at = now()"
            conn.execute(f"UPDATE boxes SET {sets} WHERE url = %(_url)s",
                         {**changes, "_url": url})
        for sha in retired or []:
            conn.execute("INSERT INTO retired_certificates (box, sha256) SELECT id, %s"
                         " FROM boxes WHERE url = %s ON CONFLICT DO NOTHING", [sha, url])


def heartbeat(conn: psycopg.Connection, url: str, health: dict, *, history_s: float
              ) -> None:
    """The box's latest heartbeat, and into the history when the last kept there is older
    than ``history_s``; the court and room it names, if any, on the box's row."""
    with conn.transaction():
        row = conn.execute(
            "UPDATE boxes SET heartbeat = %s, heartbeat_at = now(), last_pull = now(),"
            " last_error = NULL, court = COALESCE(%s, court), room = COALESCE(%s, room)"
            " WHERE url = %s RETURNING id, heartbeat_logged_at,"
            " heartbeat_logged_at IS NULL OR heartbeat_logged_at"
            "   <= now() - %s * interval '1 second'",
            [Jsonb(health), health.get("court") or None, health.get("room") or None, url,
             history_s]).fetchone()
        if row and row[2]:
            conn.execute("INSERT INTO heartbeats (box, at, health) VALUES (%s, now(), %s)"
                         " ON CONFLICT DO NOTHING", [row[0], Jsonb(health)])
            conn.execute("UPDATE boxes SET heartbeat_logged_at = now() WHERE id = %s",
                         [row[0]])


def move_box(conn: psycopg.Connection, url: str, new_url: str) -> None:
    conn.execute("UPDATE boxes SET url = %s WHERE url = %s", [new_url, url])


# -- leases ---------------------------------------------------------------------------------

def take(conn: psycopg.Connection, holder: str, n: int, lease_s: float, *,
         round_since: datetime | None = None) -> list[dict]:
    """Claim up to ``n`` boxes for ``holder`` for ``lease_s`` seconds: boxes due (their
    ``due_at`` passed), not leased to anyone else or whose lease has expired, the
    longest-waiting first. ``round_since``: instead of due ones, those whose last pull
    did not end since then (one round over every box). Returns the boxes claimed."""
    with conn.transaction():
        rows = conn.execute(
            """WITH free AS (
                   SELECT l.box FROM box_leases l
                   WHERE (l.holder IS NULL OR l.expires_at < now())
                     AND (%(since)s::timestamptz IS NOT NULL OR l.due_at <= now())
                     AND (%(since)s::timestamptz IS NULL OR l.done_at IS NULL
                          OR l.done_at < %(since)s)
                   ORDER BY l.due_at, l.box
                   LIMIT %(n)s
                   FOR UPDATE OF l SKIP LOCKED)
               UPDATE box_leases l SET holder = %(me)s,
                   expires_at = now() + %(ttl)s * interval '1 second', taken_at = now()
               FROM free WHERE l.box = free.box RETURNING l.box""",
            {"me": holder, "n": n, "ttl": lease_s, "since": round_since}).fetchall()
    if not rows:
        return []
    return boxes(conn, "WHERE b.id = ANY(%s)", [[r[0] for r in rows]])


def renew(conn: psycopg.Connection, holder: str, box_ids: list[int], lease_s: float
          ) -> set[int]:
    """Extend ``holder``'s leases on ``box_ids``; returns those it still holds."""
    if not box_ids:
        return set()
    rows = conn.execute(
        "UPDATE box_leases SET expires_at = now() + %s * interval '1 second'"
        " WHERE box = ANY(%s) AND holder = %s RETURNING box",
        [lease_s, box_ids, holder]).fetchall()
    return {r[0] for r in rows}


def release(conn: psycopg.Connection, holder: str, box_id: int, next_in_s: float) -> None:
    """Hand the box back; it is due again ``next_in_s`` seconds from now."""
    conn.execute(
        "UPDATE box_leases SET holder = NULL, expires_at = 'epoch', done_at = now(),"
        " due_at = now() + %s * interval '1 second' WHERE box = %s AND holder = %s",
        [next_in_s, box_id, holder])


def leases(conn: psycopg.Connection) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT b.url, b.box_id, l.holder, l.expires_at, l.due_at,"
                           " l.expires_at > now() AS held FROM box_leases l"
                           " JOIN boxes b ON b.id = l.box ORDER BY b.url").fetchall()


def waiting(conn: psycopg.Connection, since: datetime) -> int:
    """How many boxes have no pull ended since ``since`` (by any collector)."""
    return conn.execute("SELECT COUNT(*) FROM box_leases WHERE done_at IS NULL"
                        " OR done_at < %s", [since]).fetchone()[0]


# -- boxes seen on the network (courtbox.sync.discovery) ------------------------------------

def saw_box(conn: psycopg.Connection, box_id: str, url: str, *, court: str | None,
            room: str | None, fingerprint: str | None) -> None:
    conn.execute(
        "INSERT INTO discovered (box_id, url, court, room, fingerprint) VALUES"
        " (%s, %s, %s, %s, %s) ON CONFLICT (box_id) DO UPDATE SET url = excluded.url,"
        " court = excluded.court, room = excluded.room,"
        " fingerprint = excluded.fingerprint, seen_at = now()",
        [box_id, url, court, room, fingerprint])


def discovered(conn: psycopg.Connection) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT box_id, url, court, room, fingerprint, seen_at"
                           " FROM discovered ORDER BY box_id").fetchall()
