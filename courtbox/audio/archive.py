"""The audio archive: every channel, losslessly, in fixed-length FLAC segments, each durable
and chained by hash before anything else hears of it.

The writer runs in its own thread and reads captured blocks from a queue. A segment is
written under ``seg-NNNNN.flac.partial``, flushed, fsynced, renamed to ``seg-NNNNN.flac``
and the directory fsynced; then its sha256 is computed from the file on disk and chained to
the previous segment's hash, and a ``SegmentWritten`` is handed to ``on_segment`` (the agent
queues it for the database; the archive never waits for SQLite). Layout under the data
directory: ``audio/<hearing_id>/part-NNN/seg-NNNNN.flac``.

FLAC holds at most 8 channels (its frame header has 3 bits for them), and so does every
other lossless codec libsndfile writes (ALAC too). A room with more (an 8-capsule array and
its goosenecks) is archived as ``seg-NNNNN.wav``: one RF64 file (WAV past 4 GB) of int16
PCM per segment, its header rewritten after every write so an interrupted segment still
decodes up to its last block. One file per segment keeps everything that follows a segment
unchanged: its row, its sha256 and chain link, the sync blob the centre pulls, playback and
salvage. The price is disk: raw PCM, about 1/0.6 of FLAC (``hours_left`` counts it).

A full disk never corrupts the archive. Every second of audio the writer checks free space:
fewer than ``warn_hours`` of recording left is a ``disk_low`` event; below ``reserve_bytes``
(or on any write error) it closes what it has cleanly (a segment cut short by a write
error is kept, renamed ``.defective.flac``), reports ``disk_full`` and holds incoming audio
in memory, up to ``max_backlog_bytes``, re-checking every second. When space returns it
reports ``disk_resumed`` and writes the held audio, so a short outage loses nothing; beyond
the backlog, audio is dropped and the gap is reported as ``audio_dropped``. A new segment
starts at every gap, so each segment covers one continuous stretch of the timeline.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import soundfile as sf

from courtbox.audio.types import Block, CaptureEvent, SegmentWritten, log_event
from courtbox.hardware.disk import FLAC_RATIO, bytes_per_hour, file_sha256, fsync_dir

logger = logging.getLogger(__name__)

_END = object()
FLAC_MAX_CHANNELS = 8
_SET_UPDATE_HEADER_AUTO = 0x1061  # libsndfile: rewrite a WAV header after every write


def segment_suffix(channels: int) -> str:
    """``.flac`` up to FLAC's 8 channels, ``.wav`` (RF64, int16 PCM) beyond."""
    return ".flac" if channels <= FLAC_MAX_CHANNELS else ".wav"


def defective_name(idx: int, suffix: str = ".flac") -> str:
    """The name an interrupted or failed segment is kept under, bytes unchanged."""
    return f"seg-{idx:05d}.defective{suffix}"


def open_segment_file(path: Path, sample_rate: int, channels: int) -> sf.SoundFile:
    """A new segment file for writing: FLAC, or RF64 past 8 channels."""
    if channels <= FLAC_MAX_CHANNELS:
        return sf.SoundFile(str(path), mode="w", samplerate=sample_rate, channels=channels,
                            format="FLAC", subtype="PCM_16")
    f = sf.SoundFile(str(path), mode="w", samplerate=sample_rate, channels=channels,
                     format="RF64", subtype="PCM_16")
    from soundfile import _ffi, _snd  # the one libsndfile command soundfile does not wrap
    _snd.sf_command(f._file, _SET_UPDATE_HEADER_AUTO, _ffi.NULL, 1)
    return f


def decodable_frames(path: Path) -> tuple[int, int, int]:
    """(frames that decode, sample rate, channels); (0, 0, 0) if not even the header does."""
    frames = 0
    try:
        with sf.SoundFile(str(path)) as f:
            rate, channels = f.samplerate, f.channels
            try:
                for block in f.blocks(blocksize=4096, dtype="int16", always_2d=True):
                    frames += len(block)
            except (sf.LibsndfileError, RuntimeError):
                logger.info("%s decodes up to frame %d", path, frames)
    except (sf.LibsndfileError, RuntimeError):
        return 0, 0, 0
    return frames, rate, channels


