"""The centre's store: PostgreSQL for the records (``courtbox.central.boxes`` and
``courtbox.central.records`` hold its SQL, ``courtbox.central.schema`` its migrations) and an
S3 object store with Object Lock for the audio (``courtbox.central.objects``).

One court has one centre: every ``courtbox central run`` process, on any machine, opens
the same database and bucket and shares nothing else. ``CentralStore`` is what the
collector, ``courtbox central status``/``hold`` and the mDNS browser
(``courtbox.sync.discovery``) use; its connections come from one psycopg pool, in autocommit
mode (each method is its own transaction, a batch's commit one too), safe to share between
threads.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg_pool import ConnectionPool

from courtbox.central import boxes as b
from courtbox.central import records as r
from courtbox.central.objects import ObjectStore
from courtbox.central.schema import current_version, ensure_partitions, migrate
from courtbox.errors import CourtboxError


class CentralStore:
    """The centre's database (and bucket) for one process; ``config`` is a
    ``CentralConfig``."""

    def __init__(self, config, *, pool_size: int | None = None,
                 objects: ObjectStore | None = None, name: str = "courtbox") -> None:
        self.config = config
        size = pool_size or config.central.pool_size or config.collector.concurrency + 4
        self.pool = ConnectionPool(config.central.database, min_size=1, max_size=size,
                                   kwargs={"autocommit": True, "application_name": name},
                                   open=False, timeout=60)
        try:
            self.pool.open(wait=True, timeout=30)
        except psycopg.Error as e:
            self.pool.close()
            raise CourtboxError(f"cannot reach the centre's database: {e}") from e
        self._objects = objects
        self.spool = Path(config.central.spool_dir)

    @property
    def objects(self) -> ObjectStore:
        if self._objects is None:
            self._objects = ObjectStore(self.config.objects,
                                        max_pool=self.config.collector.concurrency + 4)
        return self._objects

    def close(self) -> None:
        self.pool.close()
        if self._objects is not None:
            self._objects.close()

    def _do(self, fn, *args, **kwargs):
        with self.pool.connection() as conn:
            return fn(conn, *args, **kwargs)

    # -- schema ---------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        return self._do(migrate, self.config.collector.partitions_ahead)

    def check_schema(self) -> None:
        from courtbox.central.schema import MIGRATIONS

        have, want = self._do(current_version), MIGRATIONS[-1][0]
        if have < want:
            raise CourtboxError(f"the centre's database is at schema {have}, this courtbox "
                                f"needs {want}: run `courtbox central migrate`")

    def ensure_partitions(self) -> list[str]:
        return self._do(ensure_partitions, self.config.collector.partitions_ahead)

    def now(self):
        """The database's clock (every collector's common time)."""
        return self._do(lambda c: c.execute("SELECT now()").fetchone()[0])

    # -- boxes ----------------------------------------------------------------------------

    def add_box(self, url: str, token: str, fingerprint: str) -> None:
        self._do(b.add_box, url, token, fingerprint)

    def boxes(self) -> list[dict]:
        return self._do(b.boxes)

    def box(self, url: str) -> dict:
        (box,) = self._do(b.boxes, "WHERE b.url = %s", [url])
        return box

    def update_box(self, url: str, **changes) -> None:
        self._do(b.update_box, url, changes)

    def heartbeat(self, url: str, health: dict) -> None:
        self._do(b.heartbeat, url, health,
                 history_s=self.config.collector.heartbeat_history_s)

    def move_box(self, url: str, new_url: str) -> None:
        self._do(b.move_box, url, new_url)

    # -- leases ---------------------------------------------------------------------------

    def take(self, holder: str, n: int, *, round_since=None) -> list[dict]:
        return self._do(b.take, holder, n, self.config.collector.lease_s,
                        round_since=round_since)

    def renew(self, holder: str, box_ids: list[int]) -> set[int]:
        return self._do(b.renew, holder, box_ids, self.config.collector.lease_s)

    def release(self, holder: str, box_id: int, next_in_s: float) -> None:
        self._do(b.release, holder, box_id, next_in_s)

    def leases(self) -> list[dict]:
        return self._do(b.leases)

    def waiting(self, since) -> int:
        return self._do(b.waiting, since)

    # -- what is held ---------------------------------------------------------------------

    def held(self, box_id: str, seq: int) -> str | None:
        """The sha256 of the entry held for ``seq``, if any."""
        return self._do(r.held, box_id, seq)

    def head(self, box_id: str, hearing_id: str | None) -> str | None:
        return self._do(r.heads, box_id, hearing_id)[0]

    def audio_head(self, box_id: str, hearing_id: str) -> str | None:
        return self._do(r.heads, box_id, hearing_id)[1]

    def has_object(self, sha256: str) -> bool:
        return self._do(r.has_object, sha256)

    def acked_by_box(self, box_id: str, sha256: str) -> bool:
        """Whether the box has already accepted an acknowledgement of this audio."""
        return self._do(r.acked_by_box, box_id, sha256)

    def commit_batch(self, box: dict, entries: list[dict], blobs: list[dict], cursor: int,
                     collector: str = "") -> int:
        return self._do(r.commit_batch, box, entries, blobs, cursor, collector)

    def unacked_blobs(self, box_id: str) -> list[str]:
        """The sha256 of every object of the box stored here but not yet acknowledged."""
        return self._do(r.unacked_blobs, box_id)

    def blobs_acked(self, box_id: str, sha256s: list[str]) -> None:
        self._do(r.blobs_acked, box_id, sha256s)

    def held_totals(self, box_id: str | None) -> dict:
        return self._do(r.held_totals, box_id)

    def quarantine(self, box_id: str, entry: dict, reason: str) -> bool:
        return self._do(r.quarantine, box_id, entry, reason)

    def quarantined(self) -> list[dict]:
        return self._do(r.quarantined)

    def sql(self, query: str, params=()) -> list[tuple]:
        """Rows of a read-only query (for operators and tests)."""
        return self._do(lambda c: c.execute(query, params).fetchall())

    # -- legal holds ----------------------------------------------------------------------

    def hold(self, case_number: str, *, release: bool = False, actor: str = "operator"
             ) -> list[str]:
        """Set (or with ``release`` lift) the legal hold on every audio object of the case's
        hearings, in the object store first, then as recorded here. A release leaves the
        objects that another case under hold shares. Returns their sha256s."""
        objs = self._do(r.case_objects, case_number)
        shas = [o["sha256"] for o in objs]
        if release:
            shared = set(self._do(r.held_by_other_cases, case_number, shas))
            shas = [s for s in shas if s not in shared]
        if not shas:
            return []
        for sha in shas:
            self.objects.legal_hold(sha, not release)
        self._do(r.held_for, shas, not release, case_number=case_number, actor=actor)
        return shas

    # -- boxes seen on the network (courtbox.sync.discovery) ------------------------------

    def enable_discovery(self) -> None:
        """The table is part of the schema: nothing to do."""

    def saw_box(self, box_id: str, url: str, *, court: str | None, room: str | None,
                fingerprint: str | None) -> None:
        self._do(b.saw_box, box_id, url, court=court, room=room, fingerprint=fingerprint)

    def discovered(self) -> list[dict]:
        return self._do(b.discovered)
