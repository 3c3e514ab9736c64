"""The pull API on the box, mounted in the agent under ``/api/v1/sync``.

The centre pulls; the box never pushes and never deletes what the centre has not confirmed.

- ``GET /identity``: the box id, algorithm, public key and fingerprint (open: the collector
  compares the fingerprint with the one it pinned at enrolment), and the API's TLS
  certificate with the key's signature over it (``courtbox.sync.tls``).
- ``GET /changes?after=SEQ&limit=N``: outbox entries in ``seq`` order, each with its sha256,
  the previous hash of its hearing and its signature, plus the box's health and its signed
  chain heads (the heartbeat, ``chain_heads``).
- ``GET /blobs/{sha256}``: an archived audio segment file, with HTTP Range (the one parser
  of ``courtbox.record.playback``), so a broken download resumes where it stopped; what
  reached the collector is kept (``collectors.served``).
- ``POST /ack``: the collector confirms everything up to ``seq`` and the blobs it has
  stored; only then may retention release audio from the box, and only audio the box
  served that collector whole (``courtbox.sync.collectors``).

Only enrolled collectors get in: ``courtbox sync enroll NAME`` issues a token (the box keeps
its sha256); anything else, a revoked collector's token too (``courtbox sync revoke
NAME``), is 401. Acknowledgements are kept in ``collectors`` and
``blob_acks``, not in the audit log: an audit entry is itself an outbox entry the centre
would pull and acknowledge, without end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from courtbox.record.chain import canonical_json, heads_statement, sha256_text, utc_now
from courtbox.record.hearing import sealed_head
from courtbox.record.identity import Identity
from courtbox.record.playback import RangeError, byte_range
from courtbox.record.store import SQLITE_MAX, Store
from courtbox.sync.collectors import acknowledge, active_collector, enroll, served
from courtbox.sync.tls import Certificate, vouch

__all__ = ["chain_heads", "enroll", "sync_lag", "sync_router"]

PROTOCOL = 1
MAX_LIMIT = 5000
CHUNK = 1 << 16
MAX_HEADS = 200  # hearings per heartbeat, those changed last first
_SHA = re.compile(r"^[0-9a-f]{64}$")

COLLECTOR_TOKEN = HTTPBearer(auto_error=False, scheme_name="CollectorToken",
                             description="The token `courtbox sync enroll` issued.")


class AckBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: int = Field(ge=0, le=SQLITE_MAX, description="Every entry up to this is stored.")
    blobs: list[str] = Field([], max_length=10000, description="sha256 of stored blobs.")


def sync_lag(store: Store) -> dict:
    """What the centre has not yet confirmed: outbox entries and audio bytes."""
    acked = store.db.execute("SELECT COALESCE(MAX(acked_seq), 0) FROM collectors"
                             " WHERE disabled = 0 AND revoked_at IS NULL").fetchone()[0]
    rows = store.db.execute(
        "SELECT path FROM audio_segments WHERE sha256 NOT IN (SELECT a.sha256 FROM"
        " blob_acks a JOIN collectors c ON c.name = a.collector WHERE c.disabled = 0"
        " AND c.revoked_at IS NULL)").fetchall()
    data_dir = store.path.parent
    unacked = sum((data_dir / r[0]).stat().st_size for r in rows
                  if (data_dir / r[0]).is_file())
    return {"last_seq": store.last_seq(), "acked_seq": acked,
            "lag_records": store.last_seq() - acked, "lag_blobs": len(rows),
            "lag_bytes": unacked}


def chain_heads(store: Store, identity: Identity, after: int = 0) -> dict:
    """What the box commits to in a heartbeat: the outbox's last seq and, for every hearing
    with entries after ``after`` (what the centre has not yet pulled) and every one still
    open, its head (``sealed_head``: segments, audio head, records, last seq, record head),
    signed by the box's key over the sha256 of their canonical JSON. The centre keeps the
    heartbeat as received, so the box cannot later serve a shorter chain unnoticed."""
    rows = store.db.execute(
        "SELECT id, state FROM hearings WHERE state != 'closed' OR id IN (SELECT hearing_id"
        " FROM outbox WHERE seq > ? AND hearing_id IS NOT NULL) ORDER BY"
        " (SELECT MAX(seq) FROM outbox WHERE hearing_id = hearings.id) DESC LIMIT ?",
        [after, MAX_HEADS]).fetchall()
    heads = {"box_id": identity.box_id, "at": utc_now(), "last_seq": store.last_seq(),
             "hearings": [{"hearing_id": hid, "state": state, **sealed_head(store, hid)}
                          for hid, state in rows]}
    digest = sha256_text(canonical_json(heads))
    return {**heads, "sha256": digest,
            "signature": identity.sign_text(heads_statement(digest))}


def sync_router(*, read: Callable, write: Callable, identity: Identity,
                certificate: Certificate | Callable[[], Certificate | None] | None,
                data_dir: Path, health: Callable[[], dict],
                submit: Callable | None = None) -> APIRouter:
    """``read``/``write``: run a function on a store connection (the API's reader, the
    store's writer); ``certificate``: the API's TLS certificate (or what gives the one
    served now: it is renewed while the box runs), vouched for in the identity;
    ``health``: the heartbeat sent with every batch of changes; ``submit``: hand a
    function to the writer without waiting (what a blob download reached is recorded
    where the response ends, which may be on the event loop)."""
    router = APIRouter(prefix="/api/v1/sync", tags=["sync"])

    def collector(creds: HTTPAuthorizationCredentials | None = Depends(COLLECTOR_TOKEN)
                  ) -> str:
        if creds is not None:
            digest = sha256_text(creds.credentials)
            name = read(lambda s: active_collector(s, digest))
            if name:
                return name
        raise HTTPException(401, "not an enrolled collector (courtbox sync enroll NAME)",
                            headers={"WWW-Authenticate": "Bearer"})

    @router.get("/identity")
    def box_identity() -> dict:
        cert = certificate() if callable(certificate) else certificate
        tls = {"tls": vouch(identity, cert)} if cert is not None else {}
        return {**identity.public(), "protocol": PROTOCOL, **tls}

    @router.get("/changes")
    def changes(after: int = Query(0, ge=0, le=SQLITE_MAX),
                limit: int = Query(500, ge=1, le=MAX_LIMIT),
                name: str = Depends(collector)) -> dict:
        entries, last, heads = read(lambda s: (s.outbox(after, limit), s.last_seq(),
                                               chain_heads(s, identity, after)))
        write(lambda s: s.db.execute("UPDATE collectors SET last_seen = ? WHERE name = ?",
                                     [utc_now(), name]))
        return {"box_id": identity.box_id, "algorithm": identity.signer.algorithm,
                "entries": [e.as_dict() for e in entries], "last_seq": last, "heads": heads,
                "more": bool(entries) and entries[-1].seq < last, "health": health()}

    @router.get("/blobs/{sha256}", response_class=StreamingResponse,
                responses={200: {"content": {"audio/flac": {}}}, 206: {}, 416: {}})
    def blob(sha256: str, range_: str | None = Header(None, alias="range"),
             name: str = Depends(collector)) -> Response:
        if not _SHA.match(sha256):
            raise HTTPException(422, "a blob is named by its sha256: 64 hex digits")
        row = read(lambda s: s.db.execute(
            "SELECT path FROM audio_segments WHERE sha256 = ? AND id NOT IN"
            " (SELECT segment_id FROM released_segments)", [sha256]).fetchone())
        if row is None or not (data_dir / row[0]).is_file():
            raise HTTPException(404, f"no blob {sha256} on this box")
        path = data_dir / row[0]
        size = path.stat().st_size
        try:
            span = byte_range(range_, size)
        except RangeError as e:
            return Response(canonical_json({"detail": str(e)}), 416,
                            headers={"Content-Range": f"bytes */{size}"},
                            media_type="application/json")
        first, last = span or (0, size - 1)
        headers = {"Accept-Ranges": "bytes", "Content-Length": str(last - first + 1)}
        if span:
            headers["Content-Range"] = f"bytes {first}-{last}/{size}"

        def record(end: int) -> None:
            (submit or write)(lambda s: served(s, name, sha256, first, end, size))

        return StreamingResponse(_file_bytes(path, first, last, record),
                                 206 if span else 200, headers=headers,
                                 media_type="audio/wav" if path.suffix == ".wav"
                                 else "audio/flac")

    @router.post("/ack")
    def ack(body: AckBody, name: str = Depends(collector)) -> dict:
        bad = [b for b in body.blobs if not _SHA.match(b)]
        if bad:
            raise HTTPException(422, f"not a sha256: {bad[0][:80]}")
        return write(lambda s: acknowledge(s, name, body.seq, body.blobs))

    return router


def _file_bytes(path: Path, first: int, last: int, record: Callable[[int], None]
                ) -> Iterator[bytes]:
    """Bytes ``first`` to ``last`` of the file; ``record(end)`` with how far they reached
    the client (a chunk counts once the server has handed it on and asks for the next)."""
    end = first
    try:
        with open(path, "rb") as f:
            f.seek(first)
            while end <= last:
                chunk = f.read(min(CHUNK, last + 1 - end))
                if not chunk:
                    break  # the file is shorter than its row says: verify reports it
                yield chunk
                end += len(chunk)
    finally:
        if end > first:
            record(end)
