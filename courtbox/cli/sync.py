"""`courtbox identity` and `courtbox sync enroll` / `revoke` / `release`: the box on the
court network: its identity, the collectors that pull it, and the audio the centre holds.
"""

from __future__ import annotations

import json

import click

from courtbox.cli.shell import actor, config_options, fail
from courtbox.config import Config
from courtbox.errors import CourtboxError


@click.command("identity")
@config_options(data=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def identity_cmd(config: Config, as_json: bool) -> None:
    """Print the box id, its signing key's fingerprint and its TLS certificate's SHA-256
    (created on first use): the one a browser shows in its certificate viewer.

    \b
    Example:
        courtbox identity --data-dir /var/lib/courtbox
    """
    from courtbox.record.identity import load_identity
    from courtbox.sync.tls import api_certificate, box_certificate

    try:
        ident = load_identity(config.storage.data_dir)
        cert = (api_certificate(config.api, config.storage.data_dir, ident.box_id)
                or box_certificate(config.storage.data_dir, ident.box_id))
    except CourtboxError as e:
        fail(e)
    shown = ":".join(cert.sha256[i:i + 2] for i in range(0, 64, 2)).upper()
    if as_json:
        click.echo(json.dumps({**ident.public(), "tls_sha256": cert.sha256,
                               "tls_spki_sha256": cert.spki_sha256}))
    else:
        click.echo(f"box id       {ident.box_id}\nalgorithm    {ident.signer.algorithm}\n"
                   f"fingerprint  {ident.fingerprint}\ntls sha256   {shown}")


@click.group("sync")
def sync_group() -> None:
    """Sync to the court network: enrol the collectors that pull this box."""


@sync_group.command("enroll")
@config_options(data=True)
@click.argument("name")
@click.option("--url", help="How the collector reaches this box (default: from api.host "
              "and api.port).")
def sync_enroll(config: Config, name: str, url: str | None) -> None:
    """Issue a token for collector NAME (a new one replaces the old) and print the
    command that adds this box at the centre, with the key fingerprint to pin.

    \b
    Example:
        courtbox sync enroll central-1 --url https://10.1.2.3:8750
    """
    from courtbox.record.identity import open_store
    from courtbox.sync.collectors import enroll

    store = open_store(config.storage.data_dir)
    try:
        token = enroll(store, name, actor=actor())
        fingerprint = store.identity.fingerprint
    finally:
        store.close()
    scheme = "https" if config.api.tls else "http"
    url = url or f"{scheme}://{config.api.host}:{config.api.port}"
    click.echo(f"collector {name} enrolled; at the centre run:\n"
               f"  courtbox central add-box {url} --token {token} "
               f"--fingerprint {fingerprint}")


@sync_group.command("revoke")
@config_options(data=True)
@click.argument("name")
def sync_revoke(config: Config, name: str) -> None:
    """Revoke collector NAME: its token is refused from now on (401), and its
    acknowledgements no longer release any audio. Enrolling NAME again starts afresh.

    \b
    Example:
        courtbox sync revoke central-1
    """
    from courtbox.record.identity import open_store
    from courtbox.sync.collectors import revoke

    store = open_store(config.storage.data_dir)
    try:
        revoke(store, name, actor=actor())
    except CourtboxError as e:
        fail(e)
    finally:
        store.close()
    click.echo(f"collector {name} revoked: its token no longer works and its "
               "acknowledgements release nothing")


@sync_group.command("release")
@config_options(data=True)
@click.option("--dry-run", is_flag=True, help="Only list what would be released.")
def sync_release(config: Config, dry_run: bool) -> None:
    """Release (delete) the audio files the centre has acknowledged, whose hearing is
    closed and whose sync.retention_days have passed; the agent does this every 10 min.

    \b
    Example:
        courtbox sync release --dry-run
    """
    from courtbox.record.identity import open_store
    from courtbox.sync.retention import releasable, release

    store = open_store(config.storage.data_dir)
    try:
        if dry_run:
            segments = releasable(store, config.sync.retention_days)
        else:
            segments = release(store, config.storage.data_dir, config.sync.retention_days,
                               actor=actor())
    finally:
        store.close()
    for seg in segments:
        click.echo(seg["path"])
    click.echo(f"{'would release' if dry_run else 'released'} {len(segments)} segment(s)")
