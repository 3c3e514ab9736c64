"""What the live pages are told: final and partial lines, corrections, annotations, state
changes and level meters, each an event with a sequence number.

``LiveHub.publish`` may be called from any thread (the recorder's callbacks run on its
threads); events reach the subscribers' asyncio queues through the event loop. The last
``keep`` events (all but level meters, which are stale a tenth of a second later) stay in
a ring buffer, so a page that lost its WebSocket reconnects with the last ``seq`` it saw
and receives exactly what it missed; one that was away longer than the buffer reaches is
told to ``reload`` the transcript from the REST API instead. Numbers start at the
service's start time in milliseconds, so after a restart a page's old ``seq`` is older than
anything in the buffer and it reloads too. A page may see an event both in the replay and
live; it ignores any ``seq`` it has already seen.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

EPHEMERAL = {"levels"}  # not kept for replay


@dataclass(eq=False)  # each one is itself: hashed by identity
class Subscriber:
    hearing_id: str
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(maxsize=1000))


class LiveHub:
    def __init__(self, loop: asyncio.AbstractEventLoop, keep: int = 5000) -> None:
        self.loop = loop
        self._seq = itertools.count(int(time.time() * 1000))
        self._events: collections.deque[dict] = collections.deque(maxlen=keep)
        self._subscribers: set[Subscriber] = set()
        self._lock = threading.Lock()
        self.last_seq = next(self._seq)

    def publish(self, hearing_id: str, type_: str, **data) -> None:
        with self._lock:
            seq = next(self._seq)
            self.last_seq = seq
            event = {"seq": seq, "hearing_id": hearing_id, "type": type_, **data}
            if type_ not in EPHEMERAL:
                self._events.append(event)
        try:
            self.loop.call_soon_threadsafe(self._deliver, event)
        except RuntimeError:  # the loop is closed: the service is shutting down
            pass

    def _deliver(self, event: dict) -> None:
        for sub in list(self._subscribers):
            if sub.hearing_id != event["hearing_id"]:
                continue
            if sub.queue.full():
                if event["type"] in EPHEMERAL:
                    continue
                # A page this far behind has stopped reading; it reloads when it wakes.
                while not sub.queue.empty():
                    sub.queue.get_nowait()
                sub.queue.put_nowait({"seq": event["seq"], "hearing_id": sub.hearing_id,
                                      "type": "reload"})
                continue
            sub.queue.put_nowait(event)

    def subscribe(self, hearing_id: str, after: int | None) -> tuple[Subscriber, list[dict]]:
        """A new subscriber and what it missed since ``after`` (None: nothing to replay)."""
        sub = Subscriber(hearing_id)
        with self._lock:
            self._subscribers.add(sub)
            if after is None or after >= self.last_seq:
                return sub, []
            oldest = self._events[0]["seq"] if self._events else self.last_seq + 1
            if after < oldest - 1:
                return sub, [{"seq": self.last_seq, "hearing_id": hearing_id,
                              "type": "reload"}]
            return sub, [e for e in self._events
                         if e["seq"] > after and e["hearing_id"] == hearing_id]

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    def close(self) -> None:
        """Tell every subscriber that the service is stopping (a ``shutdown`` event, past
        anything still queued): each live socket then closes with 1001, going away. Call
        it on the hub's loop."""
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            while sub.queue.full():
                sub.queue.get_nowait()
            sub.queue.put_nowait({"seq": self.last_seq, "hearing_id": sub.hearing_id,
                                  "type": "shutdown"})
