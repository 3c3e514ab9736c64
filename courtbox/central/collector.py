"""The court's collector (``courtbox central run``): pulls the boxes leased to it, verifies
everything, stores it once, and only then acknowledges.

Per box, in order:

1. The box's identity is fetched and its key compared with the one pinned when the box
   was added (``courtbox central add-box``): a box that answers with another key is
   refused. Over https, the TLS certificate the key signed is pinned, and everything after
   goes over a connection that trusts that certificate alone (``courtbox.central.pinning``).
2. Changes are pulled from the box's cursor. Each entry is verified before anything is
   stored: its body against its sha256, its signature against the pinned key, its
   ``prev_sha256`` against the last entry of the same hearing already held (the chain),
   and for an audio segment its own audio chain link. The segment's file is then
   downloaded into the spool (resuming a ``.part`` file with HTTP Range after any
   interruption), its sha256 checked against the signed record, and uploaded to the
   object store with that SHA-256, which the store checks again (``courtbox.central
   .objects``). Audio already in the store (from another box, or an earlier try) is not
   fetched again.
3. The verified entries, their objects and the new cursor are committed to PostgreSQL in
   one transaction; entries are unique on (box id, seq) and (box id, sha256), so a
   replayed batch, or one pulled twice by two collectors, changes nothing and a reordered
   one is put back in order.
4. Only then, with the object store's confirmation and PostgreSQL's commit both in hand,
   are the entries and audio acknowledged to the box, which may then release the audio.
   An acknowledgement lost to a crash is sent again on the next pull.

An entry that fails verification is quarantined with the box, hearing, record and reason,
reported, and never acknowledged; the box's cursor stops before it, so nothing after it is
taken either until an operator has looked (``courtbox central status`` shows it). Which
boxes a collector pulls, and how many at a time, is ``courtbox.central.scheduler``'s (leases
in the database); database calls run in worker threads, never in the event loop.

Every check of a record, link and signature is ``courtbox.record.chain``'s, the same the box
and ``courtbox verify`` use.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from courtbox.central.pinning import pinned_context, trusted_certificate
from courtbox.central.store import CentralStore
from courtbox.errors import CourtboxError, SyncError
from courtbox.record.chain import (
    ChainBroken,
    certificate_sha256,
    check_entry,
    file_sha256,
    fingerprint,
    linked,
)

logger = logging.getLogger(__name__)

BATCH = 500


class Quarantined(Exception):
    """An entry failed verification."""


@dataclass
class PullReport:
    url: str
    box_id: str | None = None
    records: int = 0
    blobs: int = 0
    bytes: int = 0
    quarantined: list[str] = field(default_factory=list)
    error: str | None = None


def collector_name() -> str:
    """This process, as its leases name it: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Collector:
    def __init__(self, store: CentralStore, *, concurrency: int | None = None,
                 timeout: float | None = None, name: str | None = None) -> None:
        settings = store.config.collector
        self.store = store
        self.concurrency = concurrency or settings.concurrency
        self.timeout = timeout or settings.timeout_s
        self.name = name or collector_name()
        # One upload per sha256 at a time: two boxes with the same bytes store one object.
        self._uploads: dict[str, list] = {}  # sha256: [lock, users]

    async def db(self, method: str, *args, **kwargs):
        """A store call, in a worker thread (PostgreSQL is never waited on in the loop)."""
        return await asyncio.to_thread(functools.partial(getattr(self.store, method),
                                                         *args, **kwargs))

    # -- rounds (courtbox.central.scheduler) ----------------------------------------------

    async def pull_all(self) -> list[PullReport]:
        """One round: every box pulled once (by this collector or another)."""
        from courtbox.central.scheduler import one_round
        return await one_round(self)

    async def run(self, interval: float | None = None, rounds: int | None = None) -> None:
        from courtbox.central.scheduler import run_forever
        await run_forever(self, interval, rounds)

    # -- one box --------------------------------------------------------------------------

    async def pull_box(self, box: dict) -> PullReport:
        report = PullReport(box["url"], box["box_id"])
        headers = {"Authorization": f"Bearer {box['token']}"}
        try:
            box = await self._pin(box)
            report.box_id = box["box_id"]
            if box["blocked"]:
                report.error = f"blocked: {box['blocked']}"
                return report
            async with self._client(box) as client:
                await self._ack(client, box, headers, box["cursor"])
                while True:
                    r = await client.get(f"{box['url']}/api/v1/sync/changes",
                                         headers=headers,
                                         params={"after": box["cursor"], "limit": BATCH})
                    r.raise_for_status()
                    batch = r.json()
                    await self.db("heartbeat", box["url"], batch["health"])
                    done = await self._take(client, box, headers, batch["entries"], report)
                    box = await self.db("box", box["url"])
                    await self._ack(client, box, headers, box["cursor"])
                    if not done or not batch["more"]:
                        break
        except (httpx.HTTPError, OSError, ValueError, KeyError, CourtboxError,
                psycopg.Error) as e:
            report.error = f"{type(e).__name__}: {e}"
            if "CERTIFICATE_VERIFY_FAILED" in str(e):
                report.error = (f"refused: {box['url']} presents a certificate that is not "
                                f"the one the box's key signed (someone between the centre "
                                f"and the box?); no token sent ({e})")
            try:
                await self.db("update_box", box["url"], last_error=report.error[:500])
            except psycopg.Error as db_error:  # the database is what failed
                logger.warning("box %s: cannot record its error: %s", box["url"], db_error)
        return report

    def _client(self, box: dict) -> httpx.AsyncClient:
        """A client for one box: over https it trusts the box's pinned certificate and
        nothing else, so the token goes to no one but the box."""
        verify = (pinned_context(box["tls_certificate"])
                  if box["url"].startswith("https://") else True)
        return httpx.AsyncClient(timeout=self.timeout, verify=verify,
                                 limits=httpx.Limits(max_connections=4))

    async def _pin(self, box: dict) -> dict:
        """The box's identity, checked each round against the key pinned for it (the
        fingerprint given at ``add-box``, then the key itself), and over https the TLS
        certificate that key signed, pinned (again when the box renews it)."""
        # The identity vouches for itself and nothing secret is sent for it, so it may
        # come over a connection not yet verified: that is how the first pin is learnt.
        async with httpx.AsyncClient(timeout=self.timeout, verify=False) as plain:
            r = await plain.get(f"{box['url']}/api/v1/sync/identity")
        r.raise_for_status()
        ident = r.json()
        key = base64.b64decode(ident["public_key"], validate=True)
        if box["public_key"] is None:
            if fingerprint(key) != box["fingerprint"]:
                raise SyncError(f"identity mismatch: the box answers with key "
                                f"{fingerprint(key)}, pinned {box['fingerprint']}")
        elif ident["public_key"] != box["public_key"] or ident["box_id"] != box["box_id"]:
            raise SyncError(f"identity mismatch: the box answers as {ident['box_id']} with "
                            f"key {fingerprint(key)}, pinned {box['box_id']} "
                            f"{box['fingerprint']}")
        changes: dict = {}
        if box["public_key"] is None:
            changes.update(box_id=ident["box_id"], algorithm=ident["algorithm"],
                           public_key=ident["public_key"])
        if box["url"].startswith("https://"):
            cert = trusted_certificate({**ident, "algorithm": box["algorithm"]
                                        or ident["algorithm"]}, key)
            if cert != box["tls_certificate"]:
                # A statement carries no date, so one the box made long ago still checks
                # out: whoever stole an old TLS key could offer its old certificate. One
                # the box has replaced is never taken back.
                retired = list(box["retired_certificates"])
                if certificate_sha256(cert.encode("ascii")) in retired:
                    raise SyncError(
                        f"refused: box {ident['box_id']} at {box['url']} presents a TLS "
                        "certificate it has since replaced (an old key replayed?); no "
                        "token sent")
                if box["tls_certificate"]:
                    logger.warning("box %s (%s) has a new TLS certificate, signed by its "
                                   "pinned key: pinned", ident["box_id"], box["url"])
                    retired.append(certificate_sha256(box["tls_certificate"].encode("ascii")))
                    changes["retired_certificates"] = retired
                changes["tls_certificate"] = cert
        if changes:
            await self.db("update_box", box["url"], **changes)
            box = await self.db("box", box["url"])
        return box

    async def _take(self, client: httpx.AsyncClient, box: dict, headers: dict,
                    entries: list[dict], report: PullReport) -> bool:
        """Verify and store one batch; False when an entry was quarantined."""
        entries = sorted((e for e in entries if e["seq"] > box["cursor"]),
                         key=lambda e: e["seq"])
        heads: dict[str | None, str | None] = {}
        audio: dict[str, str | None] = {}
        good: list[dict] = []
        blobs: list[dict] = []
        cursor = box["cursor"]
        ok = True
        for e in entries:
            if e["seq"] <= cursor:
                continue  # the same entry twice in one batch
            try:
                held = await self.db("held", box["box_id"], e["seq"])
                if held is not None:  # replayed: the same entry again changes nothing
                    if held != e["sha256"]:
                        raise Quarantined("differs from the entry already held for this "
                                          "seq (rewritten on the box)")
                    cursor = max(cursor, e["seq"])
                    continue
                hid = e["hearing_id"]
                if hid not in heads:
                    heads[hid] = await self.db("head", box["box_id"], hid)
                doc = self._verify(box, e, heads[hid])
                if e["kind"] == "audio_segment":
                    rec = doc["record"]
                    if hid not in audio:
                        audio[hid] = await self.db("audio_head", box["box_id"], hid)
                    if not linked(rec["prev_sha256"], audio[hid]):
                        raise Quarantined("audio segment does not link to the segment "
                                          "before it (audio chain broken)")
                    blob = await self._blob(client, box, headers, rec, report)
                    blobs.append({**blob, "sha256": rec["sha256"], "record_id": e["record_id"],
                                  "seq": e["seq"],
                                  "hearing_id": hid})
                    audio[hid] = rec["sha256"]
            except Quarantined as q:
                await self._quarantine(box, e, str(q), report)
                ok = False
                break
            heads[hid] = e["sha256"]
            good.append(e)
            cursor = e["seq"]
        if good or cursor != box["cursor"]:
            report.records += await self.db("commit_batch", box, good, blobs, cursor,
                                            self.name)
        return ok

    async def _quarantine(self, box: dict, e: dict, reason: str, report: PullReport
                          ) -> None:
        if await self.db("quarantine", box["box_id"], e, reason):
            logger.error("box %s (%s): quarantined seq %s, hearing %s, %s %s: %s",
                         box["box_id"], box["url"], e.get("seq"), e.get("hearing_id"),
                         e.get("kind"), e.get("record_id"), reason)
        await self.db("update_box", box["url"], blocked=f"seq {e.get('seq')}: {reason}")
        report.quarantined.append(reason)

    def _verify(self, box: dict, e: dict, head: str | None) -> dict:
        try:
            doc = check_entry(e, algorithm=box["algorithm"],
                              public_key=base64.b64decode(box["public_key"]),
                              key_name="the box's pinned key")
        except ChainBroken as exc:
            raise Quarantined(str(exc)) from exc
        if not linked(e["prev_sha256"], head):
            raise Quarantined("prev_sha256 does not link to the hearing's last entry "
                              "(chain broken or an entry missing)")
        return doc

    async def _blob(self, client: httpx.AsyncClient, box: dict, headers: dict, rec: dict,
                    report: PullReport) -> dict:
        """The audio file of a segment record, in the object store: already there (from
        another box, or an earlier try whose commit did not happen: not uploaded again), or
        downloaded, checked and uploaded now. Returns the object as the store confirmed
        it."""
        sha = rec["sha256"]
        slot = self._uploads.setdefault(sha, [asyncio.Lock(), 0])
        slot[1] += 1
        try:
            async with slot[0]:
                stored = await asyncio.to_thread(self.store.objects.stored, sha)
                # The box acknowledges only what it served us whole: bytes stored from
                # another box (or another hearing) are fetched once from this one too.
                if stored is None or not await self.db("acked_by_box", box["box_id"], sha):
                    stored = await self._fetch_and_store(client, box, headers, sha, report,
                                                         stored)
                return stored
        finally:
            slot[1] -= 1
            if not slot[1]:
                del self._uploads[sha]

    async def _fetch_and_store(self, client: httpx.AsyncClient, box: dict, headers: dict,
                               sha: str, report: PullReport, stored: dict | None) -> dict:
        parts = self.store.spool / "parts"
        parts.mkdir(parents=True, exist_ok=True)
        # One part file per box: two boxes may send the same bytes at the same time.
        part = parts / f"{sha}.{box['box_id'][:12]}.part"
        resumed = part.exists() and part.stat().st_size > 0
        await self._download(client, box, headers, sha, part, report)
        if await asyncio.to_thread(file_sha256, part) != sha and resumed:
            # Our own interrupted download, not the box's file, may be at fault.
            part.unlink()
            await self._download(client, box, headers, sha, part, report)
        if await asyncio.to_thread(file_sha256, part) != sha:
            part.unlink()
            raise Quarantined(f"audio segment file does not match its sha256 {sha} "
                              f"(altered on the box)")
        # Refused or unreachable (ObjectStoreError): the part stays for the next try and
        # nothing of this batch is committed or acknowledged.
        if stored is None:
            stored = await asyncio.to_thread(self.store.objects.put, sha, part)
            report.blobs += 1
        part.unlink()
        return stored

    async def _download(self, client: httpx.AsyncClient, box: dict, headers: dict,
                        sha: str, part: Path, report: PullReport) -> None:
        """Into ``part``, from where an earlier try stopped (HTTP Range)."""
        have = part.stat().st_size if part.exists() else 0
        req = {**headers, **({"Range": f"bytes={have}-"} if have else {})}
        async with client.stream("GET", f"{box['url']}/api/v1/sync/blobs/{sha}",
                                 headers=req) as r:
            if r.status_code == 416:
                return  # the part is already whole: the caller checks it
            if r.status_code == 404:
                raise Quarantined(f"the box has no file for audio segment {sha}")
            r.raise_for_status()
            # Unbuffered: what arrived is in the file even if this process is killed.
            with open(part, "ab" if r.status_code == 206 else "wb", buffering=0) as f:
                async for chunk in r.aiter_bytes():
                    f.write(chunk)
                    report.bytes += len(chunk)

    async def _ack(self, client: httpx.AsyncClient, box: dict, headers: dict,
                   cursor: int) -> None:
        """Acknowledge the cursor and every object not yet acknowledged (again after a
        crash: acknowledging twice is harmless). Only what PostgreSQL has committed is
        acknowledged, and only objects the object store confirmed are committed."""
        pending = await self.db("unacked_blobs", box["box_id"])
        health = box["heartbeat"] or {}
        if not pending and health.get("sync", {}).get("acked_seq", -1) >= cursor:
            return
        for i in range(0, max(len(pending), 1), 1000):
            chunk = pending[i:i + 1000]
            r = await client.post(f"{box['url']}/api/v1/sync/ack", headers=headers,
                                  json={"seq": cursor, "blobs": chunk})
            r.raise_for_status()
            refused = r.json().get("not_downloaded", 0) if chunk else 0
            if refused:  # the box takes an ack only of what it served us whole
                logger.warning("box %s took %d of %d audio acknowledgements: the rest "
                               "again next pull", box["url"], len(chunk) - refused,
                               len(chunk))
                continue
            await self.db("blobs_acked", box["box_id"], chunk)


def status(store: CentralStore) -> list[dict]:
    """Every box as the centre last saw it."""
    return [{"url": b["url"], "box_id": b["box_id"], "fingerprint": b["fingerprint"],
             "cursor": b["cursor"], "court": b["court"], "room": b["room"],
             **store.held_totals(b["box_id"]),
             "last_pull": b["last_pull"].isoformat() if b["last_pull"] else None,
             "heartbeat_at": b["heartbeat_at"].isoformat() if b["heartbeat_at"] else None,
             "last_error": b["last_error"], "blocked": b["blocked"],
             "heartbeat": b["heartbeat"]}
            for b in store.boxes()]
