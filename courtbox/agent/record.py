"""``courtbox record``: record a hearing from the configured input device until stopped.

Opens a hearing, starts it, and records every configured channel through PortAudio into
the archive (and, unless ``transcribe`` is off, transcribes it live, printing each final
line) until SIGINT/SIGTERM or ``duration`` seconds of audio; then closes the part, lets
recognition catch up and closes the hearing. The agent service will do the same under the
clerk's buttons; this is the technician's way to record from the command line.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path

from courtbox.agent.config import Config
from courtbox.agent.hearing import HearingInfo, close_hearing, open_hearing, start_hearing
from courtbox.agent.offline import clock
from courtbox.agent.stack import RecordingStack
from courtbox.audio.capture import Capture, FileCapture, SounddeviceCapture
from courtbox.errors import AudioError
from courtbox.hardware.devices import resolve_input_device


def _capture(config: Config, audio: Path | None, duration: float | None
             ) -> tuple[Capture, str]:
    if audio is not None:
        capture = FileCapture(audio, block_ms=config.audio.block_ms, realtime=True)
        if capture.channels < config.channels:
            raise AudioError(f"{audio} has {capture.channels} channel(s); the seats need "
                             f"{config.channels}")
        return capture, f"file {audio}"
    rate = config.audio.sample_rate
    device = resolve_input_device(config.audio.device, config.channels)
    return SounddeviceCapture(device.index, sample_rate=rate, channels=config.channels,
                              block_ms=config.audio.block_ms,
                              max_frames=round(duration * rate) if duration else None
                              ), device.name


def run_record(config: Config, info: HearingInfo, *, duration: float | None,
               transcribe: bool, say: Callable[[str], None], audio: Path | None = None
               ) -> dict:
    """Record until stopped; ``audio`` plays a file at wall-clock pace instead of the
    configured device (a technician's rehearsal, and the crash tests)."""
    seats = [s.model_dump() for s in config.seats]
    capture, source = _capture(config, audio, duration)
    rate = capture.sample_rate
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    names = {s["id"]: s["name"] for s in seats}
    try:
        with RecordingStack(config, Path(config.storage.data_dir),
                            transcribe=transcribe) as stack:
            writer = stack.writer
            hearing_id = writer.call(lambda s: open_hearing(
                s, config, info, actor="cli", sample_rate=rate, seats=seats))
            recorder = stack.recorder(hearing_id, capture, seats, on_final=lambda line: say(
                f"[{clock(line['t0'])}] {names[line['seat']]}：{line['text']}"))
            writer.call(lambda s: start_hearing(s, hearing_id, actor="cli"))
            recorder.start()
            say(f"recording {info.case_number} (hearing {hearing_id}) from {source}: "
                f"{capture.channels} channels at {rate} Hz into {config.storage.data_dir}; "
                "Ctrl-C stops")
            while not stop.is_set() and not capture.wait(0.2):
                pass
            recorder.stop()
            writer.call(lambda s: close_hearing(s, hearing_id, actor="cli"))
            segments = writer.call(lambda s: s.segments(hearing_id))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    frames = sum(s["frames"] for s in segments)
    say(f"closed {info.case_number}: {frames / rate:.1f} s in {len(segments)} segment(s), "
        f"{recorder.finals} final lines")
    return {"hearing_id": hearing_id, "source": source, "frames": frames,
            "segments": len(segments), "final_lines": recorder.finals,
            "overflows": getattr(capture, "overflows", 0),
            "recovered_segments": len(stack.recovered)}
