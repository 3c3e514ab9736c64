"""``courtbox verify`` finds any altered byte of a segment, any altered row and any
signature not the box's, and writes nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from courtbox.record.chain import decode_signature, signature_valid
from courtbox.record.identity import Ed25519Signer, load_identity
from courtbox.record.verify import verify
from tests.conftest import run_courtbox


def _run(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    return run_courtbox("verify", "--data-dir", str(data_dir), *args, check=False, timeout=60)


def test_untouched_record_verifies(recorded_hearing: tuple[Path, str]) -> None:
    """A hearing as recorded passes, on the command line too."""
    data_dir, hid = recorded_hearing
    report = verify(data_dir)
    assert report.ok and report.hearings[0].segments == 3
    result = _run(data_dir, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["hearings"][0]["hearing_id"] == hid


def test_one_flipped_byte_in_a_segment_is_named(recorded_copy: tuple[Path, str]) -> None:
    """A single altered byte inside the second segment breaks the chain right there."""
    data_dir, hid = recorded_copy
    seg = sorted(data_dir.rglob("seg-00002.flac"))[0]
    raw = bytearray(seg.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    seg.write_bytes(bytes(raw))
    result = _run(data_dir)
    assert result.returncode == 1
    assert "audio segment part 1 #2" in result.stdout and "altered" in result.stdout


def untriggered(db: sqlite3.Connection) -> sqlite3.Connection:
    """The database as someone with the file in hand edits it: the schema's triggers (which
    keep a signed transcript unchanged) dropped first."""
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                              ).fetchall():
        db.execute(f"DROP TRIGGER {name}")
    return db


@pytest.mark.parametrize("sql, needle", [
    ("UPDATE transcript SET text = '原告撤回诉讼请求。' WHERE utterance_id = 'u1'",
     "transcript row u1:0 differs"),
    ("UPDATE audio_segments SET sha256 = prev_sha256 WHERE idx = 3", "audio segment part 1 #3"),
    ("UPDATE hearings SET case_number = '(2026)京0105民初2号'", "hearing row"),
    ("UPDATE annotations SET text = '无'", "annotations row"),
    ("DELETE FROM audit_log WHERE action = 'hearing.start'", "missing from the table"),
    ("UPDATE outbox SET body = replace(body, '现在开庭', '现在休庭')", "altered"),
    ("INSERT INTO transcript (hearing_id, utterance_id, seat, t0, t1, text, kind, created_at)"
     " SELECT id, 'x', 'clerk', 9, 10, '补录', 'final', '2026' FROM hearings",
     "has no outbox record"),
])
def test_an_altered_row_is_named(recorded_copy: tuple[Path, str], sql: str, needle: str) -> None:
    """Editing the database behind courtbox's back is found and named."""
    data_dir, _ = recorded_copy
    db = untriggered(sqlite3.connect(data_dir / "courtbox.db"))
    db.execute(sql)
    db.commit()
    db.close()
    result = _run(data_dir)
    assert result.returncode == 1, result.stdout
    assert "BROKEN" in result.stdout and needle in result.stdout, result.stdout


def test_missing_database_is_one_clear_error(tmp_path: Path) -> None:
    """Verifying an empty directory says there is no database there."""
    result = _run(tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"courtbox: error: no courtbox database in {tmp_path}"


def _listing(root: Path) -> dict[str, tuple]:
    """Every file and folder under ``root``: size, mtime and (a file's) sha256."""
    out: dict[str, tuple] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        out[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns, st.st_mode, digest)
    return out


def test_verify_of_a_read_only_copy_writes_nothing_and_checks_every_signature(
        recorded_copy: tuple[Path, str]) -> None:
    """A read-only copy verifies without a byte written beside it (tests run as root, whom
    chmod does not stop: so every file is compared, too); one outbox signature replaced by
    a valid signature of another key over the same entry is named."""
    data_dir, hid = recorded_copy
    subprocess.run(["chmod", "-R", "a-w", str(data_dir)], check=True)
    before = _listing(data_dir)
    try:
        result = _run(data_dir)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith("OK ") and hid in result.stdout
        assert verify(data_dir).ok
        assert _listing(data_dir) == before
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(data_dir)], check=True)

    db = sqlite3.connect(data_dir / "courtbox.db")
    seq, digest = db.execute("SELECT seq, sha256 FROM outbox WHERE hearing_id = ? AND"
                             " kind = 'transcript' ORDER BY seq LIMIT 1", [hid]).fetchone()
    other = Ed25519Signer(Ed25519PrivateKey.generate())
    forged = base64.b64encode(other.sign(digest.encode("ascii"))).decode("ascii")
    db.execute("UPDATE outbox SET signature = ? WHERE seq = ?", [forged, seq])
    db.commit()
    db.close()
    box = load_identity(data_dir, create=False).signer
    assert signature_valid("ed25519", other.public_key(), digest, decode_signature(forged))
    assert not signature_valid("ed25519", box.public_key(), digest, decode_signature(forged))
    result = _run(data_dir)
    assert result.returncode == 1, result.stdout
    assert "BROKEN" in result.stdout
    assert (f"outbox seq {seq} (transcript u0:0): signature does not verify with the "
            "box's key") in result.stdout, result.stdout


