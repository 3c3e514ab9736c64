"""The long-lived parts a hearing is recorded with, opened and closed in one visible order:
the database check (and salvage of a damaged one, ``courtbox.record.salvage``), the store,
recovery of what an interrupted recording left in the archive, the store's writer thread,
then the recogniser process; closed in reverse.

Both ``courtbox demo`` and ``courtbox record`` build on it, so a demo hearing goes through
exactly the code a live one does.
"""

from __future__ import annotations

import logging
import stat
from pathlib import Path

from courtbox.audio.capture import Capture
from courtbox.audio.levels import MeterOptions
from courtbox.audio.recovery import FoundSegment
from courtbox.audio.seats import SegmenterOptions
from courtbox.config import Config
from courtbox.errors import ModelError
from courtbox.hardware.disk import DiskStatus, disk_status
from courtbox.record.hearing import hearing_hotwords
from courtbox.record.salvage import (
    Salvage,
    check_database,
    mark_running,
    mark_stopped,
    salvage,
)
from courtbox.record.store import DB_NAME, Store
from courtbox.record.writer import StoreWriter
from courtbox.room.recorder import FinalCallback, LevelsCallback, PartialCallback, Recorder
from courtbox.room.recovery import recover_archive
from courtbox.transcribe.engine import EngineOptions
from courtbox.transcribe.model import ModelInfo, model_info
from courtbox.transcribe.stream import StreamOptions
from courtbox.transcribe.vad import VadOptions
from courtbox.transcribe.worker import RecognizerProcess

logger = logging.getLogger(__name__)


class RecordingStack:
    def __init__(self, config: Config, data_dir: Path, *, transcribe: bool = True,
                 model_required: bool = True) -> None:
        """``model_required``: False for the agent, which records on without transcription
        (``model_problem`` says why) when the speech model cannot be loaded."""
        self.config = config
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
        self._opened = False

    def __enter__(self) -> RecordingStack:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            private(self.data_dir)
            self.unclean = mark_running(self.data_dir)
            problem = check_database(self.data_dir / DB_NAME, full=self.unclean)
            if problem is not None:
                self.salvaged = salvage(self.data_dir, problem)
            self.store = Store.in_dir(self.data_dir)
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

    def disk(self, channels: int, sample_rate: int, hearing_id: str | None = None
             ) -> DiskStatus:
        """Recording hours left on the data disk; below ``storage.warn_hours`` this is
        logged and audit-logged (for ``hearing_id``)."""
        status = disk_status(self.data_dir, channels=channels, sample_rate=sample_rate,
                             reserve_bytes=self.config.storage.reserve_mb << 20)
        if status.hours_left < self.config.storage.warn_hours:
            logger.warning("only %.1f hours of recording fit on %s (%d MB free)",
                           status.hours_left, status.path, status.free_bytes >> 20)
            self.writer.submit(lambda s: s.audit(
                "capture", "disk.low", hearing_id, hours_left=status.hours_left,
                free_bytes=status.free_bytes))
        self.last_disk = status
        return status

    def recorder(self, hearing_id: str, capture: Capture, seats: list[dict], *,
                 on_final: FinalCallback | None = None,
                 on_partial: PartialCallback | None = None,
                 on_levels: LevelsCallback | None = None, part: int = 1,
                 timeline_start: int = 0, hotwords: tuple[str, ...] | None = None
                 ) -> Recorder:
        """``hotwords``: the hearing's own words for the recogniser; by default its case
        number, panel, clerk and parties."""
        self.disk(capture.channels, capture.sample_rate, hearing_id)
        segmenter, vad, stream = speech_options(self.config)
        if hotwords is None:
            hearing = self.writer.call(lambda s: s.hearing(hearing_id))
            hotwords = hearing_hotwords(hearing) if hearing else ()
        return Recorder(data_dir=self.data_dir, writer=self.writer, hearing_id=hearing_id,
                        seats=seats, capture=capture, recognizer=self.recognizer,
                        segment_seconds=self.config.audio.segment_seconds, part=part,
                        on_final=on_final, on_partial=on_partial, on_levels=on_levels,
                        hotwords=hotwords,
                        segmenter_options=segmenter, vad_options=vad, stream_options=stream,
                        meter_options=MeterOptions(
                            dead_after_s=self.config.audio.dead_mic_minutes * 60),
                        reserve_bytes=self.config.storage.reserve_mb << 20,
                        warn_hours=self.config.storage.warn_hours,
                        timeline_start=timeline_start)


def private(data_dir: Path) -> None:
    """No access for others to the record: the data directory is 0750 and the database
    files (perhaps made by a command run before the service) lose any access for others."""
    try:
        data_dir.chmod(0o750)
        for path in data_dir.glob(f"{DB_NAME}*"):
            path.chmod(stat.S_IMODE(path.stat().st_mode) & ~0o007)
    except OSError as e:
        logger.warning("cannot make %s private (0750): %s", data_dir, e)


def speech_options(config: Config) -> tuple[SegmenterOptions, VadOptions, StreamOptions]:
    """The utterance cutting, VAD and partial-line settings of ``config``."""
    v, m = config.vad, config.model
    return (SegmenterOptions(hangover_ms=v.hangover_ms, pre_roll_ms=v.padding_ms,
                             min_speech_ms=v.min_speech_ms,
                             soft_max_s=min(12.0, v.max_utterance_s),
                             max_utterance_s=v.max_utterance_s),
            VadOptions(threshold=v.threshold, neg_threshold=v.neg_threshold),
            StreamOptions(interval_s=m.partial_interval_s, partials=m.partials))
