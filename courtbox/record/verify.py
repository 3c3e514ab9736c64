"""``courtbox verify``: recompute, offline, everything that makes the record evidence.

For each hearing, in order:

1. **Audio chain.** Every archived segment file is hashed again and compared with the
   sha256 recorded for it; each segment's ``prev_sha256`` must be the previous segment's
   hash (the first has none).
2. **Record chain.** Every outbox entry's sha256 must be the hash of its body, and its
   ``prev_sha256`` the previous entry of the same hearing.
3. **Rows against the chain.** Every row of the hearing in the record tables must equal
   the record its outbox entry carries (for the hearing itself: the creation record with
   every later ``hearing_update`` applied), and no row may exist without an entry.

4. **Sealed head.** A closed hearing's ``hearing.close`` entry carries the head it was
   closed at (``courtbox.record.hearing.sealed_head``); what is found must be exactly that
   (a segment or record cut from before the close, or one added after it, is reported), and
   a closed hearing without a sealed head is reported.

Beyond the hearings, the outbox's ``seq`` (AUTOINCREMENT, never reused) must run without a
gap up to the highest ever handed out: entries cut from the end of a hearing's chain
together with their rows leave a hole there (reported as the hearing ``(outbox)``). A cut
the box cannot see by itself (the last entries of all, and SQLite's own counter rewritten)
is what the signed chain heads in the heartbeat are for: the centre keeps them.

Every outbox entry's Ed25519 signature is checked against the box's public key (read from
its identity; nothing is created), and SQLite's own ``integrity_check`` runs first. The
first broken link of a hearing is reported with what it is and where; nothing is repaired,
nothing is written: the database is opened read-only (``Store(read_only=True)``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from courtbox.errors import StoreError
from courtbox.record.chain import ChainBroken, check_entry, file_sha256, linked
from courtbox.record.identity import load_identity
from courtbox.record.store import DB_NAME, Store

# outbox kind -> (table, function giving the outbox record_id of a row)
_TABLES = {
    "seat": ("seats", lambda r: f"{r['hearing_id']}:{r['seat_id']}"),
    "audio_segment": ("audio_segments", lambda r: r["id"]),
    "transcript": ("transcript", lambda r: f"{r['utterance_id']}:{r['revision']}"),
    "revision": ("transcript", lambda r: f"{r['utterance_id']}:{r['revision']}"),
    "annotation": ("annotations", lambda r: r["id"]),
    "audit": ("audit_log", lambda r: str(r["id"])),
    "signoff": ("signoffs", lambda r: r["id"]),
    "party_act": ("party_acts", lambda r: r["id"]),
    "party_handling": ("party_handlings", lambda r: r["id"]),
}
# Columns a later schema added to hearings, at the value a hearing recorded before has.
_HEARING_DEFAULTS = {"terms": "[]", "frozen_at": None, "panel_users": "[]", "clerk_user": "",
                     "timezone": ""}
_ROW_DEFAULTS = {"signoffs": {"name": "", "title": ""}}  # the same for other tables


@dataclass
class HearingReport:
    hearing_id: str
    case_number: str
    segments: int = 0
    released: int = 0  # of the segments: files released after the centre's ack
    records: int = 0
    audio_head: str | None = None
    record_head: str | None = None
    broken: str | None = None  # the first broken link, in words
    sealed: dict | None = None  # the head its close committed to (None: not closed)

    @property
    def ok(self) -> bool:
        return self.broken is None

    def as_dict(self) -> dict:
        return {**self.__dict__, "ok": self.ok}


@dataclass
class VerifyReport:
    hearings: list[HearingReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(h.ok for h in self.hearings)


class Broken(Exception):
    pass


def _check_audio(store: Store, data_dir: Path, report: HearingReport) -> None:
    prev = None
    released = {r[0]: r[1] for r in store.db.execute(
        "SELECT segment_id, sha256 FROM released_segments")}
    for seg in store.segments(report.hearing_id):
        where = f"audio segment part {seg['part']} #{seg['idx']} ({seg['path']})"
        path = data_dir / seg["path"]
        if not linked(seg["prev_sha256"], prev):
            raise Broken(f"{where}: prev_sha256 does not link to the segment before it")
        if seg["id"] in released and released[seg["id"]] == seg["sha256"]:
            # Released after the centre acknowledged it: the centre holds the file.
            prev = seg["sha256"]
            report.segments += 1
            report.released += 1
            continue
        if not path.is_file():
            raise Broken(f"{where}: file is missing")
        if file_sha256(path) != seg["sha256"]:
            raise Broken(f"{where}: file content does not match its sha256 (altered)")
        prev = seg["sha256"]
        report.segments += 1
    report.audio_head = prev


@dataclass(frozen=True)
class BoxKey:
    algorithm: str
    public_key: bytes


def _chained(store: Store, key: BoxKey, report: HearingReport
             ) -> tuple[dict | None, dict[tuple[str, str], dict]]:
    """Walk the hearing's outbox chain, checking every entry and its signature; returns
    the hearing as its history records it and every other record by (table, record id)."""
    prev = None
    expected: dict[tuple[str, str], dict] = {}
    hearing_record: dict | None = None
    report.sealed = None
    cur = store.db.execute(
        "SELECT seq, kind, record_id, body, sha256, prev_sha256, signature FROM outbox"
        " WHERE hearing_id = ? ORDER BY seq", [report.hearing_id])
    names = [d[0] for d in cur.description]
    for entry in (dict(zip(names, row, strict=True)) for row in cur):
        kind, record_id = entry["kind"], entry["record_id"]
        where = f"outbox seq {entry['seq']} ({kind} {record_id})"
        try:
            doc = check_entry(entry, algorithm=key.algorithm, public_key=key.public_key)
        except ChainBroken as e:
            raise Broken(f"{where}: {e}") from e
        if not linked(entry["prev_sha256"], prev):
            raise Broken(f"{where}: prev_sha256 does not link to seq before it")
        if kind == "hearing":
            hearing_record = {**_HEARING_DEFAULTS, **doc["record"]}
        elif kind == "hearing_update":
            if hearing_record is None:
                raise Broken(f"{where}: update before the hearing was created")
            hearing_record.update(doc["record"])
        elif kind in _TABLES:
            expected[(_TABLES[kind][0], record_id)] = doc["record"]
        if kind == "audit" and doc["record"].get("action") == "hearing.close":
            _check_seal(doc["record"], prev, report, where)
        prev = entry["sha256"]
        report.records += 1
    report.record_head = prev
    return hearing_record, expected


def _check_seal(record: dict, prev: str | None, report: HearingReport, where: str) -> None:
    """At the close: the records before it are those the seal names; the audio is checked
    against it once the walk is done (``_check_sealed_audio``)."""
    try:
        sealed = json.loads(record["detail"]).get("sealed")
    except (TypeError, ValueError, AttributeError):
        sealed = None
    if not isinstance(sealed, dict):
        return  # a close recorded before seals: nothing to hold it to
    if sealed.get("records") != report.records or sealed.get("record_head") != prev:
        raise Broken(f"{where}: the hearing was sealed after {sealed.get('records')} "
                     f"records, its chain holds {report.records} before the seal (cut)")
    report.sealed = sealed


def _check_sealed_audio(report: HearingReport, state: str | None) -> None:
    sealed = report.sealed
    if sealed is None:
        if state == "closed" and report.records:
            raise Broken("the hearing is closed but has no sealed head (its close was cut)")
        return
    if sealed.get("segments") != report.segments or sealed.get("audio_head") != \
            report.audio_head:
        raise Broken(f"the hearing was sealed with {sealed.get('segments')} audio segments "
                     f"(head {str(sealed.get('audio_head'))[:12]}…), {report.segments} are "
                     f"here (head {str(report.audio_head)[:12]}…): audio was cut or added")


def _check_seq(store: Store) -> str | None:
    """A hole in the outbox's seq, or entries cut from its end: in words, or None."""
    last, count = store.db.execute("SELECT COALESCE(MAX(seq), 0), COUNT(*) FROM outbox"
                                   ).fetchone()
    issued = store.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'"
                              ).fetchone()
    if count != last:
        gap = store.db.execute(
            "SELECT o.seq + 1 FROM outbox o WHERE o.seq + 1 NOT IN (SELECT seq FROM outbox)"
            " AND o.seq < ? ORDER BY o.seq LIMIT 1", [last]).fetchone()
        first = gap[0] if gap else 1
        return (f"{last - count} outbox entries are missing (the first at seq {first}): "
                "records were cut with their rows")
    if issued is not None and issued[0] > last:
        return (f"outbox entries {last + 1}–{issued[0]} were written and are gone: the end "
                "of the record was cut")
    return None


