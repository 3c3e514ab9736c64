"""One process at a time on a data directory: an OS lock that dies with its holder.

A second agent on the same directory would take the first one's live ``.partial`` segment for
an interrupted one, rename it and record the hearing again as a new part. So every command that
writes (``courtbox run``, ``record``, ``demo``, ``user add`` …) holds ``courtbox.lock`` in the
data directory with ``flock(LOCK_EX | LOCK_NB)`` for as long as it runs. The kernel drops the
lock when the holder exits or is killed, so a stale lock cannot exist and no PID file has to be
cleaned up. The holder writes who it is (pid, command, since) into the file for the message a
second process prints; the descriptor is close-on-exec, so the recogniser's process (started
with ``spawn``) does not inherit it. Read-only commands (``verify``, ``export``) take no lock.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from courtbox.errors import CourtboxError

logger = logging.getLogger(__name__)

LOCK_NAME = "courtbox.lock"


class DataDirBusy(CourtboxError):
    """Another process holds the data directory."""


@dataclass
class DataDirLock:
    """The held lock; ``release()`` (or the process ending) frees it."""

    path: Path
    fd: int | None

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the only descriptor drops the flock
            self.fd = None

    def __enter__(self) -> DataDirLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(path: Path) -> str:
    """Who holds the lock, as its holder wrote it (best effort: the file may be mid-write)."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        return (f"pid {int(info['pid'])} on {info.get('host', '?')} "
                f"({info.get('command', '?')}, since {info.get('since', '?')})")
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def hold_data_dir(data_dir: Path | str, command: str | None = None) -> DataDirLock:
    """Take the data directory for this process, or raise DataDirBusy naming the holder."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DataDirBusy(f"{data_dir} is in use by {holder(path)}: one courtbox at a time "
                          "records into a data directory; stop that one first") from None
    except OSError as e:
        os.close(fd)
        raise DataDirBusy(f"cannot lock {path}: {e.strerror}") from e
    info = {"pid": os.getpid(), "host": socket.gethostname(),
            "command": command or " ".join(["courtbox", *sys.argv[1:2]]),
            "since": datetime.now(UTC).isoformat(timespec="seconds")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
    logger.info("holding %s", path)
    return DataDirLock(path, fd)
