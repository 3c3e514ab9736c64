"""The courtroom the agent serves: one set of microphones, at most one hearing recording
at a time, and what the clerk's buttons do to it.

``Courtroom`` owns the recording stack (store, writer, recogniser) for the life of the
service and a ``HearingSession`` per hearing started in this process. Every action is a
blocking call (it opens a device, or waits for recognition to catch up at a pause); the API
runs them in worker threads, one at a time (``lock``), so two clerks pressing buttons at
once cannot interleave a start with a close. Lines, partials, levels and state changes go
to the ``LiveHub`` as they happen.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from courtbox.audio.capture import audio_file_info
from courtbox.errors import CourtboxError, HearingError
from courtbox.hardware.devices import ABANDONED_STREAMS
from courtbox.record.hearing import close_hearing, open_hearing, pause_hearing
from courtbox.room.inputs import capture_factory
from courtbox.room.session import HearingSession

if TYPE_CHECKING:
    from courtbox.audio.levels import LevelReport
    from courtbox.config import Config, Seat
    from courtbox.record.hearing import HearingInfo
    from courtbox.room.live import LiveHub
    from courtbox.room.stack import RecordingStack
    from courtbox.transcribe.stream import PartialLine

logger = logging.getLogger(__name__)


class LivePages:
    """The courtroom's ``RoomEvents``: every hearing's lines, meters and state changes to the
    ``LiveHub``, and each hearing's latest meter reading (``readings``) for the API and the health
    check. Which microphones are dead is the level meter's to say (``LevelReport.dead``)."""

    def __init__(self, hub: LiveHub, seats: list[Seat]) -> None:
        self.hub = hub
        self.seat_of_channel = {s.channel: s.id for s in seats}
        self.readings: dict[str, dict] = {}  # hearing id -> latest meter reading

    def final(self, hearing_id: str, line: dict) -> None:
        self.hub.publish(hearing_id, "final", line={"revision": 0, "author": "asr", **line})

    def partial(self, hearing_id: str, line: PartialLine) -> None:
        self.hub.publish(hearing_id, "partial", line=line.as_dict())

    def revised(self, hearing_id: str, line: dict, merged: list[str]) -> None:
        # As a correction is shown: in place; the merged lines go as a merge's do.
        self.hub.publish(hearing_id, "correction", line=line)
        for utterance_id in merged:
            self.hub.publish(hearing_id, "removed", utterance_id=utterance_id)

    def levels(self, hearing_id: str, report: LevelReport) -> None:
        seats = self.seat_of_channel
        reading = {
            "t": report.at_sample,
            "seats": [{"seat": seats[c], "rms_db": report.rms_db[c],
                       "peak_db": report.peak_db[c], "clipped": report.clipped[c],
                       "dead": report.dead[c]}
                      for c in sorted(seats) if c < len(report.rms_db)],
            "alarms": [{"kind": a.kind, "seat": seats.get(a.channel), "message": a.message}
                       for a in report.alarms],
        }
        self.readings[hearing_id] = reading
        self.hub.publish(hearing_id, "levels", **reading)

    def state(self, hearing_id: str, hearing: dict) -> None:
        self.hub.publish(hearing_id, "state", state=hearing["state"],
                         wall_start=hearing["wall_start"], frozen_at=hearing["frozen_at"])

    def dead_mics(self, hearing_id: str) -> list[str]:
        reading = self.readings.get(hearing_id)
        return sorted(s["seat"] for s in reading["seats"] if s["dead"]) if reading else []


