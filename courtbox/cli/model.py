"""`courtbox model info`: which speech model is in use, where, its size and hash."""

from __future__ import annotations

import json

import click

from courtbox.cli.shell import config_options
from courtbox.config import Config


@click.group("model")
def model_group() -> None:
    """The speech model."""


@model_group.command("info")
@config_options(data=False)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def model_info_cmd(config: Config, as_json: bool) -> None:
    """Show which speech model is in use, where it is, its size and hash.

    The bundled Whisper base is assembled into the cache directory on first use and
    verified against its recorded sha256 every time.

    \b
    Example:
        courtbox model info --json
    """
    from courtbox.transcribe.model import model_info

    info = model_info(config.model.path, config.cache_dir())
    if as_json:
        click.echo(json.dumps(info.as_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(f"model:   {info.name} ({info.source})\npath:    {info.path}\n"
               f"size:    {info.size_bytes / 1e6:.1f} MB\nsha256:  {info.sha256} (model.bin)\n"
               f"device:  {config.model.device}, {config.model.compute_type}")
