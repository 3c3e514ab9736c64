"""Retention on the box: which audio may leave it, and the alarm when the disk fills.

An archived audio segment is released (its file deleted, its row and hash kept) only when
all of these hold: its hearing is closed, and one collector that is still enrolled (not
revoked, not disabled) acknowledged both its sha256 and its outbox entry, and that ack is
``sync.retention_days`` old: the period counts from the acknowledgement, never from when
the segment was written. An ack counts only for a blob the box served that collector
whole (``blob_downloads``, kept by ``courtbox.sync.server``): a collector that says it
holds what it never downloaded releases nothing with that ack, ever; it must download
the blob and ack it again, and the period then runs from that ack. Revoking a collector
(``courtbox sync revoke``) or enrolling it anew drops what its acks would release. Each
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
           WHERE h.state = 'closed'
             AND s.id NOT IN (SELECT segment_id FROM released_segments)
             AND EXISTS (
               SELECT 1 FROM blob_acks a
               JOIN collectors c ON c.name = a.collector
               JOIN blob_downloads d ON d.sha256 = a.sha256 AND d.collector = a.collector
               WHERE a.sha256 = s.sha256 AND c.disabled = 0 AND c.revoked_at IS NULL
                 AND d.completed_at IS NOT NULL AND d.completed_at <= a.acked_at
                 AND a.acked_at <= ?
                 AND c.acked_seq >= (SELECT seq FROM outbox WHERE kind = 'audio_segment'
                                     AND record_id = s.id))
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
