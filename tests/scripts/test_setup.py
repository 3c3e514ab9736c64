"""scripts/setup.sh waits for another apt or dpkg process instead of failing at once."""

from __future__ import annotations

import fcntl
import os
import subprocess
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_setup_waits_for_a_held_package_lock_saying_so_then_goes_on(tmp_path: Path) -> None:
    lock = tmp_path / "lock-frontend"
    lock.write_bytes(b"")
    fd = os.open(lock, os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX)  # as apt holds it
    # lockf locks belong to a process: the waiting script runs in another one, so it sees this.
    released = threading.Timer(2.5, lambda: os.close(fd))
    released.start()
    started = time.monotonic()
    try:
        result = subprocess.run([str(ROOT / "scripts" / "wait-for-apt.sh")], capture_output=True,
                                text=True, timeout=30,
                                env={**os.environ, "COURTBOX_APT_LOCKS": str(lock)})
    finally:
        released.join()
    waited = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert waited >= 2.0
    assert result.stderr.count("waiting for another apt or dpkg process") == 1
    assert "the package lock is free: going on" in result.stderr


def test_setup_calls_the_wait_before_each_apt_get() -> None:
    lines = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if "apt-get" in line and not line.lstrip().startswith("#"):
            assert "scripts/wait-for-apt.sh" in lines[i - 1], line


def test_a_free_lock_is_not_waited_for(tmp_path: Path) -> None:
    result = subprocess.run([str(ROOT / "scripts" / "wait-for-apt.sh")], capture_output=True,
                            text=True, timeout=10,
                            env={**os.environ, "COURTBOX_APT_LOCKS": str(tmp_path / "none")})
    assert result.returncode == 0 and result.stderr == ""
