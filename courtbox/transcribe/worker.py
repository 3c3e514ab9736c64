"""Speech recognition in a supervised worker process.

A crash, an abort inside CTranslate2 or a hang in the recogniser must never take the
recording down, so the model lives in a child process (``spawn``; no threads are forked).
``RecognizerProcess`` keeps every submitted utterance until its result has come back: when
the child dies or stays silent on one job for longer than ``hang_timeout_s``, it is killed,
a fresh one is started, and the final it was working on goes back to the head of the queue,
so the backlog is transcribed after the restart (a partial in flight is simply dropped).
Each result is handed to the callback given with its utterance, from the supervisor's own
thread, in completion order.

The child never outlives its parent (``die_with_parent``): the kernel kills it when the
thread that started it ends (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), and a watch thread ends
it when its parent process is gone, so a ``kill -9`` of the agent leaves no recogniser
behind, whoever started it.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from courtbox.audio.types import SPEECH_RATE, Utterance
from courtbox.errors import ModelError
from courtbox.transcribe.engine import EngineOptions, Recognition
from courtbox.transcribe.stream import Job, JobQueue, Kind

logger = logging.getLogger(__name__)

ResultCallback = Callable[[Utterance, Recognition | None, str | None], None]


def job_request(job: Job) -> tuple:
    """The arguments of ``WhisperEngine.recognize`` for ``job``: what the recogniser process
    is sent (the bench hands the same to its own engine), the utterance's speech bounds
    included, so that the recogniser needs no VAD of its own."""
    u = job.utterance
    speech = None
    if u.speech_start >= 0 and u.speech_end >= 0:
        speech = ((u.speech_start - u.start) / SPEECH_RATE,
                  (u.speech_end - u.start) / SPEECH_RATE)
    return (u.audio, u.t0, job.hotwords, job.kind, speech, job.context)


PR_SET_PDEATHSIG = 1
PARENT_POLL_S = 0.5


def die_with_parent(parent_pid: int) -> None:
    """In a child: end when ``parent_pid`` does. The kernel's parent-death signal first
    (Linux), then a watch of the parent pid as the fallback (another OS, or a parent whose
    starting thread outlives it)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            logger.warning("prctl(PR_SET_PDEATHSIG): errno %d", ctypes.get_errno())
    except (OSError, AttributeError) as e:
        logger.warning("no parent-death signal here (%s); watching the parent", e)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(1)  # the parent is gone: nobody reads what this process would say

    if os.getppid() != parent_pid:  # it died before the signal was armed
        os._exit(1)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _worker_main(options: EngineOptions, jobs: mp.Queue, results: mp.Queue,
                 parent_pid: int | None = None) -> None:
    logging.basicConfig(level=logging.WARNING)
    if parent_pid is not None:
        die_with_parent(parent_pid)
    try:
        from courtbox.transcribe.engine import WhisperEngine

        started = time.perf_counter()
        engine = WhisperEngine(options)
        results.put(("ready", None, time.perf_counter() - started))
    except BaseException as e:  # noqa: BLE001 - reported to the supervisor, then exit
        results.put(("failed", None, f"{type(e).__name__}: {e}"))
        return
    while (job := jobs.get()) is not None:
        key, *request = job
        results.put(("busy", key, None))
        try:
            results.put(("done", key, engine.recognize(*request)))
        except Exception as e:  # noqa: BLE001 - one bad utterance must not end the worker
            results.put(("error", key, f"{type(e).__name__}: {e}"))


@dataclass
class _Entry:
    job: Job
    on_result: ResultCallback
    crashes: int = 0  # times the worker died or hung while on this job


@dataclass(frozen=True)
class RecognizerMetrics:
    """How far recognition is behind: for the log, the API and the benchmark."""

    queue_depth: int  # jobs waiting, finals and partials
    finals_waiting: int
    lag_s: float  # age of the oldest final not yet answered (0 when none)
    busy_s: float  # recogniser time spent so far
    finals_done: int
    partials_done: int
    partials_replaced: int
    partials_skipped: int
    max_depth: int
    restarts: int

    def as_dict(self) -> dict:
        return asdict(self)