class ArchiveWriter:
    """Writes one recording part of one hearing; ``put`` blocks, ``close`` when done."""

    def __init__(self, data_dir: Path, hearing_id: str, *, part: int, sample_rate: int,
                 channels: int, segment_seconds: int, prev_sha256: str | None,
                 on_segment: Callable[[SegmentWritten], None],
                 on_event: Callable[[CaptureEvent], None] | None = None,
                 reserve_bytes: int = 0, max_backlog_bytes: int = 256 << 20,
                 warn_hours: float = 0.0) -> None:
        self.data_dir = Path(data_dir)
        self.hearing_id = hearing_id
        self.part = part
        self.sample_rate = sample_rate
        self.channels = channels
        self.segment_frames = segment_seconds * sample_rate
        self.suffix = segment_suffix(channels)
        self.prev_sha256 = prev_sha256
        self.on_segment = on_segment
        self.on_event = on_event or log_event
        self.reserve_bytes = reserve_bytes
        self.warn_hours = warn_hours
        self._warned_low = False
        self.max_backlog_bytes = max_backlog_bytes
        self.suspended = False
        self.dropped_frames = 0
        self._backlog: collections.deque[Block] = collections.deque()
        self._backlog_bytes = 0
        self._next_check = 0  # timeline sample at which free space is checked again
        self._last_try = 0.0
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

    def alive(self) -> bool:
        """The writer thread is running (until ``close``)."""
        return self._thread.is_alive()

    def close(self, timeout: float | None = None) -> None:
        """Finish the segment in progress and wait for the thread to end."""
        self.queue.put(_END)
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while True:
                try:
                    item = self.queue.get(timeout=1.0 if self.suspended else None)
                except queue.Empty:
                    self._try_resume()
                    continue
                if item is _END:
                    break
                self._accept(item)
            if self.suspended:
                self._try_resume(force=True)
            if self._backlog:
                lost = sum(b.frames for b in self._backlog)
                self._event("audio_dropped", f"disk still full at the end of the part: "
                            f"{lost / self.sample_rate:.1f} s of held audio could not be "
                            "written", self._backlog[0].start)
            self._close_segment_safely()
        except BaseException as e:  # noqa: BLE001 - surfaced through .error and the log
            logger.critical("archive writer for hearing %s failed", self.hearing_id,
                            exc_info=True)
            self.error = e

    # -- disk guard -----------------------------------------------------------------------

    def _event(self, kind: str, message: str, at_sample: int) -> None:
        self.on_event(CaptureEvent(kind, message, at_sample))

    def _space_low(self) -> bool:
        return shutil.disk_usage(self.dir).free < self.reserve_bytes

    def _check_space(self, at_sample: int) -> bool:
        """Once a second of audio: False when below the reserve; warns (once, re-armed
        when space comes back) when fewer than ``warn_hours`` of recording still fit."""
        free = shutil.disk_usage(self.dir).free
        per_hour = bytes_per_hour(self.channels, self.sample_rate)
        if self.suffix != ".flac":
            per_hour /= FLAC_RATIO  # raw PCM
        hours = (free - self.reserve_bytes) / per_hour
        if hours < self.warn_hours and not self._warned_low:
            self._warned_low = True
            self._event("disk_low", f"only {max(hours, 0):.1f} hours of recording still fit "
                        "on the data disk", at_sample)
        elif hours >= self.warn_hours * 1.1:
            self._warned_low = False
        return free >= self.reserve_bytes

    def _accept(self, block: Block) -> None:
        if self.suspended:
            self._hold(block)
            self._try_resume()
            return
        if block.start >= self._next_check:
            self._next_check = block.start + self.sample_rate
            if not self._check_space(block.start):
                self._suspend(block, "free space fell below the reserve")
                return
        try:
            self._write(block)
        except (OSError, sf.LibsndfileError) as e:
            self._abandon_segment()
            self._suspend(block, f"write failed: {e}")

    def _suspend(self, block: Block, why: str) -> None:
        self._close_segment_safely()
        self.suspended = True
        self._last_try = time.monotonic()
        self._event("disk_full", f"archive paused: {why}; holding audio in memory until "
                    "space returns", block.start)
        self._hold(block)

    def _hold(self, block: Block) -> None:
        if self._backlog_bytes + block.data.nbytes > self.max_backlog_bytes:
            if not self.dropped_frames:
                self._event("audio_dropped", "disk full and memory backlog exhausted: "
                            "audio is being dropped", block.start)
            self.dropped_frames += block.frames
            return
        self._backlog.append(block)
        self._backlog_bytes += block.data.nbytes

    def _try_resume(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._last_try < 1.0:
            return
        self._last_try = time.monotonic()
        if self._space_low():
            return
        held = sum(b.frames for b in self._backlog) / self.sample_rate
        self.suspended = False
        self._event("disk_resumed", f"archive resumed: writing {held:.1f} s of held audio"
                    + (f"; {self.dropped_frames / self.sample_rate:.1f} s were dropped"
                       if self.dropped_frames else ""),
                    self._backlog[0].start if self._backlog else 0)
        self.dropped_frames = 0
        while self._backlog and not self.suspended:
            block = self._backlog.popleft()
            self._backlog_bytes -= block.data.nbytes
            self._accept(block)

    def _close_segment_safely(self) -> None:
        try:
            self._finish_segment()
        except (OSError, sf.LibsndfileError, RuntimeError):
            logger.warning("finishing segment %d failed; keeping it as defective",
                           self._idx, exc_info=True)
            self._abandon_segment()

    def _abandon_segment(self) -> None:
        """After a write error: keep what was written, as a defective segment."""
        if self._file is None:
            return
        final, partial = self._names(self._idx)
        try:
            self._file.close()
        except (OSError, sf.LibsndfileError, RuntimeError):
            logger.warning("closing %s after a write error failed", partial, exc_info=True)
        self._file = None
        defective = final.with_name(defective_name(self._idx, self.suffix))
        os.rename(partial, defective)
        frames, _, _ = decodable_frames(defective)
        self._emit(defective, frames, defective=True)

    # -- segments -------------------------------------------------------------------------

    def _write(self, block: Block) -> None:
        if self._file is not None and block.start != self._seg_start + self._seg_frames:
            self._finish_segment()  # a gap in the timeline: never bridge it in one segment
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
        final = self.dir / f"seg-{idx:05d}{self.suffix}"
        return final, final.with_name(final.name + ".partial")

    def _open_segment(self, start: int) -> None:
        self._idx += 1
        _, partial = self._names(self._idx)
        self._seg_start = start
        self._seg_frames = 0
        self._file = open_segment_file(partial, self.sample_rate, self.channels)

    def _finish_segment(self) -> None:
        if self._file is None:
            return
        final, partial = self._names(self._idx)
        self._file.close()
        self._file = None
        with open(partial, "rb+") as f:
            os.fsync(f.fileno())
        os.rename(partial, final)
        self._emit(final, self._seg_frames)

    def _emit(self, path: Path, frames: int, defective: bool = False) -> None:
        fsync_dir(self.dir)
        digest = file_sha256(path)
        segment = SegmentWritten(
            id=f"{self.hearing_id}:{self.part}:{self._idx}", hearing_id=self.hearing_id,
            part=self.part, idx=self._idx, path=str(self.rel_dir / path.name),
            start_sample=self._seg_start, frames=frames, sample_rate=self.sample_rate,
            channels=self.channels, sha256=digest, prev_sha256=self.prev_sha256,
            defective=defective)
        self.prev_sha256 = digest
        self.segments_written += 1
        self.on_segment(segment)
