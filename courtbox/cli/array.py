"""`courtbox array calibrate`: measure the direction of each seat at an array and write it
into the config."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import click

from courtbox.cli.shell import config_options
from courtbox.config import Config, parse_config
from courtbox.errors import ConfigError


@click.group("array")
def array_group() -> None:
    """Microphone arrays: calibrate the seats' directions."""


def _labels(path: Path) -> tuple[list[tuple[str, float, float]], Path | None]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        spans = [(str(u["seat"]), float(u["t0"]), float(u["t1"]))
                 for u in meta["utterances"]]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        raise ConfigError([f"{path}: not a labelled hearing (utterances with seat, t0 and "
                           f"t1): {e}"], str(path)) from e
    audio = path.parent / meta["audio"] if isinstance(meta.get("audio"), str) else None
    return spans, audio


def set_seat_keys(text: str, seat_id: str, values: dict[str, object]) -> str:
    """``text`` (a TOML config) with ``values`` set in the ``[[seats]]`` table whose id is
    ``seat_id``; other lines, comments included, are kept as they are."""
    lines = text.splitlines()
    starts = [i for i, ln in enumerate(lines) if ln.strip() == "[[seats]]"]
    for start in starts:
        end = next((i for i in range(start + 1, len(lines))
                    if lines[i].lstrip().startswith("[")), len(lines))
        body = lines[start + 1:end]
        if not any(re.match(rf'\s*id\s*=\s*["\']{re.escape(seat_id)}["\']', ln) for ln in body):
            continue
        for key, value in values.items():
            line = f"{key} = {json.dumps(value, ensure_ascii=False)}"
            at = [i for i, ln in enumerate(body) if re.match(rf"\s*{key}\s*=", ln)]
            if at:
                body[at[0]] = line
            else:
                last = max((i for i, ln in enumerate(body) if ln.strip()), default=-1)
                body.insert(last + 1, line)
        lines[start + 1:end] = body
        return "\n".join(lines) + "\n"
    raise ConfigError([f"seats: no [[seats]] table with id {seat_id!r} in the config file"])


@array_group.command("calibrate")
@config_options(data=False)
@click.option("--array", "array_id", required=True, help="The [[arrays]] id.")
@click.option("--from", "labels", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A hearing.json: utterances with the clerk's seat labels (seat, t0, t1) "
              "and its audio.")
@click.option("--audio", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The recording (default: the one the hearing.json names).")
@click.option("--write", is_flag=True, help="Write the directions into the config file.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def calibrate_cmd(config: Config, array_id: str, labels: Path, audio: Path | None,
                  write: bool, as_json: bool) -> None:
    """Measure each seat's direction seen from an array, from a recording in which the
    seats' speech is labelled: a recorded hearing with the clerk's seat labels, or each
    seat speaking in turn (label the turns in a hearing.json). Seats are matched by id,
    and only those whose array is this one are calibrated;
    with --write, each seat's azimuth_deg, sector_deg and array are set in its [[seats]]
    table of the config file, which must then still check (the elevation is shown only: a
    flat array hardly resolves it; set elevation_deg by hand for a ceiling array).

    \b
    Example:
        courtbox array calibrate --array well --from hearing.json --write
    """
    import numpy as np
    import soundfile as sf
    import soxr

    from courtbox.audio.arrays import SrpPhat
    from courtbox.audio.calibrate import directions_from_labels
    from courtbox.audio.types import SPEECH_RATE
    from courtbox.config_arrays import capsule_positions
    from courtbox.transcribe.vad import SileroVad

    array = next((a for a in config.arrays if a.id == array_id), None)
    if array is None:
        raise ConfigError([f"arrays: no array {array_id!r} in the config"], config.source)
    spans, named = _labels(labels)
    source = audio or named
    if source is None:
        raise ConfigError([f"{labels}: names no audio; give --audio"], str(labels))
    data, rate = sf.read(str(source), dtype="float32", always_2d=True)
    if data.shape[1] <= max(array.channels):
        raise ConfigError([f"arrays: {source} has {data.shape[1]} channels; array "
                           f"{array_id!r} needs {max(array.channels) + 1}"], config.source)
    capsules = data[:, array.channels]
    if rate != SPEECH_RATE:
        capsules = soxr.resample(capsules, rate, SPEECH_RATE).astype(np.float32)
    from courtbox.audio.arrays import Geometry
    srp = SrpPhat(Geometry(capsule_positions(array)))
    at_array = {s.id for s in config.seats if s.array == array_id}
    if not at_array:
        raise ConfigError([f"seats: no seat names array {array_id!r} (set its array)"],
                          config.source)
    found = [c for c in directions_from_labels(srp, capsules, spans, SileroVad(1))
             if c.seat in at_array]
    rows = [{"seat": c.seat, "azimuth_deg": c.azimuth_deg, "elevation_deg": c.elevation_deg,
             "sector_deg": c.sector_deg, "frames": c.frames} for c in found]
    if write:
        _write(config, array_id, rows)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"{r['seat']:20s} azimuth {r['azimuth_deg']:6.1f}°  elevation "
                   f"{r['elevation_deg']:4.0f}°  sector {r['sector_deg']:5.1f}°  "
                   f"({r['frames']} frames)")
    if write:
        click.echo(f"written to {config.source}")


def _write(config: Config, array_id: str, rows: list[dict]) -> None:
    import tomllib

    path = Path(config.source)
    if not path.is_file():
        raise ConfigError(["--write needs a config file (--config PATH)"], config.source)
    text = path.read_text(encoding="utf-8")
    for r in rows:
        # A flat ring hardly resolves elevation: it is shown, not written.
        text = set_seat_keys(text, r["seat"], {
            "array": array_id, "azimuth_deg": r["azimuth_deg"], "sector_deg": r["sector_deg"]})
    parse_config(tomllib.loads(text), str(path))  # still a valid config, or nothing written
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
