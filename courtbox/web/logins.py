"""Who may try a password, and what a guessing client costs the box.

- **The client's address** is the TCP peer, or, when the peer is one of the court's TLS
  proxies (``api.trusted_proxies``), the last address in ``X-Forwarded-For`` that is not a
  proxy: a header from anyone else is ignored, so a client cannot pick its own address.
- **Limits, separately per account and per source** (``LoginGate``): an account from one
  address gets ``api.login_failures_max`` failures within ``api.login_window_s``, an
  address ``api.login_source_failures_max`` over every account. An attacker's failures
  lock the judge's account for the attacker's address only, never for the bench. The check
  and the count are one step: an attempt is counted (pending) the moment it is admitted, so
  sixty parallel guesses get exactly the limit checked.
- **Password hashing** (scrypt, ~0.1 s) runs in threads beside the loop, at most
  ``HASH_CONCURRENCY`` at a time and never on the store's writer; more than ``MAX_WAITING``
  waiting are told 503 at once, so a burst can neither stall the recording's writes nor
  the clerk's buttons.
- **What a refused client costs**: nothing per attempt. Refusals (429) are counted per
  source and written as one ``user.login_throttled`` audit entry per window per source
  with the count (at most ``MAX_SUMMARIES`` entries a window, the rest in one more);
  failed logins are audit-logged one by one up to ``api.login_audit_per_minute`` box-wide,
  beyond that counted in the same summaries. The database grows by at most
  ``login_audit_per_minute`` rows a minute plus ``MAX_SUMMARIES + 1`` a window, whoever
  sends what.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from fastapi import FastAPI, Request

    from courtbox.web.deps import Api

logger = logging.getLogger(__name__)

HASH_CONCURRENCY = max(1, (os.cpu_count() or 2) // 2)  # scrypt at a time: half the cores
MAX_WAITING = 64  # logins waiting for a check; beyond, 503 at once
MAX_KEYS = 20_000  # accounts × sources and sources remembered; beyond, refused
MAX_SUMMARIES = 100  # refusal summaries written one per source per window
MAX_ACCOUNTS_NAMED = 10  # account names kept in one summary


class LoginLimits(BaseModel):
    """The ``api.login_*`` keys (``courtbox.config.ApiSection``)."""

    failures_max: int = 5
    source_failures_max: int = 20
    window_s: float = 300.0
    audit_per_minute: int = 60

    @classmethod
    def from_api(cls, api) -> LoginLimits:
        return cls(failures_max=api.login_failures_max,
                   source_failures_max=api.login_source_failures_max,
                   window_s=api.login_window_s, audit_per_minute=api.login_audit_per_minute)


def networks(items: Iterable) -> tuple:
    return tuple(ipaddress.ip_network(str(i), strict=False) for i in items)


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(request: Request, trusted: tuple) -> str:
    """The client a request comes from: its peer, or behind a trusted proxy the last
    ``X-Forwarded-For`` address that is not itself a trusted proxy."""
    peer = request.client.host if request.client else "?"
    peer_ip = _address(peer)
    if peer_ip is None or not any(peer_ip in n for n in trusted):
        return peer
    forwarded = request.headers.get("x-forwarded-for", "")
    for item in reversed(forwarded.split(",")[-32:]):
        ip = _address(item)
        if ip is None:
            break  # a forged or garbled entry: trust nothing left of it
        if not any(ip in n for n in trusted):
            return str(ip)
    return peer


@dataclass
class _Summary:
    started: float
    first: str
    refused: int = 0
    failed: int = 0  # failures beyond the audit budget, not logged one by one
    accounts: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Attempt:
    name: str
    source: str


class LoginGate:
    """The login limits, the refusal summaries and the audit budget of one app."""

    def __init__(self, limits: LoginLimits | None = None, trusted: Iterable = ()
                 ) -> None:
        self.limits = limits or LoginLimits()
        self.trusted = networks(trusted)
        self._failures: dict[tuple, deque] = {}
        self._pending: dict[tuple, int] = {}
        self._summaries: dict[str, _Summary] = {}
        self._tokens = float(self.limits.audit_per_minute)
        self._refilled = time.monotonic()
        self._lock = threading.Lock()
        self._hashing: asyncio.Semaphore | None = None
        self.waiting = 0

    # -- admission ------------------------------------------------------------------------

    def _count(self, key: tuple, now: float) -> int:
        recent = self._failures.get(key)
        if recent is not None:
            while recent and now - recent[0] >= self.limits.window_s:
                recent.popleft()
            if not recent:
                del self._failures[key]
        return len(recent or ()) + self._pending.get(key, 0)

    def _wait(self, key: tuple, limit: int, now: float) -> float:
        recent = self._failures.get(key) or deque([now])
        return recent[max(0, len(recent) - limit)] + self.limits.window_s - now

    def admit(self, name: str, source: str) -> Attempt | int:
        """The attempt, counted as pending; or the seconds until ``name`` from ``source``
        may try again (the refusal counted for the summary)."""
        now = time.monotonic()
        keys = (("pair", name, source), self.limits.failures_max), \
            (("source", source), self.limits.source_failures_max)
        with self._lock:
            if len(self._failures) + len(self._pending) > MAX_KEYS:
                self._prune(now)
            wait = 0.0
            for key, limit in keys:
                if self._count(key, now) >= limit:
                    wait = max(wait, self._wait(key, limit, now), 1.0)
            if not wait and len(self._failures) + len(self._pending) > MAX_KEYS:
                wait = self.limits.window_s  # remembering more would be unbounded
            if wait:
                self._summary(source, name, now).refused += 1
                return int(wait) + 1
            for key, _ in keys:
                self._pending[key] = self._pending.get(key, 0) + 1
        return Attempt(name, source)

    def done(self, attempt: Attempt, *, ok: bool | None) -> None:
        """The attempt's outcome: True (logged in), False (a failure), None (not checked)."""
        now = time.monotonic()
        pair, source = ("pair", attempt.name, attempt.source), ("source", attempt.source)
        with self._lock:
            for key in (pair, source):
                left = self._pending.get(key, 0) - 1
                if left > 0:
                    self._pending[key] = left
                else:
                    self._pending.pop(key, None)
                if ok is False:
                    self._failures.setdefault(key, deque()).append(now)
            if ok:
                self._failures.pop(pair, None)

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            self._count(key, now)

    # -- what refused clients cost ---------------------------------------------------------

    def _summary(self, source: str, name: str, now: float) -> _Summary:
        summary = self._summaries.get(source)
        if summary is None:
            if len(self._summaries) >= MAX_KEYS:
                source = "(others)"
                summary = self._summaries.get(source)
            if summary is None:
                summary = self._summaries[source] = _Summary(now, _utc())
        if name not in summary.accounts and len(summary.accounts) < MAX_ACCOUNTS_NAMED:
            summary.accounts.append(name)
        return summary

    def audit_failure(self, name: str, source: str) -> bool:
        """Whether this failed login may be audit-logged on its own (the box-wide budget);
        if not it is counted in its source's summary."""
        now = time.monotonic()
        with self._lock:
            rate = self.limits.audit_per_minute / 60.0
            self._tokens = min(float(self.limits.audit_per_minute),
                               self._tokens + (now - self._refilled) * rate)
            self._refilled = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            self._summary(source, name, now).failed += 1
            return False

    def due(self, *, force: bool = False) -> list[dict]:
        """The summaries whose window has ended (all with ``force``), as audit details: at
        most ``MAX_SUMMARIES``, the rest folded into one."""
        now = time.monotonic()
        with self._lock:
            ready = [s for s, v in self._summaries.items()
                     if force or now - v.started >= self.limits.window_s]
            taken = [(s, self._summaries.pop(s)) for s in ready]
        details = [{"client": s, "refused": v.refused, "failed_not_logged": v.failed,
                    "accounts": v.accounts, "since": v.first, "window_s":
                    self.limits.window_s} for s, v in taken[:MAX_SUMMARIES]]
        if rest := taken[MAX_SUMMARIES:]:
            details.append({"client": "(others)", "clients": len(rest),
                            "refused": sum(v.refused for _, v in rest),
                            "failed_not_logged": sum(v.failed for _, v in rest),
                            "accounts": [], "since": min(v.first for _, v in rest),
                            "window_s": self.limits.window_s})
        return details

    # -- hashing --------------------------------------------------------------------------

    def hashing(self) -> asyncio.Semaphore:
        if self._hashing is None:
            self._hashing = asyncio.Semaphore(HASH_CONCURRENCY)
        return self._hashing


def _utc() -> str:
    from courtbox.record.chain import utc_now
    return utc_now()


def gate_of(app: FastAPI) -> LoginGate:
    """The app's gate (``app.state.logins``, set by the agent from its config), else one
    with the defaults."""
    gate = getattr(app.state, "logins", None)
    if gate is None:
        gate = app.state.logins = LoginGate()
    return gate


async def flush(api: Api, gate: LoginGate, *, force: bool = False) -> int:
    """Write the refusal summaries that are due; returns how many."""
    details = gate.due(force=force)
    for detail in details:
        await asyncio.wrap_future(api.writer.submit(lambda s, d=detail: s.audit(
            f"client:{d['client']}", "user.login_throttled", None, **d)))
    if details:
        logger.warning("logins refused: %s", ", ".join(
            f"{d['client']} {d['refused']}×" for d in details[:5]))
    return len(details)


async def flush_every(api: Api, gate: LoginGate, interval_s: float = 30.0) -> None:
    """Write due summaries every ``interval_s`` (the agent runs this beside the API)."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await flush(api, gate)
        except Exception:  # noqa: BLE001 - a summary must not stop the agent
            logger.exception("cannot write the login refusal summaries")
