"""The court's collector (``courtbox central run``): finds the boxes, pulls their records
and audio, verifies everything, stores it once, and only then acknowledges.

Per box, in order:

1. The box's identity is fetched and its key compared with the one pinned when the box
   was added (``courtbox central add-box``): a box that answers with another key is
   refused. Over https, the TLS certificate the key signed is pinned, and everything after
   goes over a connection that trusts that certificate alone (``courtbox.sync.tls``).
2. Changes are pulled from the box's cursor. Each entry is verified before anything is
   stored: its body against its sha256, its signature against the pinned key, its
   ``prev_sha256`` against the last entry of the same hearing already held here (the
   chain), and for an audio segment its own audio chain link. The segment's file is then
   downloaded (resuming a ``.part`` file with HTTP Range after any interruption), its
   sha256 checked against the signed record, fsynced and renamed into place (one file
   per sha256: two boxes that recorded the same bytes share it, each acknowledged).
3. The verified entries and the new cursor are committed in one transaction (WAL,
   ``synchronous=FULL``); entries are unique on (box id, seq) and (box id, sha256), so a
   replayed batch changes nothing and a reordered one is put back in order.
4. Only then are the entries and blobs acknowledged to the box, which may then release the
   audio. An acknowledgement lost to a crash is sent again on the next round.

An entry that fails verification is quarantined with the box, hearing, record and reason,
reported, and never acknowledged; the box's cursor stops before it, so nothing after it is
taken either until an operator has looked (``courtbox central status`` shows it). Boxes are
pulled concurrently (asyncio and httpx, at most ``concurrency`` at a time).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from courtbox.errors import CourtboxError, SyncError
from courtbox.record.identity import fingerprint, verify
from courtbox.record.store import canonical_json, sha256_text, utc_now
from courtbox.sync.tls import certificate_sha256, pinned_context, trusted_certificate

logger = logging.getLogger(__name__)

DB_NAME = "central.db"
BATCH = 500


class Quarantined(Exception):
    """An entry failed verification."""


SCHEMA = """
CREATE TABLE IF NOT EXISTS boxes (
    url TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    box_id TEXT UNIQUE,
    algorithm TEXT,
    public_key TEXT,
    tls_certificate TEXT,
    retired_certificates TEXT NOT NULL DEFAULT '[]',  -- sha256s of certificates replaced
    cursor INTEGER NOT NULL DEFAULT 0,
    heartbeat TEXT,
    last_pull TEXT,
    last_error TEXT,
    blocked TEXT,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    box_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    hearing_id TEXT,
    kind TEXT NOT NULL,
    record_id TEXT NOT NULL,
    body TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    prev_sha256 TEXT,
    signature TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (box_id, seq),
    UNIQUE (box_id, sha256)
);
CREATE INDEX IF NOT EXISTS records_hearing ON records (box_id, hearing_id, seq);
CREATE TABLE IF NOT EXISTS blobs (
    sha256 TEXT NOT NULL,
    box_id TEXT NOT NULL,
    hearing_id TEXT,
    size INTEGER NOT NULL,
    path TEXT NOT NULL,
    acked INTEGER NOT NULL DEFAULT 0,
    received_at TEXT NOT NULL,
    PRIMARY KEY (box_id, sha256)
);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    box_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    hearing_id TEXT,
    kind TEXT,
    record_id TEXT,
    reason TEXT NOT NULL,
    entry TEXT NOT NULL,
    at TEXT NOT NULL,
    UNIQUE (box_id, seq, reason)
);
"""


class CentralStore:
    def __init__(self, data_dir: Path | str) -> None:
        self.dir = Path(data_dir)
        self.blob_dir = self.dir / "blobs"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.dir / DB_NAME, isolation_level=None,
                                    check_same_thread=False, timeout=30)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA synchronous = FULL")
        self.conn.executescript(SCHEMA)
        columns = {r[1] for r in self.conn.execute("PRAGMA table_info(boxes)")}
        if "tls_certificate" not in columns:  # a collector from before TLS
            self.conn.execute("ALTER TABLE boxes ADD COLUMN tls_certificate TEXT")
        if "retired_certificates" not in columns:
            self.conn.execute("ALTER TABLE boxes ADD COLUMN retired_certificates TEXT"
                              " NOT NULL DEFAULT '[]'")

    def close(self) -> None:
        self.conn.close()

    def add_box(self, url: str, token: str, fingerprint: str) -> None:
        self.conn.execute(
            "INSERT INTO boxes (url, token, fingerprint, added_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (url) DO UPDATE SET token = excluded.token,"
            " fingerprint = excluded.fingerprint", [url.rstrip("/"), token, fingerprint,
                                                    utc_now()])

    def boxes(self) -> list[dict]:
        cur = self.conn.execute("SELECT * FROM boxes ORDER BY url")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def box(self, url: str) -> dict:
        return next(b for b in self.boxes() if b["url"] == url)

    def update_box(self, url: str, **changes) -> None:
        sets = ", ".join(f"{k} = ?" for k in changes)
        self.conn.execute(f"UPDATE boxes SET {sets} WHERE url = ?", [*changes.values(), url])

    def head(self, box_id: str, hearing_id: str | None) -> str | None:
        row = self.conn.execute(
            "SELECT sha256 FROM records WHERE box_id = ? AND hearing_id IS ?"
            " ORDER BY seq DESC LIMIT 1", [box_id, hearing_id]).fetchone()
        return row[0] if row else None

    def held(self, box_id: str, seq: int) -> str | None:
        """The sha256 of the entry held for ``seq``, if any."""
        row = self.conn.execute("SELECT sha256 FROM records WHERE box_id = ? AND seq = ?",
                                [box_id, seq]).fetchone()
        return row[0] if row else None

    def audio_head(self, box_id: str, hearing_id: str) -> str | None:
        row = self.conn.execute(
            "SELECT body FROM records WHERE box_id = ? AND hearing_id = ?"
            " AND kind = 'audio_segment' ORDER BY seq DESC LIMIT 1",
            [box_id, hearing_id]).fetchone()
        return json.loads(row[0])["record"]["sha256"] if row else None

    def blob_path(self, sha256: str) -> Path:
        return self.blob_dir / sha256[:2] / f"{sha256}.flac"

    def has_blob(self, sha256: str) -> bool:
        return self.conn.execute("SELECT 1 FROM blobs WHERE sha256 = ?",
                                 [sha256]).fetchone() is not None

    def quarantine(self, box_id: str, entry: dict, reason: str) -> bool:
        """Record a failed entry; True the first time it is seen."""
        cur = self.conn.execute(
            "INSERT OR IGNORE INTO quarantine (box_id, seq, hearing_id, kind, record_id,"
            " reason, entry, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [box_id, entry.get("seq"), entry.get("hearing_id"), entry.get("kind"),
             entry.get("record_id"), reason, canonical_json(entry), utc_now()])
        return cur.rowcount == 1

    def quarantined(self) -> list[dict]:
        cur = self.conn.execute("SELECT box_id, seq, hearing_id, kind, record_id, reason,"
                                " at FROM quarantine ORDER BY id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def commit_batch(self, box: dict, entries: list[dict], blobs: list[dict],
                     cursor: int) -> None:
        now = utc_now()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for b in blobs:
                self.conn.execute(
                    "INSERT OR IGNORE INTO blobs (sha256, box_id, hearing_id, size, path,"
                    " received_at) VALUES (?, ?, ?, ?, ?, ?)",
                    [b["sha256"], box["box_id"], b["hearing_id"], b["size"], b["path"], now])
            for e in entries:
                self.conn.execute(
                    "INSERT OR IGNORE INTO records (box_id, seq, hearing_id, kind, record_id,"
                    " body, sha256, prev_sha256, signature, received_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [box["box_id"], e["seq"], e["hearing_id"], e["kind"], e["record_id"],
                     e["body"], e["sha256"], e["prev_sha256"], e["signature"], now])
            self.conn.execute("UPDATE boxes SET cursor = MAX(cursor, ?) WHERE url = ?",
                              [cursor, box["url"]])
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class PullReport:
    url: str
    box_id: str | None = None
    records: int = 0
    blobs: int = 0
    bytes: int = 0
    quarantined: list[str] = field(default_factory=list)
    error: str | None = None


class Collector:
    def __init__(self, store: CentralStore, *, concurrency: int = 8,
                 timeout: float = 30.0) -> None:
        self.store = store
        self.concurrency = concurrency
        self.timeout = timeout

    # -- one round over every box ---------------------------------------------------------

    async def pull_all(self) -> list[PullReport]:
        sem = asyncio.Semaphore(self.concurrency)

        async def one(box: dict) -> PullReport:
            async with sem:
                return await self.pull_box(box)

        return await asyncio.gather(*(one(b) for b in self.store.boxes()))

    async def run(self, interval: float = 10.0, rounds: int | None = None) -> None:
        n = 0
        while rounds is None or n < rounds:
            for report in await self.pull_all():
                if report.error:
                    logger.warning("box %s: %s", report.url, report.error)
            n += 1
            if rounds is None or n < rounds:
                await asyncio.sleep(interval)

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
                    self.store.update_box(box["url"],
                                          heartbeat=canonical_json(batch["health"]),
                                          last_pull=utc_now(), last_error=None)
                    done = await self._take(client, box, headers, batch["entries"], report)
                    box = self.store.box(box["url"])
                    await self._ack(client, box, headers, box["cursor"])
                    if not done or not batch["more"]:
                        break
        except (httpx.HTTPError, OSError, ValueError, KeyError, CourtboxError) as e:
            report.error = f"{type(e).__name__}: {e}"
            if "CERTIFICATE_VERIFY_FAILED" in str(e):
                report.error = (f"refused: {box['url']} presents a certificate that is not "
                                f"the one the box's key signed (someone between the centre "
                                f"and the box?); no token sent ({e})")
            self.store.update_box(box["url"], last_error=report.error[:500])
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
                retired = json.loads(box["retired_certificates"])
                if certificate_sha256(cert.encode("ascii")) in retired:
                    raise SyncError(
                        f"refused: box {ident['box_id']} at {box['url']} presents a TLS "
                        "certificate it has since replaced (an old key replayed?); no "
                        "token sent")
                if box["tls_certificate"]:
                    logger.warning("box %s (%s) has a new TLS certificate, signed by its "
                                   "pinned key: pinned", ident["box_id"], box["url"])
                    retired.append(certificate_sha256(box["tls_certificate"].encode("ascii")))
                    changes["retired_certificates"] = json.dumps(retired)
                changes["tls_certificate"] = cert
        if changes:
            self.store.update_box(box["url"], **changes)
            box = self.store.box(box["url"])
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
                held = self.store.held(box["box_id"], e["seq"])
                if held is not None:  # replayed: the same entry again changes nothing
                    if held != e["sha256"]:
                        raise Quarantined("differs from the entry already held for this "
                                          "seq (rewritten on the box)")
                    cursor = max(cursor, e["seq"])
                    continue
                hid = e["hearing_id"]
                if hid not in heads:
                    heads[hid] = self.store.head(box["box_id"], hid)
                doc = self._verify(box, e, heads[hid])
                if e["kind"] == "audio_segment":
                    rec = doc["record"]
                    if hid not in audio:
                        audio[hid] = self.store.audio_head(box["box_id"], hid)
                    if rec["prev_sha256"] != audio[hid]:
                        raise Quarantined("audio segment does not link to the segment "
                                          "before it (audio chain broken)")
                    blobs.append(await self._blob(client, box, headers, rec, report))
                    audio[hid] = rec["sha256"]
            except Quarantined as q:
                reason = str(q)
                if self.store.quarantine(box["box_id"], e, reason):
                    logger.error("box %s (%s): quarantined seq %s, hearing %s, %s %s: %s",
                                 box["box_id"], box["url"], e.get("seq"), e.get("hearing_id"),
                                 e.get("kind"), e.get("record_id"), reason)
                self.store.update_box(box["url"], blocked=f"seq {e.get('seq')}: {reason}")
                report.quarantined.append(reason)
                ok = False
                break
            heads[hid] = e["sha256"]
            good.append(e)
            cursor = e["seq"]
        if good or cursor != box["cursor"]:
            self.store.commit_batch(box, good, blobs, cursor)
            report.records += len(good)
        return ok

    def _verify(self, box: dict, e: dict, head: str | None) -> dict:
        if sha256_text(e["body"]) != e["sha256"]:
            raise Quarantined("body does not match its sha256 (altered)")
        try:
            signature = base64.b64decode(e["signature"] or "", validate=True)
        except ValueError as exc:
            raise Quarantined("signature is not base64") from exc
        if not verify(box["algorithm"], base64.b64decode(box["public_key"]),
                      e["sha256"].encode("ascii"), signature):
            raise Quarantined("signature does not verify with the box's pinned key")
        doc = json.loads(e["body"])
        if (doc.get("kind"), doc.get("id"), doc.get("prev_sha256")) != (
                e["kind"], e["record_id"], e["prev_sha256"]):
            raise Quarantined("body disagrees with its entry")
        if e["prev_sha256"] != head:
            raise Quarantined("prev_sha256 does not link to the hearing's last entry "
                              "(chain broken or an entry missing)")
        return doc

    async def _blob(self, client: httpx.AsyncClient, box: dict, headers: dict, rec: dict,
                    report: PullReport) -> dict:
        sha = rec["sha256"]
        dest = self.store.blob_path(sha)
        out = {"sha256": sha, "hearing_id": rec["hearing_id"], "path": str(dest)}
        if not (self.store.has_blob(sha) and dest.is_file()):
            dest.parent.mkdir(parents=True, exist_ok=True)
            # One part file per box: two boxes may send the same bytes at the same time.
            part = dest.with_name(f"{sha}.{box['box_id'][:12]}.part")
            resumed = part.exists() and part.stat().st_size > 0
            await self._download(client, box, headers, sha, part, report)
            if _file_sha256(part) != sha and resumed:
                # Our own interrupted download, not the box's file, may be at fault.
                part.unlink()
                await self._download(client, box, headers, sha, part, report)
            if _file_sha256(part) != sha:
                part.unlink()
                raise Quarantined(f"audio segment file does not match its sha256 {sha} "
                                  f"(altered on the box)")
            os.replace(part, dest)
            _fsync_dir(dest.parent)
            report.blobs += 1
        return {**out, "size": dest.stat().st_size}

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
                f.flush()
                os.fsync(f.fileno())

    async def _ack(self, client: httpx.AsyncClient, box: dict, headers: dict,
                   cursor: int) -> None:
        """Acknowledge the cursor and every blob not yet acknowledged (again after a
        crash: acknowledging twice is harmless)."""
        pending = [r[0] for r in self.store.conn.execute(
            "SELECT sha256 FROM blobs WHERE box_id = ? AND acked = 0", [box["box_id"]])]
        health = json.loads(box["heartbeat"] or "{}")
        if not pending and health.get("sync", {}).get("acked_seq", -1) >= cursor:
            return
        for i in range(0, max(len(pending), 1), 1000):
            chunk = pending[i:i + 1000]
            r = await client.post(f"{box['url']}/api/v1/sync/ack", headers=headers,
                                  json={"seq": cursor, "blobs": chunk})
            r.raise_for_status()
            self.store.conn.executemany(
                "UPDATE blobs SET acked = 1 WHERE box_id = ? AND sha256 = ?",
                [(box["box_id"], s) for s in chunk])


def status(store: CentralStore) -> list[dict]:
    """Every box as the centre last saw it."""
    out = []
    for b in store.boxes():
        records = store.conn.execute("SELECT COUNT(*) FROM records WHERE box_id IS ?",
                                     [b["box_id"]]).fetchone()[0]
        blobs, size = store.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs WHERE box_id IS ?",
            [b["box_id"]]).fetchone()
        out.append({"url": b["url"], "box_id": b["box_id"], "fingerprint": b["fingerprint"],
                    "cursor": b["cursor"], "records": records, "blobs": blobs,
                    "blob_bytes": size, "last_pull": b["last_pull"],
                    "last_error": b["last_error"], "blocked": b["blocked"],
                    "heartbeat": json.loads(b["heartbeat"] or "null")})
    return out
