"""Start-up recovery: record what the archive holds but the database missed.

Runs before any new recording. Every unrecorded archive file found by
``courtbox.audio.recovery`` is appended to its hearing's audio chain, in order: complete
segments as normal ones, the interrupted segment as a defective one (its original bytes,
with the frames that still decode). Each hearing whose recording was interrupted gets a
``recording.interrupted`` audit entry naming the part and where the audio ends.
"""

from __future__ import annotations

import logging
from pathlib import Path

from courtbox.audio.recovery import FoundSegment, find_unrecorded
from courtbox.record.store import Store

logger = logging.getLogger(__name__)


def recover_archive(store: Store, data_dir: Path) -> list[FoundSegment]:
    recorded = {row[0] for row in store.db.execute("SELECT path FROM audio_segments")}
    found = find_unrecorded(Path(data_dir), recorded)
    interrupted: dict[str, FoundSegment] = {}
    for seg in found:
        hearing = store.hearing(seg.hearing_id)
        if hearing is None:
            logger.error("archive file %s belongs to no known hearing; left in place",
                         seg.path)
            store.audit("recovery", "archive.orphan_file", None, path=seg.path,
                        sha256=seg.sha256)
            continue
        last = store.db.execute(
            "SELECT start_sample + frames, sha256 FROM audio_segments WHERE hearing_id = ?"
            " ORDER BY part DESC, idx DESC LIMIT 1", [seg.hearing_id]).fetchone()
        store.add_segment({
            "id": f"{seg.hearing_id}:{seg.part}:{seg.idx}", "hearing_id": seg.hearing_id,
            "part": seg.part, "idx": seg.idx, "path": seg.path,
            "start_sample": last[0] if last else 0, "frames": seg.frames,
            "sample_rate": seg.sample_rate or hearing["sample_rate"],
            "channels": seg.channels or hearing["channels"], "sha256": seg.sha256,
            "prev_sha256": last[1] if last else None, "defective": int(seg.defective)})
        store.audit("recovery", "archive.defective_segment" if seg.defective
                    else "archive.recovered_segment", seg.hearing_id, path=seg.path,
                    frames=seg.frames, sha256=seg.sha256)
        logger.warning("recorded %s segment %s (%d frames)",
                       "defective" if seg.defective else "unrecorded", seg.path, seg.frames)
        interrupted[seg.hearing_id] = seg
    for hearing_id, seg in interrupted.items():
        store.audit("recovery", "recording.interrupted", hearing_id, part=seg.part,
                    audio_end_sample=store.audio_end(hearing_id))
    return found
