"""The centre's two stores on their own: the migrations and partitions of PostgreSQL, the
Object Lock of the S3 store (SeaweedFS), legal holds by case, and the hearings and
transcript lines as rows to search."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from courtbox.central.objects import ObjectStore, ObjectStoreError, object_key
from courtbox.record.identity import open_store
from tests.central.helpers import central


def test_migrations_apply_once_and_partitions_are_made_ahead(centre) -> None:
    out = central(centre, "migrate").stdout  # the fixture ran it once already
    assert "schema: current" in out and "COMPLIANCE 1 years" in out
    assert centre.sql("SELECT version FROM schema_migrations ORDER BY 1") == [(1,), (2,), (3,)]
    now = datetime.now(UTC)
    for table in ("entries", "transcript_lines", "heartbeats"):
        month = f"{table}_{now.year:04d}_{now.month:02d}"
        assert centre.sql("SELECT to_regclass(%s)::text", [month]) == [(month,)]
        count = centre.sql("SELECT COUNT(*) FROM pg_inherits WHERE inhparent = %s::regclass",
                           [table])[0][0]
        assert count == 5  # last month, this one and three ahead
    store = centre.store()
    try:
        from courtbox.central.schema import ensure_partitions
        with store.pool.connection() as conn:
            made = ensure_partitions(conn, 3, now + timedelta(days=62))
        assert len(made) == 6 and all(m.endswith(tuple("0123456789")) for m in made)
    finally:
        store.close()


def test_a_locked_object_can_be_neither_deleted_nor_overwritten(centre, tmp_path: Path
                                                                 ) -> None:
    audio = tmp_path / "a.flac"
    audio.write_bytes(b"fLaC" + bytes(range(256)) * 64)
    sha = hashlib.sha256(audio.read_bytes()).hexdigest()
    store = ObjectStore(centre.settings().objects)
    stored = store.put(sha, audio)
    version = stored["version_id"]
    s3, key = centre.s3(), object_key(sha)
    head = s3.head_object(Bucket=centre.bucket, Key=key)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=360)

    for bypass in ({}, {"BypassGovernanceRetention": True}):
        with pytest.raises(ClientError) as refused:
            s3.delete_object(Bucket=centre.bucket, Key=key, VersionId=version, **bypass)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):  # nor can its retention be shortened
        s3.put_object_retention(Bucket=centre.bucket, Key=key, VersionId=version,
                                Retention={"Mode": "COMPLIANCE", "RetainUntilDate":
                                           datetime.now(UTC) + timedelta(days=1)},
                                BypassGovernanceRetention=True)
    # An overwrite, or a delete without a version, only adds a version or a marker.
    s3.put_object(Bucket=centre.bucket, Key=key, Body=b"other bytes")
    s3.delete_object(Bucket=centre.bucket, Key=key)
    kept = s3.get_object(Bucket=centre.bucket, Key=key, VersionId=version)["Body"].read()
    assert kept == audio.read_bytes()
    store.close()


def test_the_store_refuses_a_corrupted_upload(centre, tmp_path: Path) -> None:
    audio = tmp_path / "a.flac"
    audio.write_bytes(b"fLaC" + b"\x01" * 5000)
    claimed = hashlib.sha256(b"fLaC" + b"\x00" * 5000).hexdigest()  # what the record says
    store = ObjectStore(centre.settings().objects)
    with pytest.raises(ObjectStoreError, match="BadDigest"):
        store.put(claimed, audio)
    assert store.stored(claimed) is None
    store.close()


def box_with_a_case(tmp_path: Path, case: str) -> tuple:
    """A box's store with one closed hearing of ``case``: an audio file and a line."""
    box = open_store(tmp_path / "box")
    hid = box.create_hearing(case_number=case, court="示例人民法院", room="第一科技法庭",
                             sample_rate=16000, channels=1, seats=[])
    audio = tmp_path / "box" / "seg.flac"
    audio.write_bytes(b"fLaC" + case.encode() * 500)
    sha = hashlib.sha256(audio.read_bytes()).hexdigest()
    box.add_segment({"id": f"{hid}:1:0", "hearing_id": hid, "part": 1, "idx": 0,
                     "path": "seg.flac", "start_sample": 0, "frames": 16000,
                     "sample_rate": 16000, "channels": 1, "sha256": sha,
                     "prev_sha256": None})
    box.add_final(hearing_id=hid, utterance_id="u1", seat="plaintiff", t0=1.0, t1=3.5,
                  text="原告请求判令被告支付货款十万元", words=[], avg_logprob=-0.2)
    box.update_hearing(hid, state="closed")
    return box, hid, audio, sha


def test_a_case_under_appeal_is_held_and_its_hearings_searchable(centre, tmp_path: Path
                                                                 ) -> None:
    case = "(2026)京0105民初77号"
    box, hid, audio, sha = box_with_a_case(tmp_path, case)
    store = centre.store()
    try:
        store.add_box("https://box.example:8750", "t", box.identity.fingerprint)
        store.update_box("https://box.example:8750", box_id=box.identity.box_id)
        (row,) = store.boxes()
        entries = [e.as_dict() for e in box.outbox(0, 1000)]
        (seg,) = [e for e in entries if e["kind"] == "audio_segment"]
        blob = {**store.objects.put(sha, audio), "sha256": sha, "record_id": seg["record_id"],
                "seq": seg["seq"], "hearing_id": hid}
        assert store.commit_batch(row, entries, [blob], entries[-1]["seq"]) == len(entries)
    finally:
        store.close()
        box.close()
    assert centre.sql("SELECT case_number, court, room, state FROM hearings") == [
        (case, "示例人民法院", "第一科技法庭", "closed")]
    assert centre.sql("SELECT h.case_number, t.seat, t.t0 FROM transcript_lines t JOIN"
                      " hearings h USING (box_id, hearing_id) WHERE t.text LIKE %s",
                      ["%支付货款%"]) == [(case, "plaintiff", 1.0)]

    out = central(centre, "hold", case).stdout
    assert "held 1 audio object(s)" in out
    s3 = centre.s3()
    assert s3.get_object_legal_hold(Bucket=centre.bucket, Key=object_key(sha))[
        "LegalHold"]["Status"] == "ON"
    assert centre.sql("SELECT legal_hold FROM objects") == [(True,)]
    assert central(centre, "hold", "(2026)京0105民初78号", check=False).returncode == 1
    central(centre, "hold", case, "--release")
    assert s3.get_object_legal_hold(Bucket=centre.bucket, Key=object_key(sha))[
        "LegalHold"]["Status"] == "OFF"
    assert centre.sql("SELECT action, objects FROM legal_holds ORDER BY id") == [
        ("hold", 1), ("release", 1)]
