"""What every command shares: ``--config`` and ``--data-dir``, the exit codes, and the error
edge where a ``CourtboxError`` becomes ``courtbox: error: ...`` (one line per problem).

A command module is a thin shell over a room: it parses the arguments, calls the room, and
prints what comes back; exceptions become messages only here.
"""

from __future__ import annotations

import os
import sys
from functools import wraps
from pathlib import Path

import click

from courtbox.config import load_config
from courtbox.errors import ConfigError, CourtboxError

EXIT_ERROR = 1
EXIT_CONFIG = 2


def fail(e: CourtboxError) -> None:
    """Print ``e`` as ``courtbox: error: ...`` lines and exit 1 (2 for a config error)."""
    lines = e.problems if isinstance(e, ConfigError) else [str(e)]
    for line in lines:
        click.echo(f"courtbox: error: {line}", err=True)
    sys.exit(EXIT_CONFIG if isinstance(e, ConfigError) else EXIT_ERROR)


def actor() -> str:
    """Who the audit log names for a change made on the command line."""
    return f"cli:{os.environ.get('USER', '?')}"


def config_options(data: bool):
    """Add ``--config`` (and ``--data-dir``) and pass the loaded ``Config`` as ``config``.

    A ``CourtboxError`` raised by the command goes through ``fail``."""

    def decorate(fn):
        @click.option("--config", "config_path", type=click.Path(dir_okay=False),
                      envvar="COURTBOX_CONFIG",
                      help="Config file (default: $COURTBOX_CONFIG or "
                      "/etc/courtbox/agent.toml).")
        @wraps(fn)
        def wrapper(*args, config_path=None, data_dir=None, **kwargs):
            try:
                config = load_config(config_path, data_dir=data_dir)
                return fn(*args, config=config, **kwargs)
            except CourtboxError as e:
                fail(e)

        if data:
            wrapper = click.option(
                "--data-dir", type=click.Path(file_okay=False, path_type=Path),
                help="Data directory, overriding storage.data_dir.")(wrapper)
        return wrapper

    return decorate
