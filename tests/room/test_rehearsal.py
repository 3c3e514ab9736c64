"""The rehearsal source (``courtbox run --audio FILE``): after a pause the next part goes
on where the last one stopped instead of playing the file from its start again (issue 18;
before, every part began at frame 0)."""

from __future__ import annotations

import threading
import time

import numpy as np
import soundfile as sf

from courtbox.config import Config
from courtbox.room.inputs import capture_factory
from tests.conftest import sample_dir


def test_each_part_of_a_rehearsal_goes_on_where_the_last_stopped() -> None:
    audio = sample_dir() / "hearing.flac"
    config = Config(seats=[{"channel": c, "id": f"s{c}", "role": "other", "name": f"s{c}"}
                           for c in range(sf.info(str(audio)).channels)])
    open_capture, source = capture_factory(config, audio, None)
    assert source == f"file {audio}"

    def play(seconds: float) -> tuple[object, list]:
        capture, blocks, got = open_capture(), [], threading.Event()
        capture.start(lambda b: (blocks.append(b), got.set()))
        assert got.wait(10)
        time.sleep(seconds)
        capture.stop()
        assert capture.wait(10)
        return capture, blocks

    first, _ = play(1.0)
    assert first.start_frame == 0 and first.file_position > 0
    second, blocks = play(0.3)
    assert second.start_frame == first.file_position
    assert blocks[0].start == 0  # the part's own timeline still starts at 0
    expected, _ = sf.read(str(audio), dtype="int16", always_2d=True,
                          start=second.start_frame, frames=len(blocks[0].data))
    assert np.array_equal(blocks[0].data, expected)
