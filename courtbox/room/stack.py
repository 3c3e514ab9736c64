"""The long-lived parts a hearing is recorded with, opened and closed in one visible order:
the data directory's lock (``courtbox.record.lock``: one recording process at a time, taken
before anything in the directory is touched, released last), the database check (and
salvage of a damaged one, ``courtbox.record.salvage``), the store, recovery of what an
interrupted recording left in the archive, the store's writer thread, then the recogniser
process; closed in reverse. It also holds what the config says about recording
(``options``, read once) and checks the disk before each part.

A ``Recorder`` records one part with these parts (``courtbox.room.recorder``); the
courtroom, ``courtbox record``, the demo and the benchmark all build on it, so a demo
hearing goes through exactly the code a live one does.
"""

from __future__ import annotations

import logging
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from courtbox.errors import ModelError
from courtbox.hardware.disk import DiskStatus, disk_status
from courtbox.record.hearing import hearing_hotwords
from courtbox.record.identity import open_store
from courtbox.record.lock import DataDirLock, hold_data_dir
from courtbox.record.salvage import (
    Salvage,
    check_database,
    mark_running,
    mark_stopped,
    salvage,
)
from courtbox.record.store import DB_NAME, Store
from courtbox.record.writer import StoreWriter
from courtbox.room.options import RecorderOptions
from courtbox.room.recovery import recover_archive
from courtbox.transcribe.engine import EngineOptions
from courtbox.transcribe.model import ModelInfo, model_info
from courtbox.transcribe.worker import RecognizerProcess

if TYPE_CHECKING:
    from courtbox.audio.recovery import FoundSegment
    from courtbox.config import Config

logger = logging.getLogger(__name__)


class RecordingStack:
    def __init__(self, config: Config, data_dir: Path, *, transcribe: bool = True,
                 model_required: bool = True) -> None:
        """``model_required``: False for the agent, which records on without transcription
        (``model_problem`` says why) when the speech model cannot be loaded."""
        self.config = config
        self.options = RecorderOptions.from_config(config)  # every part records with these
        self.data_dir = Path(data_dir)
        self.transcribe = transcribe
        self.model_required = model_required
        self.model_problem: str | None = None
        self.model: ModelInfo | None = None
        self.store: Store | None = None
        self.writer: StoreWriter | None = None
        self.recognizer: RecognizerProcess | None = None
        self.recovered: list[FoundSegment] = []
        self.last_disk: DiskStatus | None = None  # as checked at the latest part's start
        self.unclean = False  # the previous process did not stop cleanly
        self.salvaged: Salvage | None = None  # the database was damaged and rebuilt
        self.lock: DataDirLock | None = None
        self._opened = False

    def __enter__(self) -> RecordingStack:
        # Before anything else: a second process must not take the holder's live
        # ``.partial`` for an interrupted one (DataDirBusy names the holder; nothing touched).
        self.lock = hold_data_dir(self.data_dir)
        try:
            private(self.data_dir)
            self.unclean = mark_running(self.data_dir)
            problem = check_database(self.data_dir / DB_NAME, full=self.unclean)
            if problem is not None:
                self.salvaged = salvage(self.data_dir, problem)
            self.store = open_store(self.data_dir)
            self.recovered = recover_archive(self.store, self.data_dir)
            self.writer = StoreWriter(self.store)
            if self.transcribe:
                self._start_recognizer()
            self._opened = True
        except BaseException:
            self.close()
            raise
        return self

    def _start_recognizer(self) -> None:
        try:
            self.model = model_info(self.config.model.path, self.config.cache_dir())
            self.recognizer = RecognizerProcess(
                EngineOptions.from_config(self.config.model, self.model.path))
            self.recognizer.start()
        except ModelError as e:
            if self.model_required:
                raise
            if self.recognizer is not None:
                self.recognizer.close(timeout=1)
                self.recognizer = None
            self.model_problem = str(e)
            logger.error("%s: recording without transcription", e)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.recognizer is not None:
            self.recognizer.close()
        if self.writer is not None:
            self.writer.close()
        if self.store is not None:
            self.store.close()
        if self._opened:
            mark_stopped(self.data_dir)
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def disk(self, channels: int, sample_rate: int, hearing_id: str | None = None
             ) -> DiskStatus:
        """Recording hours left on the data disk; below ``storage.warn_hours`` this is
        logged and audit-logged (for ``hearing_id``)."""
        status = disk_status(self.data_dir, channels=channels, sample_rate=sample_rate,
                             reserve_bytes=self.options.reserve_bytes)
        if status.hours_left < self.options.warn_hours:
            logger.warning("only %.1f hours of recording fit on %s (%d MB free)",
                           status.hours_left, status.path, status.free_bytes >> 20)
            self.writer.submit(lambda s: s.audit(
                "capture", "disk.low", hearing_id, hours_left=status.hours_left,
                free_bytes=status.free_bytes))
        self.last_disk = status
        return status

    def hotwords(self, hearing_id: str) -> tuple[str, ...]:
        """The hearing's own words for the recogniser: its case number, panel, clerk and
        parties."""
        hearing = self.writer.call(lambda s: s.hearing(hearing_id))
        return hearing_hotwords(hearing) if hearing else ()


def private(data_dir: Path) -> None:
    """No access for others to the record: the data directory is 0750 and the database
    files (perhaps made by a command run before the service) lose any access for others."""
    try:
        data_dir.chmod(0o750)
        for path in data_dir.glob(f"{DB_NAME}*"):
            path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o007)
    except OSError as e:
        logger.warning("cannot make %s private (0750): %s", data_dir, e)
