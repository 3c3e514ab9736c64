"""Which boxes a collector pulls, and when: leases in the database, so that any number of
``courtbox central run`` processes share the boxes with nothing but PostgreSQL between them.

A collector takes due boxes (``boxes.take``: free or expired leases, ``FOR UPDATE SKIP
LOCKED``) up to its ``concurrency``, pulls each in its own task, renews the leases of those
in flight every third of ``lease_s`` and gives each back when its pull ends, due again
``interval_s`` later. A lease it finds taken by another (its own expired while it was
stalled) ends that pull: the other collector has the box now, and a pull done twice is
harmless anyway (idempotent inserts, content-addressed objects). A collector killed with
SIGKILL renews nothing: its boxes go to the others once their leases expire.

``one_round`` (``courtbox central run --once``) pulls every box once, not by due time:
boxes whose last pull ended before the round began, by whichever collector; it waits for
the ones other collectors hold (or held, until their leases expire).
"""

from __future__ import annotations

import asyncio
import logging
import time

import psycopg

logger = logging.getLogger(__name__)

PARTITIONS_EVERY_S = 3600.0


async def _renew(collector, inflight: dict[int, asyncio.Task], releasing: set[int],
                 stop: asyncio.Event) -> None:
    """Renew the leases of the pulls in flight; a pull whose lease another collector holds
    now is stopped. ``releasing``: boxes whose pull is giving its lease back already (not
    renewed, and not lost: the lease is free because this collector freed it)."""
    every = collector.store.config.collector.lease_s / 3
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass
        ids = [i for i, t in inflight.items() if not t.done() and i not in releasing]
        if not ids or stop.is_set():
            continue
        try:
            kept = await collector.db("renew", collector.name, ids)
        except psycopg.Error as e:
            logger.warning("cannot renew leases: %s", e)
            continue
        for box in set(ids) - kept - releasing:
            logger.warning("lease on box %s lost to another collector: its pull stops", box)
            inflight[box].cancel()


async def _pull_leased(collector, box: dict, next_in_s: float, releasing: set[int]):
    try:
        return await collector.pull_box(box)
    finally:
        releasing.add(box["id"])
        try:
            await collector.db("release", collector.name, box["id"], next_in_s)
        except psycopg.Error as e:  # it expires by itself
            logger.warning("cannot give back the lease on %s: %s", box["url"], e)


async def _take(collector, inflight: dict, round_since) -> list[dict]:
    free = collector.concurrency - len(inflight)
    if free <= 0:
        return []
    return await collector.db("take", collector.name, free, round_since=round_since)


async def _drive(collector, *, round_since, interval: float) -> list:
    """Take, pull and give back boxes; with ``round_since`` until every box was pulled
    since then, else for ever."""
    inflight: dict[int, asyncio.Task] = {}
    releasing: set[int] = set()
    reports = []
    stop = asyncio.Event()
    renewer = asyncio.create_task(_renew(collector, inflight, releasing, stop))
    poll = max(0.05, min(0.5, interval))
    partitions_at = time.monotonic()
    try:
        while True:
            try:
                taken = await _take(collector, inflight, round_since)
                if not inflight and not taken and round_since is not None and (
                        not await collector.db("waiting", round_since)):
                    return reports
            except psycopg.Error as e:
                logger.error("the centre's database fails: %s", e)
                if round_since is not None and not inflight:
                    return reports  # what is left waits for the next round
                taken = []
                await asyncio.sleep(poll * 4)
            for box in taken:
                inflight[box["id"]] = asyncio.create_task(
                    _pull_leased(collector, box, interval, releasing))
            if not inflight and not taken:
                await asyncio.sleep(poll)
            elif inflight:
                await asyncio.wait(list(inflight.values()), timeout=poll,
                                   return_when=asyncio.FIRST_COMPLETED)
            for box_id, task in list(inflight.items()):
                if task.done():
                    del inflight[box_id]
                    releasing.discard(box_id)
                    if task.cancelled():
                        continue
                    report = task.result()
                    if round_since is not None:
                        reports.append(report)
                    elif report.error or report.quarantined:
                        logger.warning("box %s: %s", report.url,
                                       report.error or report.quarantined)
            if round_since is None and time.monotonic() - partitions_at > PARTITIONS_EVERY_S:
                await collector.db("ensure_partitions")
                partitions_at = time.monotonic()
    finally:
        stop.set()
        for task in inflight.values():
            task.cancel()
        await asyncio.gather(renewer, *inflight.values(), return_exceptions=True)


async def one_round(collector) -> list:
    """Every box pulled once; the reports of those this collector pulled."""
    await collector.db("ensure_partitions")
    since = await collector.db("now")
    return await _drive(collector, round_since=since,
                        interval=collector.store.config.collector.interval_s)


async def run_forever(collector, interval: float | None = None,
                      rounds: int | None = None) -> None:
    """Pull each box every ``interval`` seconds, for ever (or ``rounds`` whole rounds)."""
    interval = interval or collector.store.config.collector.interval_s
    await collector.db("ensure_partitions")
    if rounds is not None:
        for n in range(rounds):
            for report in await one_round(collector):
                if report.error:
                    logger.warning("box %s: %s", report.url, report.error)
            if n + 1 < rounds:
                await asyncio.sleep(interval)
        return
    await _drive(collector, round_since=None, interval=interval)
