"""The README documents every command, option and config key, and opens with the two
commands CI runs."""

from __future__ import annotations

from pathlib import Path

import click

from courtbox.cli.main import cli
from courtbox.config import describe_fields

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
CI = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out += _commands(cmd, f"{prefix}{name} ")
        else:
            out.append((f"{prefix}{name}", cmd))
    return out


def test_every_command_and_option_is_documented_with_an_example() -> None:
    """Each command has a README section and an example in its --help; each option is named."""
    for name, cmd in _commands(cli):
        assert f"### `courtbox {name}" in README, name
        assert "Example" in (cmd.help or ""), name
        for param in cmd.params:
            if isinstance(param, click.Option) and param.name != "help":
                assert any(f"`{opt}" in README for opt in param.opts), (name, param.opts)


def test_every_config_key_is_documented() -> None:
    """Each config key appears in the README's configuration table."""
    for key, description in describe_fields():
        assert f"| `{key}` |" in README, key
        assert description, key


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second() -> None:
    """The first two code blocks are install+demo and install+tests; .ci/run runs the latter."""
    blocks = README.split("```sh\n")[1:3]
    demo, tests = (b.split("\n```")[0].strip() for b in blocks)
    assert "courtbox demo" in demo
    assert "pytest" in tests
    assert tests in CI
