"""The audio archive: every channel, losslessly, in fixed-length FLAC segments, each durable
and chained by hash before anything else hears of it.

The writer runs in its own thread and reads captured blocks from a queue. A segment is
written under ``seg-NNNNN.flac.partial``, flushed, fsynced, renamed to ``seg-NNNNN.flac``
and the directory fsynced; then its sha256 is computed from the file on disk and chained to
the previous segment's hash, and a ``SegmentWritten`` is handed to ``on_segment`` (the agent
queues it for the database; the archive never waits for SQLite). Layout under the data
directory: ``audio/<hearing_id>/part-NNN/seg-NNNNN.flac``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path

import soundfile as sf

from courtbox.audio.types import Block, SegmentWritten

logger = logging.getLogger(__name__)

_END = object()


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def segment_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class ArchiveWriter:
    """Writes one recording part of one hearing; ``put`` blocks, ``close`` when done."""

    def __init__(self, data_dir: Path, hearing_id: str, *, part: int, sample_rate: int,
                 channels: int, segment_seconds: int, prev_sha256: str | None,
                 on_segment: Callable[[SegmentWritten], None]) -> None:
        self.data_dir = Path(data_dir)
        self.hearing_id = hearing_id
        self.part = part
        self.sample_rate = sample_rate
        self.channels = channels
        self.segment_frames = segment_seconds * sample_rate
        self.prev_sha256 = prev_sha256
        self.on_segment = on_segment
        self.rel_dir = Path("audio") / hearing_id / f"part-{part:03d}"
        self.dir = self.data_dir / self.rel_dir
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.error: BaseException | None = None
        self.segments_written = 0
        self._file: sf.SoundFile | None = None
        self._idx = 0
        self._seg_start = 0
        self._seg_frames = 0
        self._thread = threading.Thread(target=self._run, name=f"archive-{hearing_id[:8]}",
                                        daemon=True)

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._thread.start()

    def put(self, block: Block) -> None:
        self.queue.put(block)

    def close(self, timeout: float | None = None) -> None:
        """Finish the segment in progress and wait for the thread to end."""
        self.queue.put(_END)
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while (item := self.queue.get()) is not _END:
                self._write(item)
            self._finish_segment()
        except BaseException as e:  # noqa: BLE001 - surfaced through .error and the log
            logger.critical("archive writer for hearing %s failed", self.hearing_id,
                            exc_info=True)
            self.error = e

    def _write(self, block: Block) -> None:
        data = block.data
        while len(data):
            if self._file is None:
                self._open_segment(block.start + (block.frames - len(data)))
            room = self.segment_frames - self._seg_frames
            chunk, data = data[:room], data[room:]
            self._file.write(chunk)
            self._seg_frames += len(chunk)
            if self._seg_frames >= self.segment_frames:
                self._finish_segment()

    def _names(self, idx: int) -> tuple[Path, Path]:
        final = self.dir / f"seg-{idx:05d}.flac"
        return final, final.with_name(final.name + ".partial")

    def _open_segment(self, start: int) -> None:
        self._idx += 1
        _, partial = self._names(self._idx)
        self._seg_start = start
        self._seg_frames = 0
        self._file = sf.SoundFile(str(partial), mode="w", samplerate=self.sample_rate,
                                  channels=self.channels, format="FLAC", subtype="PCM_16")

    def _finish_segment(self) -> None:
        if self._file is None:
            return
        final, partial = self._names(self._idx)
        self._file.close()
        self._file = None
        with open(partial, "rb+") as f:
            os.fsync(f.fileno())
        os.rename(partial, final)
        fsync_dir(self.dir)
        digest = segment_sha256(final)
        segment = SegmentWritten(
            id=f"{self.hearing_id}:{self.part}:{self._idx}", hearing_id=self.hearing_id,
            part=self.part, idx=self._idx, path=str(self.rel_dir / final.name),
            start_sample=self._seg_start, frames=self._seg_frames,
            sample_rate=self.sample_rate, channels=self.channels, sha256=digest,
            prev_sha256=self.prev_sha256)
        self.prev_sha256 = digest
        self.segments_written += 1
        self.on_segment(segment)
