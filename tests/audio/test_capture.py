"""Recording through real PortAudio with no sound card.

ALSA's ``file`` plugin with a ``null`` slave and an ``infile`` of raw interleaved int16 is a
real capture device to PortAudio: ``courtbox record`` opens it through sounddevice exactly
as it would open a USB microphone array. The tests point ALSA at their own ``~/.asoundrc``
by running the CLI with ``HOME`` set to a temporary directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import alsa_file_device, run_courtbox, seats_toml

RATE, CHANNELS, SECONDS = 48000, 8, 11


def _room(tmp_path: Path, samples: np.ndarray, device: str = "courtbox_mics",
          backend: str = "sounddevice") -> dict:
    """A HOME with an ALSA capture device playing ``samples``, and a config using it."""
    home = tmp_path / "home"
    raw = tmp_path / "mics.raw"
    samples.astype("<i2").tofile(raw)
    alsa_file_device(home, "courtbox_mics", raw)
    seats = seats_toml(samples.shape[1])
    config = tmp_path / "agent.toml"
    config.write_text(f'[audio]\nbackend = "{backend}"\ndevice = "{device}"\n'
                      f'sample_rate = {RATE}\n'
                      f'segment_seconds = 5\n\n{seats}', encoding="utf-8")
    return {"env": {"HOME": str(home)}, "config": str(config)}


@pytest.mark.parametrize("backend", ["sounddevice", "pyaudio"])
def test_recording_through_portaudio_archives_exactly_the_input(tmp_path: Path,
                                                                backend: str) -> None:
    """8 channels at 48 kHz through PortAudio, with either binding: the FLAC archive
    equals the input, sample for sample, in chained segments that verify."""
    rng = np.random.default_rng(11)
    samples = rng.integers(-12000, 12000, size=(RATE * SECONDS, CHANNELS), dtype=np.int16)
    room = _room(tmp_path, samples, backend=backend)
    data = tmp_path / "data"
    result = run_courtbox("record", "--config", room["config"], "--data-dir", str(data),
                          "--case-number", "(2026)测试1号", "--duration", str(SECONDS),
                          "--no-transcribe", "--json", env=room["env"], timeout=120)
    summary = json.loads(result.stdout)
    assert summary["frames"] == RATE * SECONDS and summary["segments"] == 3
    assert summary["source"] == "courtbox_mics"
    segments = sorted(data.rglob("seg-*.flac"))
    decoded = [sf.read(str(p), dtype="int16", always_2d=True)[0] for p in segments]
    assert [len(d) for d in decoded] == [5 * RATE, 5 * RATE, 1 * RATE]
    assert np.array_equal(np.concatenate(decoded), samples)
    check = run_courtbox("verify", "--data-dir", str(data), timeout=60)
    assert check.stdout.startswith("OK"), check.stdout


def test_devices_lists_the_alsa_device(tmp_path: Path) -> None:
    """``courtbox devices`` shows the device with its channels and marks the configured one."""
    room = _room(tmp_path, np.zeros((RATE, 2), dtype=np.int16))
    result = run_courtbox("devices", "--json", "--config", room["config"], env=room["env"],
                          timeout=60)
    devices = {d["name"]: d for d in json.loads(result.stdout)}
    assert devices["courtbox_mics"]["channels"] >= 8 and devices["courtbox_mics"]["configured"]


def test_missing_device_is_named(tmp_path: Path) -> None:
    """A config naming a device that is not there fails with one line naming it."""
    room = _room(tmp_path, np.zeros((RATE, 2), dtype=np.int16), device="Polycom 8ch")
    result = run_courtbox("record", "--config", room["config"], "--data-dir",
                          str(tmp_path / "data"), "--case-number", "x", "--no-transcribe",
                          env=room["env"], check=False, timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "courtbox: error: input device 'Polycom 8ch' not found; input devices: ")
    assert "courtbox_mics" in lines[0]
