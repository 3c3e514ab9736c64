"""Start-up check of the database, and salvage of a damaged one.

The agent leaves a marker (``agent.running``) in the data directory while it runs. Found
at start, it means the previous process ended uncleanly (power cut, ``kill -9``, watchdog),
and the database gets SQLite's full ``PRAGMA integrity_check``; after a clean stop the
cheaper ``quick_check`` does.

A database that fails is never repaired in place nor deleted: it (with its WAL) is moved
to ``damaged/courtbox-<UTC>.db`` and a new database is built beside it from every row that
still reads, table by table and, where a table's pages are damaged, row by row. The
salvage is audit-logged with what it kept and what it lost, and ``courtbox verify`` shows
any break it left in a hash chain. The audio archive is files, untouched by any of this:
segments whose rows were lost are recorded again from the archive by
``courtbox.room.recovery``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from courtbox.hardware.disk import fsync_dir
from courtbox.record.identity import open_store
from courtbox.record.schema import search_tokens
from courtbox.record.store import DB_NAME

logger = logging.getLogger(__name__)

MARKER = "agent.running"
DAMAGED_DIR = "damaged"


@dataclass
class Salvage:
    damaged: str  # where the damaged database was moved
    problem: str
    kept: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    lost: dict[str, int] = field(default_factory=dict)  # table -> rows unreadable


def mark_running(data_dir: Path) -> bool:
    """Leave the marker; True when it was already there (the last stop was unclean)."""
    marker = Path(data_dir) / MARKER
    unclean = marker.exists()
    marker.write_text(f"{os.getpid()}\n")
    return unclean


def mark_stopped(data_dir: Path) -> None:
    (Path(data_dir) / MARKER).unlink(missing_ok=True)


def check_database(path: Path, *, full: bool) -> str | None:
    """What is wrong with the database at ``path``, or None (also when there is none)."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(path, timeout=10.0)
        try:
            rows = conn.execute("PRAGMA integrity_check" if full else "PRAGMA quick_check"
                                ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as e:
        return str(e)
    found = [r[0] for r in rows]
    return None if found == ["ok"] else "; ".join(found[:5])


def salvage(data_dir: Path, problem: str) -> Salvage:
    """Move the damaged database aside and build a new one from what still reads."""
    data_dir = Path(data_dir)
    path = data_dir / DB_NAME
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    damaged_dir = data_dir / DAMAGED_DIR
    damaged_dir.mkdir(mode=0o700, exist_ok=True)
    damaged = damaged_dir / f"courtbox-{stamp}.db"
    for suffix in ("", "-wal", "-shm"):
        src = path.with_name(path.name + suffix)
        if src.exists():
            os.rename(src, damaged.with_name(damaged.name + suffix))
    fsync_dir(data_dir)
    result = Salvage(str(damaged.relative_to(data_dir)), problem)
    logger.error("database %s is damaged (%s); moved to %s and salvaging what reads",
                 path, problem, damaged)
    fresh = open_store(data_dir)
    try:
        _copy_rows(fresh.db.conn, damaged, result)
        fresh.audit("recovery", "database.salvaged", None, damaged=result.damaged,
                    problem=problem, kept=result.kept, lost=result.lost)
    finally:
        fresh.close()
    logger.error("salvaged database: kept %s; lost %s", result.kept or "nothing",
                 result.lost or "nothing")
    return result


def _copy_rows(conn: sqlite3.Connection, damaged: Path, result: Salvage) -> None:
    conn.execute("ATTACH DATABASE ? AS old", [str(damaged)])
    try:
        try:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM old.sqlite_master WHERE type = 'table' AND name NOT LIKE"
                " 'sqlite_%' AND name NOT LIKE 'transcript_fts%'")]
        except sqlite3.Error as e:
            logger.error("the damaged database's schema does not read: %s", e)
            result.lost["(schema)"] = 1
            return
        ours = {r[0] for r in conn.execute(
            "SELECT name FROM main.sqlite_master WHERE type = 'table'")}
        for table in tables:
            if table not in ours:
                continue
            _copy_table(conn, table, result)
        with conn:
            for row_id, text in conn.execute(
                    "SELECT id, text FROM main.transcript WHERE kind = 'final'").fetchall():
                conn.execute("INSERT INTO main.transcript_fts (rowid, text) VALUES (?, ?)",
                             [row_id, search_tokens(text)])
    finally:
        conn.execute("DETACH DATABASE old")


def _copy_table(conn: sqlite3.Connection, table: str, result: Salvage) -> None:
    cols = [r[1] for r in conn.execute(f"PRAGMA main.table_info({table})")]
    old_cols = {r[1] for r in conn.execute(f"PRAGMA old.table_info({table})")}
    names = ", ".join(c for c in cols if c in old_cols)
    conn.execute("DELETE FROM main." + table)  # rows the new schema seeded itself
    try:
        with conn:
            conn.execute(f"INSERT INTO main.{table} ({names}) SELECT {names} FROM old.{table}")
        result.kept[table] = conn.execute(f"SELECT COUNT(*) FROM main.{table}").fetchone()[0]
        return
    except sqlite3.Error as e:
        logger.warning("table %s does not read whole (%s); copying row by row", table, e)
    kept = lost = 0
    try:
        top = conn.execute(f"SELECT MAX(rowid) FROM old.{table}").fetchone()[0] or 0
    except sqlite3.Error:
        top = 0
    for rowid in range(1, top + 1):
        try:
            with conn:
                n = conn.execute(f"INSERT OR IGNORE INTO main.{table} ({names}) SELECT "
                                 f"{names} FROM old.{table} WHERE rowid = ?", [rowid]).rowcount
            kept += n
        except sqlite3.Error:
            lost += 1
    result.kept[table] = kept
    if lost:
        result.lost[table] = lost
