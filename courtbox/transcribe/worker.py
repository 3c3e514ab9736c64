"""Speech recognition in a supervised worker process.

A crash, an abort inside CTranslate2 or a hang in the recogniser must never take the
recording down, so the model lives in a child process (``spawn``; no threads are forked).
``RecognizerProcess`` keeps every submitted utterance until its result has come back: when
the child dies or stays silent on one job for longer than ``hang_timeout_s``, it is killed,
a fresh one is started, and every unanswered utterance is sent again in order, so the
backlog is transcribed after the restart. Each result is handed to the callback given with
its utterance, from the supervisor's own thread, in completion order.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from courtbox.audio.types import Utterance
from courtbox.errors import ModelError
from courtbox.transcribe.engine import EngineOptions, Recognition

logger = logging.getLogger(__name__)

ResultCallback = Callable[[Utterance, Recognition | None, str | None], None]


def _worker_main(options: EngineOptions, jobs: mp.Queue, results: mp.Queue) -> None:
    logging.basicConfig(level=logging.WARNING)
    try:
        from courtbox.transcribe.engine import WhisperEngine

        started = time.perf_counter()
        engine = WhisperEngine(options)
        results.put(("ready", None, time.perf_counter() - started))
    except BaseException as e:  # noqa: BLE001 - reported to the supervisor, then exit
        results.put(("failed", None, f"{type(e).__name__}: {e}"))
        return
    while (job := jobs.get()) is not None:
        job_id, audio, offset, hotwords = job
        results.put(("busy", job_id, None))
        try:
            results.put(("done", job_id, engine.recognize(audio, offset, hotwords)))
        except Exception as e:  # noqa: BLE001 - one bad utterance must not end the worker
            results.put(("error", job_id, f"{type(e).__name__}: {e}"))


@dataclass
class _Job:
    utterance: Utterance
    hotwords: tuple[str, ...]
    on_result: ResultCallback
    crashes: int = 0  # times the worker died or hung while on this job


class RecognizerProcess:
    """Supervises one recogniser process; ``submit`` never blocks."""

    def __init__(self, options: EngineOptions, *,
                 hang_timeout_s: float = 120.0, start_timeout_s: float = 180.0,
                 max_crashes: int = 2) -> None:
        self.options = options
        self.hang_timeout_s = hang_timeout_s
        self.start_timeout_s = start_timeout_s
        self.max_crashes = max_crashes
        self.restarts = 0
        self.load_seconds = 0.0
        self._ctx = mp.get_context("spawn")
        self._pending: OrderedDict[str, _Job] = OrderedDict()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._busy: tuple[str, float] | None = None
        self._stop = threading.Event()
        self._proc: mp.process.BaseProcess | None = None
        self._jobs: mp.Queue | None = None
        self._results: mp.Queue | None = None
        self._thread = threading.Thread(target=self._supervise, name="asr-supervisor",
                                        daemon=True)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start the process and wait until the model is loaded (or raise ModelError)."""
        self._spawn()
        self._thread.start()

    def _discard_queues(self) -> None:
        """Let go of the queues of a worker that is gone: their feeder threads may be
        blocked on a pipe nobody reads, and must not hold up interpreter exit."""
        for q in (self._jobs, self._results):
            if q is not None:
                q.cancel_join_thread()
                q.close()

    def _spawn(self) -> None:
        self._discard_queues()
        self._jobs, self._results = self._ctx.Queue(), self._ctx.Queue()
        self._proc = self._ctx.Process(target=_worker_main, name="courtbox-asr",
                                       args=(self.options, self._jobs, self._results),
                                       daemon=True)
        self._proc.start()
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            try:
                kind, _, value = self._results.get(timeout=0.5)
            except queue.Empty:
                if not self._proc.is_alive():
                    raise ModelError("the speech recognition process died while loading "
                                     f"the model from {self.options.model_dir}") from None
                if time.monotonic() > deadline:
                    self._proc.kill()
                    raise ModelError("the speech model did not load within "
                                     f"{self.start_timeout_s:.0f} s") from None
                continue
            if kind == "ready":
                self.load_seconds = value
                return
            if kind == "failed":
                self._proc.join(5)
                raise ModelError(f"cannot load the speech model from "
                                 f"{self.options.model_dir}: {value}")

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._jobs is not None:
            self._jobs.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._proc is not None:
            self._proc.join(timeout)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
        self._discard_queues()

    # -- work -----------------------------------------------------------------------------

    @property
    def backlog(self) -> int:
        with self._lock:
            return len(self._pending)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def submit(self, utterance: Utterance, on_result: ResultCallback,
               hotwords: tuple[str, ...] = ()) -> None:
        with self._lock:
            job_id = str(next(self._ids))
            self._pending[job_id] = _Job(utterance, hotwords, on_result)
            self._send(job_id)

    def _send(self, job_id: str) -> None:
        job = self._pending[job_id]
        u = job.utterance
        self._jobs.put((job_id, u.audio, u.t0, job.hotwords))

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every submitted utterance has its result."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending, timeout)

    def _supervise(self) -> None:
        while not self._stop.is_set():
            try:
                kind, job_id, value = self._results.get(timeout=0.5)
            except queue.Empty:
                self._check_health()
                continue
            except (EOFError, OSError):
                self._restart("result queue broke")
                continue
            if kind == "busy":
                self._busy = (job_id, time.monotonic())
            elif kind in ("done", "error"):
                self._busy = None
                self._finish(job_id, value if kind == "done" else None,
                             value if kind == "error" else None)

    def _finish(self, job_id: str, result: Recognition | None, error: str | None) -> None:
        with self._lock:
            job = self._pending.pop(job_id, None)
        if job is None:
            return
        if error:
            logger.error("recognition of %s failed: %s", job_id, error)
        try:
            job.on_result(job.utterance, result, error)
        except Exception:  # noqa: BLE001 - a consumer bug must not stop the supervisor
            logger.exception("result handler failed for %s", job_id)
        with self._idle:
            if not self._pending:
                self._idle.notify_all()

    def _check_health(self) -> None:
        if self._proc is not None and not self._proc.is_alive():
            self._restart(f"exited with code {self._proc.exitcode}")
        elif self._busy and time.monotonic() - self._busy[1] > self.hang_timeout_s:
            self._proc.kill()
            self._restart(f"hung on {self._busy[0]} for over {self.hang_timeout_s:.0f} s")

    def _restart(self, why: str) -> None:
        if self._stop.is_set():
            return
        self.restarts += 1
        logger.error("speech recognition process %s; restarting it (restart %d)", why,
                     self.restarts)
        with self._lock:
            if self._busy and (job := self._pending.get(self._busy[0])):
                job.crashes += 1
        self._busy = None
        if self._proc is not None:
            self._proc.join(1)
        while not self._stop.is_set():
            try:
                self._spawn()
                break
            except ModelError:
                logger.exception("restart of the recogniser failed; retrying")
                if self._stop.wait(5):
                    return
        with self._lock:
            given_up = [jid for jid, job in self._pending.items()
                        if job.crashes >= self.max_crashes]
        for jid in given_up:
            self._finish(jid, None, f"abandoned: the recogniser failed on it "
                                    f"{self.max_crashes} times")
        with self._lock:
            for jid in list(self._pending):
                self._send(jid)
