"""Where a hearing's audio comes from: the configured input device, or a file played as
the room's microphones (a technician's rehearsal, the tests), and how to open it again
when a device that went away is retried (``courtbox.room.session``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from courtbox.audio.capture import BACKENDS, Capture, FileCapture, require_channels
from courtbox.hardware.devices import rescan, resolve_input_device

if TYPE_CHECKING:
    from courtbox.config import Config

CaptureFactory = Callable[[], Capture]


def capture_factory(config: Config, audio: Path | None, duration: float | None
                    ) -> tuple[CaptureFactory, str]:
    """How to (re)open the hearing's input, and what to call it."""
    if audio is not None:
        return file_opener(config, audio), f"file {audio}"
    rate = config.audio.sample_rate
    first = [resolve_input_device(config.audio.device, config.channels)]
    source = first[0].name

    def open_device() -> Capture:
        if first:
            found = first.pop()
        else:
            rescan()  # a replugged device gets a new index: find it by name again
            found = resolve_input_device(config.audio.device, config.channels)
        backend = BACKENDS[config.audio.backend]
        return backend(found.index, sample_rate=rate, channels=config.channels,
                       block_ms=config.audio.block_ms,
                       max_frames=round(duration * rate) if duration else None)

    return open_device, source


def file_opener(config: Config, audio: Path) -> CaptureFactory:
    """A file played as the room's microphones: each part (after a pause, a restart of
    capture) goes on where the last one stopped, and a file played out starts over."""
    require_channels(audio, FileCapture(audio).channels, config.seats)
    last: list[FileCapture] = []

    def open_file() -> Capture:
        at = last[0].file_position if last else 0
        if last and at >= last[0].frames:
            at = 0
        capture = FileCapture(audio, block_ms=config.audio.block_ms, realtime=True,
                              start_frame=at)
        last[:] = [capture]
        return capture

    return open_file
