"""Audio input devices as PortAudio sees them, and the device a config names.

``audio.device`` may be an index or a case-insensitive substring of a device name (names
are what a technician sees in ``courtbox devices``; indexes change when USB devices are
replugged). A name that matches nothing, or a device with too few input channels, is an
``AudioError`` that names the device and lists what is there.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from courtbox.errors import AudioError

logger = logging.getLogger(__name__)

# Streams whose close hung on a vanished device (``audio.capture`` appends them); PortAudio
# cannot be re-initialised while one is stuck, and its own exit handler would hang on them
# too, so the CLI leaves with os._exit once all its data is safe (``cli.main``).
ABANDONED_STREAMS: list[object] = []


@dataclass(frozen=True)
class InputDevice:
    index: int
    name: str
    host_api: str
    channels: int
    default_samplerate: float
    is_default: bool

    def as_dict(self) -> dict:
        return asdict(self)


def rescan() -> bool:
    """Make PortAudio enumerate devices again (it does so only at initialisation), so that
    a replugged USB microphone is found. Only call it with no stream open. Refused (False)
    while a stream is stuck in a vanished device's driver: re-initialising PortAudio would
    wait for that stream forever; the device is then reopened as PortAudio last saw it."""
    import sounddevice as sd

    if ABANDONED_STREAMS:
        logger.warning("not rescanning audio devices: %d stream(s) stuck in the driver",
                       len(ABANDONED_STREAMS))
        return False
    sd._terminate()
    sd._initialize()
    return True


def list_input_devices() -> list[InputDevice]:
    import sounddevice as sd

    try:
        devices = sd.query_devices()
        host_apis = sd.query_hostapis()
        default_in = sd.default.device[0]
    except sd.PortAudioError as e:
        raise AudioError(f"PortAudio cannot list devices: {e}") from e
    return [InputDevice(index=d["index"], name=d["name"],
                        host_api=host_apis[d["hostapi"]]["name"],
                        channels=d["max_input_channels"],
                        default_samplerate=d["default_samplerate"],
                        is_default=d["index"] == default_in)
            for d in devices if d["max_input_channels"] > 0]


def resolve_input_device(spec: str | int | None, channels: int) -> InputDevice:
    """The device ``spec`` names, with at least ``channels`` inputs."""
    devices = list_input_devices()
    listing = "; ".join(f"{d.index}: {d.name} ({d.channels} ch)" for d in devices) or "none"
    if spec is None:
        matches = [d for d in devices if d.is_default] or devices[:1]
        what = "the default input device"
    elif isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        matches = [d for d in devices if d.index == int(spec)]
        what = f"input device #{spec}"
    else:
        exact = [d for d in devices if d.name == spec]
        matches = exact or [d for d in devices if spec.lower() in d.name.lower()]
        what = f"input device {spec!r}"
    if not matches:
        raise AudioError(f"{what} not found; input devices: {listing}")
    if len(matches) > 1:
        raise AudioError(f"{what} is ambiguous: "
                         + "; ".join(f"{d.index}: {d.name}" for d in matches))
    device = matches[0]
    if device.channels < channels:
        raise AudioError(f"{what} ({device.name}) has {device.channels} input channels; "
                         f"the seats need {channels}")
    return device
