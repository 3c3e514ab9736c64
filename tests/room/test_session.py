"""A hearing session over several recording parts: a pause is a gap on one timeline."""

from __future__ import annotations

import json
import time
from pathlib import Path

import soundfile as sf

from courtbox.appliance.demo import sample_dir
from courtbox.audio.capture import FileCapture
from courtbox.config import load_config
from courtbox.record.hearing import HearingInfo, open_hearing
from courtbox.record.verify import verify
from courtbox.room.session import HearingSession
from courtbox.room.stack import RecordingStack


def test_pause_and_resume_make_two_parts_on_one_timeline(tmp_path: Path) -> None:
    """Record 1 s, pause (休庭) 1.5 s, resume: part 2 starts ~2.5 s into the timeline."""
    audio, rate = sf.read(str(sample_dir() / "hearing.flac"), dtype="int16")
    clip = tmp_path / "clip.flac"
    sf.write(str(clip), audio[: 2 * rate], rate)
    config = load_config("/dev/null", data_dir=tmp_path / "data")
    seats = config.seats
    with RecordingStack(config, tmp_path / "data", transcribe=False) as stack:
        hid = stack.writer.call(lambda s: open_hearing(
            s, config, HearingInfo("(2026)休庭1号"), actor="clerk", sample_rate=rate))
        session = HearingSession(stack, hid, seats,
                                 lambda: FileCapture(clip, realtime=True), actor="clerk")
        session.start()
        time.sleep(1.0)
        session.pause("recess")
        time.sleep(1.5)
        session.resume()
        assert session.source_ended.wait(10)
        session.close()
        segments = stack.store.segments(hid)
        audit = [(r["action"], json.loads(r["detail"])) for r in
                 stack.store.db["audit_log"].rows_where("hearing_id = ?", [hid])]
    assert [s["part"] for s in segments] == [1, 2]
    assert 0.8 * rate <= segments[0]["frames"] <= 1.5 * rate  # the pause came after ~1 s
    assert segments[1]["frames"] == 2 * rate
    assert 2.3 * rate <= segments[1]["start_sample"] <= 3.5 * rate  # ~1 s + 1.5 s paused
    assert segments[1]["prev_sha256"] == segments[0]["sha256"]
    actions = [a for a, _ in audit]
    assert actions == ["hearing.open", "hearing.start", "hearing.pause", "hearing.resume",
                       "hearing.close"]
    assert audit[2][1]["reason_name"] == "休庭" and audit[3][1]["part"] == 2
    assert verify(tmp_path / "data").ok
