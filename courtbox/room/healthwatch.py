"""The agent's health check: the hardware probes plus what only the agent knows (the
database check, the audio device, dead microphones, how far the archive and transcription
are behind, a speech model that would not load), compared with the ``[health]``
thresholds.

``check`` runs every ``health.interval_s`` in the agent: an alarm that starts is logged and
audit-logged as ``health.alarm``, one that ends as ``health.cleared``; the audit log goes
to the court's collector like every record, and the latest reading is served at
``/api/v1/health`` and sent with every heartbeat.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from courtbox.config import Config
from courtbox.errors import AudioError
from courtbox.hardware.devices import resolve_input_device
from courtbox.hardware.health import Every, Thresholds, alarms, read_probes
from courtbox.record.salvage import check_database
from courtbox.record.store import DB_NAME

if TYPE_CHECKING:
    from courtbox.room.courtroom import Courtroom

logger = logging.getLogger(__name__)


DATABASE_CHECK_S = 600.0


def database_check(data_dir: Path) -> Every:
    """``PRAGMA quick_check`` of the box's database ("ok" or what is wrong), at most every
    ``DATABASE_CHECK_S``: it reads every page, too much for each request on a database
    years old."""
    return Every(lambda: check_database(Path(data_dir) / DB_NAME, full=False) or "ok",
                 DATABASE_CHECK_S)


class HealthWatch:
    def __init__(self, config: Config, room: Courtroom) -> None:
        self.config = config
        self.room = room
        self.database = database_check(Path(config.storage.data_dir))
        self.active: dict[str, str] = {}  # alarm -> message, as last audit-logged
        self._lock = threading.Lock()

    def read(self) -> dict:
        c = self.config
        probes = read_probes(Path(c.storage.data_dir), channels=c.channels,
                             sample_rate=c.audio.sample_rate,
                             reserve_bytes=c.storage.reserve_mb << 20)
        probes["database"] = self.database()
        probes["audio_device"] = self._device()
        hearing = self.room.active()
        probes["dead_mics"] = self.room.dead_mics(hearing) if hearing else []
        session = self.room.sessions.get(hearing) if hearing else None
        archive_s = 0.0
        if session is not None and session.recorder is not None:
            archive_s = session.recorder.archive.queue.qsize() * c.audio.block_ms / 1000
        rec = self.room.stack.recognizer
        probes["model_problem"] = self.room.stack.model_problem
        probes["lag"] = {"archive_s": round(archive_s, 1),
                         "transcription_s": round(rec.metrics().lag_s, 1) if rec else 0.0}
        probes["alarms"] = alarms(probes, Thresholds.of(c.health))
        return probes

    def _device(self) -> dict:
        if self.room.audio is not None:  # a file played as the microphones
            present = Path(self.room.audio).is_file()
            return {"present": present, "name": str(self.room.audio),
                    "message": "" if present else f"audio file {self.room.audio} is gone"}
        try:
            device = resolve_input_device(self.config.audio.device, self.config.channels)
        except AudioError as e:
            return {"present": False, "name": str(self.config.audio.device), "message": str(e)}
        return {"present": True, "name": device.name, "message": ""}

    def check(self) -> dict:
        """Read, and audit-log each alarm that started or cleared since the last check."""
        reading = self.read()
        now = reading["alarms"]
        with self._lock:
            started = {k: v for k, v in now.items() if k not in self.active}
            cleared = [k for k in self.active if k not in now]
            self.active = dict(now)
        hearing = self.room.active()
        for name, message in started.items():
            logger.warning("health alarm %s: %s", name, message)
            self.room.writer.call(lambda s, n=name, m=message: s.audit(
                "health", "health.alarm", hearing, alarm=n, message=m))
        for name in cleared:
            logger.info("health alarm %s cleared", name)
            self.room.writer.call(lambda s, n=name: s.audit(
                "health", "health.cleared", hearing, alarm=n))
        return reading
