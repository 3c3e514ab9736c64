"""``courtbox demo``: a whole hearing, end to end, on a machine with no sound card.

The bundled sample hearing (four microphones: 审判长, 书记员, 原告, 被告; real Mandarin read
speech from AISHELL-1) is played through the pipeline a live hearing uses — capture, the
FLAC archive with its hash chain, per-seat utterances, the recogniser process, the SQLite
store — at wall-clock pace (``fast``: as fast as the CPU allows). Final lines are printed as
they become durable, the live page is served, and at the end the character error rate
against the sample's reference is printed per seat and overall.
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import TextIO

import uvicorn

from courtbox.audio.capture import FileCapture, require_channels
from courtbox.config import Config, Seat
from courtbox.errors import AudioError, ConfigError, CourtboxError
from courtbox.hardware.clock import clock_synchronized
from courtbox.record.hearing import HearingInfo, close_hearing, open_hearing, start_hearing
from courtbox.room.events import PrintedLines
from courtbox.room.healthwatch import database_check
from courtbox.room.offline import line_text
from courtbox.room.recorder import Recorder
from courtbox.room.stack import RecordingStack
from courtbox.sync.server import sync_lag
from courtbox.transcribe.metrics import ErrorCount, errors_for
from courtbox.web.app import create_app
from courtbox.web.deps import PartialsProvider

logger = logging.getLogger(__name__)


def sample_dir() -> Path:
    return Path(str(resources.files("courtbox") / "sample"))


def load_reference(path: Path) -> dict[str, str]:
    """Per-seat reference text from a sample-style JSON (``utterances`` with ``seat`` and
    ``text``) or a TSV of ``seat<TAB>text`` lines; a seat's lines are joined in order."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError([f"--reference {path}: cannot read: {e}"]) from e
    pairs: list[tuple[str, str]] = []
    if path.suffix == ".json":
        try:
            doc = json.loads(raw)
            items = sorted(doc["utterances"], key=lambda u: u.get("t0", 0))
            pairs = [(u["seat"], u["text"]) for u in items]
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError([f"--reference {path}: not a reference JSON "
                               f"(needs utterances with seat and text): {e}"]) from e
    else:
        for n, line in enumerate(raw.splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            seat, tab, text = line.partition("\t")
            if not tab:
                raise ConfigError([f"--reference {path}:{n}: expected seat<TAB>text"])
            pairs.append((seat.strip(), text.strip()))
    reference: dict[str, str] = {}
    for seat, text in pairs:
        reference[seat] = reference.get(seat, "") + text
    return reference


def score(lines: list[dict], reference: dict[str, str], language: str
          ) -> tuple[ErrorCount, dict[str, ErrorCount]]:
    """Error counts per seat (that seat's finals in time order against its reference) and
    overall; text attributed to the wrong seat counts against both seats."""
    per_seat: dict[str, ErrorCount] = {}
    seats = list(reference) + sorted({ln["seat"] for ln in lines} - set(reference))
    for seat in seats:
        hyp = "".join(ln["text"] for ln in sorted(lines, key=lambda x: x["t0"])
                      if ln["seat"] == seat)
        sep = " " if language == "en" else ""
        per_seat[seat] = errors_for(language, reference.get(seat, ""), sep + hyp)
    total = sum(per_seat.values(), ErrorCount(0, 0))
    return total, per_seat


@dataclass
class DemoOptions:
    audio: Path | None = None
    seats: list[Seat] | None = None
    reference: Path | None = None
    fast: bool = False
    exit: bool = False
    json: bool = False
    port: int | None = None


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise ConfigError([f"api: cannot listen on {host}:{port}: {e.strerror}"
                           " (set [api] port, or pass --port)"]) from e
    sock.listen(128)
    return sock


class PageServer:
    """uvicorn in a named thread, on a socket bound before it starts."""

    def __init__(self, data_dir: Path, host: str, port: int,
                 partials: PartialsProvider | None = None) -> None:
        self.sock = _listen(host, port)
        self.host = host
        self.port = self.sock.getsockname()[1]
        app = create_app(data_dir, partials=partials, anonymous="judge",
                         database=database_check(data_dir), sync_lag=sync_lag)
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.sock]}, name="http",
                                       daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and self.thread.is_alive():
            if time.monotonic() > deadline:
                raise CourtboxError("the web server did not start within 10 s")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


