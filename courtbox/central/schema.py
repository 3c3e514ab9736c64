"""The centre's PostgreSQL schema: numbered migrations, applied in order by
``courtbox central migrate`` (and by every collector at its start; applying them again
changes nothing), and the monthly partitions of the large tables.

Three tables grow with the recordings and are range-partitioned by month: ``entries``
(every outbox entry as received), ``transcript_lines`` and ``heartbeats`` (the history; the
latest heartbeat is on the box's row). A partition is ``<table>_YYYY_MM``; the migration and
every collector round create the current month's and ``ahead`` more (``ensure_partitions``),
so an insert never finds none. PostgreSQL makes a unique key of a partitioned table include
the partition key, so the uniqueness of an entry on (box, seq) and on (box, sha256) across
all months is kept by the small unpartitioned ``entry_keys``, written in the same
transaction as the entry.

Migrations are only ever added, never edited: a court's database carries every one.
"""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

# One advisory lock for schema changes, so that collectors starting together take turns.
SCHEMA_LOCK = 0x636F75727462  # "courtb"

M1_BOXES = """
CREATE TABLE boxes (
    id bigserial PRIMARY KEY,
    url text NOT NULL UNIQUE,
    token text NOT NULL,
    fingerprint text NOT NULL,          -- pinned at add-box
    box_id text UNIQUE,                 -- learnt at the first pull, with its key
    algorithm text,
    public_key text,
    tls_certificate text,               -- the certificate the box's key signed, pinned
    cursor bigint NOT NULL DEFAULT 0,   -- last seq held
    court text,
    room text,
    heartbeat jsonb,                    -- the latest
    heartbeat_at timestamptz,
    heartbeat_logged_at timestamptz,    -- last one kept in heartbeats
    last_pull timestamptz,
    last_error text,
    blocked text,                       -- set by a quarantine: pulls stop before it
    added_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX boxes_court_room ON boxes (court, room);
CREATE INDEX boxes_heartbeat_at ON boxes (heartbeat_at);
CREATE INDEX boxes_blocked ON boxes (id) WHERE blocked IS NOT NULL;

CREATE TABLE retired_certificates (     -- TLS certificates a box replaced: never again
    box bigint NOT NULL REFERENCES boxes (id) ON DELETE CASCADE,
    sha256 text NOT NULL,
    retired_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (box, sha256)
);

CREATE TABLE box_leases (               -- which collector pulls a box, until when
    box bigint PRIMARY KEY REFERENCES boxes (id) ON DELETE CASCADE,
    holder text,
    expires_at timestamptz NOT NULL DEFAULT 'epoch',
    taken_at timestamptz,
    done_at timestamptz,                -- its last pull ended (well or not)
    due_at timestamptz NOT NULL DEFAULT 'epoch'    -- its next pull
);
CREATE INDEX box_leases_due ON box_leases (due_at);

CREATE TABLE heartbeats (
    box bigint NOT NULL,
    at timestamptz NOT NULL,
    health jsonb NOT NULL,
    PRIMARY KEY (box, at)
) PARTITION BY RANGE (at);

CREATE TABLE discovered (               -- boxes announced over mDNS, added or not
    box_id text PRIMARY KEY,
    url text NOT NULL,
    court text,
    room text,
    fingerprint text,
    seen_at timestamptz NOT NULL DEFAULT now()
);
"""

