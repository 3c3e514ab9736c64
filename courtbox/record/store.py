"""The box's SQLite store: hearings, seats, audio segments, transcript, annotations, audit log
and the outbox the court's centre pulls from.

Durability first: WAL, ``synchronous=FULL`` and a ``busy_timeout``; each record is written in
one short transaction together with its outbox entry, so the outbox ``seq`` (an AUTOINCREMENT
key, never reused) orders every durable record exactly as it was committed. Each entry is
chained to the previous one of its hearing and signed by the signer the store is handed (the
box's identity: ``courtbox.record.identity.open_store``); the rules are
``courtbox.record.chain``, which ``courtbox verify`` and the centre recompute. The schema is
``courtbox.record.schema``. JSON columns are decoded here, once: readers get lists and dicts.

One ``Store`` object holds one connection. The agent writes through one writer thread
(``courtbox.record.writer``); readers (the API) open their own ``Store``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from courtbox.errors import StoreError
from courtbox.record.chain import EntrySigner, canonical_json, entry_body, entry_statement
from courtbox.record.chain import sha256_text as sha256_text
from courtbox.record.chain import utc_now as utc_now
from courtbox.record.schema import HEARING_LATER, MIGRATIONS, Migration, refusal, search_tokens
from courtbox.record.schema import migrate as apply_migrations

logger = logging.getLogger(__name__)

DB_NAME = "courtbox.db"


def parse_utc(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def elapsed_since(stamp: str) -> float:
    """Seconds from a ``utc_now()`` stamp until now."""
    return (datetime.now(UTC) - parse_utc(stamp)).total_seconds()


SQLITE_MAX = 2**63 - 1  # SQLite's largest integer: the bound of every id an API accepts

# Columns that hold JSON, decoded when a row is read.
JSON_COLUMNS = {"hearings": ("panel", "parties", "terms", "panel_users"),
                "transcript": ("words",), "audit_log": ("detail",)}


def decoded(table: str, row: dict) -> dict:
    """A row of ``table`` with its JSON columns decoded."""
    return {**row, **{k: json.loads(row[k]) for k in JSON_COLUMNS[table] if k in row}}


@dataclass(frozen=True)
class OutboxEntry:
    seq: int
    hearing_id: str | None
    kind: str
    record_id: str
    body: str
    sha256: str
    prev_sha256: str | None
    signature: str | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class Store:
    """One connection to the box's database, migrated to the current schema on open."""

    def __init__(self, path: Path | str, *, migrate: bool = True,
                 signer: EntrySigner | None = None, read_only: bool = False) -> None:
        """``signer``: signs every outbox entry written here (the box's identity);
        ``read_only``: open without writing a byte (no migration, no journal mode)."""
        self.path = Path(path)
        self.signer = signer
        try:
            conn = self._open_read_only() if read_only else self._open()
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open database {self.path}: {e}") from e
        self.db = sqlite_utils.Database(conn)
        if migrate and not read_only:
            self.migrate()

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                               timeout=10.0)
        conn.execute("PRAGMA busy_timeout = 10000")
        self._check_version(conn)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        if mode.lower() != "wal":
            conn.close()
            raise StoreError(f"{self.path}: WAL journal mode refused (got {mode})")
        return conn

    def _open_read_only(self) -> sqlite3.Connection:
        """Read-only mode still creates ``-wal`` and ``-shm`` beside a WAL database, so one
        no process has open (neither exists) is opened immutable, which creates nothing;
        one with them (a running box) is read through them, its data never written."""
        if not self.path.is_file():
            raise StoreError(f"no database {self.path}")
        live = any(self.path.with_name(self.path.name + s).exists() for s in ("-wal", "-shm"))
        uri = f"{self.path.resolve().as_uri()}?mode=ro" + ("" if live else "&immutable=1")
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False,
                               isolation_level=None, timeout=10.0)
        conn.execute("PRAGMA busy_timeout = 10000")
        self._check_version(conn)
        return conn

    def _check_version(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            conn.close()
            raise StoreError(f"{self.path}: schema version {version} is newer than this "
                             f"courtbox ({len(MIGRATIONS)}); refusing to touch it")

    @property
    def identity(self) -> Any:
        """The signer, when it is the box's identity (``box_id``, ``fingerprint``)."""
        return self.signer

    @classmethod
    def in_dir(cls, data_dir: Path | str, **kwargs: Any) -> Store:
        """The database in ``data_dir``, signing with ``signer`` if given: the box's own
        store, signed with its identity, is ``courtbox.record.identity.open_store``."""
        return cls(Path(data_dir) / DB_NAME, **kwargs)

    def close(self) -> None:
        self.db.conn.close()

    # -- schema ---------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return self.db.conn.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self, migrations: list[Migration] | None = None) -> int:
        """Apply pending migrations, each in its own transaction; returns the new version."""
        return apply_migrations(self.db, self.path,
                                MIGRATIONS if migrations is None else migrations)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        conn = self.db.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException as e:
            conn.execute("ROLLBACK")
            refusal(e)  # a write the schema's triggers refused raises why, in words
            raise
        conn.execute("COMMIT")

    # -- the outbox and its chain ---------------------------------------------------------

    def _append_outbox(self, hearing_id: str | None, kind: str, record_id: str,
                       record: dict) -> int:
        """Inside a transaction: chain ``record`` after its hearing's last entry."""
        row = self.db.execute(
            "SELECT sha256 FROM outbox WHERE hearing_id IS ? ORDER BY seq DESC LIMIT 1",
            [hearing_id]).fetchone()
        prev = row[0] if row else None
        body = entry_body(kind, record_id, prev, record)
        digest = sha256_text(body)
        signature = self.signer.sign_text(entry_statement(digest)) if self.signer else None
        cur = self.db.execute(
            "INSERT INTO outbox (hearing_id, kind, record_id, body, sha256, prev_sha256,"
            " created_at, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [hearing_id, kind, record_id, body, digest, prev, utc_now(), signature])
        return cur.lastrowid

    def _record(self, table: str, kind: str, row: dict, record_id: str,
                hearing_id: str | None) -> Any:
        """Insert ``row`` and its outbox entry in one transaction; returns the row's key."""
        with self.transaction():
            pk = self.db[table].insert(row).last_pk
            self._append_outbox(hearing_id, kind, record_id, row)
        return pk

    def outbox(self, after: int = 0, limit: int = 1000) -> list[OutboxEntry]:
        rows = self.db.execute(
            "SELECT seq, hearing_id, kind, record_id, body, sha256, prev_sha256, signature"
            " FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", [after, limit]).fetchall()
        return [OutboxEntry(*r) for r in rows]

    def last_seq(self) -> int:
        return self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()[0]

    # -- records --------------------------------------------------------------------------

    def audit(self, actor: str, action: str, hearing_id: str | None = None,
              **detail: Any) -> int:
        at = utc_now()
        with self.transaction():
            row = {"at": at, "actor": actor, "action": action, "hearing_id": hearing_id,
                   "detail": canonical_json(detail)}
            entry_id = self.db["audit_log"].insert(row).last_pk
            self._append_outbox(hearing_id, "audit", str(entry_id), row)
        return entry_id

    def create_hearing(self, *, case_number: str, court: str, room: str, sample_rate: int,
                       channels: int, seats: list[dict], case_type: str = "",
                       title: str = "", panel: list | None = None,
                       parties: list | None = None, clerk: str = "",
                       terms: list | None = None, hearing_id: str | None = None,
                       **later: Any) -> str:
        hearing_id = hearing_id or uuid.uuid4().hex
        row = {
            "id": hearing_id, "case_number": case_number, "case_type": case_type,
            "title": title, "court": court, "room": room,
            "panel": canonical_json(panel or []), "parties": canonical_json(parties or []),
            "clerk": clerk, "state": "open", "sample_rate": sample_rate, "channels": channels,
            "wall_start": None, "clock_synced": None, "created_at": utc_now(),
            "closed_at": None, "terms": canonical_json(terms or []), "frozen_at": None,
            **HEARING_LATER, **later}
        with self.transaction():
            self.db["hearings"].insert(row)
            self._append_outbox(hearing_id, "hearing", hearing_id, row)
            for seat in seats:
                seat_row = {"hearing_id": hearing_id, "seat_id": seat["id"],
                            "channel": seat["channel"], "role": seat["role"],
                            "name": seat["name"]}
                self.db["seats"].insert(seat_row)
                self._append_outbox(hearing_id, "seat", f"{hearing_id}:{seat['id']}",
                                    seat_row)
        return hearing_id

    def update_hearing(self, hearing_id: str, **changes: Any) -> None:
        """Change a hearing's state fields; the change itself goes to the outbox."""
        with self.transaction():
            self.db["hearings"].update(hearing_id, changes)
            self._append_outbox(hearing_id, "hearing_update", hearing_id,
                                {"id": hearing_id, **changes})

    def hearing(self, hearing_id: str) -> dict | None:
        rows = list(self.db["hearings"].rows_where("id = ?", [hearing_id]))
        return decoded("hearings", rows[0]) if rows else None

    def hearings(self) -> list[dict]:
        return [decoded("hearings", r)
                for r in self.db["hearings"].rows_where(order_by="created_at DESC")]

    def seats(self, hearing_id: str) -> list[dict]:
        return list(self.db["seats"].rows_where("hearing_id = ?", [hearing_id],
                                                order_by="channel"))

    def add_segment(self, row: dict) -> str:
        row = {"created_at": utc_now(), "defective": 0, **row}
        return self._record("audio_segments", "audio_segment", row, row["id"],
                            row["hearing_id"])

    def segments(self, hearing_id: str) -> list[dict]:
        return list(self.db["audio_segments"].rows_where(
            "hearing_id = ?", [hearing_id], order_by="part, idx"))

    def audio_end(self, hearing_id: str) -> int:
        """The timeline sample where the hearing's archived audio ends (0: none yet)."""
        return self.db.execute(
            "SELECT COALESCE(MAX(start_sample + frames), 0) FROM audio_segments"
            " WHERE hearing_id = ?", [hearing_id]).fetchone()[0]

    def last_segment_hash(self, hearing_id: str) -> str | None:
        row = self.db.execute(
            "SELECT sha256 FROM audio_segments WHERE hearing_id = ?"
            " ORDER BY part DESC, idx DESC LIMIT 1", [hearing_id]).fetchone()
        return row[0] if row else None

    def add_final(self, *, hearing_id: str, utterance_id: str, seat: str, t0: float,
                  t1: float, text: str, words: list[dict], avg_logprob: float | None,
                  revision: int = 0, author: str = "asr") -> int:
        """A final line (revision 0, from the recogniser) or a correction of it (a new
        revision by ``author``); both are indexed for search."""
        row = {"hearing_id": hearing_id, "utterance_id": utterance_id, "seat": seat,
               "t0": round(t0, 3), "t1": round(t1, 3), "text": text, "kind": "final",
               "revision": revision, "words": canonical_json(words),
               "avg_logprob": avg_logprob, "author": author, "created_at": utc_now()}
        kind = "transcript" if revision == 0 else "revision"
        with self.transaction():
            pk = self.db["transcript"].insert(row).last_pk
            self._append_outbox(hearing_id, kind, f"{utterance_id}:{revision}", row)
            self.db.execute("INSERT INTO transcript_fts (rowid, text) VALUES (?, ?)",
                            [pk, search_tokens(text)])
        return pk

    _LATEST = """t.hearing_id = :h AND t.kind = 'final'
                 AND t.revision = (SELECT MAX(revision) FROM transcript u
                                   WHERE u.hearing_id = t.hearing_id AND u.kind = 'final'
                                     AND u.utterance_id = t.utterance_id)
                 AND t.text != ''"""  # an empty latest revision: merged into another

    def finals(self, hearing_id: str, after_id: int = 0, *, limit: int = -1,
               offset: int = 0, query: str | None = None) -> list[dict]:
        """The latest revision of every final line, in timeline order; ``after_id`` keeps
        lines written after that row, ``query`` those containing that text."""
        where, params = self._LATEST + " AND t.id > :after", {"h": hearing_id,
                                                              "after": after_id}
        if query is not None:
            phrase = search_tokens(query).replace('"', '""')
            if not phrase:
                return []
            where += (" AND t.id IN (SELECT rowid FROM transcript_fts"
                      " WHERE transcript_fts MATCH :q)")
            params["q"] = f'"{phrase}"'
        return [decoded("transcript", r) for r in self.db.query(
            f"SELECT t.* FROM transcript t WHERE {where} ORDER BY t.t0, t.id"
            " LIMIT :limit OFFSET :offset", {**params, "limit": limit, "offset": offset})]

    def count_finals(self, hearing_id: str) -> int:
        return self.db.execute(f"SELECT COUNT(*) FROM transcript t WHERE {self._LATEST}",
                               {"h": hearing_id}).fetchone()[0]

    def revisions(self, hearing_id: str, utterance_id: str) -> list[dict]:
        """Every revision of one final line, the machine's first."""
        return [decoded("transcript", r) for r in self.db["transcript"].rows_where(
            "hearing_id = ? AND utterance_id = ? AND kind = 'final'",
            [hearing_id, utterance_id], order_by="revision")]

    def add_annotation(self, *, hearing_id: str, t: float, label: str, text: str,
                       author: str) -> str:
        ann_id = uuid.uuid4().hex
        row = {"id": ann_id, "hearing_id": hearing_id, "t": t, "label": label, "text": text,
               "author": author, "created_at": utc_now()}
        self._record("annotations", "annotation", row, ann_id, hearing_id)
        return ann_id

    def annotations(self, hearing_id: str) -> list[dict]:
        return list(self.db["annotations"].rows_where("hearing_id = ?", [hearing_id],
                                                      order_by="t, created_at"))

    def audit_entries(self, hearing_id: str, prefix: str = "") -> list[dict]:
        return [decoded("audit_log", r) for r in self.db["audit_log"].rows_where(
                    "hearing_id = ? AND action LIKE ?", [hearing_id, prefix + "%"],
                    order_by="id")]

    def add_signoff(self, *, hearing_id: str, user: str, role: str,
                    transcript_sha256: str, audio_sha256: str | None) -> str:
        signoff_id = uuid.uuid4().hex
        row = {"id": signoff_id, "hearing_id": hearing_id, "user": user, "role": role,
               "transcript_sha256": transcript_sha256, "audio_sha256": audio_sha256,
               "created_at": utc_now()}
        self._record("signoffs", "signoff", row, signoff_id, hearing_id)
        return signoff_id

    def signoffs(self, hearing_id: str) -> list[dict]:
        return list(self.db["signoffs"].rows_where("hearing_id = ?", [hearing_id],
                                                   order_by="created_at"))

    # -- users and sessions (box-local, never sent to the centre) -------------------------

    def add_user(self, name: str, role: str, password_hash: str) -> None:
        try:
            self.db["users"].insert({"name": name, "role": role,
                                     "password_hash": password_hash, "disabled": 0,
                                     "created_at": utc_now()})
        except sqlite3.IntegrityError as e:
            raise StoreError(f"user {name} already exists") from e

    def user(self, name: str) -> dict | None:
        rows = list(self.db["users"].rows_where("name = ?", [name]))
        return rows[0] if rows else None

    def users(self) -> list[dict]:
        return list(self.db["users"].rows_where(order_by="name"))

    def update_user(self, name: str, **changes: Any) -> None:
        self.db["users"].update(name, changes)
        if changes.get("disabled") or "password_hash" in changes:
            self.db.execute("DELETE FROM sessions WHERE user = ?", [name])

    def add_session(self, token_sha256: str, user: str, expires_at: str) -> None:
        self.db.execute("DELETE FROM sessions WHERE expires_at < ?", [utc_now()])
        self.db["sessions"].insert({"token_sha256": token_sha256, "user": user,
                                    "created_at": utc_now(), "expires_at": expires_at})

    def session_user(self, token_sha256: str) -> dict | None:
        row = self.db.execute(
            "SELECT u.name, u.role FROM sessions s JOIN users u ON u.name = s.user"
            " WHERE s.token_sha256 = ? AND s.expires_at > ? AND u.disabled = 0",
            [token_sha256, utc_now()]).fetchone()
        return {"name": row[0], "role": row[1]} if row else None

    def delete_session(self, token_sha256: str) -> None:
        self.db.execute("DELETE FROM sessions WHERE token_sha256 = ?", [token_sha256])

    def integrity_check(self) -> str:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0]
