"""The e-case file (电子卷宗) in SQL: hearings found by case number, court, date or text
across every box, and one hearing whole, read from what the collectors stored.

A hearing's parts are the records its box signed (``entries.body -> 'record'``): its seats
(``seat``), sign-offs (``signoff``), marks (``annotation``), audio segments
(``audio_segment``) and its pauses, which are audit entries (``hearing.pause`` until the
next ``hearing.resume`` or ``hearing.close``, placed on the timeline from the hearing's
``wall_start`` as the box does). Its transcript is ``transcript_lines``: every revision of
every line as received, the latest of each utterance the final text (one whose latest text
is empty was merged into another), the earlier ones listed under it.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg.rows import dict_row

from courtbox.central.web.fleet import like_escape

PARTS = ("seat", "signoff", "annotation", "audio_segment", "audit")
PAUSE_ENDS = ("hearing.resume", "hearing.close")


def search(conn: psycopg.Connection, *, case_number: str | None, court: str | None,
           date_from: date | None, date_to: date | None, text: str | None, tz: ZoneInfo,
           limit: int, offset: int) -> tuple[int, list[dict]]:
    """Hearings matching every filter given, newest first: (how many, the page)."""
    clauses, params = ["true"], {"limit": limit, "offset": offset}
    if case_number:
        clauses.append("h.case_number ILIKE %(case)s")
        params["case"] = "%" + like_escape(case_number) + "%"
    if court:
        clauses.append("h.court = %(court)s")
        params["court"] = court
    if date_from:
        clauses.append("h.created_at >= %(from)s")
        params["from"] = datetime.combine(date_from, time.min, tz)
    if date_to:
        clauses.append("h.created_at < %(to)s")
        params["to"] = datetime.combine(date_to + timedelta(days=1), time.min, tz)
    match = "NULL::text"
    if text:
        params["text"] = "%" + like_escape(text) + "%"
        clauses.append("(h.title ILIKE %(text)s OR (h.box_id, h.hearing_id) IN (SELECT"
                       " t.box_id, t.hearing_id FROM transcript_lines t WHERE t.text ILIKE"
                       " %(text)s))")
        match = ("(SELECT t.text FROM transcript_lines t WHERE t.box_id = h.box_id AND"
                 " t.hearing_id = h.hearing_id AND t.text ILIKE %(text)s ORDER BY t.t0,"
                 " t.seq LIMIT 1)")
    where = " AND ".join(clauses)
    total = conn.execute(f"SELECT COUNT(*) FROM hearings h WHERE {where}",
                         params).fetchone()[0]
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT h.box_id, h.hearing_id, h.case_number, h.case_type, h.title, h.court,"
            f" h.room, h.state, h.created_at, h.closed_at, {match} AS match"
            f" FROM hearings h WHERE {where} ORDER BY h.created_at DESC NULLS LAST,"
            f" h.box_id, h.hearing_id LIMIT %(limit)s OFFSET %(offset)s", params).fetchall()
    return total, rows


def hearings(conn: psycopg.Connection, hearing_id: str, box_id: str | None) -> list[dict]:
    """The hearing (on every box that has one of this id, unless ``box_id`` says which)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT box_id, hearing_id, case_number, case_type, title, court, room, state,"
            " created_at, closed_at, record FROM hearings WHERE hearing_id = %s AND"
            " (%s::text IS NULL OR box_id = %s) ORDER BY box_id LIMIT 5",
            [hearing_id, box_id, box_id]).fetchall()


def parts(conn: psycopg.Connection, box_id: str, hearing_id: str) -> dict[str, list[dict]]:
    """The hearing's records by kind (``PARTS``), in outbox order."""
    out: dict[str, list[dict]] = {k: [] for k in PARTS}
    for kind, record in conn.execute(
            "SELECT kind, body -> 'record' FROM entries WHERE box_id = %s AND hearing_id = %s"
            " AND kind = ANY(%s) ORDER BY seq", [box_id, hearing_id, list(PARTS)]):
        if isinstance(record, dict):
            out[kind].append(record)
    return out


def object_sizes(conn: psycopg.Connection, sha256s: list[str]) -> dict[str, int]:
    return dict(conn.execute("SELECT sha256, size FROM objects WHERE sha256 = ANY(%s)",
                             [sha256s]).fetchall())


def line_count(conn: psycopg.Connection, box_id: str, hearing_id: str) -> int:
    return conn.execute("SELECT COUNT(DISTINCT utterance_id) FROM transcript_lines WHERE"
                        " box_id = %s AND hearing_id = %s", [box_id, hearing_id]).fetchone()[0]


def revisions(conn: psycopg.Connection, box_id: str, hearing_id: str) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT utterance_id, revision, seat, t0, t1, text, author, created_at FROM"
            " transcript_lines WHERE box_id = %s AND hearing_id = %s"
            " ORDER BY utterance_id, revision, seq", [box_id, hearing_id]).fetchall()


def transcript(rows: list[dict]) -> list[dict]:
    """Per utterance: the latest revision with the earlier ones under it, in timeline
    order; merged-away lines (latest text empty) left out."""
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["utterance_id"], []).append(r)
    lines = []
    for revs in by.values():
        latest = revs[-1]
        if latest["text"] == "":
            continue
        lines.append({**latest, "earlier": revs[:-1]})
    lines.sort(key=lambda r: (r["t0"] if r["t0"] is not None else float("inf"),
                              r["utterance_id"]))
    return lines


def as_list(value) -> list[str]:
    """A list of a record (the box keeps some as canonical JSON text)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [value] if value else []
    return [str(v) for v in value] if isinstance(value, list) else []


def parse_time(value) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def pauses(audits: list[dict], wall_start) -> list[dict]:
    """The hearing's pauses from its audit records: on its timeline, with their reasons."""
    start = parse_time(wall_start)

    def t(at) -> float | None:
        when = parse_time(at)
        if start is None or when is None:
            return None
        return round(max(0.0, (when - start).total_seconds()), 3)

    found: list[dict] = []
    for a in audits:
        action = a.get("action")
        if action == "hearing.pause":
            detail = a.get("detail")
            if isinstance(detail, str):
                try:
                    detail = json.loads(detail)
                except ValueError:
                    detail = {}
            detail = detail if isinstance(detail, dict) else {}
            found.append({"t0": t(a.get("at")), "t1": None, "at0": parse_time(a.get("at")),
                          "at1": None, "reason": str(detail.get("reason", "")),
                          "reason_name": str(detail.get("reason_name", "")),
                          "text": str(detail.get("text", "")), "by": str(a.get("actor", ""))})
        elif action in PAUSE_ENDS and found and found[-1]["at1"] is None:
            found[-1].update(t1=t(a.get("at")), at1=parse_time(a.get("at")))
    return found
