"""Login throttling, and what a guessing client costs the centre.

- Failed logins are counted per (account, address) and per address, in a sliding window
  of ``web.login_window_s``: past ``login_failures_max`` (``login_source_failures_max``)
  the pair (the address) is refused with 429 and ``Retry-After`` until the window has
  moved on. An attacker's failures lock an account for the attacker's address only.
- A refused client writes nothing at once: refusals are counted per address and written
  as one ``login_throttled`` audit row per address per window (at most ``MAX_SUMMARIES``
  a window, the rest folded into one). Failed logins are audited one by one up to
  ``AUDIT_PER_MINUTE`` service-wide; beyond that they go into the same summaries.
- What is remembered is bounded: at most ``MAX_KEYS`` counters and summaries; beyond, new
  addresses are refused as one ``(others)``.

The counters are per process: a court running several web processes behind a balancer
multiplies the limits by their number (still bounded).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

MAX_KEYS = 20_000
MAX_SUMMARIES = 100
AUDIT_PER_MINUTE = 60
MAX_ACCOUNTS_NAMED = 10


@dataclass
class Summary:
    refused: int = 0
    failed_not_logged: int = 0
    accounts: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)


class LoginGate:
    def __init__(self, *, failures_max: int, source_failures_max: int,
                 window_s: float) -> None:
        self.limits = {"pair": failures_max, "source": source_failures_max}
        self.window_s = window_s
        self._failures: dict[tuple, deque] = {}
        self._summaries: dict[str, Summary] = {}
        self._tokens = float(AUDIT_PER_MINUTE)
        self._refilled = time.monotonic()
        self._lock = threading.Lock()

    def _recent(self, key: tuple, now: float) -> deque:
        recent = self._failures.get(key)
        if recent is None:
            return deque()
        while recent and now - recent[0] >= self.window_s:
            recent.popleft()
        if not recent:
            del self._failures[key]
        return recent

    def refuse(self, name: str, source: str) -> int:
        """0 when ``name`` from ``source`` may try; else the seconds to wait (counted for
        the address's summary)."""
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > MAX_KEYS:
                for key in list(self._failures):
                    self._recent(key, now)
            wait = 0.0
            for kind, key in (("pair", ("pair", name, source)), ("source", ("source", source))):
                recent = self._recent(key, now)
                if len(recent) >= self.limits[kind]:
                    wait = max(wait, recent[-self.limits[kind]] + self.window_s - now)
            if not wait and len(self._failures) > MAX_KEYS:
                wait = self.window_s  # remembering one more would be unbounded
            if wait:
                self._summary(source, name).refused += 1
                return int(wait) + 1
        return 0

    def failed(self, name: str, source: str) -> bool:
        """Count a failed login; True when it may be audited on its own row."""
        now = time.monotonic()
        with self._lock:
            for key in (("pair", name, source), ("source", source)):
                recent = self._failures.setdefault(key, deque())
                recent.append(now)
                while len(recent) > max(self.limits.values()):
                    recent.popleft()
            self._tokens = min(float(AUDIT_PER_MINUTE),
                               self._tokens + (now - self._refilled) * AUDIT_PER_MINUTE / 60)
            self._refilled = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            self._summary(source, name).failed_not_logged += 1
            return False

    def succeeded(self, name: str, source: str) -> None:
        with self._lock:
            self._failures.pop(("pair", name, source), None)

    def _summary(self, source: str, name: str) -> Summary:
        if source not in self._summaries and len(self._summaries) >= MAX_KEYS:
            source = "(others)"
        summary = self._summaries.setdefault(source, Summary())
        if name not in summary.accounts and len(summary.accounts) < MAX_ACCOUNTS_NAMED:
            summary.accounts.append(name[:40])
        return summary

    def due(self, *, force: bool = False) -> list[dict]:
        """The summaries whose window has ended (every one with ``force``), as audit
        details: at most ``MAX_SUMMARIES``, the rest in one more."""
        now = time.monotonic()
        with self._lock:
            ready = [s for s, v in self._summaries.items()
                     if force or now - v.started >= self.window_s]
            taken = [(s, self._summaries.pop(s)) for s in ready]
        out = [{"client": s, "refused": v.refused, "failed_not_logged": v.failed_not_logged,
                "accounts": v.accounts, "window_s": self.window_s}
               for s, v in taken[:MAX_SUMMARIES]]
        if rest := taken[MAX_SUMMARIES:]:
            out.append({"client": "(others)", "clients": len(rest),
                        "refused": sum(v.refused for _, v in rest),
                        "failed_not_logged": sum(v.failed_not_logged for _, v in rest),
                        "accounts": [], "window_s": self.window_s})
        return out
