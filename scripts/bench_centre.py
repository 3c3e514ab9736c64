"""The centre of ``scripts/bench_central.py``: a PostgreSQL server and an S3 store, local
ones started by ``scripts/central_local.py`` or the ones given, and a database, a bucket and
a central TOML of their own for each run on them."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

import central_local  # beside this module: bench_central.py puts scripts/ on sys.path
import psycopg


class Centre:
    """A PostgreSQL server and an S3 store: local ones in ``root`` (stopped at the end), or
    the ones given; a database and a bucket of their own for each run on them."""

    def __init__(self, root: Path, database: str | None, s3: str | None) -> None:
        self.local = central_local
        self.pg = self.weed = None
        if database is None:
            self.pg = self.local.LocalPostgres(root / "postgres")
            database = self.pg.dsn()
        self.admin = database
        if s3 is None:
            self.weed = self.local.LocalSeaweed(root / "seaweedfs")
            s3 = self.weed.endpoint
        self.endpoint = s3
        self.created: list[str] = []

    def new(self, root: Path, tag: str, interval: float, concurrency: int) -> tuple[str, Path]:
        name = f"bench_{tag}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        self.created.append(name)
        dsn = psycopg.conninfo.make_conninfo(self.admin, dbname=name)
        config = root / f"central-{tag}.toml"
        config.write_text(CONFIG.format(dsn=dsn, spool=root / f"spool-{tag}",
                                        endpoint=self.endpoint, bucket=name.replace("_", "-"),
                                        interval=interval, concurrency=concurrency),
                          encoding="utf-8")
        return dsn, config

    def postmaster(self) -> int | None:
        """The server's pid, where it runs on this machine (the parent of a backend)."""
        with psycopg.connect(self.admin, autocommit=True) as conn:
            backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        try:
            text = Path(f"/proc/{backend}/stat").read_text()
        except OSError:
            return None
        return int(text[text.rindex(")") + 2:].split()[1])

    def close(self) -> None:
        if self.pg is None:  # the caller's server: leave it as found
            with contextlib.suppress(psycopg.Error), \
                    psycopg.connect(self.admin, autocommit=True) as conn:
                for name in self.created:
                    conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if self.weed is not None:
            self.weed.stop()
        if self.pg is not None:
            self.pg.stop()


CONFIG = """[central]
database = "{dsn}"
spool_dir = "{spool}"

[objects]
endpoint = "{endpoint}"
bucket = "{bucket}"
access_key = "bench"
secret_key = "bench"
retention_years = 1

[collector]
concurrency = {concurrency}
lease_s = 30
interval_s = {interval}
timeout_s = 60
"""
