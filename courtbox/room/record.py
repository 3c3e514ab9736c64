"""``courtbox record``: record a hearing from the configured input device until stopped.

Opens a hearing and records every configured channel through PortAudio into the archive
(and, unless ``transcribe`` is off, transcribes it live, printing each final line) until
SIGINT/SIGTERM or ``duration`` seconds of audio; a device that goes away mid-hearing is
retried and recording resumes in a new part (``courtbox.room.session``). At the end the
part is closed, recognition catches up and the hearing is closed. The agent service will do
the same under the clerk's buttons; this is the technician's way to record from the shell.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from courtbox.record.hearing import open_hearing
from courtbox.room.events import PrintedLines
from courtbox.room.inputs import capture_factory
from courtbox.room.offline import line_text
from courtbox.room.session import HearingSession
from courtbox.room.stack import RecordingStack

if TYPE_CHECKING:
    from courtbox.config import Config
    from courtbox.record.hearing import HearingInfo


def run_record(config: Config, info: HearingInfo, *, duration: float | None,
               transcribe: bool, say: Callable[[str], None], audio: Path | None = None
               ) -> dict:
    """Record until stopped; ``audio`` plays a file at wall-clock pace instead of the
    configured device (a technician's rehearsal, and the crash tests)."""
    seats = config.seats
    open_capture, source = capture_factory(config, audio, duration)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    names = {s.id: s.name for s in seats}
    try:
        with RecordingStack(config, Path(config.storage.data_dir), transcribe=transcribe,
                            model_required=False) as stack:
            if stack.model_problem:
                say(f"{stack.model_problem}: recording without transcription")
            writer = stack.writer
            capture = open_capture()
            rate = capture.sample_rate
            hearing_id = writer.call(lambda s: open_hearing(
                s, config, info, actor="cli", sample_rate=rate, seats=seats))
            session = HearingSession(stack, hearing_id, seats, open_capture, actor="cli",
                                     events=PrintedLines(say, lambda line: line_text(line, names)))
            session.start(capture)
            say(f"recording {info.case_number} (hearing {hearing_id}) from {source}: "
                f"{capture.channels} channels at {rate} Hz into {config.storage.data_dir} "
                f"({stack.last_disk.hours_left:.0f} h of space); Ctrl-C stops")
            while not stop.is_set() and not session.source_ended.wait(0.2):
                pass
            session.close()
            segments = writer.call(lambda s: s.segments(hearing_id))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    frames = sum(s["frames"] for s in segments if not s["defective"])
    finals = sum(r.finals for r in session.parts)
    say(f"closed {info.case_number}: {frames / rate:.1f} s in {len(segments)} segment(s) "
        f"over {len(session.parts)} part(s), {finals} final lines")
    return {"hearing_id": hearing_id, "source": source, "frames": frames,
            "segments": len(segments), "parts": len(session.parts), "final_lines": finals,
            "overflows": sum(r.capture.overflows for r in session.parts),
            "recovered_segments": len(stack.recovered)}