# -- a cut tail (issue 17, class 11) ------------------------------------------------------

_ROWS = {"seat": ("seats", "hearing_id || ':' || seat_id"), "audio_segment":
         ("audio_segments", "id"), "transcript": ("transcript", "utterance_id || ':' || "
                                                  "revision"),
         "revision": ("transcript", "utterance_id || ':' || revision"),
         "annotation": ("annotations", "id"), "audit": ("audit_log", "CAST(id AS TEXT)"),
         "signoff": ("signoffs", "id")}


def _cut_tail(data_dir: Path, hid: str, *, keep_segments: int, counter: bool) -> None:
    """What someone with the database in hand does to make a hearing shorter: delete its
    last segments (files, rows) and every chained entry from the first of them on with the
    rows they carry, put the hearing row back to what the remaining history says, and
    (``counter``) rewrite SQLite's own sequence too."""
    db = untriggered(sqlite3.connect(data_dir / "courtbox.db"))
    segs = db.execute("SELECT id, path FROM audio_segments WHERE hearing_id = ? ORDER BY"
                      " part, idx", [hid]).fetchall()
    first = db.execute("SELECT seq FROM outbox WHERE kind = 'audio_segment' AND"
                       " record_id = ?", [segs[keep_segments][0]]).fetchone()[0]
    for kind, record_id in db.execute("SELECT kind, record_id FROM outbox WHERE"
                                      " hearing_id = ? AND seq >= ?", [hid, first]).fetchall():
        if kind in _ROWS:
            table, key = _ROWS[kind]
            db.execute(f"DELETE FROM {table} WHERE {key} = ?", [record_id])
    db.execute("DELETE FROM outbox WHERE seq >= ?", [first])
    history = {}
    for (body,) in db.execute("SELECT body FROM outbox WHERE hearing_id = ? AND kind IN"
                              " ('hearing', 'hearing_update') ORDER BY seq", [hid]):
        history.update(json.loads(body)["record"])
    row = db.execute("SELECT * FROM hearings WHERE id = ?", [hid])
    names = [d[0] for d in row.description]
    db.execute("UPDATE hearings SET " + ", ".join(f"{n} = ?" for n in names) + " WHERE id = ?",
               [history.get(n) if n in history else (None if n in ("frozen_at", "closed_at")
                                                     else "[]" if n == "terms" else v)
                for n, v in zip(names, row.fetchone(), strict=True)] + [hid])
    if counter:
        db.execute("UPDATE sqlite_sequence SET seq = (SELECT MAX(seq) FROM outbox)"
                   " WHERE name = 'outbox'")
    db.commit()
    db.close()
    for _, path in segs[keep_segments:]:
        (data_dir / path).unlink()


def test_a_cut_tail_is_reported(recorded_copy: tuple[Path, str]) -> None:
    """The last segment and everything chained after it, gone with their rows: the outbox
    was handed out further than it now goes (before the fix: OK)."""
    data_dir, hid = recorded_copy
    _cut_tail(data_dir, hid, keep_segments=2, counter=False)
    result = _run(data_dir)
    assert result.returncode == 1, result.stdout
    assert "(outbox)" in result.stdout and "cut" in result.stdout, result.stdout


def test_a_cut_tail_is_seen_against_the_heads_the_box_signed(
        recorded_copy: tuple[Path, str]) -> None:
    """With SQLite's counter rewritten too the box alone cannot tell; the signed heads it
    sent with an earlier heartbeat (kept by the centre) can."""
    from courtbox.record.identity import open_store
    from courtbox.record.verify import against_heads
    from courtbox.sync.server import chain_heads

    data_dir, hid = recorded_copy
    store = open_store(data_dir)
    heads = chain_heads(store, store.identity)
    store.close()
    (head,) = [h for h in heads["hearings"] if h["hearing_id"] == hid]
    assert head["segments"] == 3 and head["state"] == "closed"
    assert against_heads(data_dir, heads) == []
    _cut_tail(data_dir, hid, keep_segments=1, counter=True)
    (problem,) = against_heads(data_dir, heads)
    assert hid in problem and "3 audio segments" in problem and "cut" in problem
    forged = {**heads, "last_seq": 1}
    assert against_heads(data_dir, forged) == ["the heads are not signed by this box's key"]


def test_a_closed_hearing_is_sealed_with_its_head(recorded_hearing: tuple[Path, str]) -> None:
    data_dir, hid = recorded_hearing
    (report,) = verify(data_dir).hearings
    assert report.ok and report.sealed is not None
    assert report.sealed["segments"] == 3 and report.sealed["audio_head"] == report.audio_head