class Courtroom:
    def __init__(self, config: Config, stack: RecordingStack, hub: LiveHub, *,
                 audio: Path | None = None) -> None:
        self.config = config
        self.stack = stack
        self.hub = hub
        self.audio = audio  # a file played as the room's microphones (rehearsal, tests)
        self.seats = config.seats
        self.events = LivePages(hub, self.seats)
        self.levels = self.events.readings  # hearing id -> latest meter reading
        self.lock = threading.Lock()
        self.sessions: dict[str, HearingSession] = {}
        self._open_capture = None
        self._closing = threading.Event()

    @property
    def writer(self):
        return self.stack.writer

    def capture_opener(self):
        if self._open_capture is None:
            self._open_capture, _ = capture_factory(self.config, self.audio, None)
        return self._open_capture

    def active(self) -> str | None:
        """The hearing now recording in this room, if any."""
        return next((h for h, s in self.sessions.items() if s.recording), None)

    # -- the clerk's buttons --------------------------------------------------------------

    def open(self, info: HearingInfo, actor: str) -> str:
        rate = self.config.audio.sample_rate
        if self.audio is not None:
            rate = audio_file_info(self.audio).samplerate
        return self.writer.call(lambda s: open_hearing(s, self.config, info, actor=actor,
                                                       sample_rate=rate, seats=self.seats))

    def start(self, hearing_id: str, actor: str) -> None:
        with self.lock:
            self._one_at_a_time(hearing_id)
            session = self._session(hearing_id, actor)
            session.start()
        self._state(hearing_id)

    def pause(self, hearing_id: str, actor: str, reason: str, text: str) -> None:
        with self.lock:
            session = self.sessions.get(hearing_id)
            if session is not None:
                session.pause(reason, text, actor=actor)
            else:  # left recording by an earlier process, its device not back yet
                self.writer.call(lambda s: pause_hearing(s, hearing_id, actor=actor,
                                                         reason=reason, text=text))
        self._state(hearing_id)

    def resume(self, hearing_id: str, actor: str) -> None:
        with self.lock:
            self._one_at_a_time(hearing_id)
            session = self.sessions.get(hearing_id) or self._session(hearing_id, actor)
            session.resume(actor=actor)
        self._state(hearing_id)

    def close(self, hearing_id: str, actor: str) -> None:
        with self.lock:
            session = self.sessions.pop(hearing_id, None)
            if session is not None:
                session.close(actor=actor)
            else:  # opened but never started here, or left by the service before a restart
                self.writer.call(lambda s: close_hearing(s, hearing_id, actor=actor))
        self.levels.pop(hearing_id, None)
        self._state(hearing_id)

    def continue_interrupted(self) -> str | None:
        """At start-up: the hearing that was recording when the previous process ended
        records on as a new part, with the gap audit-logged. If the input device is not
        there yet it is retried in the background (the API is up meanwhile). Returns a
        line for the service status, or None when no hearing was recording."""
        left = [h for h in self.writer.call(lambda s: s.hearings())
                if h["state"] == "recording"]
        if not left:
            return None
        hearing = max(left, key=lambda h: h["wall_start"] or "")
        for other in left:
            if other is not hearing:  # one room records one hearing; never two at once
                logger.error("hearing %s was also left recording; it waits for the clerk",
                             other["id"])
        try:
            gap = self._continue(hearing["id"])
        except CourtboxError as e:
            logger.error("cannot continue hearing %s yet: %s; retrying", hearing["id"], e)
            reason = str(e)
            self.writer.call(lambda s: s.audit("recovery", "recording.continue_failed",
                                               hearing["id"], reason=reason))
            threading.Thread(target=self._retry_continue, args=(hearing["id"],),
                             name="continue-retry", daemon=True).start()
            return f"hearing {hearing['case_number']}: waiting for the input device ({e})"
        return f"hearing {hearing['case_number']} recording on after a {gap:.1f} s gap"

    def _continue(self, hearing_id: str) -> float:
        with self.lock:
            session = self._session(hearing_id, "recovery")
            try:
                gap = session.continue_after_restart()
            except BaseException:
                self.sessions.pop(hearing_id, None)
                session.stop()
                raise
        self._state(hearing_id)
        return gap

    def _retry_continue(self, hearing_id: str, max_delay: float = 30.0) -> None:
        delay = 1.0
        while not self._closing.wait(delay):
            delay = min(delay * 2, max_delay)
            state = self.writer.call(lambda s: s.hearing(hearing_id))["state"]
            if state != "recording" or hearing_id in self.sessions:
                return  # the clerk paused or closed it meanwhile
            try:
                self._continue(hearing_id)
                return
            except CourtboxError as e:
                logger.warning("hearing %s still cannot continue: %s", hearing_id, e)

    def timeline_now(self, hearing_id: str) -> float | None:
        """Seconds on the hearing's timeline now, while it is recording here."""
        session = self.sessions.get(hearing_id)
        if session is None or not session.recording:
            return None
        return session.timeline_now() / session.recorder.capture.sample_rate

    def capture_problem(self) -> str | None:
        """Why capture is stuck (a thread died, or a driver hangs), or None: the agent
        stops pinging the systemd watchdog on it, so that the service is restarted."""
        if ABANDONED_STREAMS:
            return f"{len(ABANDONED_STREAMS)} input stream(s) stuck in the audio driver"
        for hearing_id, session in list(self.sessions.items()):
            if (why := session.problem()) is not None:
                return f"hearing {hearing_id}: {why}"
        return None

    def dead_mics(self, hearing_id: str) -> list[str]:
        """The seats of ``hearing_id`` whose microphone is dead now."""
        return self.events.dead_mics(hearing_id)

    def partials(self, hearing_id: str) -> list[dict]:
        session = self.sessions.get(hearing_id)
        if session is None or session.recorder is None:
            return []
        return [line.as_dict() for line in session.recorder.partial_lines.current()]

    def shutdown(self) -> None:
        """SIGTERM: end the parts being recorded (their audio closed, hashed and stored),
        leaving each hearing in its state for the next start."""
        self._closing.set()
        with self.lock:
            for hearing_id, session in list(self.sessions.items()):
                if session.recording:
                    logger.warning("service stopping: ending the recording part of hearing "
                                   "%s", hearing_id)
                    self.writer.call(lambda s, h=hearing_id: s.audit(
                        "agent", "agent.stop", h))
                session.stop()
            self.sessions.clear()

    # -- inside ---------------------------------------------------------------------------

    def _one_at_a_time(self, hearing_id: str) -> None:
        active = self.active()
        if active is not None and active != hearing_id:
            case = self.writer.call(lambda s: s.hearing(active))["case_number"]
            raise HearingError(f"hearing {case} is recording in this room; pause or close "
                               "it first")

    def _session(self, hearing_id: str, actor: str) -> HearingSession:
        session = HearingSession(self.stack, hearing_id, self.seats, self.capture_opener(),
                                 actor=actor, events=self.events)
        self.sessions[hearing_id] = session
        return session

    def _state(self, hearing_id: str) -> None:
        self.events.state(hearing_id, self.writer.call(lambda s: s.hearing(hearing_id)))
