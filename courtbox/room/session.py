"""One hearing from start to close: its recording parts, pauses, and a device that goes away.

A hearing's timeline runs on the wall clock from its start; each recording part begins at
the timeline position of the moment it starts, so pauses and outages are gaps on one
timeline rather than restarts at zero. A part ends at a pause, at the close, or when the
input device stops delivering (unplugged, crashed driver: nothing for ``stall_s``). Then
the hearing stays open: the session logs ``audio.device_lost``, retries the device with
backoff (1, 2, 4 … ``retry_max_s`` seconds, making PortAudio rescan each time), and when
audio flows again starts a new part and logs ``audio.device_restored`` with the length of
the gap. Every step is in the audit log.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from courtbox.errors import CourtboxError
from courtbox.record.hearing import (
    close_hearing,
    next_part,
    pause_hearing,
    resume_hearing,
    start_hearing,
)
from courtbox.record.store import elapsed_since
from courtbox.room.events import QUIET
from courtbox.room.recorder import Recorder

if TYPE_CHECKING:
    from courtbox.audio.capture import Capture
    from courtbox.config import Seat
    from courtbox.room.events import RoomEvents
    from courtbox.room.inputs import CaptureFactory
    from courtbox.room.stack import RecordingStack

logger = logging.getLogger(__name__)


class HearingSession:
    def __init__(self, stack: RecordingStack, hearing_id: str, seats: Sequence[Seat],
                 open_capture: CaptureFactory, *, actor: str, events: RoomEvents = QUIET,
                 stall_s: float = 2.0, retry_max_s: float = 30.0) -> None:
        """Every part records with ``stack``'s parts and options and tells ``events``."""
        self.stack = stack
        self.hearing_id = hearing_id
        self.seats = seats
        self.open_capture = open_capture
        self.actor = actor
        self.events = events
        self.stall_s = stall_s
        self.retry_max_s = retry_max_s
        self.recorder: Recorder | None = None
        self.parts: list[Recorder] = []
        self.source_ended = threading.Event()
        self._t0 = 0.0
        self._continued = False
        self._floor = 0  # no part starts before the end of the audio already archived
        self._rate = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="capture-watchdog",
                                          daemon=True)

    # -- the clerk's actions --------------------------------------------------------------

    def start(self, capture: Capture | None = None) -> None:
        """Start the hearing, recording from ``capture`` (default: a freshly opened one)."""
        self._call(lambda s: start_hearing(s, self.hearing_id, actor=self.actor))
        self._t0 = time.monotonic()
        self._start_part(capture or self.open_capture())
        self._watchdog.start()

    def pause(self, reason: str, text: str = "", actor: str | None = None) -> None:
        self._call(lambda s: pause_hearing(s, self.hearing_id, actor=actor or self.actor,
                                           reason=reason, text=text))
        self._stop_part()

    def resume(self, actor: str | None = None) -> None:
        self._call(lambda s: resume_hearing(s, self.hearing_id, actor=actor or self.actor))
        if not self._watchdog.is_alive():  # a hearing paused before this process started
            self._join_timeline()
        self._start_part(self.open_capture())

    def continue_after_restart(self) -> float:
        """The hearing was recording when the previous process ended (power cut, kill,
        restart): record on as a new part at its place on the timeline and audit-log the
        gap since the last archived audio. Returns the gap in seconds."""
        self._join_timeline()
        end = self._floor
        part = self._start_part(self.open_capture())
        gap = (part.timeline_start - end) / self._rate
        logger.warning("hearing %s was recording when the agent stopped; recording on as "
                       "part %d after a gap of %.1f s", self.hearing_id, part.part, gap)
        detail = {"part": part.part, "gap_seconds": round(gap, 3), "from_sample": end,
                  "at_sample": part.timeline_start}
        self._call(lambda s: s.audit("recovery", "recording.continued", self.hearing_id,
                                     **detail))
        return gap

    def _join_timeline(self) -> None:
        """Take up the timeline of a hearing started by an earlier process."""
        hearing = self._call(lambda s: s.hearing(self.hearing_id))
        self._t0 = time.monotonic() - elapsed_since(hearing["wall_start"])
        self._rate = hearing["sample_rate"]
        self._continued = True  # parts before this process are on the timeline
        self._floor = self._call(lambda s: s.audio_end(self.hearing_id))
        self._watchdog.start()

    @property
    def recording(self) -> bool:
        return self.recorder is not None

    def problem(self) -> str | None:
        """Why this hearing's capture is stuck, or None while it records (or waits for
        its device to come back, which the device watchdog handles)."""
        if self._watchdog.ident is not None and not self._watchdog.is_alive() \
                and not self._stop.is_set():
            return "the capture watchdog thread ended"
        recorder = self.recorder
        return recorder.problem() if recorder is not None else None

    def stop(self) -> None:
        """End the part being recorded and leave the hearing in its state (the service is
        stopping; the hearing goes on at the next start)."""
        self._stop.set()
        if self._watchdog.is_alive():
            self._watchdog.join()
        self._stop_part()

    def close(self, actor: str | None = None) -> None:
        self.stop()
        self._call(lambda s: close_hearing(s, self.hearing_id, actor=actor or self.actor))

    # -- parts ----------------------------------------------------------------------------

    def _call(self, fn):
        return self.stack.writer.call(fn)

    def timeline_now(self) -> int:
        return round((time.monotonic() - self._t0) * self._rate)

    def _start_part(self, capture: Capture) -> Recorder:
        with self._lock:
            self._rate = self._rate or capture.sample_rate
            part = self._call(lambda s: next_part(s, self.hearing_id))
            if self.parts:
                part = max(part, self.parts[-1].part + 1)
            start = self.timeline_now() if self.parts or self._continued else 0
            start = max(start, self._floor)
            self.recorder = Recorder(self.stack, self.hearing_id, capture, self.seats,
                                     events=self.events, part=part, timeline_start=start)
            self.recorder.start()
            self.parts.append(self.recorder)
            return self.recorder

    def _stop_part(self) -> None:
        with self._lock:
            recorder, self.recorder = self.recorder, None
        if recorder is not None:
            recorder.stop()

    # -- the device watchdog --------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stop.wait(0.25):
            recorder = self.recorder
            if recorder is None:
                continue
            capture = recorder.capture
            if capture.wait(0) and capture.completed:
                self.source_ended.set()  # a file played out, or --duration reached
            elif capture.stalled_for() > self.stall_s:
                self._device_lost(recorder)

    def _device_lost(self, recorder: Recorder) -> None:
        end = recorder.timeline_start + recorder.capture.captured_frames
        logger.error("hearing %s: the input device stopped delivering audio; the hearing "
                     "stays open and the device is retried", self.hearing_id)
        self._call(lambda s: s.audit("capture", "audio.device_lost", self.hearing_id,
                                     part=recorder.part, at_sample=end))
        self._stop_part()
        delay = 1.0
        while not self._stop.wait(delay):
            delay = min(delay * 2, self.retry_max_s)
            try:
                capture = self.open_capture()
            except CourtboxError as e:
                logger.warning("input device still missing: %s", e)
                continue
            new = self._start_part(capture)
            if self._first_audio(capture):
                gap = (new.timeline_start - end) / self._rate
                logger.warning("hearing %s: input device back after %.1f s; recording "
                               "part %d", self.hearing_id, gap, new.part)
                detail = {"part": new.part, "gap_seconds": round(gap, 3),
                          "at_sample": new.timeline_start}
                self._call(lambda s, d=detail: s.audit(
                    "capture", "audio.device_restored", self.hearing_id, **d))
                return
            self._stop_part()

    def _first_audio(self, capture: Capture) -> bool:
        deadline = time.monotonic() + self.stall_s
        while time.monotonic() < deadline and not self._stop.is_set():
            if capture.captured_frames > 0:
                return True
            time.sleep(0.05)
        return capture.captured_frames > 0
