"""One recording part of a hearing, wired end to end:

    capture ─┬─> archive (own thread: FLAC segments, fsync, hash chain) ─> store writer
             └─> analysis thread: level meters and alarms ─> events.levels, audit log
                                  segmenter (16 kHz, seat activity, Silero VAD,
                                  utterances) ─> recogniser process ─> store writer

Capture hands each block to two unbounded queues and returns; the archive depends on
nothing after it. Each finished utterance goes to the recogniser process as a *final*; while
a seat speaks, its utterance so far goes as a *partial* about once a second; which job goes
when, and what a result shows, is ``stream.LiveTranscript``'s to say (the bench drives the
same object), and the recogniser drops partials first when it falls behind.
Finals and archived segments reach SQLite through the single store writer, and a final line
is announced to ``events.final`` only once it is durable; partial lines go to
``events.partial`` and are never stored (the final replaces them); ``room.events`` says
what the events are. Without a recogniser only the archive runs.
``hotwords`` are the hearing's own names and terms, added to the configured vocabulary for
this hearing only.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from courtbox.audio.archive import ArchiveWriter
from courtbox.audio.capture import Fanout
from courtbox.audio.levels import Alarm, LevelMeter, LevelReport
from courtbox.audio.types import SPEECH_RATE, Block, CaptureEvent, SegmentWritten, Utterance
from courtbox.record.recognised import recogniser_revision
from courtbox.room.events import QUIET
from courtbox.room.speech import SpeechFront
from courtbox.transcribe.stream import (
    Final,
    Heard,
    Job,
    LiveTranscript,
    PartialLine,
)
from courtbox.transcribe.turns import TurnRevision

if TYPE_CHECKING:
    from courtbox.audio.capture import Capture
    from courtbox.config import Seat
    from courtbox.room.events import RoomEvents
    from courtbox.room.stack import RecordingStack
    from courtbox.transcribe.engine import Recognition

logger = logging.getLogger(__name__)

_END = object()

STUCK_S = 30.0  # no audio this long while recording: capture is stuck, not unplugged
LAG_WARN_S = 10.0  # recognition this far behind is logged and audited (and its recovery)


class Recorder:
    def __init__(self, stack: RecordingStack, hearing_id: str, capture: Capture,
                 seats: Sequence[Seat], *, events: RoomEvents = QUIET,
                 hotwords: tuple[str, ...] | None = None, part: int = 1,
                 timeline_start: int = 0) -> None:
        """Part ``part`` of ``hearing_id`` from ``capture``, starting at ``timeline_start``
        (capture-rate sample), recorded with ``stack``'s writer, recogniser and options,
        told to ``events``. ``hotwords``: the hearing's own words for the recogniser; by
        default its case number, panel, clerk and parties."""
        options, writer, recognizer = stack.options, stack.writer, stack.recognizer
        stack.disk(capture.channels, capture.sample_rate, hearing_id)
        hotwords = stack.hotwords(hearing_id) if hotwords is None else hotwords
        self.hearing_id = hearing_id
        self.part = part
        self.writer = writer
        self.capture = capture
        self.recognizer = recognizer
        self.hotwords = hotwords
        self.events = events
        self.timeline_start = timeline_start  # capture-rate sample where this part begins
        self.seat_of_channel = {s.channel: s.id for s in seats}
        self.alarms: list[Alarm] = []
        self.utterances = 0
        self.finals = 0
        self.failed = 0
        prev = writer.call(lambda s: s.last_segment_hash(hearing_id))
        self.archive = ArchiveWriter(
            stack.data_dir, hearing_id, part=part, sample_rate=capture.sample_rate,
            channels=capture.channels, segment_seconds=options.segment_seconds,
            prev_sha256=prev, on_segment=self._segment_written,
            on_event=self._capture_event, reserve_bytes=options.reserve_bytes,
            warn_hours=options.warn_hours)
        self.speech = SpeechFront(
            [(s.channel, s.id) for s in seats], channels=capture.channels,
            sample_rate=capture.sample_rate, segmenter_options=options.segmenter,
            vad_options=options.vad, arrays=options.arrays,
            start=timeline_start * SPEECH_RATE // capture.sample_rate
        ) if recognizer is not None else None
        # Heard on the analysis thread, results on the recogniser's: guarded by a lock.
        self.transcript = LiveTranscript(options.stream, hotwords)
        self.partial_lines = self.transcript.lines  # read by the pages, from any thread
        self._transcript_lock = threading.Lock()
        self.partials = 0
        self._lagging = False
        self.meter = LevelMeter(capture.channels, capture.sample_rate, options.meter,
                                start=timeline_start)
        self._analysis: queue.SimpleQueue = queue.SimpleQueue()
        self._analysis_thread = threading.Thread(target=self._analysis_loop,
                                                 name=f"analysis-{hearing_id[:8]}",
                                                 daemon=True)

    def start(self) -> None:
        self.archive.start()
        self._analysis_thread.start()
        fanout = Fanout(self.archive.queue, self._analysis)
        offset = self.timeline_start
        sink = fanout if not offset else (lambda b: fanout(Block(b.start + offset, b.data)))
        self.capture.start(sink, self._capture_event)

    def wait_source(self, timeout: float | None = None) -> bool:
        """For a finite source (a file): wait until all of it has been captured."""
        return self.capture.wait(timeout)

    def stop(self, drain_timeout: float | None = 600.0) -> None:
        """Stop capture, close the archive part, and let recognition catch up."""
        self.capture.stop()
        self.capture.wait(10)
        self.archive.close()
        self._analysis.put(_END)
        self._analysis_thread.join()
        if self.recognizer is not None and not self.recognizer.drain(drain_timeout):
            logger.error("recognition backlog of %d utterances not finished after %s s",
                         self.recognizer.backlog, drain_timeout)

    def problem(self, stuck_s: float = STUCK_S) -> str | None:
        """Why this part is no longer recording, or None: a thread of it died, or the
        device has delivered nothing for ``stuck_s`` (the session's device watchdog reacts
        in seconds, so this long means that reaction is itself stuck)."""
        if not self.archive.alive():
            return f"the archive thread of part {self.part} ended"
        if not self._analysis_thread.is_alive():
            return f"the analysis thread of part {self.part} ended"
        stalled = self.capture.stalled_for()
        if stalled > stuck_s:
            return f"no audio from the input device for {stalled:.0f} s"
        return None

    def _capture_event(self, event: CaptureEvent) -> None:
        """From the PortAudio callback or the archive: log and queue for the audit log,
        never block."""
        logger.warning("hearing %s: %s", self.hearing_id, event.message)
        self.writer.submit(lambda s: s.audit("capture", f"audio.{event.kind}", self.hearing_id,
                                             at_sample=event.at_sample,
                                             message=event.message))

    # -- archive side ---------------------------------------------------------------------

    def _segment_written(self, segment: SegmentWritten) -> None:
        self.writer.submit(lambda s: s.add_segment(segment.as_row()))

    # -- analysis side --------------------------------------------------------------------

    def _analysis_loop(self) -> None:
        speech = self.speech
        while (block := self._analysis.get()) is not _END:
            for report in self.meter.feed(block):
                self._levels(report)
            if speech is not None:
                self._hear(speech.feed(block))
                self._watch_lag()
        if speech is not None:
            self._hear(speech.flush())

    def _levels(self, report: LevelReport) -> None:
        for alarm in report.alarms:
            self.alarms.append(alarm)
            seat = self.seat_of_channel.get(alarm.channel)
            logger.warning("hearing %s: %s", self.hearing_id, alarm.message)
            self.writer.submit(lambda s, a=alarm, seat=seat: s.audit(
                "capture", f"audio.{a.kind}", self.hearing_id, channel=a.channel, seat=seat,
                at_sample=a.at_sample, message=a.message))
        try:
            self.events.levels(self.hearing_id, report)
        except Exception:  # noqa: BLE001 - a display bug must not stop recording
            logger.exception("level handler failed")

    def _hear(self, heard: Heard) -> None:
        with self._transcript_lock:
            jobs = self.transcript.hear(heard, time.monotonic())
        for job in jobs:
            if job.kind == "final":
                self.utterances += 1
            self.recognizer.submit(job.utterance, lambda _, r, e, job=job: self._result(
                job, r, e), job.hotwords, kind=job.kind, context=job.context)

    def _result(self, job: Job, result: Recognition | None, error: str | None) -> None:
        """From the recogniser's thread: what the result changes, told to the store or the
        screen."""
        with self._transcript_lock:
            update = self.transcript.recognized(job, result, error)
        if isinstance(update, Final):
            self._recognized(update)
        elif isinstance(update, TurnRevision):
            self._revised(update)
        elif update is not None:
            self._partial(update)

    def _partial(self, line: PartialLine) -> None:
        self.partials += 1
        try:
            self.events.partial(self.hearing_id, line)
        except Exception:  # noqa: BLE001 - a display bug must not stop recording
            logger.exception("partial-line handler failed")

    def _watch_lag(self) -> None:
        """Log and audit when recognition falls ``LAG_WARN_S`` behind, and when it has
        caught up again."""
        lag = self.recognizer.metrics().lag_s
        if lag > LAG_WARN_S and not self._lagging or lag == 0 and self._lagging:
            self._lagging = not self._lagging
            action = "asr.lagging" if self._lagging else "asr.caught_up"
            log = logger.warning if self._lagging else logger.info
            log("hearing %s: %s (%.1f s behind)", self.hearing_id, action, lag)
            self.writer.submit(lambda s: s.audit("asr", action, self.hearing_id, lag_s=lag))

    def _recognized(self, final: Final) -> None:
        utterance, result, error = final.utterance, final.result, final.error
        if result is None:
            self.failed += 1
            self.writer.submit(lambda s: s.audit(
                "asr", "transcript.failed", self.hearing_id, utterance=utterance.id,
                t0=utterance.t0, t1=utterance.t1, error=error))
            return
        if not result.text:
            logger.debug("utterance %s gave no text", utterance.id)
            return
        line = {"hearing_id": self.hearing_id, "utterance_id": utterance.id,
                "seat": utterance.seat, "t0": utterance.t0, "t1": utterance.t1,
                "text": result.text, "words": result.words_as_dicts(),
                "avg_logprob": result.avg_logprob}
        future = self.writer.submit(lambda s: s.add_final(**line))
        future.add_done_callback(lambda f: self._announce(f, line, utterance))

    def _revised(self, revision: TurnRevision) -> None:
        """A seat's whole turn read again: a recogniser's revision of its lines."""
        u, r = revision.utterance, revision.result
        future = self.writer.submit(lambda s: recogniser_revision(
            s, self.hearing_id, u.id, text=r.text, t1=u.t1, words=r.words_as_dicts(),
            avg_logprob=r.avg_logprob, merged=revision.merged))

        def announce(f) -> None:
            if f.exception() is not None or f.result() is None:
                return  # the writer has logged it, or a person's correction stands
            try:
                self.events.revised(self.hearing_id, {
                    **f.result(), "speech_t0": u.speech_t0, "speech_t1": u.speech_t1},
                    list(revision.merged))
            except Exception:  # noqa: BLE001 - a display bug must not stop recording
                logger.exception("revised-line handler failed")

        future.add_done_callback(announce)

    def _announce(self, future, line: dict, utterance: Utterance) -> None:
        if future.exception() is not None:
            return  # the writer has logged it
        self.finals += 1
        try:
            self.events.final(self.hearing_id, {**line, "id": future.result(),
                                                "speech_t0": utterance.speech_t0,
                                                "speech_t1": utterance.speech_t1})
        except Exception:  # noqa: BLE001 - a display bug must not stop recording
            logger.exception("final-line handler failed")
