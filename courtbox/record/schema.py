"""The box's database schema: numbered migrations, applied in order at open.

Append only: a released migration is never edited, a new one is added after it. Before an
existing database is migrated it is copied to ``<name>.bak-v<N>`` (SQLite's online backup);
each migration runs in its own transaction together with the new ``user_version``.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from courtbox.errors import StoreError, TranscriptError
from courtbox.record.schema_console import FROZEN, m_console, m_parties
from courtbox.record.schema_console import HEARING_LATER as HEARING_LATER

logger = logging.getLogger(__name__)

Migration = Callable[[sqlite_utils.Database], None]


def _m1_hearings(db: sqlite_utils.Database) -> None:
    """The hearings and who sits where."""
    db.execute("""
        CREATE TABLE hearings (
            id TEXT PRIMARY KEY,
            case_number TEXT NOT NULL,
            case_type TEXT NOT NULL DEFAULT '',
            title TEXT NOT NULL DEFAULT '',
            court TEXT NOT NULL,
            room TEXT NOT NULL,
            panel TEXT NOT NULL DEFAULT '[]',
            parties TEXT NOT NULL DEFAULT '[]',
            clerk TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL CHECK (state IN ('open','recording','paused','closed')),
            sample_rate INTEGER NOT NULL,
            channels INTEGER NOT NULL,
            wall_start TEXT,
            clock_synced INTEGER,
            created_at TEXT NOT NULL,
            closed_at TEXT
        )""")
    db.execute("""
        CREATE TABLE seats (
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            seat_id TEXT NOT NULL,
            channel INTEGER NOT NULL,
            role TEXT NOT NULL,
            name TEXT NOT NULL,
            PRIMARY KEY (hearing_id, seat_id),
            UNIQUE (hearing_id, channel)
        )""")


def _m1_audio_and_transcript(db: sqlite_utils.Database) -> None:
    """The archived audio segments and the transcript lines."""
    db.execute("""
        CREATE TABLE audio_segments (
            id TEXT PRIMARY KEY,
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            part INTEGER NOT NULL,
            idx INTEGER NOT NULL,
            path TEXT NOT NULL,
            start_sample INTEGER NOT NULL,
            frames INTEGER NOT NULL,
            sample_rate INTEGER NOT NULL,
            channels INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            prev_sha256 TEXT,
            defective INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            UNIQUE (hearing_id, part, idx)
        )""")
    db.execute("""
        CREATE TABLE transcript (
            id INTEGER PRIMARY KEY,
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            utterance_id TEXT NOT NULL,
            seat TEXT NOT NULL,
            t0 REAL NOT NULL,
            t1 REAL NOT NULL,
            text TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('partial','final')),
            revision INTEGER NOT NULL DEFAULT 0,
            words TEXT NOT NULL DEFAULT '[]',
            avg_logprob REAL,
            author TEXT NOT NULL DEFAULT 'asr',
            created_at TEXT NOT NULL,
            UNIQUE (hearing_id, utterance_id, kind, revision)
        )""")
    db.execute("CREATE INDEX transcript_hearing_t0 ON transcript (hearing_id, kind, t0)")


def _m1_log_and_outbox(db: sqlite_utils.Database) -> None:
    """Annotations, the audit log and the outbox the centre pulls."""
    db.execute("""
        CREATE TABLE annotations (
            id TEXT PRIMARY KEY,
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            t REAL NOT NULL,
            label TEXT NOT NULL,
            text TEXT NOT NULL DEFAULT '',
            author TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            hearing_id TEXT,
            detail TEXT NOT NULL DEFAULT '{}'
        )""")
    db.execute("""
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            hearing_id TEXT,
            kind TEXT NOT NULL,
            record_id TEXT NOT NULL,
            body TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            prev_sha256 TEXT,
            created_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX outbox_hearing ON outbox (hearing_id, seq)")


def _m1_initial(db: sqlite_utils.Database) -> None:
    _m1_hearings(db)
    _m1_audio_and_transcript(db)
    _m1_log_and_outbox(db)


_CJK = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])")


def search_tokens(text: str) -> str:
    """Text as the full-text index holds it: every Chinese character a word of its own
    (FTS5's unicode61 tokenizer would take a whole run of them as one word), so that a
    search for any run of characters is a phrase query."""
    text = "".join(c if c.isprintable() else " " for c in text)  # no NUL into MATCH
    return " ".join(_CJK.sub(r" \1 ", text).split())


