"""`courtbox user add`, `list` and `disable`: the local accounts."""

from __future__ import annotations

import sys

import click

from courtbox.cli.shell import actor, config_options
from courtbox.config import Config
from courtbox.errors import CourtboxError


@click.group("user")
def user_group() -> None:
    """Local accounts: clerks, judges, technicians and admins."""


@user_group.command("add")
@config_options(data=True)
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["clerk", "judge", "technician",
                                                          "admin"]))
@click.option("--display-name", default="", help="The person's real name (张三), shown "
              "with the role wherever they sign, mark or correct.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first "
              "line of stdin instead of asking twice.")
def user_add(config: Config, name: str, role: str, display_name: str,
             password_stdin: bool) -> None:
    """Create an account; the password is asked for (never given on the command line).

    \b
    Example:
        courtbox user add zhangsan --role clerk --display-name 张三
    """
    from courtbox.record.identity import open_store
    from courtbox.record.users import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    store = open_store(config.storage.data_dir)
    try:
        add_user(store, name, role, password, actor=actor(), display_name=display_name)
    finally:
        store.close()
    click.echo(f"added {role} {name}" + (f" ({display_name})" if display_name else ""))


@user_group.command("list")
@config_options(data=True)
def user_list(config: Config) -> None:
    """List the accounts.

    \b
    Example:
        courtbox user list --data-dir /var/lib/courtbox
    """
    from courtbox.record.identity import open_store

    store = open_store(config.storage.data_dir)
    try:
        for u in store.users():
            state = "disabled" if u["disabled"] else "active"
            click.echo(f"{u['name']:<20} {u['role']:<11} {state:<8} since {u['created_at']}"
                       + (f"  {u['display_name']}" if u.get("display_name") else ""))
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
    from courtbox.record.identity import open_store

    store = open_store(config.storage.data_dir)
    try:
        if store.user(name) is None:
            raise CourtboxError(f"no user {name}")
        store.update_user(name, disabled=1)
        store.audit(actor(), "user.disable", None, user=name)
    finally:
        store.close()
    click.echo(f"disabled {name}")