def run_demo(config: Config, options: DemoOptions, *, data_dir: Path | None,
             out: TextIO) -> dict:
    """Run the demo; returns the summary that ``--json`` prints."""
    if options.audio is None:
        sample = json.loads((sample_dir() / "hearing.json").read_text(encoding="utf-8"))
        audio = sample_dir() / "hearing.flac"
        seats = options.seats or [Seat(**s) for s in sample["seats"]]
        reference_path = options.reference or sample_dir() / "hearing.json"
    else:
        audio = options.audio
        seats = options.seats or config.seats
        reference_path = options.reference
    reference = load_reference(reference_path) if reference_path else None
    capture = FileCapture(audio, block_ms=config.audio.block_ms, realtime=not options.fast)
    require_channels(audio, capture.file_channels, seats)

    def say(text: str) -> None:
        if not options.json:
            print(text, file=out, flush=True)

    temporary = data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="courtbox-demo-")) if temporary else data_dir
    say(f"courtbox demo · {audio.name}: {capture.duration:.0f} s, "
        f"{len(seats)} seats · data in {data_dir}")
    server: PageServer | None = None
    try:
        with RecordingStack(config, data_dir) as stack:
            say(f"model: {stack.model.name} ({stack.model.source}) at {stack.model.path}")
            port = config.api.port if options.port is None else options.port
            live: dict[str, Recorder] = {}
            server = PageServer(data_dir, config.api.host, port, partials=lambda h: [
                line.as_dict() for line in live[h].partial_lines.current()] if h in live
                else [])
            server.start()
            say(f"live transcript: {server.url}")
            summary = _record(stack, capture, seats, say, live)
        summary.update(realtime=not options.fast, model=stack.model.as_dict(),
                       data_dir=None if temporary else str(data_dir))
        if reference is not None:
            _score(summary, reference, config.model.language, say)
        say(f"{capture.duration:.0f} s of audio in {summary['wall_seconds']:.0f} s; "
            f"{summary['segments']} archived segment(s), "
            f"{len(summary['final_lines'])} final lines")
        if not options.exit:
            say(f"serving {server.url} until Ctrl-C")
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                say("")
        return summary
    finally:
        if server is not None:
            server.stop()
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)


def _record(stack: RecordingStack, capture: FileCapture, seats: list[Seat],
            say: Callable[[str], None], live: dict[str, Recorder]) -> dict:
    """Open, record and close the demo hearing; its summary without scores."""
    writer = stack.writer
    names = {s.id: s.name for s in seats}
    hearing_id = writer.call(lambda s: open_hearing(
        s, stack.config, HearingInfo(case_number=f"({date.today().year})示例民初1号",
                                     title="courtbox 演示庭审", clerk="书记员"),
        actor="demo", sample_rate=capture.sample_rate, seats=seats))

    printed = PrintedLines(say, lambda line: line_text(line, names))
    recorder = Recorder(stack, hearing_id, capture, seats, events=printed)
    live[hearing_id] = recorder
    started = time.monotonic()
    synced = clock_synchronized()
    if synced is not True:  # said once, before the transcript (not a log line inside it)
        say("note: the system clock is " + ("not synchronised" if synced is False else
            "of unknown sync state") + ": the demo's times rest on an unverified clock")
    writer.call(lambda s: start_hearing(s, hearing_id, actor="demo", warn_clock=False))
    recorder.start()
    try:
        recorder.wait_source()
    finally:
        recorder.stop()
        writer.call(lambda s: close_hearing(s, hearing_id, actor="demo"))
    if capture.error is not None:
        raise AudioError(f"reading {capture.path} failed: {capture.error}")
    lines = sorted(printed.lines, key=lambda x: x["t0"])
    return {
        "hearing_id": hearing_id,
        "audio": str(capture.path),
        "audio_seconds": round(capture.duration, 3),
        "wall_seconds": round(time.monotonic() - started, 3),
        "segments": len(writer.call(lambda s: s.segments(hearing_id))),
        "utterances": recorder.utterances,
        "partial_lines": recorder.partials,
        "recognizer": stack.recognizer.metrics().as_dict(),
        "final_lines": [{k: ln[k] for k in ("seat", "t0", "t1", "text")} for ln in lines],
        "cer": None,
        "seats": [{**s.model_dump(), "lines": sum(1 for ln in lines if ln["seat"] == s.id)}
                  for s in seats],
    }


def _score(summary: dict, reference: dict[str, str], language: str,
           say: Callable[[str], None]) -> None:
    total, per_seat = score(summary["final_lines"], reference, language)
    summary["cer"] = round(total.rate, 4)
    say("")
    for seat in summary["seats"]:
        if seat["id"] in per_seat:
            seat["cer"] = round(per_seat[seat["id"]].rate, 4)
            say(f"  {seat['name']}: {seat['lines']} lines, CER {seat['cer']:.1%}")
    say(f"character error rate (CER) against the reference: {total.rate:.1%} "
        f"({total.errors} errors in {total.reference_length} characters)")
