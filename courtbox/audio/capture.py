"""Capture backends: where the hearing's audio comes from.

Every backend has the same shape (``Capture``): ``start(sink)`` begins delivering ``Block``s
of int16 ``[frames × channels]`` to ``sink`` from its own thread, ``stop()`` ends it, and
``wait()`` blocks until a finite source is exhausted. ``sink`` must never block: the
PortAudio callback only copies the buffer and hands it on (``Fanout`` puts it on unbounded
queues), so a slow consumer can never make the sound card drop samples.

- ``SounddeviceCapture``: a live input device through PortAudio (sounddevice); with
  ``max_frames`` it stops after exactly that many frames.
- ``PyAudioCapture``: the same through PyAudio, for images that ship it
  (``audio.backend = "pyaudio"``).
- ``FileCapture``: a recorded file played at wall-clock pace or as fast as possible; the
  demo and the benchmark feed the same pipeline with it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import soundfile as sf

from courtbox.audio.types import Block, CaptureEvent, log_event
from courtbox.errors import AudioError
from courtbox.hardware.devices import ABANDONED_STREAMS

if TYPE_CHECKING:
    from courtbox.config import Seat

logger = logging.getLogger(__name__)

Sink = Callable[[Block], None]
EventSink = Callable[[CaptureEvent], None]


def require_channels(source: object, have: int, seats: Sequence[Seat]) -> None:
    """Refuse a source with fewer channels than the seat map needs, naming both."""
    need = max(s.channel for s in seats) + 1
    if have < need:
        raise AudioError(f"{source} has {have} channel(s); the seats need {need}")


class Capture(Protocol):
    """What the recorder and the session's device watchdog rely on, for every backend."""

    sample_rate: int
    channels: int
    overflows: int  # blocks the device dropped before they were read

    @property
    def captured_frames(self) -> int:
        """Frames delivered to the sink so far."""
        ...

    @property
    def completed(self) -> bool:
        """The source ended as it should (a file played out, ``max_frames`` reached),
        rather than by going away."""
        ...

    def stalled_for(self) -> float:
        """Seconds since the source last delivered audio (0 for one that cannot stall)."""
        ...

    def start(self, sink: Sink, on_event: EventSink = log_event) -> None: ...

    def stop(self) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class Fanout:
    """Hands every block to several consumers' queues without ever blocking the producer."""

    def __init__(self, *queues: queue.SimpleQueue) -> None:
        self.queues = queues

    def __call__(self, block: Block) -> None:
        for q in self.queues:
            q.put(block)


def audio_file_info(path: Path | str):
    """``soundfile.info`` of a recording, or an ``AudioError`` naming the file."""
    try:
        return sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise AudioError(f"cannot open audio file {path}: {e}") from e


