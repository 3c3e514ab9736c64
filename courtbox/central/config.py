"""The centre's configuration: one TOML file shared by every collector of a court.

``--config PATH``, else ``$COURTBOX_CENTRAL_CONFIG``, else ``/etc/courtbox/central.toml``
if it exists, else the defaults (which name no database: one must then come from
``--database`` or ``$COURTBOX_CENTRAL_DATABASE``). Unknown keys are errors, each problem a
line naming its key.

```toml
[central]
database = "postgresql://courtbox@db.court.example/courtbox"
spool_dir = "/var/lib/courtbox-central/spool"

[objects]
endpoint = "https://s3.court.example"
bucket = "courtbox-audio"
retention_years = 30

[collector]
concurrency = 16
lease_s = 30

[web]                      # courtbox central serve
port = 8760
tls_cert = "/etc/courtbox/central-web.crt"
tls_key = "/etc/courtbox/central-web.key"
```
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from courtbox.errors import ConfigError

DEFAULT_PATH = Path("/etc/courtbox/central.toml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CentralSection(_Section):
    database: str = Field("", description="libpq connection string or URI of the centre's "
                          "PostgreSQL (postgresql://user@host/db); every collector and "
                          "the web service share it.")
    spool_dir: Path = Field(Path("/var/lib/courtbox-central/spool"), description=(
        "Local folder for audio files being downloaded (``parts/*.part``, resumed with "
        "HTTP Range after a crash) before they go to the object store; nothing stays."))
    pool_size: int = Field(0, ge=0, le=500, description="PostgreSQL connections per "
                           "process (0: collector.concurrency + 4).")


class ObjectsSection(_Section):
    endpoint: str = Field("", description="The S3 API's URL (Ceph RGW, SeaweedFS, a "
                          "cloud's); empty: the AWS default for the region.")
    bucket: str = Field("courtbox-audio", min_length=3, max_length=63,
                        description="Bucket of the audio; created with Object Lock if absent.")
    region: str = Field("us-east-1", description="S3 region name.")
    access_key: str = Field("", description="S3 access key; empty: boto3's own chain "
                            "($AWS_ACCESS_KEY_ID, ~/.aws, instance role).")
    secret_key: str = Field("", description="S3 secret key (keep this file 0640); empty: "
                            "boto3's own chain.")
    retention_years: int = Field(30, ge=1, le=100, description=(
        "Default retention of every audio object, COMPLIANCE mode: nobody, the store's "
        "operators included, can delete or shorten it before then."))
    ca_bundle: str = Field("", description="PEM file of the CA that signed the S3 "
                           "endpoint's certificate (empty: the system's).")
    addressing: str = Field("path", pattern="^(path|virtual)$", description=(
        "S3 addressing style: path (https://host/bucket/key) or virtual (bucket.host)."))


class CollectorSection(_Section):
    concurrency: int = Field(8, ge=1, le=1024, description="Boxes one collector pulls at "
                             "the same time (and leases at most).")
    lease_s: float = Field(30.0, ge=2, le=3600, description=(
        "Seconds a box's lease lasts; renewed every third of it while the box is pulled. A "
        "collector that dies loses its boxes to the others this long after."))
    interval_s: float = Field(10.0, ge=0.1, le=3600, description=(
        "Seconds between two pulls of the same box (its heartbeat's age at most, roughly)."))
    timeout_s: float = Field(30.0, ge=1, le=600, description="HTTP timeout towards a box.")
    heartbeat_history_s: float = Field(300.0, ge=0, le=86400, description=(
        "Seconds between two heartbeats of a box kept in the history (the latest is always "
        "kept on the box's row)."))
    partitions_ahead: int = Field(3, ge=1, le=24, description=(
        "Months of partitions of the large tables created ahead of time."))


class WebSection(_Section):
    host: str = Field("127.0.0.1", description="Address the web service "
                      "(``courtbox central serve``) binds to.")
    port: int = Field(8760, ge=0, le=65535, description="Its TCP port (0: any free one).")
    tls_cert: str = Field("", description="PEM certificate (chain) it serves, from the "
                          "court's CA; required (the service speaks HTTPS only).")
    tls_key: str = Field("", description="PEM private key of ``tls_cert`` (readable by "
                         "the service's account only).")
    timezone: str = Field("Asia/Shanghai", description="The court's time zone (IANA "
                          "name): every time the pages and the API show is local to it.")
    session_hours: float = Field(12.0, ge=0.1, le=720, description="Hours a login lasts.")
    login_failures_max: int = Field(5, ge=1, le=1000, description=(
        "Failed logins of one account from one address within ``login_window_s`` before "
        "that pair is refused (429) until the window has passed."))
    login_source_failures_max: int = Field(20, ge=1, le=100000, description=(
        "Failed logins from one address over every account within the window."))
    login_window_s: float = Field(300.0, ge=1, le=86400, description=(
        "The login-throttling window; refusals are written as one audit row per address "
        "per window."))
    disk_low_hours: float = Field(8.0, ge=0, le=10000, description=(
        "A box with fewer hours of recording left on its disk needs a technician."))
    unreachable_after_s: float = Field(0.0, ge=0, le=86400, description=(
        "A box whose last heartbeat is older is unreachable (0: three pulls, "
        "3 × collector.interval_s, and at least 60 s)."))

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {value!r}") from e
        return value


class CentralConfig(_Section):
    central: CentralSection = Field(default_factory=CentralSection,
                                    description="The database and the local spool.")
    objects: ObjectsSection = Field(default_factory=ObjectsSection,
                                    description="The S3 object store of the audio.")
    collector: CollectorSection = Field(default_factory=CollectorSection,
                                        description="How collectors share the boxes.")
    web: WebSection = Field(default_factory=WebSection,
                            description="The web service: dashboard and e-case feed.")


def load_central_config(path: Path | None = None, *, database: str | None = None
                        ) -> CentralConfig:
    """The config at ``path`` (or where the environment says), with ``database`` (or
    ``$COURTBOX_CENTRAL_DATABASE``) in place of its DSN when given."""
    source = path or (Path(os.environ["COURTBOX_CENTRAL_CONFIG"])
                      if os.environ.get("COURTBOX_CENTRAL_CONFIG") else None)
    if source is None and DEFAULT_PATH.exists():
        source = DEFAULT_PATH
    raw: dict = {}
    if source is not None:
        try:
            raw = tomllib.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError([f"cannot read {source}: {e}"], str(source)) from e
    try:
        config = CentralConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError([f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}"
                           for err in e.errors()], str(source or "")) from e
    dsn = database or os.environ.get("COURTBOX_CENTRAL_DATABASE")
    if dsn:
        config.central.database = dsn
    if not config.central.database:
        raise ConfigError(["central.database: no PostgreSQL named (set it in the central "
                           "config, --database or $COURTBOX_CENTRAL_DATABASE)"],
                          str(source or ""))
    return config