def _m2_service(db: sqlite_utils.Database) -> None:
    """Users and their sessions (box-local: never in the outbox), sign-offs, a frozen mark
    and the hearing's own vocabulary on hearings, and full-text search over finals."""
    db.execute("""
        CREATE TABLE users (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('clerk','judge','technician','admin')),
            password_hash TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE sessions (
            token_sha256 TEXT PRIMARY KEY,
            user TEXT NOT NULL REFERENCES users(name),
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE signoffs (
            id TEXT PRIMARY KEY,
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            user TEXT NOT NULL,
            role TEXT NOT NULL,
            transcript_sha256 TEXT NOT NULL,
            audio_sha256 TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (hearing_id, user)
        )""")
    db.execute("ALTER TABLE hearings ADD COLUMN terms TEXT NOT NULL DEFAULT '[]'")
    db.execute("ALTER TABLE hearings ADD COLUMN frozen_at TEXT")
    db.execute("CREATE VIRTUAL TABLE transcript_fts USING fts5(text, content='')")
    for row_id, text in db.execute("SELECT id, text FROM transcript WHERE kind = 'final'"
                                   ).fetchall():
        db.execute("INSERT INTO transcript_fts (rowid, text) VALUES (?, ?)",
                   [row_id, search_tokens(text)])


def _m3_sync(db: sqlite_utils.Database) -> None:
    """Signed outbox entries, the collectors enrolled to pull them and what they have
    acknowledged, and the audio segments released from the box after that."""
    db.execute("ALTER TABLE outbox ADD COLUMN signature TEXT")
    db.execute("""
        CREATE TABLE collectors (
            name TEXT PRIMARY KEY,
            token_sha256 TEXT NOT NULL UNIQUE,
            acked_seq INTEGER NOT NULL DEFAULT 0,
            last_seen TEXT,
            disabled INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE blob_acks (
            sha256 TEXT NOT NULL,
            collector TEXT NOT NULL REFERENCES collectors(name),
            acked_at TEXT NOT NULL,
            PRIMARY KEY (sha256, collector)
        )""")
    db.execute("""
        CREATE TABLE released_segments (
            segment_id TEXT PRIMARY KEY REFERENCES audio_segments(id),
            sha256 TEXT NOT NULL,
            released_at TEXT NOT NULL
        )""")


def _m4_collectors(db: sqlite_utils.Database) -> None:
    """When a collector was revoked, and how much of each blob each collector was served:
    an ack counts only for a blob that collector downloaded whole (``sync.retention``).
    Acks made before this version were of blobs the collector had downloaded (it had no
    other way to them): each is taken as downloaded when it was acknowledged."""
    db.execute("ALTER TABLE collectors ADD COLUMN revoked_at TEXT")
    db.execute("""
        CREATE TABLE blob_downloads (
            sha256 TEXT NOT NULL,
            collector TEXT NOT NULL REFERENCES collectors(name),
            served_bytes INTEGER NOT NULL DEFAULT 0,
            completed_at TEXT,
            PRIMARY KEY (sha256, collector)
        )""")
    db.execute("""INSERT INTO blob_downloads (sha256, collector, served_bytes, completed_at)
                  SELECT sha256, collector, -1, acked_at FROM blob_acks""")


def refusal(error: BaseException) -> None:
    """Raise ``TranscriptError`` with the triggers' message where ``error`` is their
    refusal (a signed transcript's lines, its freeze); else return (the caller re-raises)."""
    if isinstance(error, sqlite3.IntegrityError) and FROZEN in str(error):
        raise TranscriptError(FROZEN) from error


# Append only: a released migration is never edited, a new one is added after it.
MIGRATIONS: list[Migration] = [_m1_initial, _m2_service, _m3_sync, _m4_collectors,
                               m_console, m_parties]


def migrate(db: sqlite_utils.Database, path: Path, migrations: list[Migration]) -> int:
    """Apply the pending ``migrations`` to ``db`` (the file at ``path``), each in its own
    transaction; returns the new schema version."""
    conn = db.conn
    current = conn.execute("PRAGMA user_version").fetchone()[0]
    if current > len(migrations):
        raise StoreError(f"{path}: schema version {current} is newer than this "
                         f"courtbox ({len(migrations)}); refusing to touch it")
    if current == len(migrations):
        return current
    if current > 0:
        backup = path.with_name(f"{path.name}.bak-v{current}")
        dest = sqlite3.connect(backup)
        try:
            conn.backup(dest)
        finally:
            dest.close()
        logger.info("backed up %s to %s before migrating", path, backup)
    for version, step in enumerate(migrations[current:], start=current + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            step(db)
            db.execute(f"PRAGMA user_version = {version}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        logger.info("migrated %s to schema version %d", path, version)
    return len(migrations)
