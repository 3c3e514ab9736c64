"""What the centre holds of each box, in PostgreSQL: every outbox entry as received, the
hearings and transcript lines made queryable from them, the audio objects and which box's
segment each is, the quarantine and the legal holds. Plain SQL; every function takes an
autocommit connection.

``commit_batch`` writes one verified batch in one transaction: each entry is claimed in
``entry_keys`` first (``ON CONFLICT DO NOTHING``), so an entry held already, whether from a
replay, a reordered batch or another collector's pull of the same box, is skipped whole.
"""

from __future__ import annotations

import json
from datetime import datetime

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from courtbox.record.chain import canonical_json


def _time(value) -> datetime | None:
    """An ISO time of a record (``…Z``), or None when it is not one."""
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def held(conn: psycopg.Connection, box_id: str, seq: int) -> str | None:
    row = conn.execute("SELECT sha256 FROM entry_keys WHERE box_id = %s AND seq = %s",
                       [box_id, seq]).fetchone()
    return row[0] if row else None


def heads(conn: psycopg.Connection, box_id: str, hearing_id: str | None) -> tuple:
    """(last entry's sha256, last audio segment's sha256) of a hearing's chain."""
    row = conn.execute("SELECT sha256, audio_sha256 FROM hearing_heads WHERE box_id = %s"
                       " AND hearing_key = %s", [box_id, hearing_id or ""]).fetchone()
    return (row[0], row[1]) if row else (None, None)


def has_object(conn: psycopg.Connection, sha256: str) -> bool:
    return conn.execute("SELECT 1 FROM objects WHERE sha256 = %s",
                        [sha256]).fetchone() is not None


def acked_by_box(conn: psycopg.Connection, box_id: str, sha256: str) -> bool:
    return conn.execute("SELECT 1 FROM box_objects WHERE box_id = %s AND sha256 = %s AND"
                        " acked_at IS NOT NULL LIMIT 1", [box_id, sha256]).fetchone() is not None


def _derived(cur: psycopg.Cursor, box_id: str, e: dict, doc: dict, now: datetime) -> None:
    """The queryable rows an entry makes: its hearing, its transcript line."""
    rec, kind, hid = doc.get("record") or {}, e["kind"], e["hearing_id"]
    if kind == "hearing":
        cur.execute(
            "INSERT INTO hearings (box_id, hearing_id, case_number, case_type, title, court,"
            " room, state, created_at, closed_at, record, first_seq, last_seq) VALUES"
            " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            [box_id, hid, rec.get("case_number") or "", rec.get("case_type") or "",
             rec.get("title") or "", rec.get("court") or "", rec.get("room") or "",
             rec.get("state"), _time(rec.get("created_at")), _time(rec.get("closed_at")),
             Jsonb(rec), e["seq"], e["seq"]])
    elif kind == "hearing_update" and hid:
        cur.execute(
            "UPDATE hearings SET record = record || %s, state = COALESCE(%s, state),"
            " case_number = COALESCE(%s, case_number), title = COALESCE(%s, title),"
            " closed_at = COALESCE(%s, closed_at), last_seq = GREATEST(last_seq, %s)"
            " WHERE box_id = %s AND hearing_id = %s",
            [Jsonb(rec), rec.get("state"), rec.get("case_number"), rec.get("title"),
             _time(rec.get("closed_at")), e["seq"], box_id, hid])
    elif kind in ("transcript", "revision") and hid:
        cur.execute(
            "INSERT INTO transcript_lines (box_id, seq, hearing_id, utterance_id, revision,"
            " seat, t0, t1, text, author, created_at, received_at) VALUES"
            " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [box_id, e["seq"], hid, str(rec.get("utterance_id", "")),
             int(rec.get("revision") or 0), rec.get("seat"), rec.get("t0"), rec.get("t1"),
             str(rec.get("text", "")), rec.get("author"), _time(rec.get("created_at")), now])
    if hid and kind != "hearing":
        cur.execute("UPDATE hearings SET last_seq = GREATEST(last_seq, %s)"
                    " WHERE box_id = %s AND hearing_id = %s", [e["seq"], box_id, hid])


def _entry(cur: psycopg.Cursor, box_id: str, e: dict, collector: str,
           now: datetime) -> bool:
    """One entry, unless held already; True when it was new."""
    cur.execute("INSERT INTO entry_keys (box_id, seq, sha256, received_at) VALUES"
                " (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING seq",
                [box_id, e["seq"], e["sha256"], now])
    if cur.fetchone() is None:
        return False
    doc = json.loads(e["body"])
    cur.execute(
        "INSERT INTO entries (box_id, seq, hearing_id, kind, record_id, sha256, prev_sha256,"
        " signature, body_text, body, collector, received_at) VALUES"
        " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [box_id, e["seq"], e["hearing_id"], e["kind"], e["record_id"], e["sha256"],
         e["prev_sha256"], e["signature"], e["body"], Jsonb(doc), collector, now])
    audio = doc["record"]["sha256"] if e["kind"] == "audio_segment" else None
    cur.execute(
        "INSERT INTO hearing_heads AS h (box_id, hearing_key, seq, sha256, audio_seq,"
        " audio_sha256) VALUES (%(b)s, %(h)s, %(seq)s, %(sha)s, %(aseq)s, %(audio)s)"
        " ON CONFLICT (box_id, hearing_key) DO UPDATE SET"
        " seq = GREATEST(h.seq, excluded.seq),"
        " sha256 = CASE WHEN excluded.seq > h.seq THEN excluded.sha256 ELSE h.sha256 END,"
        " audio_seq = CASE WHEN excluded.audio_seq > COALESCE(h.audio_seq, -1)"
        "   THEN excluded.audio_seq ELSE h.audio_seq END,"
        " audio_sha256 = CASE WHEN excluded.audio_seq > COALESCE(h.audio_seq, -1)"
        "   THEN excluded.audio_sha256 ELSE h.audio_sha256 END",
        {"b": box_id, "h": e["hearing_id"] or "", "seq": e["seq"], "sha": e["sha256"],
         "aseq": e["seq"] if audio else None, "audio": audio})
    _derived(cur, box_id, e, doc, now)
    return True


