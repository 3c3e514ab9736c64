"""The pull API on the box, mounted in the agent under ``/api/v1/sync``.

The centre pulls; the box never pushes and never deletes what the centre has not confirmed.

- ``GET /identity``: the box id, algorithm, public key and fingerprint (open: the collector
  compares the fingerprint with the one it pinned at enrolment), and the API's TLS
  certificate with the key's signature over it (``courtbox.sync.tls``).
- ``GET /changes?after=SEQ&limit=N``: outbox entries in ``seq`` order, each with its sha256,
  the previous hash of its hearing and its signature, plus the box's health (the heartbeat).
- ``GET /blobs/{sha256}``: an archived audio segment file, with HTTP Range, so a broken
  download resumes where it stopped.
- ``POST /ack``: the collector confirms everything up to ``seq`` and the blobs it has
  stored; only then may retention release audio from the box.

Only enrolled collectors get in: ``courtbox sync enroll NAME`` issues a token (the box keeps
its sha256); anything else is 401. Acknowledgements are kept in ``collectors`` and
``blob_acks``, not in the audit log: an audit entry is itself an outbox entry the centre
would pull and acknowledge, without end.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import FileResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from courtbox.errors import SyncError
from courtbox.record.chain import sha256_text, utc_now
from courtbox.record.identity import Identity
from courtbox.record.store import SQLITE_MAX, Store
from courtbox.sync.tls import Certificate, vouch

PROTOCOL = 1
MAX_LIMIT = 5000
_SHA = re.compile(r"^[0-9a-f]{64}$")

COLLECTOR_TOKEN = HTTPBearer(auto_error=False, scheme_name="CollectorToken",
                             description="The token `courtbox sync enroll` issued.")


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: int = Field(ge=0, le=SQLITE_MAX, description="Every entry up to this is stored.")
    blobs: list[str] = Field([], max_length=10000, description="sha256 of stored blobs.")


def enroll(store: Store, name: str, *, actor: str) -> str:
    """A new collector token for ``name`` (shown once; the box keeps its sha256)."""
    token = secrets.token_urlsafe(32)
    with store.transaction():
        store.db["collectors"].upsert({"name": name, "token_sha256": sha256_text(token),
                                       "disabled": 0, "created_at": utc_now()},
                                      pk="name")
    store.audit(actor, "sync.enroll", None, collector=name)
    return token


def sync_lag(store: Store) -> dict:
    """What the centre has not yet confirmed: outbox entries and audio bytes."""
    acked = store.db.execute("SELECT COALESCE(MAX(acked_seq), 0) FROM collectors"
                             " WHERE disabled = 0").fetchone()[0]
    rows = store.db.execute(
        "SELECT path FROM audio_segments WHERE sha256 NOT IN (SELECT sha256 FROM blob_acks)"
        ).fetchall()
    data_dir = store.path.parent
    unacked = sum((data_dir / r[0]).stat().st_size for r in rows
                  if (data_dir / r[0]).is_file())
    return {"last_seq": store.last_seq(), "acked_seq": acked,
            "lag_records": store.last_seq() - acked, "lag_blobs": len(rows),
            "lag_bytes": unacked}


def sync_router(*, read: Callable, write: Callable, identity: Identity,
                certificate: Certificate | None, data_dir: Path,
                health: Callable[[], dict]) -> APIRouter:
    """``read``/``write``: run a function on a store connection (the API's reader, the
    store's writer); ``certificate``: the API's TLS certificate, vouched for in the
    identity; ``health``: the heartbeat sent with every batch of changes."""
    router = APIRouter(prefix="/api/v1/sync", tags=["sync"])

    def collector(creds: HTTPAuthorizationCredentials | None = Depends(COLLECTOR_TOKEN)
                  ) -> str:
        if creds is not None:
            digest = sha256_text(creds.credentials)
            row = read(lambda s: s.db.execute(
                "SELECT name FROM collectors WHERE token_sha256 = ? AND disabled = 0",
                [digest]).fetchone())
            if row:
                return row[0]
        raise HTTPException(401, "not an enrolled collector (courtbox sync enroll NAME)",
                            headers={"WWW-Authenticate": "Bearer"})

    @router.get("/identity")
    def box_identity() -> dict:
        tls = {"tls": vouch(identity, certificate)} if certificate is not None else {}
        return {**identity.public(), "protocol": PROTOCOL, **tls}

    @router.get("/changes")
    def changes(after: int = Query(0, ge=0, le=SQLITE_MAX),
                limit: int = Query(500, ge=1, le=MAX_LIMIT),
                name: str = Depends(collector)) -> dict:
        entries = read(lambda s: s.outbox(after, limit))
        last = read(lambda s: s.last_seq())
        write(lambda s: s.db.execute("UPDATE collectors SET last_seen = ? WHERE name = ?",
                                     [utc_now(), name]))
        return {"box_id": identity.box_id, "algorithm": identity.signer.algorithm,
                "entries": [e.as_dict() for e in entries], "last_seq": last,
                "more": bool(entries) and entries[-1].seq < last, "health": health()}

    @router.get("/blobs/{sha256}", response_class=FileResponse,
                responses={200: {"content": {"audio/flac": {}}}, 206: {}, 416: {}})
    def blob(sha256: str, name: str = Depends(collector)) -> FileResponse:
        if not _SHA.match(sha256):
            raise HTTPException(422, "a blob is named by its sha256: 64 hex digits")
        row = read(lambda s: s.db.execute(
            "SELECT path FROM audio_segments WHERE sha256 = ? AND id NOT IN"
            " (SELECT segment_id FROM released_segments)", [sha256]).fetchone())
        if row is None or not (data_dir / row[0]).is_file():
            raise HTTPException(404, f"no blob {sha256} on this box")
        return FileResponse(data_dir / row[0], media_type="audio/flac")

    @router.post("/ack")
    def ack(body: AckBody, name: str = Depends(collector)) -> dict:
        bad = [b for b in body.blobs if not _SHA.match(b)]
        if bad:
            raise HTTPException(422, f"not a sha256: {bad[0][:80]}")

        def record(s: Store) -> int:
            last = s.last_seq()
            if body.seq > last:
                raise SyncError(f"ack of seq {body.seq} beyond the box's last entry {last}")
            with s.transaction():
                s.db.execute("UPDATE collectors SET acked_seq = MAX(acked_seq, ?)"
                             " WHERE name = ?", [body.seq, name])
                now = utc_now()
                for sha in body.blobs:
                    s.db.execute("INSERT OR IGNORE INTO blob_acks (sha256, collector,"
                                 " acked_at) VALUES (?, ?, ?)", [sha, name, now])
            return s.db.execute("SELECT acked_seq FROM collectors WHERE name = ?",
                                [name]).fetchone()[0]

        acked = write(record)
        return {"collector": name, "acked_seq": acked, "blobs": len(body.blobs)}

    return router
