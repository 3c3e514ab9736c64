"""`courtbox demo`, `transcribe` and `bench`: speech through the live path, on the
sample hearing, on a recorded file, and measured on a manifest of recordings.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from courtbox.cli.shell import config_options
from courtbox.config import Config, Seat, seats_from_spec


def _seats(spec: str | None) -> list[Seat] | None:
    return seats_from_spec(spec) if spec else None


@click.command("demo")
@config_options(data=True)
@click.option("--fast", is_flag=True, help="Run as fast as the CPU allows (implies --exit).")
@click.option("--exit", "exit_", is_flag=True, help="Exit at the end instead of serving the "
              "page until Ctrl-C.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON summary at the end "
              "(implies --exit).")
@click.option("--audio", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Another recording to play instead of the sample hearing.")
@click.option("--seats", "seats_spec", metavar="ROLE[:NAME],...",
              help="Seats of --audio in channel order, e.g. presiding_judge:审判长,clerk,"
              "plaintiff,defendant (default: the config's seats).")
@click.option("--reference", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Reference transcript for the CER: JSON like the sample's or a TSV of "
              "seat<TAB>text.")
@click.option("--port", type=click.IntRange(0, 65535), help="Port of the live page "
              "(default: api.port).")
def demo_cmd(config: Config, fast: bool, exit_: bool, as_json: bool, audio: Path | None,
             seats_spec: str | None, reference: Path | None, port: int | None) -> None:
    """Record and transcribe the bundled sample hearing end to end, at real-time pace.

    Plays a 4-microphone sample hearing (审判长, 书记员, 原告, 被告) through the live
    pipeline (capture, FLAC archive, per-seat utterances, speech recognition, SQLite),
    prints each final line, serves the live transcript at http://127.0.0.1:8750/, and
    prints the character error rate against the sample's reference. Without --data-dir
    the hearing is recorded in a temporary directory that is removed at the end.

    \b
    Examples:
        courtbox demo
        courtbox demo --fast --json
        courtbox demo --audio hearing.flac --seats presiding_judge,clerk,plaintiff,defendant
    """
    from courtbox.appliance.demo import DemoOptions, run_demo

    options = DemoOptions(audio=audio, seats=_seats(seats_spec), reference=reference,
                          fast=fast, exit=exit_ or fast or as_json, json=as_json, port=port)
    data_dir = config.storage.data_dir if _data_dir_given() else None
    try:
        summary = run_demo(config, options, data_dir=data_dir, out=sys.stdout)
    except KeyboardInterrupt:
        click.echo("courtbox: demo interrupted", err=True)
        sys.exit(130)
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))


def _data_dir_given() -> bool:
    return click.get_current_context().params.get("data_dir") is not None


@click.command("transcribe")
@config_options(data=False)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--seats", "seats_spec", metavar="ROLE[:NAME],...",
              help="Seats in channel order (default: the config's seats when the channel "
              "count matches, else one seat per channel).")
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output path without extension (default: FILE beside itself).")
@click.option("-f", "--format", "formats", multiple=True,
              type=click.Choice(["json", "txt", "srt"]),
              help="Output format; repeat for several (default: json, txt and srt).")
def transcribe_cmd(config: Config, file: Path, seats_spec: str | None, output: Path | None,
                   formats: tuple[str, ...]) -> None:
    """Transcribe a recorded mono or multichannel file offline, seat by seat.

    Uses the same utterance cutting and recogniser as a live hearing, with a progress
    bar, and writes JSON, TXT and SRT next to the file (or to -o).

    \b
    Example:
        courtbox transcribe hearing.flac --seats presiding_judge,plaintiff -f txt
    """
    from tqdm import tqdm

    from courtbox.audio.capture import audio_file_info
    from courtbox.room.offline import transcribe_file, write_outputs
    from courtbox.transcribe.engine import EngineOptions
    from courtbox.transcribe.model import resolve_model

    info = audio_file_info(file)  # not audio: one line naming the file (AudioError)
    seats = _seats(seats_spec) or _default_seats(config, info.channels)
    options = EngineOptions.from_config(config.model, resolve_model(config.model.path,
                                                                    config.cache_dir()))
    duration = info.duration
    with tqdm(total=round(duration, 1), unit="s", desc=file.name, file=sys.stderr,
              bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s audio [{elapsed}<{remaining}]"
              ) as bar:
        result = transcribe_file(file, seats, options, progress=bar.update, config=config)
    base = output if output is not None else file.with_suffix("")
    for path in write_outputs(result, base, list(formats) or ["json", "txt", "srt"]):
        click.echo(str(path))


def _default_seats(config: Config, channels: int) -> list[Seat]:
    if config.channels == channels:
        return config.seats
    if channels == 1:
        return [Seat(channel=0, id="speaker", role="other", name="发言人")]
    return [Seat(channel=c, id=f"channel_{c + 1}", role="other", name=f"声道{c + 1}")
            for c in range(channels)]


@click.command("bench")
@config_options(data=False)
@click.option("--manifest", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TSV of path<TAB>reference[<TAB>language] lines (paths relative to it).")
@click.option("--realtime", is_flag=True, help="Play every file at wall-clock pace through "
              "the real recorder and recogniser process (default: a simulated clock).")
@click.option("--no-offline", "no_offline", is_flag=True, help="Skip the offline baseline.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON, with every "
              "file's final text and latencies.")
@click.option("--case-number", default="", metavar="TEXT", help="Bench as a hearing of this "
              "case number would be heard (its own words become hotwords as a hearing's do).")
@click.option("--names", default="", metavar="NAME、NAME…", help="The hearing's panel, clerk, "
              "parties and terms (、-separated), added as hotwords as a hearing adds them.")
def bench_cmd(config: Config, manifest: Path, realtime: bool, no_offline: bool,
              as_json: bool, case_number: str, names: str) -> None:
    """Measure live transcription: accuracy, latency, real-time factor and memory.

    Streams every file of the manifest through the live pipeline (one seat per channel)
    and reports the CER (WER for English) of the final lines, the offline CER of the same
    model on the same files, first-partial and final latency (p50/p95), the real-time
    factor and peak RSS.

    \b
    Examples:
        courtbox bench --manifest bench/aishell-dev.tsv
        courtbox bench --manifest bench/sample-hearing.tsv --realtime --json
    """
    from tqdm import tqdm

    from courtbox.record.hearing import hearing_hotwords
    from courtbox.room.bench import format_report, read_manifest, run_bench

    entries = read_manifest(manifest, config.model.language
                            if config.model.language != "auto" else "zh")
    hotwords = hearing_hotwords({"case_number": case_number,
                                 "parties": re.split(r"[、,，]", names)})
    if case_number or names:
        click.echo(f"hearing hotwords: {' '.join(hotwords) or '(none)'}", err=True)
    with tqdm(total=len(entries), unit="file", file=sys.stderr, disable=None) as bar:
        report = run_bench(config, entries, realtime=realtime, offline=not no_offline,
                           progress=lambda _: bar.update(), hotwords=hotwords)
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_report(report.summary()))
