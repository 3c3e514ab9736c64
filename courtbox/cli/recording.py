"""`courtbox record` (one hearing from the command line) and `courtbox run` (the
agent service: the clerk console, the judge view and the API until SIGTERM).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from courtbox.cli.shell import config_options
from courtbox.config import Config


@click.command("record")
@config_options(data=True)
@click.option("--case-number", required=True, help="The case number (案号) of the hearing.")
@click.option("--case-type", default="", help="Case type, e.g. 民事.")
@click.option("--panel", multiple=True, help="A member of the panel (repeat).")
@click.option("--clerk", default="", help="The clerk (书记员).")
@click.option("--party", multiple=True, help="A party to the case (repeat).")
@click.option("--duration", type=click.FloatRange(min=0.1), help="Stop after this many "
              "seconds of audio (default: until Ctrl-C or SIGTERM).")
@click.option("--no-transcribe", is_flag=True, help="Archive only; no speech recognition.")
@click.option("--audio", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Play this file at wall-clock pace instead of the input device.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary at the end.")
def record_cmd(config: Config, case_number: str, case_type: str, panel: tuple[str, ...],
               clerk: str, party: tuple[str, ...], duration: float | None,
               no_transcribe: bool, audio: Path | None, as_json: bool) -> None:
    """Record a hearing from the configured input device until Ctrl-C or SIGTERM.

    Every configured channel goes into the FLAC archive with its hash chain; unless
    --no-transcribe, each seat is transcribed live and final lines are printed.

    \b
    Example:
        courtbox record --case-number "(2026)京0105民初123号" --data-dir /var/lib/courtbox
    """
    from courtbox.record.hearing import HearingInfo
    from courtbox.room.record import run_record

    def say(text: str) -> None:
        if not as_json:
            click.echo(text)

    info = HearingInfo(case_number=case_number, case_type=case_type, panel=list(panel),
                       clerk=clerk, parties=list(party))
    summary = run_record(config, info,
                         duration=duration, transcribe=not no_transcribe, say=say,
                         audio=audio)
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))


@click.command("run")
@config_options(data=True)
@click.option("--audio", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Play this file as the room's microphones, at wall-clock pace, each "
              "time a hearing starts or resumes (rehearsal and tests).")
@click.option("--port", type=click.IntRange(0, 65535), help="Port of the API, overriding "
              "api.port (0: any free port).")
@click.option("--no-transcribe", is_flag=True, help="Archive only; no speech recognition.")
def run_cmd(config: Config, audio: Path | None, port: int | None,
            no_transcribe: bool) -> None:
    """Run the agent: the clerk console (/clerk), the judge view (/judge) and the API
    (/api/v1) over the room's microphones, until SIGTERM.

    \b
    Example:
        courtbox run --data-dir /var/lib/courtbox
    """
    from courtbox.appliance.service import run_service

    if port is not None:
        config.api.port = port
    run_service(config, audio=audio, transcribe=not no_transcribe,
                say=lambda text: click.echo(text))
