"""`courtbox central migrate`, `add-box`, `run`, `status`, `hold`, `user add` and `serve`:
the court's centre (PostgreSQL and an S3 store with Object Lock; any number of collectors;
its web service)."""

from __future__ import annotations

import functools
import json
import logging
import sys
from pathlib import Path

import click

from courtbox.cli.shell import EXIT_ERROR, actor, fail
from courtbox.errors import CourtboxError

logger = logging.getLogger(__name__)

@click.group("central")
def central_group() -> None:
    """The court's centre: pulls, verifies and keeps every box's records (PostgreSQL) and
    audio (an S3 store with Object Lock); any number of collectors share them."""


def central_options(fn):
    """``--config``, ``--database`` and ``--data-dir``; the command gets ``config``."""

    @click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                  help="The centre's TOML (default $COURTBOX_CENTRAL_CONFIG, else "
                  "/etc/courtbox/central.toml).")
    @click.option("--database", default=None, help="PostgreSQL DSN instead of the "
                  "config's central.database (also $COURTBOX_CENTRAL_DATABASE).")
    @click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
                  default=None, help="Local folder of the collector (its download spool "
                  "under spool/) instead of the config's central.spool_dir.")
    @functools.wraps(fn)
    def wrapper(config_path: Path | None, database: str | None, data_dir: Path | None,
                **kwargs):
        from courtbox.central.config import load_central_config

        try:
            config = load_central_config(config_path, database=database)
            if data_dir is not None:
                config.central.spool_dir = data_dir / "spool"
            return fn(config=config, **kwargs)
        except CourtboxError as e:
            fail(e)

    return wrapper


def _store(config, **kwargs):
    from courtbox.central.store import CentralStore

    return CentralStore(config, **kwargs)


@central_group.command("migrate")
@central_options
def central_migrate(config) -> None:
    """Create or bring up to date the centre's database schema (numbered migrations, and
    the monthly partitions ahead) and its bucket (Object Lock, default COMPLIANCE
    retention). Safe to run again, and from several machines at once.

    \b
    Example:
        courtbox central migrate --config /etc/courtbox/central.toml
    """
    store = _store(config, pool_size=2)
    try:
        applied = store.migrate()
        store.objects.ensure_bucket()
        lock = store.objects.lock_configuration()
    finally:
        store.close()
    retention = lock.get("Rule", {}).get("DefaultRetention", {})
    click.echo(f"schema: {'applied ' + ', '.join(map(str, applied)) if applied else 'current'}"
               f"; bucket {config.objects.bucket}: Object Lock {lock.get('ObjectLockEnabled')},"
               f" {retention.get('Mode')} {retention.get('Years')} years")


@central_group.command("add-box")
@click.argument("url")
@click.option("--token", required=True, help="The token `courtbox sync enroll` printed.")
@click.option("--fingerprint", required=True, help="The box's key fingerprint to pin.")
@central_options
def central_add_box(url: str, token: str, fingerprint: str, config) -> None:
    """Add (or update) a box the centre pulls, pinning its key fingerprint (and, at the
    first pull, the TLS certificate that key signed).

    \b
    Example:
        courtbox central add-box https://10.1.2.3:8750 --token T --fingerprint SHA256:x \\
            --config /etc/courtbox/central.toml
    """
    if not url.startswith(("http://", "https://")):
        fail(CourtboxError(f"box url {url!r} must start with https:// (or http://)"))
    if url.startswith("http://"):
        click.echo(f"courtbox: warning: {url} is plain HTTP: the token and the hearings "
                   "cross the network unencrypted; use https:// unless a TLS proxy of the "
                   "court's sits in front of the box", err=True)
    if not fingerprint.startswith("SHA256:"):
        fail(CourtboxError(f"fingerprint {fingerprint!r} must look like SHA256:..."))
    store = _store(config, pool_size=1)
    try:
        store.check_schema()
        store.add_box(url, token, fingerprint)
    finally:
        store.close()
    click.echo(f"added {url}")


