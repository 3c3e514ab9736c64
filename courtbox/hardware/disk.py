"""Disk space as recording time (how many hours of audio still fit, and whether to stop),
and the two file primitives every durable write rests on: ``fsync_dir`` and ``file_sha256``.

The archive stops writing (cleanly, between segments) while free space is below the
reserve, which also keeps room for SQLite's journal, so a full disk never corrupts either;
the estimate of hours left uses FLAC at ``FLAC_RATIO`` of raw PCM, a cautious figure
(speech in a quiet room compresses to about a sixth: scripts/bench_archive.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

FLAC_RATIO = 0.6
_CHUNK = 1 << 20


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable: fsync the directory itself."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class DiskStatus:
    path: str
    free_bytes: int
    total_bytes: int
    reserve_bytes: int
    hours_left: float

    @property
    def full(self) -> bool:
        return self.free_bytes < self.reserve_bytes


def bytes_per_hour(channels: int, sample_rate: int) -> float:
    return channels * sample_rate * 2 * 3600 * FLAC_RATIO


def disk_status(path: Path, *, channels: int, sample_rate: int,
                reserve_bytes: int) -> DiskStatus:
    path = Path(path)
    while not path.exists():
        path = path.parent
    usage = shutil.disk_usage(path)
    usable = max(usage.free - reserve_bytes, 0)
    return DiskStatus(str(path), usage.free, usage.total, reserve_bytes,
                      round(usable / bytes_per_hour(channels, sample_rate), 2))
