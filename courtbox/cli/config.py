"""`courtbox config check`: the configuration, validated and shown resolved."""

from __future__ import annotations

import json

import click

from courtbox.cli.shell import config_options, fail
from courtbox.config import Config
from courtbox.errors import ConfigError


@click.group("config")
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
            fail(ConfigError([f"api.tls_cert: {e}"], config.source))
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
