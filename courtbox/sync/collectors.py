"""The collectors enrolled to pull this box: their tokens, what the box served each of them
and what each acknowledged.

- ``enroll``: a new token for a name; enrolling a name again starts it afresh (its old
  token, acks and downloads are gone: nothing acknowledged under an old token can release
  audio under the new one).
- ``revoke``: the token stops working at once (401) and the collector's acks release
  nothing any more (``courtbox.sync.retention``); kept, not deleted, for the record.
- ``served``: how much of a blob a response sent the collector, kept as the prefix it
  has whole (a resumed download starts where the last one stopped); ``completed_at`` when
  that prefix is the whole file.
- ``acknowledge``: the collector's ack of ``seq`` and of blobs; a blob it was never served
  whole is not recorded as acknowledged (and so never released by that ack): it is
  counted back as ``not_downloaded``.

Every table here is box-local: none is in the outbox (an audit entry is itself an outbox
entry the centre would pull and acknowledge, without end); enrolment and revocation are
audited.
"""

from __future__ import annotations

import secrets

from courtbox.errors import SyncError
from courtbox.record.chain import sha256_text, utc_now
from courtbox.record.store import Store


def enroll(store: Store, name: str, *, actor: str) -> str:
    """A new collector token for ``name`` (shown once; the box keeps its sha256)."""
    token = secrets.token_urlsafe(32)
    with store.transaction():
        store.db.execute("DELETE FROM blob_acks WHERE collector = ?", [name])
        store.db.execute("DELETE FROM blob_downloads WHERE collector = ?", [name])
        store.db.execute("DELETE FROM collectors WHERE name = ?", [name])
        store.db["collectors"].insert({"name": name, "token_sha256": sha256_text(token),
                                       "acked_seq": 0, "disabled": 0,
                                       "created_at": utc_now()})
    store.audit(actor, "sync.enroll", None, collector=name)
    return token


def revoke(store: Store, name: str, *, actor: str) -> None:
    """Revoke collector ``name`` (``SyncError`` if there is none, or it is revoked)."""
    with store.transaction():
        done = store.db.execute("UPDATE collectors SET revoked_at = ?, disabled = 1"
                                " WHERE name = ? AND revoked_at IS NULL",
                                [utc_now(), name]).rowcount
    if not done:
        known = store.db.execute("SELECT 1 FROM collectors WHERE name = ?",
                                 [name]).fetchone()
        raise SyncError(f"collector {name} is revoked already" if known else
                        f"no collector {name} (courtbox sync enroll NAME)")
    store.audit(actor, "sync.revoke", None, collector=name)


def active_collector(store: Store, token_sha256: str) -> str | None:
    row = store.db.execute("SELECT name FROM collectors WHERE token_sha256 = ? AND"
                           " disabled = 0 AND revoked_at IS NULL", [token_sha256]).fetchone()
    return row[0] if row else None


def served(store: Store, collector: str, sha256: str, first: int, end: int,
           size: int) -> None:
    """Record that bytes ``first`` up to ``end`` (exclusive) of the blob (``size`` bytes)
    reached ``collector``: its whole prefix grows when this continues it."""
    with store.transaction():
        row = store.db.execute("SELECT served_bytes FROM blob_downloads WHERE sha256 = ?"
                               " AND collector = ?", [sha256, collector]).fetchone()
        have = 0 if row is None or row[0] < 0 else row[0]
        if row is not None and row[0] < 0 or first > have or end <= have:
            return  # whole already, or not a continuation of what it has
        done = utc_now() if end >= size else None
        store.db.execute(
            "INSERT INTO blob_downloads (sha256, collector, served_bytes, completed_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (sha256, collector) DO UPDATE SET"
            " served_bytes = excluded.served_bytes, completed_at = excluded.completed_at",
            [sha256, collector, end, done])


def acknowledge(store: Store, collector: str, seq: int, blobs: list[str]) -> dict:
    """The collector's ack of every entry up to ``seq`` and of ``blobs``."""
    last = store.last_seq()
    if seq > last:
        raise SyncError(f"ack of seq {seq} beyond the box's last entry {last}")
    now = utc_now()
    not_downloaded = 0
    with store.transaction():
        store.db.execute("UPDATE collectors SET acked_seq = MAX(acked_seq, ?)"
                         " WHERE name = ?", [seq, collector])
        for sha in blobs:
            whole = store.db.execute(
                "SELECT 1 FROM blob_downloads WHERE sha256 = ? AND collector = ? AND"
                " completed_at IS NOT NULL", [sha, collector]).fetchone()
            if whole is None:
                not_downloaded += 1
                continue
            store.db.execute("INSERT OR IGNORE INTO blob_acks (sha256, collector,"
                             " acked_at) VALUES (?, ?, ?)", [sha, collector, now])
    acked = store.db.execute("SELECT acked_seq FROM collectors WHERE name = ?",
                             [collector]).fetchone()[0]
    return {"collector": collector, "acked_seq": acked,
            "blobs": len(blobs) - not_downloaded, "not_downloaded": not_downloaded}
