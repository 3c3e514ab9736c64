"""`courtbox install` and `uninstall`: this Debian machine as a courtbox appliance."""

from __future__ import annotations

from pathlib import Path

import click

from courtbox.cli.shell import fail
from courtbox.errors import CourtboxError


@click.command("install")
@click.option("--root", default="/", type=click.Path(file_okay=False, path_type=Path),
              help="Install into this tree (an image, a staging dir) instead of /.")
@click.option("--central", is_flag=True,
              help="Also install the centre's units (collector, web service) and its config.")
@click.option("--now", "start", is_flag=True, help="Start the units too.")
def install_cmd(root: Path, central: bool, start: bool) -> None:
    """Make this Debian machine a courtbox: accounts, config skeleton, systemd units.

    \b
    Example:
        sudo .venv/bin/courtbox install --now
    """
    from courtbox.appliance.install import install

    try:
        install(root, central=central, start=start, say=click.echo)
    except CourtboxError as e:
        fail(e)


@click.command("uninstall")
@click.option("--root", default="/", type=click.Path(file_okay=False, path_type=Path),
              help="Uninstall from this tree instead of /.")
def uninstall_cmd(root: Path) -> None:
    """Stop and remove the systemd units; keep the data, the config and the accounts.

    \b
    Example:
        sudo courtbox uninstall
    """
    from courtbox.appliance.install import uninstall

    try:
        uninstall(root, say=click.echo)
    except CourtboxError as e:
        fail(e)
