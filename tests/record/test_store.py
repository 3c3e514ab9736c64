"""The SQLite store (courtbox.record.store): durable settings, numbered migrations with a
backup, and the outbox whose seq orders every record and whose hashes chain per hearing."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils

from courtbox.errors import StoreError
from courtbox.record.store import DB_NAME, MIGRATIONS, OutboxEntry, Store

TABLES = {"hearings", "seats", "audio_segments", "transcript", "annotations", "audit_log",
          "outbox"}
SEATS = [{"channel": 0, "id": "presiding_judge", "role": "presiding_judge", "name": "审判长"},
         {"channel": 1, "id": "clerk", "role": "clerk", "name": "书记员"}]


@pytest.fixture()
def db_path(tmp_path: Path) -> Path:
    return tmp_path / DB_NAME


@pytest.fixture()
def store(db_path: Path) -> Iterator[Store]:
    s = Store(db_path)
    yield s
    s.close()


def new_hearing(store: Store, **kwargs: object) -> str:
    return store.create_hearing(case_number="(2024)京0491民初123号", court="示例人民法院",
                                room="第一科技法庭", sample_rate=16000, channels=2,
                                seats=SEATS, **kwargs)


def segment(hearing_id: str, idx: int, seg_id: str | None = None) -> dict:
    return {"id": seg_id or f"{hearing_id}-0-{idx}", "hearing_id": hearing_id, "part": 0,
            "idx": idx, "path": f"audio/{hearing_id}/0-{idx}.flac",
            "start_sample": idx * 960_000, "frames": 960_000, "sample_rate": 16000,
            "channels": 2, "sha256": hashlib.sha256(str(idx).encode()).hexdigest(),
            "prev_sha256": None}


def final(store: Store, hearing_id: str, utterance_id: str, t0: float, text: str,
          **kwargs: object) -> int:
    return store.add_final(hearing_id=hearing_id, utterance_id=utterance_id, seat="clerk",
                           t0=t0, t1=t0 + 1.5, text=text,
                           words=[{"w": text, "t0": t0, "t1": t0 + 1.5, "p": 0.9}],
                           avg_logprob=-0.2, **kwargs)


def user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def tables(store: Store) -> set[str]:
    return set(store.db.table_names())


def backups(db_path: Path) -> list[Path]:
    return sorted(db_path.parent.glob(f"{db_path.name}.bak-*"))


def add_note_column(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE hearings ADD COLUMN note TEXT NOT NULL DEFAULT ''")


# -- opening and migrating -------------------------------------------------------------

def test_open_creates_a_durable_migrated_database(store: Store, db_path: Path) -> None:
    """A new db is WAL, synchronous=FULL, has a busy timeout and the whole current schema."""
    conn = store.db.conn
    assert db_path.is_file()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    assert store.schema_version == len(MIGRATIONS) == user_version(db_path)
    assert TABLES <= tables(store)
    assert backups(db_path) == []


def test_reopening_does_not_migrate_again(db_path: Path) -> None:
    """Opening a current db keeps its rows and version, and writes no backup."""
    first = Store(db_path)
    hearing_id = new_hearing(first)
    first.close()
    again = Store(db_path)
    try:
        assert again.schema_version == len(MIGRATIONS)
        assert again.hearing(hearing_id) is not None
        assert again.migrate() == len(MIGRATIONS)
    finally:
        again.close()
    assert backups(db_path) == []


def test_migrating_an_existing_db_backs_it_up_first(store: Store, db_path: Path) -> None:
    """A pending migration first copies the db to <db>.bak-vN, then reaches version N+1."""
    hearing_id = new_hearing(store)
    n = len(MIGRATIONS)
    assert store.migrate([*MIGRATIONS, add_note_column]) == n + 1
    assert store.schema_version == n + 1
    assert "note" in store.db["hearings"].columns_dict
    assert backups(db_path) == [db_path.with_name(f"{DB_NAME}.bak-v{n}")]
    backup = sqlite3.connect(backups(db_path)[0])
    try:
        assert backup.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert backup.execute("PRAGMA user_version").fetchone()[0] == n
        assert backup.execute("SELECT id FROM hearings").fetchall() == [(hearing_id,)]
        columns = [r[1] for r in backup.execute("PRAGMA table_info(hearings)")]
        assert "note" not in columns
    finally:
        backup.close()


def test_newer_schema_is_refused_and_left_untouched(db_path: Path) -> None:
    """A db from a newer courtbox raises StoreError; its bytes and version stay as they were."""
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(StoreError, match="newer"):
        Store(db_path)
    assert db_path.read_bytes() == before
    assert user_version(db_path) == len(MIGRATIONS) + 5
    assert backups(db_path) == []


def test_failing_migration_rolls_back(store: Store) -> None:
    """A migration that fails half way leaves the version and schema as they were."""
    def broken(db: sqlite_utils.Database) -> None:
        db.execute("CREATE TABLE half_done (x INTEGER)")
        add_note_column(db)
        raise RuntimeError("boom")

    with pytest.raises((RuntimeError, StoreError)):
        store.migrate([*MIGRATIONS, broken])
    assert store.schema_version == len(MIGRATIONS)
    assert "half_done" not in tables(store)
    assert "note" not in store.db["hearings"].columns_dict
    assert not store.db.conn.in_transaction
    new_hearing(store)


# -- the outbox ------------------------------------------------------------------------

def test_every_record_gets_a_chained_outbox_entry_in_commit_order(store: Store) -> None:
    """seq strictly increases in commit order and each entry chains to its predecessor."""
    hearing_id = new_hearing(store)
    store.add_segment(segment(hearing_id, 0))
    final(store, hearing_id, "u1", 1.0, "现在开庭")
    ann_id = store.add_annotation(hearing_id=hearing_id, t=2.0, label="举证", text="证据一",
                                  author="clerk")
    store.audit("clerk", "hearing.start", hearing_id, reason="准时")
    entries = store.outbox()
    assert [e.kind for e in entries] == ["hearing", "seat", "seat", "audio_segment",
                                         "transcript", "annotation", "audit"]
    assert [e.record_id for e in entries][:3] == [hearing_id, f"{hearing_id}:presiding_judge",
                                                  f"{hearing_id}:clerk"]
    assert entries[5].record_id == ann_id
    seqs = [e.seq for e in entries]
    assert seqs == sorted(set(seqs))
    assert all(e.hearing_id == hearing_id for e in entries)
    assert entries[0].prev_sha256 is None
    for prev, entry in zip(entries, entries[1:], strict=False):
        assert entry.prev_sha256 == prev.sha256
    assert store.outbox(after=seqs[2], limit=2) == entries[3:5]


def test_outbox_body_is_canonical_json_of_the_record(store: Store) -> None:
    """body is sorted, spaceless, unescaped JSON holding the record; sha256 is its hash."""
    hearing_id = new_hearing(store)
    final(store, hearing_id, "u1", 1.0, "原告陈述诉讼请求")
    entries = store.outbox()
    for entry in entries:
        assert entry.sha256 == hashlib.sha256(entry.body.encode("utf-8")).hexdigest()
        parsed = json.loads(entry.body)
        assert entry.body == json.dumps(parsed, sort_keys=True, separators=(",", ":"),
                                        ensure_ascii=False)
        assert (parsed["kind"], parsed["id"], parsed["prev_sha256"]) == (
            entry.kind, entry.record_id, entry.prev_sha256)
    assert "示例人民法院" in entries[0].body and "\\u" not in entries[0].body
    assert json.loads(entries[0].body)["record"] == store.db["hearings"].get(hearing_id)
    assert store.hearing(hearing_id)["panel"] == []  # a reader gets the JSON decoded
    line = json.loads(entries[-1].body)["record"]
    (row,) = store.db["transcript"].rows_where("utterance_id = 'u1'")
    assert line == {k: v for k, v in row.items() if k != "id"}
    assert line["text"] == "原告陈述诉讼请求"


def test_interleaved_hearings_form_separate_chains(store: Store) -> None:
    """Two hearings written alternately chain only to their own previous entries."""
    a, b = new_hearing(store), new_hearing(store)
    for i in range(3):
        final(store, a, f"a{i}", float(i), f"甲{i}")
        final(store, b, f"b{i}", float(i), f"乙{i}")
    entries = store.outbox()
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)
    for hearing_id in (a, b):
        chain = [e for e in entries if e.hearing_id == hearing_id]
        assert len(chain) == 1 + len(SEATS) + 3
        assert chain[0].prev_sha256 is None
        for prev, entry in zip(chain, chain[1:], strict=False):
            assert entry.prev_sha256 == prev.sha256


def test_failed_record_insert_leaves_no_outbox_entry(store: Store) -> None:
    """A duplicate hearing id or segment id fails whole: no row, no outbox entry."""
    hearing_id = new_hearing(store, hearing_id="h1")
    store.add_segment(segment(hearing_id, 0, seg_id="s1"))
    before = store.outbox()
    with pytest.raises((sqlite3.IntegrityError, StoreError)):
        new_hearing(store, hearing_id="h1")
    with pytest.raises((sqlite3.IntegrityError, StoreError)):
        store.add_segment(segment(hearing_id, 1, seg_id="s1"))
    assert store.outbox() == before
    assert len(store.hearings()) == 1
    assert [s["idx"] for s in store.segments(hearing_id)] == [0]
    assert not store.db.conn.in_transaction
    store.add_segment(segment(hearing_id, 1))
    assert store.outbox()[-1].prev_sha256 == before[-1].sha256


def test_seq_is_never_reused_after_deleting_the_last_entry(store: Store) -> None:
    """The outbox key is AUTOINCREMENT: a deleted last seq is not handed out again."""
    hearing_id = new_hearing(store)
    last = store.outbox()[-1].seq
    store.db.execute("DELETE FROM outbox WHERE seq = ?", [last])
    store.audit("clerk", "hearing.start", hearing_id)
    assert store.outbox()[-1].seq > last


def test_finals_returns_the_latest_revision_in_timeline_order(store: Store) -> None:
    """finals() lists each utterance once, its newest revision, ordered by t0."""
    hearing_id = new_hearing(store)
    final(store, hearing_id, "u1", 5.0, "被告人答辩")
    final(store, hearing_id, "u2", 1.0, "现在开庭")
    final(store, hearing_id, "u3", 3.0, "原告陈述")
    final(store, hearing_id, "u1", 5.0, "被告答辩", revision=1, author="clerk")
    lines = store.finals(hearing_id)
    assert [(r["utterance_id"], r["text"]) for r in lines] == [
        ("u2", "现在开庭"), ("u3", "原告陈述"), ("u1", "被告答辩")]
    assert (lines[-1]["revision"], lines[-1]["author"]) == (1, "clerk")
    last = store.outbox()[-1]
    assert (last.kind, last.record_id) == ("revision", "u1:1")


# -- readers and integrity -------------------------------------------------------------

def test_second_store_reads_committed_rows_while_the_first_is_open(
        store: Store, db_path: Path) -> None:
    """A reader Store on the same file sees each commit, never an open transaction."""
    reader = Store(db_path)
    try:
        hearing_id = new_hearing(store)
        assert reader.hearing(hearing_id) is not None
        with store.transaction():
            store.db["annotations"].insert({"id": "a1", "hearing_id": hearing_id, "t": 1.0,
                                            "label": "x", "text": "", "author": "clerk",
                                            "created_at": "2024-01-01T00:00:00.000Z"})
            assert reader.db["annotations"].count == 0
        assert reader.db["annotations"].count == 1
        assert [e.seq for e in reader.outbox()] == [e.seq for e in store.outbox()]
    finally:
        reader.close()


def test_integrity_check_is_ok(store: Store) -> None:
    """A store with records passes SQLite's integrity check."""
    hearing_id = new_hearing(store)
    final(store, hearing_id, "u1", 1.0, "现在开庭")
    assert store.integrity_check() == "ok"
    assert isinstance(store.outbox()[0], OutboxEntry)
