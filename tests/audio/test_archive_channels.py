"""Past FLAC's 8 channels (an 8-capsule array beside goosenecks): the archive still keeps
every channel losslessly, one hashed and chained file per segment, and an interrupted
segment is salvaged at start-up like a FLAC one."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import soundfile as sf

from courtbox.audio.archive import ArchiveWriter, open_segment_file, segment_suffix
from courtbox.audio.recovery import find_unrecorded
from courtbox.audio.types import Block, SegmentWritten


def _archive(tmp_path: Path, data: np.ndarray, rate: int) -> list[SegmentWritten]:
    written: list[SegmentWritten] = []
    archive = ArchiveWriter(tmp_path, "h1", part=1, sample_rate=rate, channels=data.shape[1],
                            segment_seconds=5, prev_sha256=None, on_segment=written.append)
    archive.start()
    for i in range(0, len(data), rate // 10):
        archive.put(Block(i, data[i:i + rate // 10]))
    archive.close()
    assert archive.error is None
    return written


def test_twelve_channels_are_archived_losslessly_and_chained(tmp_path: Path) -> None:
    """8 capsules + 4 goosenecks at 16 kHz: decoded segments equal the input sample for
    sample, each file's sha256 is its row's, and each links to the one before."""
    rate, channels = 16000, 12
    data = np.random.default_rng(3).integers(-30000, 30000, size=(rate * 12, channels),
                                             dtype=np.int16)
    written = _archive(tmp_path, data, rate)
    assert [s.frames for s in written] == [5 * rate, 5 * rate, 2 * rate]
    assert all(s.path.endswith(".wav") and s.channels == channels for s in written)
    for before, after in zip(written, written[1:], strict=False):
        assert after.prev_sha256 == before.sha256
    decoded = []
    for seg in written:
        path = tmp_path / seg.path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == seg.sha256
        decoded.append(sf.read(str(path), dtype="int16", always_2d=True)[0])
    assert np.array_equal(np.concatenate(decoded), data)
    # ... and a room within 8 channels keeps FLAC.
    assert segment_suffix(8) == ".flac" and segment_suffix(9) == ".wav"


def test_interrupted_wide_segment_is_salvaged_up_to_its_last_block(tmp_path: Path) -> None:
    """A 12-channel segment whose writer died (never closed, as under kill -9) decodes up
    to the last block written; recovery keeps its bytes as ``.defective.wav``."""
    rate, channels = 16000, 12
    part = tmp_path / "audio" / "h1" / "part-001"
    part.mkdir(parents=True)
    data = np.random.default_rng(4).integers(-9000, 9000, size=(rate * 3, channels),
                                             dtype=np.int16)
    partial = part / "seg-00001.wav.partial"
    f = open_segment_file(partial, rate, channels)
    for i in range(0, len(data), 1600):
        f.write(data[i:i + 1600])
    snapshot = partial.read_bytes()  # what the disk holds when the process dies
    f.close()
    partial.write_bytes(snapshot)
    found = find_unrecorded(tmp_path, set())
    assert [(s.idx, s.defective, s.channels, s.frames) for s in found] == [
        (1, True, channels, len(data))]
    kept = tmp_path / found[0].path
    assert kept.name == "seg-00001.defective.wav" and kept.read_bytes() == snapshot
    assert np.array_equal(sf.read(str(kept), dtype="int16")[0], data)
