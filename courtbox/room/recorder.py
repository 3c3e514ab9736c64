"""One recording part of a hearing, wired end to end:

    capture ─┬─> archive (own thread: FLAC segments, fsync, hash chain) ─> store writer
             └─> analysis thread: level meters and alarms ─> on_levels, audit log
                                  segmenter (16 kHz, seat activity, Silero VAD,
                                  utterances) ─> recogniser process ─> store writer

Capture hands each block to two unbounded queues and returns; the archive depends on
nothing after it. Each finished utterance goes to the recogniser process as a *final*; while
a seat speaks, its utterance so far goes as a *partial* about once a second
(``stream.PartialPolicy``), and the recogniser drops partials first when it falls behind.
Finals and archived segments reach SQLite through the single store writer, and a final line
is announced to ``on_final`` only once it is durable; partial lines go to ``on_partial``
and are never stored (the final replaces them). Without a recogniser only the archive runs.
``hotwords`` are the hearing's own names and terms, added to the configured vocabulary for
this hearing only.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from courtbox.audio.archive import ArchiveWriter
from courtbox.audio.capture import Capture, Fanout
from courtbox.audio.levels import Alarm, LevelMeter, LevelReport, MeterOptions
from courtbox.audio.seats import SegmenterOptions
from courtbox.audio.types import SPEECH_RATE, Block, CaptureEvent, SegmentWritten, Utterance
from courtbox.record.writer import StoreWriter
from courtbox.room.speech import SpeechFront
from courtbox.transcribe.engine import Recognition
from courtbox.transcribe.stream import PartialLine, PartialLines, StreamOptions
from courtbox.transcribe.vad import VadOptions
from courtbox.transcribe.worker import RecognizerProcess

logger = logging.getLogger(__name__)

_END = object()

FinalCallback = Callable[[dict], None]
PartialCallback = Callable[[PartialLine], None]
LevelsCallback = Callable[[LevelReport], None]

STUCK_S = 30.0  # no audio this long while recording: capture is stuck, not unplugged
LAG_WARN_S = 10.0  # recognition this far behind is logged and audited (and its recovery)


class Recorder:
    def __init__(self, *, data_dir: Path, writer: StoreWriter, hearing_id: str,
                 seats: list[dict], capture: Capture, recognizer: RecognizerProcess | None,
                 segment_seconds: int = 60, hotwords: tuple[str, ...] = (), part: int = 1,
                 on_final: FinalCallback | None = None,
                 on_partial: PartialCallback | None = None,
                 on_levels: LevelsCallback | None = None,
                 segmenter_options: SegmenterOptions | None = None,
                 vad_options: VadOptions | None = None,
                 stream_options: StreamOptions | None = None,
                 meter_options: MeterOptions | None = None, reserve_bytes: int = 0,
                 warn_hours: float = 0.0, timeline_start: int = 0) -> None:
        self.hearing_id = hearing_id
        self.part = part
        self.writer = writer
        self.capture = capture
        self.recognizer = recognizer
        self.hotwords = hotwords
        self.on_final = on_final
        self.on_partial = on_partial
        self.on_levels = on_levels
        self.timeline_start = timeline_start  # capture-rate sample where this part begins
        self.seat_of_channel = {s["channel"]: s["id"] for s in seats}
        self.alarms: list[Alarm] = []
        self.utterances = 0
        self.finals = 0
        self.failed = 0
        prev = writer.call(lambda s: s.last_segment_hash(hearing_id))
        self.archive = ArchiveWriter(
            data_dir, hearing_id, part=part, sample_rate=capture.sample_rate,
            channels=capture.channels, segment_seconds=segment_seconds, prev_sha256=prev,
            on_segment=self._segment_written, on_event=self._capture_event,
            reserve_bytes=reserve_bytes, warn_hours=warn_hours)
        self.speech = SpeechFront(
            [(s["channel"], s["id"]) for s in seats], channels=capture.channels,
            sample_rate=capture.sample_rate, segmenter_options=segmenter_options,
            vad_options=vad_options, stream_options=stream_options,
            start=timeline_start * SPEECH_RATE // capture.sample_rate
        ) if recognizer is not None else None
        self.partial_lines = PartialLines()
        self.partials = 0
        self._lagging = False
        self._shown: queue.SimpleQueue = queue.SimpleQueue()  # to the analysis thread
        self.meter = LevelMeter(capture.channels, capture.sample_rate, meter_options,
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
        stalled = getattr(self.capture, "stalled_for", None)
        if stalled is not None and stalled() > stuck_s:
            return f"no audio from the input device for {stalled():.0f} s"
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
                while not self._shown.empty():
                    speech.policy.shown(self._shown.get())
                self._submit(speech.feed(block))
                self._watch_lag()
        if speech is not None:
            self._submit(speech.flush())

    def _levels(self, report: LevelReport) -> None:
        for alarm in report.alarms:
            self.alarms.append(alarm)
            seat = self.seat_of_channel.get(alarm.channel)
            logger.warning("hearing %s: %s", self.hearing_id, alarm.message)
            self.writer.submit(lambda s, a=alarm, seat=seat: s.audit(
                "capture", f"audio.{a.kind}", self.hearing_id, channel=a.channel, seat=seat,
                at_sample=a.at_sample, message=a.message))
        if self.on_levels is not None:
            try:
                self.on_levels(report)
            except Exception:  # noqa: BLE001 - a display bug must not stop recording
                logger.exception("level handler failed")

    def _submit(self, requests) -> None:
        for kind, utterance in requests:
            if kind == "final":
                self.utterances += 1
                self.recognizer.submit(utterance, self._recognized, self.hotwords)
            else:
                self.recognizer.submit(utterance, self._partial, self.hotwords,
                                       kind="partial")

    def _partial(self, utterance: Utterance, result: Recognition | None,
                 error: str | None) -> None:
        if result is None or not result.text:
            return
        line = self.partial_lines.update(utterance.id, utterance.seat, utterance.t0,
                                         result.text)
        if line is None:
            return
        self._shown.put(utterance.id)  # the policy belongs to the analysis thread
        self.partials += 1
        if self.on_partial is not None:
            try:
                self.on_partial(line)
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

    def _recognized(self, utterance: Utterance, result: Recognition | None,
                    error: str | None) -> None:
        self.partial_lines.final(utterance.id, utterance.seat)
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

    def _announce(self, future, line: dict, utterance: Utterance) -> None:
        if future.exception() is not None:
            return  # the writer has logged it
        self.finals += 1
        if self.on_final is not None:
            try:
                self.on_final({**line, "id": future.result(),
                               "speech_t0": utterance.speech_t0,
                               "speech_t1": utterance.speech_t1})
            except Exception:  # noqa: BLE001 - a display bug must not stop recording
                logger.exception("final-line handler failed")
