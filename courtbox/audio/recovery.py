"""After a power cut or ``kill -9``: find archive files the database does not know, and
salvage what decodes.

Two kinds are found under ``audio/<hearing>/part-NNN/``:

Past 8 channels segments are ``.wav`` (RF64) instead of ``.flac``, handled alike.

- ``seg-NNNNN.flac`` without a database row: the segment was complete, fsynced and renamed,
  but the process died before its row was written. It is a normal segment.
- ``seg-NNNNN.flac.partial``: the segment in progress when the process died. It is never
  deleted or rewritten: it is renamed to ``seg-NNNNN.defective.flac`` (same bytes), and the
  frames that still decode are counted, so it can be recorded as a defective segment.

Nothing here touches the database; the agent records what is returned
(``courtbox.room.stack``).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from courtbox.audio.archive import decodable_frames, defective_name
from courtbox.hardware.disk import file_sha256, fsync_dir

logger = logging.getLogger(__name__)

_SEGMENT = re.compile(r"^seg-(\d{5})(\.defective)?(\.flac|\.wav)(\.partial)?$")
_PART = re.compile(r"^part-(\d{3})$")


@dataclass(frozen=True)
class FoundSegment:
    hearing_id: str
    part: int
    idx: int
    path: str  # relative to the data directory
    frames: int
    sample_rate: int
    channels: int
    sha256: str
    defective: bool


def find_unrecorded(data_dir: Path, recorded: set[str]) -> list[FoundSegment]:
    """Archive files not in ``recorded`` (relative paths), partials renamed to defective,
    in hearing, part, index order."""
    found: list[FoundSegment] = []
    audio = Path(data_dir) / "audio"
    if not audio.is_dir():
        return found
    for hearing_dir in sorted(p for p in audio.iterdir() if p.is_dir()):
        for part_dir in sorted(p for p in hearing_dir.iterdir() if _PART.match(p.name)):
            part = int(_PART.match(part_dir.name).group(1))
            for path in sorted(part_dir.iterdir()):
                m = _SEGMENT.match(path.name)
                if not m:
                    continue
                idx, suffix = int(m.group(1)), m.group(3)
                defective = bool(m.group(2))
                if m.group(4):
                    if defective:
                        continue  # not a name the archive writes
                    target = path.with_name(defective_name(idx, suffix))
                    os.rename(path, target)
                    fsync_dir(part_dir)
                    logger.warning("kept interrupted segment %s as %s", path, target.name)
                    path, defective = target, True
                rel = str(path.relative_to(data_dir))
                if rel in recorded:
                    continue
                frames, rate, channels = decodable_frames(path)
                found.append(FoundSegment(
                    hearing_id=hearing_dir.name, part=part, idx=idx, path=rel,
                    frames=frames, sample_rate=rate, channels=channels,
                    sha256=file_sha256(path), defective=defective))
    return found
