"""One process at a time on a data directory (courtbox.record.lock): an OS lock that dies
with its holder, and a second process told who holds it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from courtbox.record.lock import LOCK_NAME, DataDirBusy, hold_data_dir

HOLD = """
import sys, time
from courtbox.record.lock import hold_data_dir
hold_data_dir(sys.argv[1], command="courtbox run")
print("held", flush=True)
time.sleep(60)
"""


def _holder(data_dir: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(data_dir)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_process_is_told_who_holds_the_directory(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    try:
        with pytest.raises(DataDirBusy) as e:
            hold_data_dir(tmp_path)
        assert f"pid {proc.pid}" in str(e.value) and "courtbox run" in str(e.value)
    finally:
        proc.kill()
        proc.wait()


def test_the_lock_dies_with_a_killed_holder(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while True:
        try:
            lock = hold_data_dir(tmp_path, command="test")
            break
        except DataDirBusy:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert f'"pid": {os.getpid()}' in (tmp_path / LOCK_NAME).read_text()
    lock.release()
    hold_data_dir(tmp_path).release()  # released: free again


def test_the_lock_is_not_inherited_by_a_child_program(tmp_path: Path) -> None:
    with hold_data_dir(tmp_path):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        hold_data_dir(tmp_path).release()  # the child's exec closed the descriptor
    finally:
        child.kill()
        child.wait()


def test_a_second_agent_beside_a_recording_one_touches_nothing(tmp_path: Path) -> None:
    """Two real processes on one data directory (issue 17, class 1): a ``courtbox record``
    records; a second ``record`` and a ``run`` say who holds it and exit 1 without renaming
    the live ``.partial``, starting a part or writing the database; ``verify`` and
    ``export`` work beside it. Before the lock was wired in, the second took the live
    segment for an interrupted one and renamed it ``.defective``."""
    from courtbox.appliance.demo import sample_dir
    from tests.conftest import courtbox_cmd, run_courtbox

    data = tmp_path / "data"
    first = subprocess.Popen(
        [*courtbox_cmd(), "record", "--data-dir", str(data), "--case-number", "(2026)一",
         "--no-transcribe", "--audio", str(sample_dir() / "hearing.flac"),
         "--duration", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not list(data.rglob("*.partial*")):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(1.0)
        db = sqlite3.connect(f"file:{data / 'courtbox.db'}?mode=ro", uri=True)
        before = db.execute("SELECT COUNT(*) FROM hearings").fetchone()[0], db.execute(
            "SELECT COUNT(*) FROM audit_log").fetchone()[0]
        partial = sorted(data.rglob("*.partial*"))
        for args in (("record", "--case-number", "(2026)二", "--no-transcribe", "--audio",
                      str(sample_dir() / "hearing.flac"), "--duration", "5"),
                     ("run", "--no-transcribe", "--port", "0")):
            second = run_courtbox(*args, "--data-dir", str(data), check=False, timeout=60)
            assert second.returncode == 1, second
            (line,) = second.stderr.strip().splitlines()
            assert line.startswith("courtbox: error: ") and f"pid {first.pid}" in line, line
        assert not list(data.rglob("*.defective*"))
        assert all(p.exists() for p in partial)  # the live segment was left alone
        after = db.execute("SELECT COUNT(*) FROM hearings").fetchone()[0], db.execute(
            "SELECT COUNT(*) FROM audit_log WHERE action NOT LIKE 'audio.%'").fetchone()[0]
        assert after[0] == before[0] == 1
        assert not db.execute("SELECT 1 FROM audit_log WHERE action IN"
                              " ('recording.interrupted', 'agent.start')").fetchall()
        db.close()
        # Read-only commands work beside the holder, writing nothing.
        run_courtbox("verify", "--data-dir", str(data), timeout=60)
        run_courtbox("export", "(2026)一", "-f", "txt", "-o", str(tmp_path / "笔录.txt"),
                     "--data-dir", str(data), timeout=60)
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert first.returncode == 0
    run_courtbox("verify", "--data-dir", str(data), timeout=60)
