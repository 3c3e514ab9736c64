"""A corrupt database file: the agent starts anyway, keeps the damaged file byte for byte
beside a salvaged one, says so in one line of its log, and every audio file recorded
before is still there, unchanged. A corrupt model directory: the agent says so, records
without transcription and raises a health alarm. (The other bad inputs: malformed config
in test_config, missing device in test_capture, full disk in test_disk, a damaged bundled
model in test_model, wrong credentials, oversized bodies and ``../`` paths in
test_security.)"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

from tests.central.helpers import box_read, record_hearing
from tests.conftest import RunningAgent
from tests.room.test_restart import archive_files


def test_a_corrupt_database_is_salvaged_and_no_audio_is_lost(tmp_path: Path,
                                                            cache_dir: Path) -> None:
    agent = RunningAgent(tmp_path / "first", transcribe=False,
                         extra_config="[sync]\nadvertise = false\n")
    try:
        record_hearing(agent, "before the damage", seconds=6)
    finally:
        assert agent.stop() == 0
    audio = archive_files(agent.data)
    assert audio
    db = agent.data / "courtbox.db"
    data = bytearray(db.read_bytes())
    data[4096 * 3: 4096 * 4] = b"\xff" * 4096  # one page of the file overwritten
    db.write_bytes(bytes(data))
    damaged_sha = hashlib.sha256(bytes(data)).hexdigest()

    again = RunningAgent(tmp_path / "second", transcribe=False, data=agent.data,
                         extra_config="[sync]\nadvertise = false\n")
    try:
        with again.client("clerk1") as clerk:  # accounts that still read still log in
            assert clerk.get("/api/v1/hearings").status_code == 200
        record_hearing(again, "after the damage", seconds=3)
    finally:
        assert again.stop() == 0
    log = again.log.read_text()
    assert "is damaged" in log and "moved to" in log, log
    (kept,) = (agent.data / "damaged").glob("courtbox-*.db")
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == damaged_sha
    now = archive_files(agent.data)
    assert all(now.get(path) == sha for path, sha in audio.items())
    salvaged = box_read(again, lambda s: [a for a in s.db["audit_log"].rows
                                          if a["action"] == "database.salvaged"])
    assert len(salvaged) == 1


def test_a_corrupt_model_records_without_transcription_and_raises_an_alarm(
        tmp_path: Path, cache_dir: Path) -> None:
    from courtbox.transcribe.model import bundled_model_dir

    model = tmp_path / "whisper-small"  # what a technician copied, cut short
    shutil.copytree(bundled_model_dir(cache_dir), model)
    with open(model / "model.bin", "r+b") as f:
        f.truncate(4096)
    agent = RunningAgent(tmp_path, extra_config=(
        f'[model]\npath = "{model}"\n[health]\ninterval_s = 1\n'
        '[sync]\nadvertise = false\n'))
    try:
        (said,) = [line for line in agent.said if "without transcription" in line]
        assert str(model) in said, said
        hid = record_hearing(agent, "no model", seconds=4)
        with agent.client("clerk1") as clerk:
            health = clerk.get("/api/v1/health").json()
            assert health["status"] == "alarm"
            assert "without transcription" in health["alarms"]["model_unavailable"]
            deadline = time.monotonic() + 10
            while not (alarm := [a for a in box_read(agent, lambda s: list(
                    s.db["audit_log"].rows)) if a["action"] == "health.alarm"
                    and "model_unavailable" in a["detail"]]):
                assert time.monotonic() < deadline
                time.sleep(0.5)
    finally:
        assert agent.stop() == 0
    segments = box_read(agent, lambda s: s.segments(hid))
    assert sum(s["frames"] for s in segments) >= 3 * 16000 and alarm


def test_transcribe_of_a_file_that_is_not_audio_says_so_in_one_line(tmp_path: Path) -> None:
    """Issue 18: before, a 39-line LibsndfileError traceback."""
    from tests.conftest import run_courtbox

    notes = tmp_path / "notes.flac"
    notes.write_text("庭审笔记，不是录音\n", encoding="utf-8")
    result = run_courtbox("transcribe", str(notes), check=False, timeout=120)
    assert result.returncode == 1
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1 and str(notes) in lines[0], lines
    assert "Traceback" not in result.stderr


def test_run_on_a_port_in_use_names_the_port_at_once(tmp_path: Path) -> None:
    """Issue 18: before, ~30 s, then a 60-line traceback and exit 3."""
    import socket

    from tests.conftest import run_courtbox

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "agent.toml"
        config.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n'
                          '[api]\nhost = "127.0.0.1"\n[sync]\nadvertise = false\n')
        started = time.monotonic()
        result = run_courtbox("run", "--config", str(config), "--port", str(port),
                              "--no-transcribe", check=False, timeout=60)
        took = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1 and f"port {port}" in lines[0] and "api.port" in lines[0], lines
    assert took < 10, took


def test_sigterm_with_live_pages_open_closes_them_and_prints_one_line(
        tmp_path: Path, cache_dir: Path) -> None:
    """Issue 18: before, SIGTERM with pages open printed ~290 lines of ASGI and WebSocket
    tracebacks. Now each live socket is closed (1001, going away) and the agent's log
    holds no traceback."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    agent = RunningAgent(tmp_path, transcribe=False,
                         extra_config="[sync]\nadvertise = false\n")
    try:
        with agent.client("clerk1") as clerk:
            hid = clerk.post("/api/v1/hearings", json={"case_number": "(2026)京0105民初9号"}
                             ).json()["id"]
            assert clerk.post(f"/api/v1/hearings/{hid}/start").status_code == 200
        ws_url = agent.url.replace("https", "wss") + f"/api/v1/hearings/{hid}/live"
        token = agent.token("judge1")
        sockets = [connect(f"{ws_url}?token={token}", ssl=agent.verify) for _ in range(3)]
        time.sleep(1.5)  # level meters flowing on every socket
        codes = []
        agent.proc.send_signal(15)
        for ws in sockets:
            try:
                while True:
                    ws.recv(timeout=15)
            except ConnectionClosed as e:
                codes.append(e.rcvd.code if e.rcvd else None)
            finally:
                ws.close()
    finally:
        assert agent.stop() == 0
    log = agent.log.read_text()
    assert "Traceback" not in log and "ERROR" not in log, log
    assert "service stopping" in log  # the one line the stop says
    assert codes == [1001] * 3, codes


def test_the_demo_says_an_unverified_clock_once_before_its_transcript(tmp_path: Path,
                                                                     model_dir: Path) -> None:
    """Issue 18: before, the clock-sync warning was a log line in the middle of the
    transcript."""
    import soundfile as sf

    from courtbox.appliance.demo import sample_dir
    from courtbox.hardware.clock import clock_synchronized
    from tests.conftest import run_courtbox

    audio, rate = sf.read(str(sample_dir() / "hearing.flac"), dtype="int16")
    short = tmp_path / "short.flac"
    sf.write(str(short), audio[: 12 * rate], rate)
    result = run_courtbox("demo", "--fast", "--port", "0", "--audio", str(short),
                          "--seats", "presiding_judge:审判长,clerk:书记员,plaintiff:原告,"
                          "defendant:被告", timeout=300)
    out = result.stdout.splitlines()
    notes = [i for i, line in enumerate(out) if "clock" in line]
    first_line = next(i for i, line in enumerate(out) if line.startswith("[00:"))
    if clock_synchronized() is True:
        assert notes == [], out
    else:
        assert len(notes) == 1 and notes[0] < first_line, out
    assert "clock" not in result.stderr, result.stderr
