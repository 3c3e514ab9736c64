"""`courtbox devices`: the audio inputs PortAudio sees, the configured one marked."""

from __future__ import annotations

import json

import click

from courtbox.cli.shell import config_options
from courtbox.config import Config
from courtbox.errors import AudioError


@click.command("devices")
@config_options(data=False)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def devices_cmd(config: Config, as_json: bool) -> None:
    """List the audio input devices PortAudio sees, with channels and default rate.

    The device the config names (audio.device) is marked with *.

    \b
    Example:
        courtbox devices --json
    """
    from courtbox.hardware.devices import list_input_devices, resolve_input_device

    devices = list_input_devices()
    try:
        chosen = resolve_input_device(config.audio.device, config.channels).index
    except AudioError as e:
        chosen = None
        click.echo(f"courtbox: warning: {e}", err=True)
    if as_json:
        click.echo(json.dumps([{**d.as_dict(), "configured": d.index == chosen}
                               for d in devices], ensure_ascii=False, indent=2))
        return
    if not devices:
        click.echo("no audio input devices")
    for d in devices:
        mark = "*" if d.index == chosen else " "
        click.echo(f"{mark} {d.index:3d}  {d.name}  [{d.host_api}]  {d.channels} ch, "
                   f"{d.default_samplerate:.0f} Hz{'  (default)' if d.is_default else ''}")