M1_RECORDS = """
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE entry_keys (
    box_id text NOT NULL,
    seq bigint NOT NULL,
    sha256 text NOT NULL,
    received_at timestamptz NOT NULL,   -- where the entry is: its partition
    PRIMARY KEY (box_id, seq),
    UNIQUE (box_id, sha256)
);

CREATE TABLE entries (
    box_id text NOT NULL,
    seq bigint NOT NULL,
    hearing_id text,
    kind text NOT NULL,
    record_id text NOT NULL,
    sha256 text NOT NULL,
    prev_sha256 text,
    signature text NOT NULL,
    body_text text NOT NULL,            -- byte for byte what the box signed
    body jsonb NOT NULL,                -- the same, to query
    collector text,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (box_id, seq, received_at)
) PARTITION BY RANGE (received_at);
CREATE INDEX entries_hearing ON entries (box_id, hearing_id, seq);

CREATE TABLE hearing_heads (            -- the last entry and audio segment per chain
    box_id text NOT NULL,
    hearing_key text NOT NULL,          -- the hearing id; '' for entries of none
    seq bigint NOT NULL,
    sha256 text NOT NULL,
    audio_seq bigint,
    audio_sha256 text,
    PRIMARY KEY (box_id, hearing_key)
);

CREATE TABLE hearings (
    box_id text NOT NULL,
    hearing_id text NOT NULL,
    case_number text NOT NULL DEFAULT '',
    case_type text NOT NULL DEFAULT '',
    title text NOT NULL DEFAULT '',
    court text NOT NULL DEFAULT '',
    room text NOT NULL DEFAULT '',
    state text,
    created_at timestamptz,
    closed_at timestamptz,
    record jsonb NOT NULL,              -- the hearing row with every update merged
    first_seq bigint NOT NULL,
    last_seq bigint NOT NULL,
    PRIMARY KEY (box_id, hearing_id)
);
CREATE INDEX hearings_case ON hearings (case_number);
CREATE INDEX hearings_court_date ON hearings (court, created_at);
CREATE INDEX hearings_created ON hearings (created_at);

CREATE TABLE transcript_lines (         -- every final line and revision, as received
    box_id text NOT NULL,
    seq bigint NOT NULL,
    hearing_id text NOT NULL,
    utterance_id text NOT NULL,
    revision integer NOT NULL,
    seat text,
    t0 double precision,
    t1 double precision,
    text text NOT NULL,
    author text,
    created_at timestamptz,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (box_id, seq, received_at)
) PARTITION BY RANGE (received_at);
CREATE INDEX transcript_lines_hearing ON transcript_lines (box_id, hearing_id, t0);
CREATE INDEX transcript_lines_text ON transcript_lines USING gin (text gin_trgm_ops);

CREATE TABLE objects (                  -- audio in the object store, one per sha256
    sha256 text PRIMARY KEY,
    key text NOT NULL,
    size bigint NOT NULL,
    version_id text,
    retain_until timestamptz,
    legal_hold boolean NOT NULL DEFAULT false,
    stored_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE box_objects (              -- a box's audio segment, and its acknowledgement
    box_id text NOT NULL,
    record_id text NOT NULL,
    sha256 text NOT NULL REFERENCES objects (sha256),
    hearing_id text,
    seq bigint NOT NULL,
    acked_at timestamptz,
    PRIMARY KEY (box_id, record_id)
);
CREATE INDEX box_objects_unacked ON box_objects (box_id, sha256) WHERE acked_at IS NULL;
CREATE INDEX box_objects_hearing ON box_objects (box_id, hearing_id);
CREATE INDEX box_objects_sha256 ON box_objects (sha256);

CREATE TABLE quarantine (
    id bigserial PRIMARY KEY,
    box_id text NOT NULL,
    seq bigint,
    hearing_id text,
    kind text,
    record_id text,
    reason text NOT NULL,
    entry jsonb NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (box_id, seq, reason)
);

CREATE TABLE legal_holds (              -- every hold and release, by case number
    id bigserial PRIMARY KEY,
    case_number text NOT NULL,
    action text NOT NULL CHECK (action IN ('hold', 'release')),
    objects integer NOT NULL,
    actor text NOT NULL,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX legal_holds_case ON legal_holds (case_number, at);
"""