@central_group.command("run")
@click.option("--interval", default=None, type=click.FloatRange(min=0.1),
              help="Seconds between two pulls of a box (default collector.interval_s).")
@click.option("--concurrency", default=None, type=click.IntRange(1, 1024),
              help="Boxes this collector pulls at the same time (default "
              "collector.concurrency).")
@click.option("--once", is_flag=True, help="One round over every box (until each has "
              "nothing more to give, by this collector or another), then exit.")
@click.option("--discover", is_flag=True, help="Also browse mDNS for _courtbox._tcp boxes "
              "and follow the address changes of boxes already added.")
@central_options
def central_run(interval: float | None, concurrency: int | None, once: bool,
                discover: bool, config) -> None:
    """Pull the boxes this collector leases: verify each record, chain link, signature
    and audio file, store the audio in the object store and the records in PostgreSQL,
    then acknowledge. Start as many as the court needs, on any machines.

    \b
    Example:
        courtbox central run --config /etc/courtbox/central.toml
    """
    import asyncio

    from courtbox.central.collector import Collector
    from courtbox.hardware.systemd import run_notified

    if interval is not None:
        config.collector.interval_s = interval
    if concurrency is not None:
        config.collector.concurrency = concurrency
    store = _store(config)
    browser = None
    try:
        store.check_schema()
        _check_lock(store)
        if discover:
            from courtbox.sync.discovery import BoxBrowser
            browser = BoxBrowser(store)
        collector = Collector(store)
        try:
            reports = asyncio.run(_until_sigterm(collector.pull_all() if once
                                                 else run_notified(collector.run())))
        except KeyboardInterrupt:
            reports = None
        for r in reports or []:
            state = f"error: {r.error}" if r.error else "ok"
            click.echo(f"{r.url} {r.box_id or '?'}: {r.records} records, {r.blobs} blobs "
                       f"({r.bytes} bytes), {len(r.quarantined)} quarantined; {state}")
    finally:
        if browser is not None:
            browser.close()
        store.close()
    if reports and any(r.quarantined or r.error for r in reports):
        sys.exit(EXIT_ERROR)


async def _until_sigterm(work):
    """``work``, ended by SIGTERM (``systemctl stop``) as by Ctrl-C: the pulls in flight
    stop and the collector gives its leases back, so other collectors take its boxes at
    once instead of after ``lease_s``."""
    import asyncio
    import signal

    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await work
    except asyncio.CancelledError:
        logger.info("SIGTERM: leases given back")
        return None
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _check_lock(store) -> None:
    """Refuse to collect into a bucket whose objects nobody locks."""
    lock = store.objects.lock_configuration()
    if lock.get("ObjectLockEnabled") != "Enabled":
        raise CourtboxError(f"bucket {store.objects.bucket} has no Object Lock: run "
                            "`courtbox central migrate` (a bucket made without it cannot "
                            "gain it; use a new one)")


@central_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@central_options
def central_status(as_json: bool, config) -> None:
    """Every box: its last heartbeat (recording, open hearing, disk hours, dead mics,
    clock, sync lag, version), what the centre holds, which collector has it, and
    anything quarantined.

    \b
    Example:
        courtbox central status --config /etc/courtbox/central.toml --json
    """
    from courtbox.central.collector import status

    store = _store(config, pool_size=1)
    try:
        store.check_schema()
        boxes, quarantined = status(store), store.quarantined()
        leases = {lease["url"]: lease for lease in store.leases()}
    finally:
        store.close()
    for b in boxes:
        lease = leases.get(b["url"], {})
        b["collector"] = lease.get("holder") if lease.get("held") else None
    if as_json:
        click.echo(json.dumps({"boxes": boxes, "quarantine": quarantined},
                              ensure_ascii=False, indent=2, default=str))
        return
    for b in boxes:
        _print_box(b)
    for q in quarantined:
        click.echo(f"QUARANTINED box {q['box_id']} hearing {q['hearing_id']} seq {q['seq']} "
                   f"{q['kind']} {q['record_id']}: {q['reason']}")