class RecognizerProcess:
    """Supervises one recogniser process; ``submit`` never blocks.

    The supervisor keeps the queue (``stream.JobQueue``: finals first, the newest partial
    per seat) and gives the process one job at a time, so a final never waits behind a
    stale partial and a burst of speech costs partial refreshes, never finals."""

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
        self._queue = JobQueue()
        self._entries: dict[int, _Entry] = {}
        self._keys = itertools.count(1)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._inflight: int | None = None
        self._busy: tuple[int, float] | None = None
        self._busy_s = 0.0
        self._done = {"final": 0, "partial": 0, "turn": 0}
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
                                       args=(self.options, self._jobs, self._results,
                                             os.getpid()),
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
        """Jobs not yet answered: waiting and in flight."""
        with self._lock:
            return len(self._queue) + (self._inflight is not None)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def metrics(self) -> RecognizerMetrics:
        now = time.monotonic()
        with self._lock:
            oldest = [e.job.submitted_at for e in self._entries.values()
                      if e.job.kind == "final"]
            stats = self._queue.stats
            return RecognizerMetrics(
                queue_depth=len(self._queue), finals_waiting=self._queue.finals_waiting,
                lag_s=round(now - min(oldest), 3) if oldest else 0.0,
                busy_s=round(self._busy_s, 3), finals_done=self._done["final"],
                partials_done=self._done["partial"],
                partials_replaced=stats.partials_replaced,
                partials_skipped=stats.partials_skipped, max_depth=stats.max_depth,
                restarts=self.restarts)

    def submit(self, utterance: Utterance, on_result: ResultCallback,
               hotwords: tuple[str, ...] = (), kind: Kind = "final", context: str = ""
               ) -> None:
        with self._lock:
            job = Job(kind, utterance, time.monotonic(), hotwords, key=next(self._keys),
                      context=context)
            self._entries[job.key] = _Entry(job, on_result)
            for dropped in self._queue.push(job):
                self._entries.pop(dropped.key, None)
            self._dispatch()

    def _dispatch(self) -> None:
        """With the lock held: give the process its next job if it has none."""
        if self._inflight is not None or self._jobs is None:
            return
        job = self._queue.pop()
        if job is None:
            return
        self._inflight = job.key
        self._jobs.put((job.key, *job_request(job)))

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every submitted utterance has its result."""
        with self._idle:
            return self._idle.wait_for(
                lambda: not self._queue and self._inflight is None, timeout)

    def _supervise(self) -> None:
        while not self._stop.is_set():
            try:
                kind, key, value = self._results.get(timeout=0.5)
            except queue.Empty:
                self._check_health()
                continue
            except (EOFError, OSError):
                self._restart("result queue broke")
                continue
            if kind == "busy":
                self._busy = (key, time.monotonic())
            elif kind in ("done", "error"):
                self._busy = None
                self._finish(key, value if kind == "done" else None,
                             value if kind == "error" else None)

    def _finish(self, key: int, result: Recognition | None, error: str | None) -> None:
        with self._lock:
            entry = self._entries.pop(key, None)
            if self._inflight == key:
                self._inflight = None
            if result is not None:
                self._busy_s += result.compute_s
            if entry is not None:
                self._done[entry.job.kind] += 1
                if entry.job.kind == "final":
                    self._queue.forget(entry.job.utterance.id)
            self._dispatch()
        if entry is None:
            return
        if error:
            logger.error("recognition of %s failed: %s", entry.job.utterance.id, error)
        try:
            entry.on_result(entry.job.utterance, result, error)
        except Exception:  # noqa: BLE001 - a consumer bug must not stop the supervisor
            logger.exception("result handler failed for %s", entry.job.utterance.id)
        with self._idle:
            if not self._queue and self._inflight is None:
                self._idle.notify_all()

    def _check_health(self) -> None:
        if self._proc is not None and not self._proc.is_alive():
            self._restart(f"exited with code {self._proc.exitcode}")
        elif self._busy and time.monotonic() - self._busy[1] > self.hang_timeout_s:
            self._proc.kill()
            self._restart(f"hung on job {self._busy[0]} for over {self.hang_timeout_s:.0f} s")

    def _restart(self, why: str) -> None:
        if self._stop.is_set():
            return
        self.restarts += 1
        logger.error("speech recognition process %s; restarting it (restart %d)", why,
                     self.restarts)
        given_up: int | None = None
        with self._lock:
            key, self._inflight = self._inflight, None
            entry = self._entries.get(key) if key is not None else None
            if entry is not None:
                entry.crashes += 1
                if entry.job.kind == "partial":
                    del self._entries[key]
                elif entry.crashes >= self.max_crashes:
                    given_up = key
                else:
                    self._queue.push_front(entry.job)
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
        if given_up is not None:
            with self._lock:
                self._inflight = given_up  # so that _finish dispatches the next one
            self._finish(given_up, None, f"abandoned: the recogniser failed on it "
                                         f"{self.max_crashes} times")
        else:
            with self._lock:
                self._dispatch()
