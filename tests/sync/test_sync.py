"""Sync on the box's side alone: what retention does when the disk fills.

The centre's side (end to end, replay, reorder, tamper and quarantine, kill -9 mid-blob,
a box killed mid-serve, TLS pinning, discovery, and retention releasing only what the
centre acknowledged) runs against a real PostgreSQL and S3 store in ``tests/central/``.
"""

from __future__ import annotations

import json

from courtbox.record.store import Store


def test_disk_pressure_never_releases_unacknowledged_audio(store: Store) -> None:
    """With nothing acknowledged, a full disk releases nothing and raises the alarm."""
    from courtbox.sync.retention import pressure_alarm, release

    data = store.path.parent
    hid = store.create_hearing(case_number="x", court="c", room="r", sample_rate=16000,
                               channels=1, seats=[])
    store.update_hearing(hid, state="closed")
    store.add_segment({"id": f"{hid}:1:0", "hearing_id": hid, "part": 1, "idx": 0,
                       "path": "audio/x.flac", "start_sample": 0, "frames": 16000,
                       "sample_rate": 16000, "channels": 1, "sha256": "a" * 64,
                       "prev_sha256": None})
    (data / "audio").mkdir()
    (data / "audio" / "x.flac").write_bytes(b"audio")
    assert release(store, data, 0) == []
    assert (data / "audio" / "x.flac").exists()
    assert pressure_alarm(store, full=True, unacked_bytes=5)
    (alarm,) = [a for a in store.db["audit_log"].rows if a["action"] == "disk.pressure"]
    assert json.loads(alarm["detail"]) == {"unacked_bytes": 5}
