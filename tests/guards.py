"""Two guards every test runs under (autouse, through ``tests/conftest.py``).

``no_thread_left_behind``: a thread the test started (its function-scoped fixtures
included) that still runs when the test is done fails it. Threads get a short grace to
finish (``THREAD_GRACE_S`` in all): a writer, an archive or a server that was told to stop
and is on its way out is fine; one that nobody stopped is a leak. Threads started by
session- or module-scoped fixtures belong to those fixtures and are not counted.

``no_blocking_in_the_event_loop``: every asyncio event loop created during the test (by
``asyncio.run``, ``asyncio.new_event_loop``, Starlette's ``TestClient``, a uvicorn in a
thread) runs in asyncio's debug mode with ``slow_callback_duration = SLOW_CALLBACK_S``.
A callback or a coroutine step that holds the loop longer is a blocking call inside it
(a store read, a join, a sleep); asyncio logs "Executing <…> took N seconds", and that log
line fails the test. Debug mode also raises on a loop method called from the wrong thread.
Loops in other processes (``courtbox run`` under test) are not watched: their timing on a
shared CI machine is no evidence.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Iterator

import pytest
from tqdm import tqdm

THREAD_GRACE_S = 3.0
# tqdm (faster-whisper's progress bars) starts one monitor thread per process, for good, the
# first time a bar opens: not a leak of the test that happens to transcribe first.
tqdm.monitor_interval = 0
# The loop's budget per step. Generous: on two shared cores a step that only starts a
# worker thread was seen to take 0.4 s, and 0.515 s in a clean-clone CI run (the sync
# retention test, which passes alone every time); a join or a read waiting behind the
# writer's lock takes seconds.
SLOW_CALLBACK_S = 1.0


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + THREAD_GRACE_S
    left = []
    for thread in threading.enumerate():
        if thread in before or thread is threading.current_thread():
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            left.append(thread)
    if left:
        pytest.fail("threads left running after the test: "
                    + ", ".join(f"{t.name} (daemon={t.daemon}, target="
                                f"{getattr(t, '_target', None)!r})" for t in left),
                    pytrace=False)


class _SlowSteps(logging.Handler):
    """Collects asyncio's "Executing <…> took N seconds" warnings, from any thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str) and record.msg.startswith("Executing "):
            message = record.getMessage()
            # Playwright's sync API parks its loop in a greenlet while the test's own code
            # runs between two calls: that time is the test's, not a blocked loop of ours.
            if "playwright/_impl/_greenlets.py" not in message:
                self.seen.append(message)


class _DebugLoops(asyncio.DefaultEventLoopPolicy):
    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        loop = super().new_event_loop()
        loop.set_debug(True)
        loop.slow_callback_duration = SLOW_CALLBACK_S
        return loop


@pytest.fixture(autouse=True)
def no_blocking_in_the_event_loop() -> Iterator[None]:
    policy = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(_DebugLoops())
    slow = _SlowSteps()
    log = logging.getLogger("asyncio")
    log.addHandler(slow)
    try:
        yield
    finally:
        log.removeHandler(slow)
        asyncio.set_event_loop_policy(policy)
    if slow.seen:
        pytest.fail("blocking call in the event loop:\n" + "\n".join(slow.seen),
                    pytrace=False)
