"""One recording part of a hearing, wired end to end:

    capture ─┬─> archive (own thread: FLAC segments, fsync, hash chain) ─> store writer
             └─> segmenter thread (16 kHz, seat activity, utterances) ─> recogniser process
                                                                          └─> store writer

Capture hands each block to two unbounded queues and returns; the archive depends on
nothing after it. Utterances go to the recogniser process; its results and the archived
segments reach SQLite through the single store writer, and a final line is announced to
``on_final`` only once it is durable. Without a recogniser only the archive runs.
``hotwords`` are the hearing's own names and terms, added to the configured vocabulary for
this hearing only.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from courtbox.agent.writer import StoreWriter
from courtbox.audio.archive import ArchiveWriter
from courtbox.audio.capture import Capture, Fanout
from courtbox.audio.seats import Segmenter, SegmenterOptions
from courtbox.audio.types import SegmentWritten, Utterance
from courtbox.transcribe.engine import Recognition
from courtbox.transcribe.worker import RecognizerProcess

logger = logging.getLogger(__name__)

_END = object()

FinalCallback = Callable[[dict], None]


class Recorder:
    def __init__(self, *, data_dir: Path, writer: StoreWriter, hearing_id: str,
                 seats: list[dict], capture: Capture, recognizer: RecognizerProcess | None,
                 segment_seconds: int = 60, hotwords: tuple[str, ...] = (), part: int = 1,
                 on_final: FinalCallback | None = None,
                 segmenter_options: SegmenterOptions | None = None) -> None:
        self.hearing_id = hearing_id
        self.writer = writer
        self.capture = capture
        self.recognizer = recognizer
        self.hotwords = hotwords
        self.on_final = on_final
        self.utterances = 0
        self.finals = 0
        self.failed = 0
        prev = writer.call(lambda s: s.last_segment_hash(hearing_id))
        self.archive = ArchiveWriter(
            data_dir, hearing_id, part=part, sample_rate=capture.sample_rate,
            channels=capture.channels, segment_seconds=segment_seconds, prev_sha256=prev,
            on_segment=self._segment_written)
        self.segmenter = Segmenter([(s["channel"], s["id"]) for s in seats],
                                   channels=capture.channels,
                                   sample_rate=capture.sample_rate,
                                   options=segmenter_options)
        self._speech: queue.SimpleQueue = queue.SimpleQueue()
        self._seg_thread = threading.Thread(target=self._segment_loop,
                                            name=f"segmenter-{hearing_id[:8]}", daemon=True)

    def start(self) -> None:
        self.archive.start()
        if self.recognizer is not None:
            self._seg_thread.start()
        speech = (self._speech,) if self.recognizer is not None else ()
        self.capture.start(Fanout(self.archive.queue, *speech))

    def wait_source(self, timeout: float | None = None) -> bool:
        """For a finite source (a file): wait until all of it has been captured."""
        return self.capture.wait(timeout)

    def stop(self, drain_timeout: float | None = 600.0) -> None:
        """Stop capture, close the archive part, and let recognition catch up."""
        self.capture.stop()
        self.capture.wait(10)
        self.archive.close()
        if self.recognizer is None:
            return
        self._speech.put(_END)
        self._seg_thread.join()
        if not self.recognizer.drain(drain_timeout):
            logger.error("recognition backlog of %d utterances not finished after %s s",
                         self.recognizer.backlog, drain_timeout)

    # -- archive side ---------------------------------------------------------------------

    def _segment_written(self, segment: SegmentWritten) -> None:
        self.writer.submit(lambda s: s.add_segment(segment.as_row()))

    # -- speech side ----------------------------------------------------------------------

    def _segment_loop(self) -> None:
        while (block := self._speech.get()) is not _END:
            for utterance in self.segmenter.feed(block):
                self._submit(utterance)
        for utterance in self.segmenter.flush():
            self._submit(utterance)

    def _submit(self, utterance: Utterance) -> None:
        self.utterances += 1
        self.recognizer.submit(utterance, self._recognized, self.hotwords)

    def _recognized(self, utterance: Utterance, result: Recognition | None,
                    error: str | None) -> None:
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
        future.add_done_callback(lambda f: self._announce(f, line))

    def _announce(self, future, line: dict) -> None:
        if future.exception() is not None:
            return  # the writer has logged it
        self.finals += 1
        if self.on_final is not None:
            try:
                self.on_final({**line, "id": future.result()})
            except Exception:  # noqa: BLE001 - a display bug must not stop recording
                logger.exception("final-line handler failed")
