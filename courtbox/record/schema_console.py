"""Migrations 5 and 6 of the box's schema (``courtbox.record.schema`` lists them in order):
the court-grade console's real names and signers, and the parties' review.

Append only, like every migration: a released one is never edited.
"""

from __future__ import annotations

import sqlite_utils

FROZEN = "笔录已签署，签署所覆盖的内容不能再更改"  # the triggers' message (TranscriptError)
# The hearing columns m_console adds, at their defaults: a new hearing's row holds them all.
HEARING_LATER = {"panel_users": "[]", "clerk_user": "", "timezone": ""}


def m_console(db: sqlite_utils.Database) -> None:
    """Users' real names; the hearing's own signers (the panel's accounts, its clerk) and
    its time zone, named at open; a sign-off's name and title as they were; and triggers
    that keep what the first signature covers (the lines, the freeze itself) unchanged."""
    db.execute("ALTER TABLE users ADD COLUMN display_name TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE hearings ADD COLUMN panel_users TEXT NOT NULL DEFAULT '[]'")
    db.execute("ALTER TABLE hearings ADD COLUMN clerk_user TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE hearings ADD COLUMN timezone TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE signoffs ADD COLUMN name TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE signoffs ADD COLUMN title TEXT NOT NULL DEFAULT ''")
    frozen = "(SELECT frozen_at FROM hearings WHERE id = {}.hearing_id) IS NOT NULL"
    for event, row in (("INSERT", "NEW"), ("UPDATE", "OLD"), ("DELETE", "OLD")):
        db.execute(f"""CREATE TRIGGER transcript_frozen_{event.lower()} BEFORE {event}
                       ON transcript WHEN {frozen.format(row)} AND {row}.kind = 'final'
                       BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END""")
    db.execute(f"""CREATE TRIGGER hearing_frozen_stays BEFORE UPDATE OF frozen_at,
                   panel_users, clerk_user ON hearings WHEN OLD.frozen_at IS NOT NULL
                   BEGIN SELECT RAISE(ABORT, '{FROZEN}'); END""")


def m_parties(db: sqlite_utils.Database) -> None:
    """The parties' review (``courtbox.record.parties``): one-time codes (their sha256
    only), the sessions they open (box-local, like users' sessions), what the parties did
    (signatures, refusals, requests for correction) and how the clerk handled a request,
    each of the last two in the outbox."""
    db.execute("""
        CREATE TABLE party_codes (
            id TEXT PRIMARY KEY,
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            seat_id TEXT NOT NULL,
            code_sha256 TEXT NOT NULL UNIQUE,
            issued_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT,
            revoked INTEGER NOT NULL DEFAULT 0
        )""")
    db.execute("""
        CREATE TABLE party_sessions (
            token_sha256 TEXT PRIMARY KEY,
            code_id TEXT NOT NULL REFERENCES party_codes(id),
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            seat_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE party_acts (
            id TEXT PRIMARY KEY,
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            seat_id TEXT NOT NULL,
            code_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('sign','refuse','request')),
            name TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL DEFAULT '',
            utterance_id TEXT,
            base_revision INTEGER,
            proposed TEXT NOT NULL DEFAULT '',
            signature_png TEXT,
            signature_sha256 TEXT,
            transcript_sha256 TEXT NOT NULL,
            audio_sha256 TEXT,
            created_at TEXT NOT NULL
        )""")
    db.execute("""
        CREATE TABLE party_handlings (
            id TEXT PRIMARY KEY,
            act_id TEXT NOT NULL UNIQUE REFERENCES party_acts(id),
            hearing_id TEXT NOT NULL REFERENCES hearings(id),
            outcome TEXT NOT NULL CHECK (outcome IN ('accepted','declined')),
            reason TEXT NOT NULL DEFAULT '',
            revision INTEGER,
            handled_by TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL
        )""")
    db.execute("CREATE INDEX party_acts_hearing ON party_acts (hearing_id, created_at)")