def _check_records(store: Store, key: BoxKey, report: HearingReport) -> None:
    hid = report.hearing_id
    hearing_record, expected = _chained(store, key, report)
    row = next(iter(store.db["hearings"].rows_where("id = ?", [hid])), None)  # as stored
    if hearing_record != row:
        raise Broken(f"hearing row {hid} differs from its recorded history (altered)")
    _check_sealed_audio(report, (row or {}).get("state"))
    seen: set[tuple[str, str]] = set()
    for table, record_id_of in {t: f for t, f in _TABLES.values()}.items():
        for r in store.db[table].rows_where("hearing_id = ?", [hid]):
            key_ = (table, record_id_of(r))
            seen.add(key_)
            if key_ not in expected:
                raise Broken(f"{table} row {key_[1]} has no outbox record (inserted behind "
                             f"the chain)")
            stored = {**_ROW_DEFAULTS.get(table, {}), **expected[key_]}
            if {k: r.get(k) for k in stored} != stored or set(r) - set(stored) - {"id"}:
                raise Broken(f"{table} row {key_[1]} differs from its chained record "
                             f"(altered)")
    if missing := sorted(set(expected) - seen):
        table, record_id = missing[0]
        raise Broken(f"{table} row {record_id} is in the chain but missing from the table")


def against_heads(data_dir: Path, heads: dict) -> list[str]:
    """What the box holds now against chain heads it signed earlier (a heartbeat the
    centre kept, ``courtbox.sync.server.chain_heads``): one line per hearing that has
    fewer records or segments than it committed to, or another entry where its head was."""
    from courtbox.record.chain import (
        canonical_json,
        decode_signature,
        heads_statement,
        sha256_text,
        signature_valid,
    )

    signer = load_identity(Path(data_dir), create=False).signer
    body = {k: v for k, v in heads.items() if k not in ("sha256", "signature")}
    digest = sha256_text(canonical_json(body))
    if digest != heads.get("sha256") or not signature_valid(
            signer.algorithm, signer.public_key(), heads_statement(digest),
            decode_signature(heads.get("signature"))):
        return ["the heads are not signed by this box's key"]
    problems = []
    store = Store(Path(data_dir) / DB_NAME, read_only=True)
    try:
        for h in heads.get("hearings", []):
            hid, seq = h["hearing_id"], h.get("last_seq")
            records = store.db.execute("SELECT COUNT(*) FROM outbox WHERE hearing_id = ?"
                                       " AND seq <= ?", [hid, seq or 0]).fetchone()[0]
            at = store.db.execute("SELECT sha256 FROM outbox WHERE seq = ?",
                                  [seq or 0]).fetchone()
            segments = store.db.execute("SELECT COUNT(*) FROM audio_segments WHERE"
                                        " hearing_id = ?", [hid]).fetchone()[0]
            if (records < h["records"] or segments < h["segments"]
                    or (seq and (at is None or at[0] != h["record_head"]))):
                problems.append(
                    f"hearing {hid}: at {heads.get('at')} the box committed to "
                    f"{h['records']} records up to seq {seq} and {h['segments']} audio "
                    f"segments; it holds {records} and {segments}: the record was cut")
    finally:
        store.close()
    return problems


def verify(data_dir: Path, hearing_id: str | None = None) -> VerifyReport:
    """Check the record in ``data_dir`` without writing anything there."""
    data_dir = Path(data_dir)
    signer = load_identity(data_dir, create=False).signer
    key = BoxKey(signer.algorithm, signer.public_key())
    store = Store(data_dir / DB_NAME, read_only=True)
    try:
        if (problem := store.integrity_check()) != "ok":
            raise StoreError(f"{data_dir / DB_NAME} fails SQLite's integrity check "
                             f"({problem}); its chain was not checked")
        hearings = store.hearings()
        if hearing_id is not None:
            hearings = [h for h in hearings if hearing_id in (h["id"], h["case_number"])]
        report = VerifyReport()
        for h in sorted(hearings, key=lambda h: h["created_at"]):
            hr = HearingReport(h["id"], h["case_number"])
            try:
                _check_audio(store, data_dir, hr)
                _check_records(store, key, hr)
            except Broken as e:
                hr.broken = str(e)
            report.hearings.append(hr)
        if hearing_id is None and (cut := _check_seq(store)) is not None:
            report.hearings.append(HearingReport("box", "(outbox)", broken=cut))
        return report
    finally:
        store.close()
