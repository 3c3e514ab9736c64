"""The store's single writer: one thread, fed by a queue, answering with futures.

SQLite allows one writer at a time; funnelling every write through one thread (as datasette
does) keeps transactions short and ordered and lets the archive, the recogniser and the
event loop hand over records without ever waiting on the database. A failed write is logged
with its traceback and raised to whoever looks at its future; it never stops the writer.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from courtbox.agent.store import Store

logger = logging.getLogger(__name__)

T = TypeVar("T")
_STOP = object()


class StoreWriter:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[[Store], T]) -> Future[T]:
        future: Future[T] = Future()
        self._queue.put((fn, future))
        return future

    def call(self, fn: Callable[[Store], T], timeout: float | None = 30.0) -> T:
        """Submit and wait: for callers that need the result (not capture or archive)."""
        return self.submit(fn).result(timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Write everything queued so far, then stop."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(self.store))
            except BaseException as e:  # noqa: BLE001 - handed to the future's owner
                logger.exception("store write failed")
                future.set_exception(e)
