"""One process at a time on a data directory (courtbox.record.lock): an OS lock that dies
with its holder, and a second process told who holds it."""

from __future__ import annotations

import os
import signal
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