def commit_batch(conn: psycopg.Connection, box: dict, entries: list[dict],
                 blobs: list[dict], cursor: int, collector: str) -> int:
    """The verified ``entries`` of a box, the objects of its audio ``blobs`` (already
    confirmed by the object store) and its new cursor, in one transaction; returns how
    many entries were new."""
    new = 0
    with conn.transaction(), conn.cursor() as cur:
        now = cur.execute("SELECT now()").fetchone()[0]
        for b in blobs:
            cur.execute("INSERT INTO objects (sha256, key, size, version_id, retain_until)"
                        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        [b["sha256"], b["key"], b["size"], b.get("version_id"),
                         b.get("retain_until")])
            cur.execute("INSERT INTO box_objects (box_id, record_id, sha256, hearing_id, seq)"
                        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        [box["box_id"], b["record_id"], b["sha256"], b["hearing_id"],
                         b["seq"]])
        for e in entries:
            new += _entry(cur, box["box_id"], e, collector, now)
        cur.execute("UPDATE boxes SET cursor = GREATEST(cursor, %s) WHERE url = %s",
                    [cursor, box["url"]])
    return new


def unacked_blobs(conn: psycopg.Connection, box_id: str) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT DISTINCT sha256 FROM box_objects WHERE box_id = %s AND acked_at IS NULL"
        " ORDER BY sha256", [box_id])]


def blobs_acked(conn: psycopg.Connection, box_id: str, sha256s: list[str]) -> None:
    conn.execute("UPDATE box_objects SET acked_at = now() WHERE box_id = %s"
                 " AND sha256 = ANY(%s) AND acked_at IS NULL", [box_id, sha256s])


def held_totals(conn: psycopg.Connection, box_id: str | None) -> dict:
    """What is held of a box: records, audio files and their bytes."""
    records = conn.execute("SELECT COUNT(*) FROM entry_keys WHERE box_id = %s",
                           [box_id]).fetchone()[0]
    blobs, size = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(o.size), 0) FROM (SELECT DISTINCT sha256 FROM"
        " box_objects WHERE box_id = %s) x JOIN objects o USING (sha256)",
        [box_id]).fetchone()
    return {"records": records, "blobs": blobs, "blob_bytes": int(size)}


# -- quarantine -----------------------------------------------------------------------------

def quarantine(conn: psycopg.Connection, box_id: str, entry: dict, reason: str) -> bool:
    """Record a failed entry; True the first time it is seen."""
    row = conn.execute(
        "INSERT INTO quarantine (box_id, seq, hearing_id, kind, record_id, reason, entry)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
        [box_id, entry.get("seq"), entry.get("hearing_id"), entry.get("kind"),
         entry.get("record_id"), reason, Jsonb(json.loads(canonical_json(entry)))]
    ).fetchone()
    return row is not None


def quarantined(conn: psycopg.Connection) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT box_id, seq, hearing_id, kind, record_id, reason, at"
                           " FROM quarantine ORDER BY id").fetchall()
    return [{**r, "at": r["at"].isoformat()} for r in rows]


# -- legal holds ----------------------------------------------------------------------------

def case_objects(conn: psycopg.Connection, case_number: str) -> list[dict]:
    """Every audio object of the hearings of a case, on any box."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT DISTINCT o.sha256, o.key, o.legal_hold FROM hearings h"
            " JOIN box_objects bo ON bo.box_id = h.box_id AND bo.hearing_id = h.hearing_id"
            " JOIN objects o ON o.sha256 = bo.sha256 WHERE h.case_number = %s"
            " ORDER BY o.sha256", [case_number]).fetchall()


def held_for(conn: psycopg.Connection, sha256s: list[str], on: bool, *, case_number: str,
             actor: str) -> None:
    with conn.transaction():
        conn.execute("UPDATE objects SET legal_hold = %s WHERE sha256 = ANY(%s)",
                     [on, sha256s])
        conn.execute("INSERT INTO legal_holds (case_number, action, objects, actor) VALUES"
                     " (%s, %s, %s, %s)",
                     [case_number, "hold" if on else "release", len(sha256s), actor])


def held_by_other_cases(conn: psycopg.Connection, case_number: str, sha256s: list[str]
                        ) -> list[str]:
    """Which of ``sha256s`` also belong to another case whose latest action is a hold."""
    return [row[0] for row in conn.execute(
        "WITH latest AS (SELECT DISTINCT ON (case_number) case_number, action"
        "   FROM legal_holds ORDER BY case_number, at DESC, id DESC)"
        " SELECT DISTINCT bo.sha256 FROM latest l"
        " JOIN hearings h ON h.case_number = l.case_number"
        " JOIN box_objects bo ON bo.box_id = h.box_id AND bo.hearing_id = h.hearing_id"
        " WHERE l.action = 'hold' AND l.case_number <> %s AND bo.sha256 = ANY(%s)",
        [case_number, sha256s])]
