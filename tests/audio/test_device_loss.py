"""An input device that stops delivering mid-hearing: the hearing stays open, the device is
retried, and recording resumes as a new part when it returns; the gap is audit-logged.

The device is real to PortAudio: an ALSA ``file`` PCM whose ``infile`` is a FIFO. While
the test writes into the FIFO the "microphones" deliver; when it stops writing, reads
block exactly as they do when a USB interface is pulled; when it writes again the device
is back.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.conftest import alsa_file_device, courtbox_cmd, run_courtbox

RATE, CHANNELS = 16000, 4


def test_device_lost_and_back_becomes_a_second_part(tmp_path: Path) -> None:
    """3 s of audio, 7 s of nothing, 3 s of audio: two parts, one gap, the audio archived."""
    fifo = tmp_path / "mics.fifo"
    os.mkfifo(fifo)
    home = tmp_path / "home"
    alsa_file_device(home, "fifo_mics", fifo)
    config = tmp_path / "agent.toml"
    config.write_text(f'[audio]\ndevice = "fifo_mics"\nsample_rate = {RATE}\n'
                      'segment_seconds = 5\n', encoding="utf-8")
    rng = np.random.default_rng(9)
    bursts = [rng.integers(-9000, 9000, size=(3 * RATE, CHANNELS), dtype=np.int16)
              for _ in range(2)]
    fd = os.open(fifo, os.O_RDWR)  # read-write: PortAudio's probes never see EOF
    # ALSA's file plugin fills a read the FIFO cannot satisfy whole from the stale ring
    # buffer, so a burst goes into the FIFO in one write, never trickled: a feeder that
    # fell behind under load made the "device" deliver old audio out of order. The null
    # slave paces the reads at the sample rate, so the burst still arrives in real time.
    fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    assert all(b.nbytes <= 1 << 20 for b in bursts)

    def feed() -> None:
        time.sleep(1.5)  # let the recorder open the device first
        for n, burst in enumerate(bursts):
            if n:
                time.sleep(7)
            os.write(fd, burst.astype("<i2").tobytes())
            time.sleep(len(burst) / RATE)

    data = tmp_path / "data"
    proc = subprocess.Popen(
        [*courtbox_cmd(), "record", "--config", str(config), "--data-dir", str(data),
         "--case-number", "(2026)掉线1号", "--no-transcribe", "--json"],
        env={**os.environ, "HOME": str(home)}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        feeder.join()
        time.sleep(2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(fd)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["parts"] >= 2
    db = sqlite3.connect(data / "courtbox.db")
    audit = {row[0]: json.loads(row[1]) for row in db.execute(
        "SELECT action, detail FROM audit_log ORDER BY id")}
    assert "audio.device_lost" in audit and "audio.device_restored" in audit
    assert 4 <= audit["audio.device_restored"]["gap_seconds"] <= 12
    assert db.execute("SELECT state FROM hearings").fetchone()[0] == "closed"
    parts = db.execute("SELECT part, path, start_sample, frames FROM audio_segments"
                       " ORDER BY part, idx").fetchall()
    by_part: dict[int, list] = {}
    for part, path, _start, _frames in parts:
        by_part.setdefault(part, []).append(sf.read(str(data / path), dtype="int16")[0])
    first, *_, last = (np.concatenate(v) for _, v in sorted(by_part.items()))
    # What the driver held when the device vanished is gone, as with a real unplug (a
    # block at most at either end); everything delivered is archived, in order, exactly.
    for got, sent in ((first, bursts[0]), (last, bursts[1])):
        assert len(got) >= 2.5 * RATE
        offset = int(np.flatnonzero((sent == got[0]).all(axis=1))[0])
        assert offset <= RATE // 10
        assert np.array_equal(got, sent[offset: offset + len(got)])
    later = [start for part, _, start, _ in parts if part == max(by_part)]
    assert later[0] >= 7 * RATE  # the second part sits after the gap on the timeline
    run_courtbox("verify", "--data-dir", str(data), timeout=60)
