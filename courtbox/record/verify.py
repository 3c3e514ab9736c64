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

The first broken link of a hearing is reported with what it is and where; nothing is
repaired, nothing is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from courtbox.audio.archive import segment_sha256
from courtbox.record.store import Store, sha256_text

# outbox kind -> (table, function giving the outbox record_id of a row)
_TABLES = {
    "seat": ("seats", lambda r: f"{r['hearing_id']}:{r['seat_id']}"),
    "audio_segment": ("audio_segments", lambda r: r["id"]),
    "transcript": ("transcript", lambda r: f"{r['utterance_id']}:{r['revision']}"),
    "revision": ("transcript", lambda r: f"{r['utterance_id']}:{r['revision']}"),
    "annotation": ("annotations", lambda r: r["id"]),
    "audit": ("audit_log", lambda r: str(r["id"])),
    "signoff": ("signoffs", lambda r: r["id"]),
}
# Columns a later schema added to hearings, at the value a hearing recorded before has.
_HEARING_DEFAULTS = {"terms": "[]", "frozen_at": None}


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
        if seg["prev_sha256"] != prev:
            raise Broken(f"{where}: prev_sha256 does not link to the segment before it")
        if seg["id"] in released and released[seg["id"]] == seg["sha256"]:
            # Released after the centre acknowledged it: the centre holds the file.
            prev = seg["sha256"]
            report.segments += 1
            report.released += 1
            continue
        if not path.is_file():
            raise Broken(f"{where}: file is missing")
        if segment_sha256(path) != seg["sha256"]:
            raise Broken(f"{where}: file content does not match its sha256 (altered)")
        prev = seg["sha256"]
        report.segments += 1
    report.audio_head = prev


def _check_records(store: Store, report: HearingReport) -> None:
    hid = report.hearing_id
    prev = None
    expected: dict[tuple[str, str], dict] = {}
    hearing_record: dict | None = None
    for seq, kind, record_id, body, digest, prev_sha in store.db.execute(
            "SELECT seq, kind, record_id, body, sha256, prev_sha256 FROM outbox"
            " WHERE hearing_id = ? ORDER BY seq", [hid]):
        where = f"outbox seq {seq} ({kind} {record_id})"
        if sha256_text(body) != digest:
            raise Broken(f"{where}: body does not match its sha256 (altered)")
        if prev_sha != prev:
            raise Broken(f"{where}: prev_sha256 does not link to seq before it")
        doc = json.loads(body)
        if doc.get("prev_sha256") != prev_sha or doc.get("kind") != kind:
            raise Broken(f"{where}: body disagrees with its entry")
        if kind == "hearing":
            hearing_record = {**_HEARING_DEFAULTS, **doc["record"]}
        elif kind == "hearing_update":
            if hearing_record is None:
                raise Broken(f"{where}: update before the hearing was created")
            hearing_record.update(doc["record"])
        elif kind in _TABLES:
            expected[(_TABLES[kind][0], record_id)] = doc["record"]
        prev = digest
        report.records += 1
    report.record_head = prev

    row = store.hearing(hid)
    if hearing_record != row:
        raise Broken(f"hearing row {hid} differs from its recorded history (altered)")
    seen: set[tuple[str, str]] = set()
    for table, record_id_of in {t: f for t, f in _TABLES.values()}.items():
        for r in store.db[table].rows_where("hearing_id = ?", [hid]):
            key = (table, record_id_of(r))
            seen.add(key)
            if key not in expected:
                raise Broken(f"{table} row {key[1]} has no outbox record (inserted behind "
                             f"the chain)")
            stored = expected[key]
            if {k: r.get(k) for k in stored} != stored or set(r) - set(stored) - {"id"}:
                raise Broken(f"{table} row {key[1]} differs from its chained record "
                             f"(altered)")
    if missing := sorted(set(expected) - seen):
        table, record_id = missing[0]
        raise Broken(f"{table} row {record_id} is in the chain but missing from the table")


def verify(data_dir: Path, hearing_id: str | None = None) -> VerifyReport:
    store = Store.in_dir(data_dir, migrate=False)
    try:
        hearings = store.hearings()
        if hearing_id is not None:
            hearings = [h for h in hearings if hearing_id in (h["id"], h["case_number"])]
        report = VerifyReport()
        for h in sorted(hearings, key=lambda h: h["created_at"]):
            hr = HearingReport(h["id"], h["case_number"])
            try:
                _check_audio(store, data_dir, hr)
                _check_records(store, hr)
            except Broken as e:
                hr.broken = str(e)
            report.hearings.append(hr)
        return report
    finally:
        store.close()

