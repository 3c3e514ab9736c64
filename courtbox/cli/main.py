"""The ``courtbox`` command: one click group, one command (or command group) per job, each
from the module of ``courtbox.cli`` that names it; ``main()`` is the entry point.

Exceptions become messages only at the edge (``courtbox.cli.shell``): a ``CourtboxError``
prints ``courtbox: error: ...`` (one line per problem) and exits 1, or 2 for configuration
errors; a traceback means a bug. Every command takes ``--config PATH``; those that touch data
take ``--data-dir DIR``.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from courtbox import __version__
from courtbox.cli import (
    appliance,
    array,
    central,
    config,
    devices,
    model,
    recording,
    records,
    speech,
    sync,
    users,
)


def _log_level(verbose: int) -> int:
    return logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="courtbox")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """courtbox: records every microphone of a tech courtroom, transcribes the hearing
    live, and keeps the record as evidence.

    \b
    Example:
        courtbox demo
    """
    logging.basicConfig(level=_log_level(verbose), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


for _command in (
    config.config_group, model.model_group, devices.devices_cmd, array.array_group,
    speech.demo_cmd, speech.transcribe_cmd, speech.bench_cmd,
    recording.record_cmd, recording.run_cmd, users.user_group,
    appliance.install_cmd, appliance.uninstall_cmd,
    sync.identity_cmd, sync.sync_group, central.central_group,
    records.export_cmd, records.verify_cmd,
):
    cli.add_command(_command)


def main() -> None:
    try:
        cli(prog_name="courtbox")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
    else:
        code = 0
    from courtbox.audio.capture import ABANDONED_STREAMS

    if ABANDONED_STREAMS:
        # Everything is written and closed; only a stream stuck in a vanished device's
        # driver is left, and PortAudio's exit handler would wait for it forever.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    main()
