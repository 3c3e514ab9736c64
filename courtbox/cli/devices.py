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
    arrays = [_array(a, config) for a in config.arrays]
    if as_json:
        click.echo(json.dumps([{**d.as_dict(), "configured": d.index == chosen,
                                **({"arrays": arrays} if d.index == chosen else {})}
                               for d in devices], ensure_ascii=False, indent=2))
        return
    if not devices:
        click.echo("no audio input devices")
    for d in devices:
        mark = "*" if d.index == chosen else " "
        click.echo(f"{mark} {d.index:3d}  {d.name}  [{d.host_api}]  {d.channels} ch, "
                   f"{d.default_samplerate:.0f} Hz{'  (default)' if d.is_default else ''}")
    for a in arrays:
        size = {"ring": f"radius {a['radius_m'] * 100:.1f} cm",
                "line": f"spacing {a['spacing_m'] * 100:.1f} cm"}.get(a["geometry"], "explicit")
        click.echo(f"  array {a['id']}: channels {', '.join(map(str, a['channels']))} "
                   f"({a['geometry']}, {len(a['channels'])} capsules, {size}); seats: "
                   f"{', '.join(a['seats']) or 'none yet'}")


def _array(array, config: Config) -> dict:
    return {"id": array.id, "channels": array.channels, "geometry": array.geometry,
            "radius_m": array.radius_m, "spacing_m": array.spacing_m,
            "seats": [s.id for s in config.seats if s.array == array.id]}
