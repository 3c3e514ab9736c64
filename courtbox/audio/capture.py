"""Capture backends: where the hearing's audio comes from.

Every backend has the same shape (``Capture``): ``start(sink)`` begins delivering ``Block``s
of int16 ``[frames × channels]`` to ``sink`` from its own thread, ``stop()`` ends it, and
``wait()`` blocks until a finite source is exhausted. ``sink`` must never block: the
PortAudio callback only copies the buffer and hands it on (``Fanout`` puts it on unbounded
queues), so a slow consumer can never make the sound card drop samples.

- ``SounddeviceCapture``: a live input device through PortAudio (sounddevice); with
  ``max_frames`` it stops after exactly that many frames.
- ``FileCapture``: a recorded file played at wall-clock pace or as fast as possible; the
  demo and the benchmark feed the same pipeline with it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np
import soundfile as sf

from courtbox.audio.types import Block, CaptureEvent
from courtbox.errors import AudioError

logger = logging.getLogger(__name__)

Sink = Callable[[Block], None]
EventSink = Callable[[CaptureEvent], None]


def _log_event(event: CaptureEvent) -> None:
    logger.warning("%s", event.message)


class Capture(Protocol):
    sample_rate: int
    channels: int

    def start(self, sink: Sink, on_event: EventSink = _log_event) -> None: ...

    def stop(self) -> None: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class Fanout:
    """Hands every block to several consumers' queues without ever blocking the producer."""

    def __init__(self, *queues: queue.SimpleQueue) -> None:
        self.queues = queues

    def __call__(self, block: Block) -> None:
        for q in self.queues:
            q.put(block)


class FileCapture:
    """Plays a sound file as if it came from a multichannel microphone."""

    def __init__(self, path: Path | str, *, block_ms: int = 100, realtime: bool = True,
                 channels: int | None = None) -> None:
        self.path = Path(path)
        try:
            info = sf.info(str(self.path))
        except (sf.LibsndfileError, RuntimeError, OSError) as e:
            raise AudioError(f"cannot open audio file {self.path}: {e}") from e
        self.sample_rate = int(info.samplerate)
        self.file_channels = int(info.channels)
        self.channels = channels or self.file_channels
        self.frames = int(info.frames)
        self.block_frames = max(1, self.sample_rate * block_ms // 1000)
        self.realtime = realtime
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate

    def start(self, sink: Sink, on_event: EventSink = _log_event) -> None:
        self._thread = threading.Thread(target=self._run, args=(sink,), name="capture-file",
                                        daemon=True)
        self._thread.start()

    def _run(self, sink: Sink) -> None:
        t_start = time.monotonic()
        position = 0
        try:
            with sf.SoundFile(str(self.path)) as f:
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


class SounddeviceCapture:
    """A live input device through PortAudio; the callback copies and enqueues only."""

    def __init__(self, device: int | str | None, *, sample_rate: int, channels: int,
                 block_ms: int = 100, max_frames: int | None = None) -> None:
        import sounddevice as sd

        self._sd = sd
        self.device = device
        self.max_frames = max_frames
        self.sample_rate = sample_rate
        self.channels = channels
        self.block_frames = max(1, sample_rate * block_ms // 1000)
        self.overflows = 0
        self._position = 0
        self._stream = None
        self._done = threading.Event()

    def start(self, sink: Sink, on_event: EventSink = _log_event) -> None:
        sd = self._sd

        def callback(indata, frames, _time, status) -> None:
            if status.input_overflow:
                self.overflows += 1
                on_event(CaptureEvent("overflow", "input overflow: the device dropped "
                                           "samples before they were read", self._position))
            if self.max_frames is not None and self._position + frames >= self.max_frames:
                sink(Block(self._position, indata[: self.max_frames - self._position].copy()))
                self._position = self.max_frames
                raise sd.CallbackStop
            sink(Block(self._position, indata.copy()))
            self._position += frames

        try:
            self._stream = sd.InputStream(
                device=self.device, samplerate=self.sample_rate, channels=self.channels,
                dtype="int16", blocksize=self.block_frames, callback=callback,
                finished_callback=self._done.set)
            self._stream.start()
        except (sd.PortAudioError, ValueError) as e:
            raise AudioError(f"cannot open input device {self.device!r} with "
                             f"{self.channels} channels at {self.sample_rate} Hz: {e}") from e

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.close()  # an aborted or finished stream closes just the same
            self._stream = None
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)
