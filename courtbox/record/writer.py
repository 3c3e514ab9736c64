"""The store's single writer: one thread, fed by a queue, answering with futures.

SQLite allows one writer at a time; funnelling every write through one thread (as datasette
does) keeps transactions short and ordered and lets the archive, the recogniser and the
event loop hand over records without ever waiting on the database. A failed write is logged
with its traceback and raised to whoever looks at its future; it never stops the writer.

A full disk is not a failure of the write but of the moment: SQLite rolls the transaction
back intact, and the writer retries the same write every ``FULL_RETRY_S`` until space
returns, holding everything behind it in order (at close it gives up after
``FULL_RETRIES_AT_CLOSE`` tries).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from courtbox.errors import CourtboxError
from courtbox.record.store import Store

logger = logging.getLogger(__name__)

T = TypeVar("T")
_STOP = object()
FULL_RETRY_S = 2.0
FULL_RETRIES_AT_CLOSE = 5


def _disk_full(e: BaseException) -> bool:
    return isinstance(e, sqlite3.OperationalError) and "full" in str(e).lower()


class StoreWriter:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._closing = threading.Event()
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
        self._closing.set()
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            fn, future = item
            if not future.set_running_or_notify_cancel():
                continue
            tries = 0
            while True:
                try:
                    future.set_result(fn(self.store))
                except BaseException as e:  # noqa: BLE001 - handed to the future's owner
                    tries += 1
                    if _disk_full(e) and not (self._closing.is_set()
                                              and tries > FULL_RETRIES_AT_CLOSE):
                        if tries == 1:
                            logger.error("database disk full; holding writes until space "
                                         "returns")
                        time.sleep(FULL_RETRY_S)
                        continue
                    if isinstance(e, CourtboxError):  # refused on purpose: the caller says why
                        logger.info("store write refused: %s", e)
                    else:
                        logger.exception("store write failed")
                    future.set_exception(e)
                break
