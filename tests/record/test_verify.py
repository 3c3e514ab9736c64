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
    db = sqlite3.connect(data_dir / "courtbox.db")
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
