"""`courtbox export` and `courtbox verify`: a hearing's record out, and its
integrity checked.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from courtbox.cli.shell import EXIT_ERROR, config_options, fail
from courtbox.config import Config
from courtbox.errors import CourtboxError


@click.command("export")
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


@click.command("verify")
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
        fail(CourtboxError(f"no courtbox database in {data_dir}"))
    report = verify(data_dir, hearing)
    if hearing is not None and not report.hearings:
        fail(CourtboxError(f"no hearing {hearing} in {data_dir}"))
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
