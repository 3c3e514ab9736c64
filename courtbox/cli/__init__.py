"""The ``courtbox`` command line: one click group, one command per job.

Exceptions become messages only here: a ``CourtboxError`` prints ``courtbox: error: ...``
(one line per problem) and exits 1, or 2 for configuration errors; a traceback means a bug.
Every command takes ``--config PATH``; those that touch data take ``--data-dir DIR``.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import sys
from functools import wraps
from pathlib import Path

import click

from courtbox import __version__
from courtbox.config import Config, load_config, seats_from_spec
from courtbox.errors import AudioError, ConfigError, CourtboxError

EXIT_ERROR = 1
EXIT_CONFIG = 2


def _fail(e: CourtboxError) -> None:
    lines = e.problems if isinstance(e, ConfigError) else [str(e)]
    for line in lines:
        click.echo(f"courtbox: error: {line}", err=True)
    sys.exit(EXIT_CONFIG if isinstance(e, ConfigError) else EXIT_ERROR)


def config_options(data: bool):
    """Add ``--config`` (and ``--data-dir``) and pass the loaded ``Config`` as ``config``."""

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
                _fail(e)

        if data:
            wrapper = click.option(
                "--data-dir", type=click.Path(file_okay=False, path_type=Path),
                help="Data directory, overriding storage.data_dir.")(wrapper)
        return wrapper

    return decorate


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


# -- config ----------------------------------------------------------------------------

@cli.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@config_options(data=True)
@click.option("--json", "as_json", is_flag=True, help="Print the resolved config as JSON.")
def config_check(config: Config, as_json: bool) -> None:
    """Validate the config file and print it resolved, with every default filled in.

    On errors, prints one line per problem naming the key, and exits 2.

    \b
    Example:
        courtbox config check --config /etc/courtbox/agent.toml
    """
    if config.api.tls and config.api.tls_cert:
        from courtbox.sync.tls import TlsError, load_certificate
        try:
            load_certificate(config.api.tls_cert, config.api.tls_key)
        except TlsError as e:
            _fail(ConfigError([f"api.tls_cert: {e}"], config.source))
    resolved = config.model_dump(mode="json")
    if as_json:
        click.echo(json.dumps(resolved, ensure_ascii=False, indent=2))
        return
    click.echo(f"# config OK ({config.source})")
    click.echo(_toml(resolved))


def _toml(resolved: dict) -> str:
    def value(v) -> str:
        return json.dumps(v, ensure_ascii=False) if v is not None else '""  # unset'

    out: list[str] = []
    for section, body in resolved.items():
        if isinstance(body, list):
            for item in body:
                out += ["", f"[[{section}]]"] + [f"{k} = {value(v)}" for k, v in item.items()]
        else:
            out += ["", f"[{section}]"] + [f"{k} = {value(v)}" for k, v in body.items()]
    return "\n".join(out).strip()


# -- model -----------------------------------------------------------------------------

@cli.group("model")
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


# -- demo ------------------------------------------------------------------------------

def _seats(spec: str | None) -> list[dict] | None:
    return [s.model_dump() for s in seats_from_spec(spec)] if spec else None


@cli.command("demo")
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


# -- transcribe ------------------------------------------------------------------------

@cli.command("transcribe")
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
    import soundfile as sf
    from tqdm import tqdm

    from courtbox.room.offline import transcribe_file, write_outputs
    from courtbox.transcribe.engine import EngineOptions
    from courtbox.transcribe.model import resolve_model

    seats = _seats(seats_spec) or _default_seats(config, sf.info(str(file)).channels)
    options = EngineOptions.from_config(config.model, resolve_model(config.model.path,
                                                                    config.cache_dir()))
    duration = sf.info(str(file)).duration
    with tqdm(total=round(duration, 1), unit="s", desc=file.name, file=sys.stderr,
              bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s audio [{elapsed}<{remaining}]"
              ) as bar:
        result = transcribe_file(file, seats, options, progress=bar.update)
    base = output if output is not None else file.with_suffix("")
    for path in write_outputs(result, base, list(formats) or ["json", "txt", "srt"]):
        click.echo(str(path))


def _default_seats(config: Config, channels: int) -> list[dict]:
    if config.channels == channels:
        return [s.model_dump() for s in config.seats]
    if channels == 1:
        return [{"channel": 0, "id": "speaker", "role": "other", "name": "发言人"}]
    return [{"channel": c, "id": f"channel_{c + 1}", "role": "other", "name": f"声道{c + 1}"}
            for c in range(channels)]


# -- bench -----------------------------------------------------------------------------

@cli.command("bench")
@config_options(data=False)
@click.option("--manifest", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TSV of path<TAB>reference[<TAB>language] lines (paths relative to it).")
@click.option("--realtime", is_flag=True, help="Play every file at wall-clock pace through "
              "the real recorder and recogniser process (default: a simulated clock).")
@click.option("--no-offline", "no_offline", is_flag=True, help="Skip the offline baseline.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON, with every "
              "file's final text and latencies.")
def bench_cmd(config: Config, manifest: Path, realtime: bool, no_offline: bool,
              as_json: bool) -> None:
    """Measure live transcription: accuracy, latency, real-time factor and memory.

    Streams every file of the manifest through the live pipeline (one seat per channel)
    and reports the CER (WER for English) of the final lines, the offline CER of the same
    model on the same files, first-partial and final latency (p50/p95), the real-time
    factor and peak RSS.

    
    Examples:
        courtbox bench --manifest bench/aishell-dev.tsv
        courtbox bench --manifest bench/sample-hearing.tsv --realtime --json
    """
    from tqdm import tqdm

    from courtbox.room.bench import format_report, read_manifest, run_bench

    entries = read_manifest(manifest, config.model.language
                            if config.model.language != "auto" else "zh")
    with tqdm(total=len(entries), unit="file", file=sys.stderr, disable=None) as bar:
        report = run_bench(config, entries, realtime=realtime, offline=not no_offline,
                           progress=lambda _: bar.update())
    if as_json:
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(format_report(report.summary()))


# -- devices and recording -------------------------------------------------------------

@cli.command("devices")
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


@cli.command("record")
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


# -- the service -----------------------------------------------------------------------

@cli.command("run")
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


# -- users -----------------------------------------------------------------------------

@cli.group("user")
def user_group() -> None:
    """Local accounts: clerks, judges, technicians and admins."""


@user_group.command("add")
@config_options(data=True)
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["clerk", "judge", "technician",
                                                          "admin"]))
@click.option("--password-stdin", is_flag=True, help="Read the password from the first "
              "line of stdin instead of asking twice.")
def user_add(config: Config, name: str, role: str, password_stdin: bool) -> None:
    """Create an account; the password is asked for (never given on the command line).

    \b
    Example:
        courtbox user add zhangsan --role clerk
    """
    from courtbox.record.store import Store
    from courtbox.record.users import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    store = Store.in_dir(config.storage.data_dir)
    try:
        add_user(store, name, role, password, actor=f"cli:{os.environ.get('USER', '?')}")
    finally:
        store.close()
    click.echo(f"added {role} {name}")


@user_group.command("list")
@config_options(data=True)
def user_list(config: Config) -> None:
    """List the accounts.

    \b
    Example:
        courtbox user list --data-dir /var/lib/courtbox
    """
    from courtbox.record.store import Store

    store = Store.in_dir(config.storage.data_dir)
    try:
        for u in store.users():
            state = "disabled" if u["disabled"] else "active"
            click.echo(f"{u['name']:<20} {u['role']:<11} {state:<8} since {u['created_at']}")
    finally:
        store.close()


@user_group.command("disable")
@config_options(data=True)
@click.argument("name")
def user_disable(config: Config, name: str) -> None:
    """Disable an account and end its sessions (accounts are never deleted: the audit log
    names them).

    \b
    Example:
        courtbox user disable zhangsan
    """
    from courtbox.record.store import Store

    store = Store.in_dir(config.storage.data_dir)
    try:
        if store.user(name) is None:
            raise CourtboxError(f"no user {name}")
        store.update_user(name, disabled=1)
        store.audit(f"cli:{os.environ.get('USER', '?')}", "user.disable", None, user=name)
    finally:
        store.close()
    click.echo(f"disabled {name}")


# -- the appliance ------------------------------------------------------------------------

@cli.command("install")
@click.option("--root", default="/", type=click.Path(file_okay=False, path_type=Path),
              help="Install into this tree (an image, a staging dir) instead of /.")
@click.option("--central", is_flag=True, help="Also install the central collector's unit.")
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
        _fail(e)


@cli.command("uninstall")
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
        _fail(e)


# -- identity and sync ------------------------------------------------------------------

@cli.command("identity")
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
        _fail(e)
    shown = ":".join(cert.sha256[i:i + 2] for i in range(0, 64, 2)).upper()
    if as_json:
        click.echo(json.dumps({**ident.public(), "tls_sha256": cert.sha256,
                               "tls_spki_sha256": cert.spki_sha256}))
    else:
        click.echo(f"box id       {ident.box_id}\nalgorithm    {ident.signer.algorithm}\n"
                   f"fingerprint  {ident.fingerprint}\ntls sha256   {shown}")


@cli.group("sync")
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
    from courtbox.record.store import Store
    from courtbox.sync.server import enroll

    store = Store.in_dir(config.storage.data_dir)
    try:
        token = enroll(store, name, actor=f"cli:{os.environ.get('USER', '?')}")
        fingerprint = store.identity.fingerprint
    finally:
        store.close()
    scheme = "https" if config.api.tls else "http"
    url = url or f"{scheme}://{config.api.host}:{config.api.port}"
    click.echo(f"collector {name} enrolled; at the centre run:\n"
               f"  courtbox central add-box {url} --token {token} "
               f"--fingerprint {fingerprint}")


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
    from courtbox.record.store import Store
    from courtbox.sync.retention import releasable, release

    store = Store.in_dir(config.storage.data_dir)
    try:
        if dry_run:
            segments = releasable(store, config.sync.retention_days)
        else:
            segments = release(store, config.storage.data_dir, config.sync.retention_days,
                               actor=f"cli:{os.environ.get('USER', '?')}")
    finally:
        store.close()
    for seg in segments:
        click.echo(seg["path"])
    click.echo(f"{'would release' if dry_run else 'released'} {len(segments)} segment(s)")


@cli.group("central")
def central_group() -> None:
    """The court's collector: pulls, verifies and keeps every box's records."""


def _central_store(data_dir: Path):
    from courtbox.central.collector import CentralStore

    try:
        return CentralStore(data_dir)
    except (OSError, sqlite3.Error) as e:
        _fail(CourtboxError(f"cannot open the collector's store in {data_dir}: {e}"))


@central_group.command("add-box")
@click.argument("url")
@click.option("--token", required=True, help="The token `courtbox sync enroll` printed.")
@click.option("--fingerprint", required=True, help="The box's key fingerprint to pin.")
@click.option("--data-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The collector's data directory.")
def central_add_box(url: str, token: str, fingerprint: str, data_dir: Path) -> None:
    """Add (or update) a box the collector pulls, pinning its key fingerprint (and, at the
    first pull, the TLS certificate that key signed).

    \b
    Example:
        courtbox central add-box https://10.1.2.3:8750 --token T --fingerprint SHA256:x \\
            --data-dir /var/lib/courtbox-central
    """
    if not url.startswith(("http://", "https://")):
        _fail(CourtboxError(f"box url {url!r} must start with https:// (or http://)"))
    if url.startswith("http://"):
        click.echo(f"courtbox: warning: {url} is plain HTTP: the token and the hearings "
                   "cross the network unencrypted; use https:// unless a TLS proxy of the "
                   "court's sits in front of the box", err=True)
    if not fingerprint.startswith("SHA256:"):
        _fail(CourtboxError(f"fingerprint {fingerprint!r} must look like SHA256:..."))
    store = _central_store(data_dir)
    try:
        store.add_box(url, token, fingerprint)
    finally:
        store.close()
    click.echo(f"added {url}")


@central_group.command("run")
@click.option("--data-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The collector's data directory.")
@click.option("--interval", default=10.0, type=click.FloatRange(min=0.1),
              help="Seconds between rounds over all boxes.")
@click.option("--concurrency", default=8, type=click.IntRange(1, 256),
              help="Boxes pulled at the same time.")
@click.option("--once", is_flag=True, help="One round over every box (until each has "
              "nothing more to give), then exit.")
@click.option("--discover", is_flag=True, help="Also browse mDNS for _courtbox._tcp boxes "
              "and follow the address changes of boxes already added.")
def central_run(data_dir: Path, interval: float, concurrency: int, once: bool,
                discover: bool) -> None:
    """Pull every box: verify each record, chain link, signature and audio file, store it
    once, then acknowledge.

    \b
    Example:
        courtbox central run --data-dir /var/lib/courtbox-central
    """
    import asyncio

    from courtbox.central.collector import Collector
    from courtbox.hardware.systemd import run_notified

    store = _central_store(data_dir)
    browser = None
    try:
        if discover:
            from courtbox.sync.discovery import BoxBrowser
            browser = BoxBrowser(store)
        collector = Collector(store, concurrency=concurrency)
        try:
            reports = asyncio.run(collector.pull_all() if once
                                  else run_notified(collector.run(interval)))
        except KeyboardInterrupt:
            reports = None
        for r in reports or []:
            state = f"error: {r.error}" if r.error else "ok"
            click.echo(f"{r.url} {r.box_id or '?'}: {r.records} records, {r.blobs} blobs "
                       f"({r.bytes} bytes), {len(r.quarantined)} quarantined; {state}")
    finally:
        if browser is not None:
            browser.close()
        store.close()
    if reports and any(r.quarantined or r.error for r in reports):
        sys.exit(EXIT_ERROR)


@central_group.command("status")
@click.option("--data-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The collector's data directory.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def central_status(data_dir: Path, as_json: bool) -> None:
    """Every box: its last heartbeat (recording, open hearing, disk hours, dead mics,
    clock, sync lag, version), what the centre holds, and anything quarantined.

    \b
    Example:
        courtbox central status --data-dir /var/lib/courtbox-central --json
    """
    from courtbox.central.collector import status

    store = _central_store(data_dir)
    try:
        boxes, quarantined = status(store), store.quarantined()
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps({"boxes": boxes, "quarantine": quarantined},
                              ensure_ascii=False, indent=2))
        return
    for b in boxes:
        hb = b["heartbeat"] or {}
        sync = hb.get("sync", {})
        click.echo(f"{b['url']}  {b['box_id'] or '(not yet reached)'}\n"
                   f"  held: {b['records']} records, {b['blobs']} audio files "
                   f"({b['blob_bytes']} bytes), cursor {b['cursor']}; last pull "
                   f"{b['last_pull'] or 'never'}\n"
                   f"  box: version {hb.get('version', '?')}, recording "
                   f"{hb.get('recording', '?')}, open hearing {hb.get('open_hearing')}, "
                   f"disk {hb.get('disk', {}).get('hours_left', '?')} h, dead mics "
                   f"{hb.get('dead_mics', [])}, clock synced {hb.get('clock_synced')}, "
                   f"lag {sync.get('lag_records', '?')} records / "
                   f"{sync.get('lag_bytes', '?')} bytes")
        if b["blocked"]:
            click.echo(f"  BLOCKED at {b['blocked']}")
        if b["last_error"]:
            click.echo(f"  last error: {b['last_error']}")
    for q in quarantined:
        click.echo(f"QUARANTINED box {q['box_id']} hearing {q['hearing_id']} seq {q['seq']} "
                   f"{q['kind']} {q['record_id']}: {q['reason']}")


# -- export ----------------------------------------------------------------------------

@cli.command("export")
@config_options(data=True)
@click.argument("hearing")
@click.option("-f", "--format", "fmt", required=True,
              type=click.Choice(["docx", "pdf", "txt", "srt", "vtt", "json"]))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False,
                                                               path_type=Path))
def export_cmd(config: Config, hearing: str, fmt: str, output: Path) -> None:
    """Export a hearing's record (庭审笔录) with its integrity values.

    HEARING is a hearing id or case number.

    \b
    Example:
        courtbox export "(2026)京0105民初123号" --format pdf -o 笔录.pdf
    """
    from courtbox.record.export import load_record, render
    from courtbox.record.store import DB_NAME, Store

    if not (config.storage.data_dir / DB_NAME).is_file():
        raise CourtboxError(f"no courtbox database in {config.storage.data_dir}")
    store = Store.in_dir(config.storage.data_dir)
    try:
        found = [h for h in store.hearings() if hearing in (h["id"], h["case_number"])]
        if not found:
            raise CourtboxError(f"no hearing {hearing} in {config.storage.data_dir}")
        if len(found) > 1:
            raise CourtboxError(f"{len(found)} hearings have case number {hearing}; give "
                                "the hearing id: " + ", ".join(h["id"] for h in found))
        data = render(load_record(store, found[0]["id"]), fmt)
    finally:
        store.close()
    try:
        output.write_bytes(data)
    except OSError as e:
        raise CourtboxError(f"cannot write {output}: {e}") from e
    click.echo(f"wrote {output} ({len(data)} bytes)")


# -- verify ----------------------------------------------------------------------------

@cli.command("verify")
@config_options(data=True)
@click.argument("hearing", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify_cmd(config: Config, hearing: str | None, as_json: bool) -> None:
    """Recompute every audio segment hash, the audio and record hash chains, and check
    every row against its chained record. Exits 1 naming the first broken link.

    HEARING is a hearing id or case number; default: every hearing.

    \b
    Example:
        courtbox verify --data-dir /var/lib/courtbox
    """
    from courtbox.record.store import DB_NAME
    from courtbox.record.verify import verify

    data_dir = config.storage.data_dir
    if not (data_dir / DB_NAME).is_file():
        _fail(CourtboxError(f"no courtbox database in {data_dir}"))
    report = verify(data_dir, hearing)
    if hearing is not None and not report.hearings:
        _fail(CourtboxError(f"no hearing {hearing} in {data_dir}"))
    if as_json:
        click.echo(json.dumps({"ok": report.ok,
                               "hearings": [h.as_dict() for h in report.hearings]},
                              ensure_ascii=False, indent=2))
    else:
        for h in report.hearings:
            if h.ok:
                click.echo(f"OK      {h.case_number} ({h.hearing_id}): {h.segments} audio "
                           f"segments, {h.records} records")
            else:
                click.echo(f"BROKEN  {h.case_number} ({h.hearing_id}): {h.broken}")
    if not report.ok:
        sys.exit(EXIT_ERROR)


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