M3_WEB = """
CREATE TABLE web_users (                -- the web service's own accounts
    name text PRIMARY KEY,
    display_name text NOT NULL DEFAULT '',
    role text NOT NULL CHECK (role IN ('operations', 'archivist')),
    password_hash text NOT NULL,        -- scrypt$n$r$p$salt$hash (hashlib)
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE web_sessions (
    token_sha256 text PRIMARY KEY,      -- the token itself is never stored
    name text NOT NULL REFERENCES web_users (name) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

CREATE TABLE web_audit (                -- the centre's own actions, and who did them
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,               -- login, login_failed, login_throttled, logout,
                                        -- hold, release, audio.fetch, audio.link
    client text,
    target text,
    detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX web_audit_at ON web_audit (at);
CREATE INDEX web_audit_action ON web_audit (action, at);

-- What the dashboard sorts and filters by, read from the latest heartbeat once, when it is
-- written (each by its JSON type, numbers clamped: a heartbeat can carry anything, and a
-- cast that failed here would refuse the heartbeat), instead of from the JSON of every box
-- on every page.
ALTER TABLE boxes
  ADD COLUMN hb_recording boolean GENERATED ALWAYS AS (
    CASE WHEN jsonb_typeof(heartbeat -> 'recording') = 'boolean'
         THEN (heartbeat ->> 'recording')::boolean END) STORED,
  ADD COLUMN hb_clock_synced boolean GENERATED ALWAYS AS (
    CASE WHEN jsonb_typeof(heartbeat -> 'clock_synced') = 'boolean'
         THEN (heartbeat ->> 'clock_synced')::boolean END) STORED,
  ADD COLUMN hb_disk_full boolean GENERATED ALWAYS AS (
    CASE WHEN jsonb_typeof(heartbeat #> '{disk,full}') = 'boolean'
         THEN (heartbeat #>> '{disk,full}')::boolean END) STORED,
  ADD COLUMN hb_disk_hours double precision GENERATED ALWAYS AS (
    CASE WHEN jsonb_typeof(heartbeat #> '{disk,hours_left}') = 'number'
         THEN LEAST(GREATEST((heartbeat #>> '{disk,hours_left}')::numeric, -1e9), 1e9)::float8
    END) STORED,
  ADD COLUMN hb_dead_mics integer GENERATED ALWAYS AS (
    CASE WHEN jsonb_typeof(heartbeat -> 'dead_mics') = 'array'
         THEN jsonb_array_length(heartbeat -> 'dead_mics') ELSE 0 END) STORED,
  ADD COLUMN hb_lag_records bigint GENERATED ALWAYS AS (
    CASE WHEN jsonb_typeof(heartbeat #> '{sync,lag_records}') = 'number'
         THEN LEAST(GREATEST((heartbeat #>> '{sync,lag_records}')::numeric, -1e18),
                    1e18)::bigint END) STORED,
  ADD COLUMN hb_lag_bytes bigint GENERATED ALWAYS AS (
    CASE WHEN jsonb_typeof(heartbeat #> '{sync,lag_bytes}') = 'number'
         THEN LEAST(GREATEST((heartbeat #>> '{sync,lag_bytes}')::numeric, -1e18),
                    1e18)::bigint END) STORED,
  ADD COLUMN hb_last_seq bigint GENERATED ALWAYS AS (
    CASE WHEN jsonb_typeof(heartbeat #> '{sync,last_seq}') = 'number'
         THEN LEAST(GREATEST((heartbeat #>> '{sync,last_seq}')::numeric, -1e18),
                    1e18)::bigint END) STORED,
  ADD COLUMN hb_other_alarm boolean GENERATED ALWAYS AS (
    COALESCE(jsonb_typeof(heartbeat -> 'alarms') = 'object'
             AND (heartbeat -> 'alarms') - '{dead_mics,disk_low,disk_full,clock_unsynced}'::text[]
                 <> '{}'::jsonb, false)) STORED;

-- The court and room of a box, for the dashboard, from its hearings as they arrive (the
-- heartbeat may name them too): one row updated per hearing, no lookup per box per page.
CREATE FUNCTION box_place_from_hearing() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE boxes SET court = COALESCE(NULLIF(NEW.court, ''), court),
                     room = COALESCE(NULLIF(NEW.room, ''), room)
     WHERE box_id = NEW.box_id AND (court IS DISTINCT FROM NEW.court
                                    OR room IS DISTINCT FROM NEW.room);
    RETURN NULL;
END $$;
CREATE TRIGGER hearings_place AFTER INSERT ON hearings
    FOR EACH ROW EXECUTE FUNCTION box_place_from_hearing();
UPDATE boxes b SET court = COALESCE(NULLIF(b.court, ''), h.court),
                   room = COALESCE(NULLIF(b.room, ''), h.room)
  FROM (SELECT DISTINCT ON (box_id) box_id, NULLIF(court, '') AS court,
               NULLIF(room, '') AS room
          FROM hearings ORDER BY box_id, created_at DESC NULLS LAST) h
 WHERE h.box_id = b.box_id;
"""

MIGRATIONS: list[tuple[int, str, str]] = [
    (1, "boxes, leases, heartbeats, discovery", M1_BOXES),
    (2, "entries, hearings, transcript lines, objects, quarantine, holds", M1_RECORDS),
    (3, "web service: users, sessions, audit", M3_WEB),
]

PARTITIONED = ("entries", "transcript_lines", "heartbeats")


def _month(year: int, month: int, add: int) -> tuple[int, int]:
    n = year * 12 + (month - 1) + add
    return n // 12, n % 12 + 1


def ensure_partitions(conn: psycopg.Connection, ahead: int = 3,
                      now: datetime | None = None) -> list[str]:
    """Create the missing monthly partitions, last month to ``ahead`` months on; returns
    the names of those created. ``conn`` is in autocommit mode, as the store's are."""
    now = now or datetime.now(UTC)
    wanted = []
    for add in range(-1, ahead + 1):
        y, m = _month(now.year, now.month, add)
        y2, m2 = _month(now.year, now.month, add + 1)
        for table in PARTITIONED:
            wanted.append((f"{table}_{y:04d}_{m:02d}", table,
                           f"{y:04d}-{m:02d}-01 00:00:00+00", f"{y2:04d}-{m2:02d}-01 00:00:00+00"))
    missing = [w for w in wanted
               if conn.execute("SELECT to_regclass(%s)", [w[0]]).fetchone()[0] is None]
    if not missing:
        return []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])
        for name, table, start, end in missing:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table}"
                         f" FOR VALUES FROM ('{start}') TO ('{end}')")
    return [w[0] for w in missing]


def migrate(conn: psycopg.Connection, ahead: int = 3) -> list[int]:
    """Apply every migration not yet applied, in order, each in its own transaction;
    returns the versions applied now. Then the partitions."""
    applied_now = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", [SCHEMA_LOCK])
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY"
                     " KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
        done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        for version, name, sql in MIGRATIONS:
            if version in done:
                continue
            with conn.transaction():
                conn.execute(sql)
                conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                             [version, name])
            applied_now.append(version)
    ensure_partitions(conn, ahead)
    return applied_now


def current_version(conn: psycopg.Connection) -> int:
    if conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None:
        return 0
    return conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
