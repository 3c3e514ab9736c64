"""Retention on the box: which audio may leave it, and the alarm when the disk fills.

An archived audio segment is released (its file deleted, its row and hash kept) only when
all of these hold: the centre acknowledged its sha256 and its record,
``sync.retention_days`` have passed since it was written, and its hearing is closed. Each
release is an audit-log entry, and ``courtbox verify`` accepts a released segment's missing
file while still checking its place in the hash chain. Disk pressure never releases
anything that is not acknowledged: when the disk is below its reserve and nothing is
releasable, it raises ``disk.pressure`` with the unacknowledged bytes instead.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from courtbox.record.store import Store, utc_now

logger = logging.getLogger(__name__)


def releasable(store: Store, retention_days: float, now: datetime | None = None
               ) -> list[dict]:
    cutoff = ((now or datetime.now(UTC)) - timedelta(days=retention_days)).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")
    rows = store.db.execute(
        """SELECT s.id, s.hearing_id, s.path, s.sha256 FROM audio_segments s
           JOIN hearings h ON h.id = s.hearing_id
           WHERE h.state = 'closed' AND s.created_at <= ?
             AND s.sha256 IN (SELECT sha256 FROM blob_acks)
             AND (SELECT seq FROM outbox WHERE kind = 'audio_segment' AND record_id = s.id)
                 <= (SELECT COALESCE(MAX(acked_seq), 0) FROM collectors)
             AND s.id NOT IN (SELECT segment_id FROM released_segments)
           ORDER BY s.created_at""", [cutoff]).fetchall()
    return [dict(zip(("id", "hearing_id", "path", "sha256"), r, strict=True)) for r in rows]


def release(store: Store, data_dir: Path, retention_days: float, *,
            now: datetime | None = None, actor: str = "retention") -> list[dict]:
    """Release every releasable segment; returns them."""
    done = []
    for seg in releasable(store, retention_days, now):
        path = Path(data_dir) / seg["path"]
        size = path.stat().st_size if path.exists() else 0
        with store.transaction():
            store.db["released_segments"].insert({"segment_id": seg["id"],
                                                  "sha256": seg["sha256"],
                                                  "released_at": utc_now()})
        path.unlink(missing_ok=True)
        store.audit(actor, "audio.released", seg["hearing_id"], segment=seg["id"],
                    sha256=seg["sha256"], bytes=size)
        logger.info("released %s (acknowledged by the centre)", seg["path"])
        done.append(seg)
    return done


def pressure_alarm(store: Store, *, full: bool, unacked_bytes: int) -> bool:
    """Audit-log ``disk.pressure`` when the disk is full and nothing may be released."""
    if not full:
        return False
    logger.error("data disk below its reserve with %d bytes of audio not yet acknowledged "
                 "by the centre: nothing is deleted; check the collector", unacked_bytes)
    store.audit("retention", "disk.pressure", None, unacked_bytes=unacked_bytes)
    return True