def _print_box(b: dict) -> None:
    hb = b["heartbeat"] or {}
    sync = hb.get("sync", {})
    click.echo(f"{b['url']}  {b['box_id'] or '(not yet reached)'}"
               f"{'  pulled by ' + b['collector'] if b['collector'] else ''}\n"
               f"  held: {b['records']} records, {b['blobs']} audio files "
               f"({b['blob_bytes']} bytes), cursor {b['cursor']}; last pull "
               f"{b['last_pull'] or 'never'}\n"
               f"  box: version {hb.get('version', '?')}, recording "
               f"{hb.get('recording', '?')}, open hearing {hb.get('open_hearing')}, "
               f"disk {hb.get('disk', {}).get('hours_left', '?')} h, dead mics "
               f"{hb.get('dead_mics', [])}, clock synced {hb.get('clock_synced')}, "
               f"lag {sync.get('lag_records', '?')} records / "
               f"{sync.get('lag_bytes', '?')} bytes")
    if b["blocked"]:
        click.echo(f"  BLOCKED at {b['blocked']}")
    if b["last_error"]:
        click.echo(f"  last error: {b['last_error']}")


@central_group.command("hold")
@click.argument("case_number")
@click.option("--release", is_flag=True, help="Lift the hold (the retention stays).")
@central_options
def central_hold(case_number: str, release: bool, config) -> None:
    """Put every audio object of a case's hearings (on any box) under legal hold in the
    object store, for an appeal: kept past its retention until released.

    \b
    Example:
        courtbox central hold "(2026)京0105民初123号" --config /etc/courtbox/central.toml
    """
    store = _store(config, pool_size=1)
    try:
        store.check_schema()
        shas = store.hold(case_number, release=release, actor=actor())
    finally:
        store.close()
    if not shas and not release:
        fail(CourtboxError(f"no audio held for case {case_number!r}"))
    click.echo(f"{'released' if release else 'held'} {len(shas)} audio object(s) of "
               f"case {case_number}")


@central_group.group("user")
def central_user_group() -> None:
    """The web service's accounts (operations, archivist)."""


@central_user_group.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["operations", "archivist"]),
              help="operations: the dashboard of the boxes; archivist: the e-case file "
              "(hearings, transcripts, audio, legal holds).")
@click.option("--display-name", default="", help="The person's name as the pages show it.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard "
              "input (one line) instead of prompting for it.")
@central_options
def central_user_add(name: str, role: str, display_name: str, password_stdin: bool,
                     config) -> None:
    """Add an account of the centre's web service (scrypt-hashed in PostgreSQL).

    \b
    Example:
        courtbox central user add zhang --role archivist --display-name 张三 \\
            --config /etc/courtbox/central.toml
    """
    from courtbox.central.web.accounts import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    store = _store(config, pool_size=1)
    try:
        store.check_schema()
        with store.pool.connection() as conn:
            add_user(conn, name, role, display_name, password)
    finally:
        store.close()
    click.echo(f"added {role} {name}")


@central_group.command("serve")
@click.option("--host", default=None, help="Address to bind (default web.host).")
@click.option("--port", default=None, type=click.IntRange(0, 65535),
              help="TCP port (default web.port; 0: any free one).")
@central_options
def central_serve(host: str | None, port: int | None, config) -> None:
    """Serve the operations dashboard (/ops), the e-case file (/ecase) and their JSON API
    (/api/v1, OpenAPI at /api/v1/openapi.json) over HTTPS with web.tls_cert/tls_key.

    \b
    Example:
        courtbox central serve --config /etc/courtbox/central.toml
    """
    from courtbox.central.web.serve import serve

    serve(config, host=host, port=port,
          announce=lambda line: click.echo(line, nl=True) or sys.stdout.flush())