class FileCapture:
    """Plays a sound file as if it came from a multichannel microphone."""

    def __init__(self, path: Path | str, *, block_ms: int = 100, realtime: bool = True,
                 channels: int | None = None, start_frame: int = 0) -> None:
        """``start_frame``: where in the file to begin (a rehearsal resumed after a pause
        goes on from where it stopped); blocks still count from 0."""
        self.path = Path(path)
        info = audio_file_info(self.path)
        self.sample_rate = int(info.samplerate)
        self.file_channels = int(info.channels)
        self.channels = channels or self.file_channels
        self.frames = int(info.frames)
        self.block_frames = max(1, self.sample_rate * block_ms // 1000)
        self.realtime = realtime
        self.overflows = 0  # a file drops nothing
        self._position = 0
        self.start_frame = min(max(0, start_frame), self.frames)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate

    @property
    def file_position(self) -> int:
        """The frame of the file the next block would start at."""
        return self.start_frame + self._position

    @property
    def captured_frames(self) -> int:
        return self._position

    @property
    def completed(self) -> bool:
        """A file ends by being played out (or stopped); it never goes away mid-way."""
        return True

    def stalled_for(self) -> float:
        """A file never stalls the way a vanished device does."""
        return 0.0

    def start(self, sink: Sink, on_event: EventSink = log_event) -> None:
        thread = threading.Thread(target=self._run, args=(sink,), name="capture-file",
                                  daemon=True)
        thread.start()
        self._thread = thread  # only once started: a watchdog may wait on it at any time

    def _run(self, sink: Sink) -> None:
        t_start = time.monotonic()
        position = 0
        try:
            with sf.SoundFile(str(self.path)) as f:
                f.seek(self.start_frame)
                for data in f.blocks(blocksize=self.block_frames, dtype="int16",
                                     always_2d=True):
                    if self.realtime:
                        due = t_start + (position + len(data)) / self.sample_rate
                        if self._stop.wait(max(0.0, due - time.monotonic())):
                            break
                    elif self._stop.is_set():
                        break
                    sink(Block(position, self._fit_channels(data)))
                    position += len(data)
                    self._position = position
        except Exception as e:  # noqa: BLE001 - reported to whoever waits on us
            logger.exception("reading %s failed", self.path)
            self.error = e

    def _fit_channels(self, data: np.ndarray) -> np.ndarray:
        if data.shape[1] == self.channels:
            return np.ascontiguousarray(data)
        out = np.zeros((len(data), self.channels), dtype=np.int16)
        n = min(self.channels, data.shape[1])
        out[:, :n] = data[:, :n]
        return out

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True


class _PortAudioCapture:
    """What both PortAudio bindings share: the block accounting done in the callback
    (``_deliver``: position, overflow events, ``max_frames``), stall tracking for the
    device watchdog, and a stop that cannot hang on a vanished device."""

    binding = ""

    def __init__(self, device: int | str | None, *, sample_rate: int, channels: int,
                 block_ms: int = 100, max_frames: int | None = None) -> None:
        self.device = device
        self.max_frames = max_frames
        self.sample_rate = sample_rate
        self.channels = channels
        self.block_frames = max(1, sample_rate * block_ms // 1000)
        self.overflows = 0
        self.underflows = 0
        self.last_block_at: float | None = None  # monotonic time of the last callback
        self._started_at = time.monotonic()
        self._stopping = False
        self._position = 0
        self._stream = None
        self._done = threading.Event()

    def _deliver(self, data: np.ndarray, overflow: bool, sink: Sink,
                 on_event: EventSink, underflow: bool = False) -> bool:
        """Called from the PortAudio callback with a copy of the input; False: stop."""
        self.last_block_at = time.monotonic()
        if overflow:
            self.overflows += 1
            on_event(CaptureEvent("overflow", "input overflow: the device dropped samples "
                                  "before they were read", self._position))
        if underflow:
            self.underflows += 1
            on_event(CaptureEvent("underflow", "input underflow: the device delivered fewer "
                                  "samples than the block (padded)", self._position))
        if self.max_frames is not None and self._position + len(data) >= self.max_frames:
            sink(Block(self._position, data[: self.max_frames - self._position]))
            self._position = self.max_frames
            return False
        sink(Block(self._position, data))
        self._position += len(data)
        return True

    def _open_error(self, e: Exception) -> AudioError:
        return AudioError(f"cannot open input device {self.device!r} with {self.channels} "
                          f"channels at {self.sample_rate} Hz ({self.binding}): {e}")

    @property
    def captured_frames(self) -> int:
        return self._position

    @property
    def completed(self) -> bool:
        """True when ``max_frames`` were captured (not when the device went away)."""
        return self.max_frames is not None and self._position >= self.max_frames

    def stalled_for(self) -> float:
        """Seconds since the device last delivered audio (since start if it never did)."""
        return time.monotonic() - (self.last_block_at or self._started_at)

    def _close_stream(self, stream) -> None:
        raise NotImplementedError

    def stop(self, timeout: float = 5.0) -> None:
        """Abort and close the stream; a driver stuck on a vanished device can block that
        forever, so it runs in its own thread and is abandoned (logged) after ``timeout``:
        closing a hearing must never hang on hardware."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        self._stopping = True

        def close() -> None:
            try:
                self._close_stream(stream)
            except Exception:  # noqa: BLE001 - whatever the binding raises, log it
                logger.warning("closing input device %r failed", self.device, exc_info=True)

        closer = threading.Thread(target=close, name="capture-close", daemon=True)
        closer.start()
        closer.join(timeout)
        if closer.is_alive():
            ABANDONED_STREAMS.append(stream)
            logger.error("input device %r did not close within %.0f s; abandoning its stream",
                         self.device, timeout)
        self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)


class SounddeviceCapture(_PortAudioCapture):
    """A live input device through sounddevice; the callback copies and enqueues only."""

    binding = "sounddevice"

    def start(self, sink: Sink, on_event: EventSink = log_event) -> None:
        import sounddevice as sd

        def callback(indata, frames, _time, status) -> None:
            if self._stopping:
                raise sd.CallbackAbort  # a late block of a stream being torn down
            if not self._deliver(indata.copy(), status.input_overflow, sink, on_event,
                                 status.input_underflow):
                raise sd.CallbackStop

        self._started_at = time.monotonic()
        try:
            self._stream = sd.InputStream(
                device=self.device, samplerate=self.sample_rate, channels=self.channels,
                dtype="int16", blocksize=self.block_frames, callback=callback,
                finished_callback=self._done.set)
            self._stream.start()
        except (sd.PortAudioError, ValueError) as e:
            raise self._open_error(e) from e

    def _close_stream(self, stream) -> None:
        stream.abort()
        stream.close()


class PyAudioCapture(_PortAudioCapture):
    """A live input device through PyAudio (``pip install courtbox[pyaudio]``), for boxes
    whose image ships it; same PortAudio library, so the same device indexes."""

    binding = "pyaudio"

    def start(self, sink: Sink, on_event: EventSink = log_event) -> None:
        try:
            import pyaudio
        except ImportError as e:
            raise AudioError("audio.backend = \"pyaudio\" needs PyAudio: apt-get install "
                             "portaudio19-dev && pip install 'courtbox[pyaudio]'") from e
        channels = self.channels

        def callback(in_data, frame_count, _time_info, status):
            if self._stopping:
                return None, pyaudio.paAbort
            data = np.frombuffer(in_data, dtype=np.int16).reshape(frame_count, channels).copy()
            overflow = bool(status & pyaudio.paInputOverflow)
            underflow = bool(status & pyaudio.paInputUnderflow)
            if not self._deliver(data, overflow, sink, on_event, underflow):
                self._done.set()
                return None, pyaudio.paComplete
            return None, pyaudio.paContinue

        self._started_at = time.monotonic()
        self._pa = pyaudio.PyAudio()
        try:
            self._stream = self._pa.open(
                format=pyaudio.paInt16, channels=channels, rate=self.sample_rate, input=True,
                input_device_index=self.device, frames_per_buffer=self.block_frames,
                stream_callback=callback)
        except (OSError, ValueError) as e:
            self._pa.terminate()
            raise self._open_error(e) from e

    def _close_stream(self, stream) -> None:
        stream.stop_stream()
        stream.close()
        self._pa.terminate()


BACKENDS = {"sounddevice": SounddeviceCapture, "pyaudio": PyAudioCapture}
