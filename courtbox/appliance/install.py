"""``courtbox install`` and ``courtbox uninstall``: make a Debian machine a courtbox.

Install, in order, each step idempotent:

1. the system accounts, from ``systemd/courtbox.sysusers`` through ``systemd-sysusers``
   (``courtbox`` in the ``audio`` group; ``courtbox-central`` for the collector);
2. ``/etc/courtbox/agent.toml``, a commented config skeleton, only if there is none (a
   technician's config is never overwritten); with ``--central`` also
   ``/etc/courtbox/central.toml``, the centre's, every key with its description and default
   (written from the schema, ``courtbox.central.config``), likewise only if there is none.
   ``/etc/courtbox`` is 0755 and each file in it 0640, root's and its service's group's
   (``courtbox``, ``courtbox-central``): a service reads its own config and no other's;
3. the unit files into ``/etc/systemd/system``, their ``ExecStart`` pointing at the courtbox
   this command runs from;
4. on a running systemd: ``daemon-reload`` and ``enable`` (``--now`` starts them too).

``--root DIR`` installs into an image or a staging tree instead of ``/`` (as ``DESTDIR``
does; systemd is then left alone). Uninstall stops and disables the units and removes the
unit files; the data, the config and the accounts stay, because the data is evidence.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from courtbox.errors import CourtboxError

logger = logging.getLogger(__name__)

AGENT_UNIT = "courtbox-agent.service"
CENTRAL_UNIT = "courtbox-central.service"
CENTRAL_WEB_UNIT = "courtbox-central-web.service"
SYSUSERS = "courtbox.sysusers"
PLACEHOLDER = "/opt/courtbox/bin/courtbox"

CONFIG_SKELETON = """\
# courtbox agent configuration; `courtbox config check` validates it and prints every key.
# Unknown keys are errors. Restart the agent after a change:
#     systemctl restart courtbox-agent

[court]
court = "示例人民法院"
room = "第一科技法庭"

[storage]
data_dir = "/var/lib/courtbox"

[audio]
# device = "USB Audio"     # index or part of the name, from `courtbox devices`

[api]
host = "127.0.0.1"         # "0.0.0.0" to serve the room's screens (needs an admin account)
port = 8750
# HTTPS with the box's own certificate (`courtbox identity` shows its SHA-256); or the
# court's CA certificate, readable by the courtbox user:
# tls_cert = "/etc/courtbox/tls.crt"
# tls_key = "/etc/courtbox/tls.key"

# One [[seats]] per microphone channel; the default is 审判长, 书记员, 原告, 被告 on 0-3.
# [[seats]]
# channel = 0
# id = "presiding_judge"
# role = "presiding_judge"
"""


def unit_dir() -> Path:
    """Where the unit files ship: the source checkout, or ``share/courtbox/systemd``."""
    for candidate in (Path(__file__).resolve().parents[2] / "systemd",
                      Path(sys.prefix) / "share" / "courtbox" / "systemd"):
        if (candidate / AGENT_UNIT).is_file():
            return candidate
    raise CourtboxError("the courtbox unit files are not installed with this courtbox "
                        "(looked in the source checkout and share/courtbox/systemd)")


def courtbox_executable() -> Path:
    exe = Path(sys.executable).with_name("courtbox")
    if exe.is_file():
        return exe
    found = shutil.which("courtbox")
    if found is None:
        raise CourtboxError("cannot find the courtbox command to point the units at")
    return Path(found).resolve()


def systemd_running(root: Path) -> bool:
    return root == Path("/") and Path("/run/systemd/system").is_dir()


def install(root: Path = Path("/"), *, central: bool = False, start: bool = False,
            say: Callable[[str], None] = print) -> None:
    root = Path(root)
    source = unit_dir()
    units = [AGENT_UNIT] + ([CENTRAL_UNIT, CENTRAL_WEB_UNIT] if central else [])

    sysusers = root / "usr/lib/sysusers.d/courtbox.conf"
    sysusers.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / SYSUSERS, sysusers)
    (root / "etc").mkdir(exist_ok=True)
    _run(["systemd-sysusers", f"--root={root}", sysusers.name] if root != Path("/")
         else ["systemd-sysusers", sysusers.name], "create the courtbox accounts")
    say(f"accounts: courtbox (group audio), courtbox-central ({sysusers})")

    config = root / "etc/courtbox/agent.toml"
    if not config.parent.exists():
        # Traversable: each file inside is 0640 and readable by its service's group only.
        config.parent.mkdir(parents=True)
        config.parent.chmod(0o755)
    if config.exists():
        say(f"config: {config} kept as it is")
    else:
        config.write_text(CONFIG_SKELETON, encoding="utf-8")
        config.chmod(0o640)
        give_group(config, root, "courtbox")
        say(f"config: {config} written; edit the court, room and seats")
    if central:
        install_central_config(root, say)

    exe = courtbox_executable()
    target = root / "etc/systemd/system"
    target.mkdir(parents=True, exist_ok=True)
    for unit in units:
        text = (source / unit).read_text(encoding="utf-8").replace(PLACEHOLDER, str(exe))
        (target / unit).write_text(text, encoding="utf-8")
        say(f"unit: {target / unit} (ExecStart {exe})")

    if systemd_running(root):
        _run(["systemctl", "daemon-reload"], "reload systemd")
        _run(["systemctl", "enable", *(["--now"] if start else []), *units],
             "enable the units")
        say(f"enabled: {' '.join(units)}" + (" (started)" if start else ""))
    else:
        say("systemd is not running here: enable the units on the box with "
            f"`systemctl enable --now {' '.join(units)}`")
    say("next: create the admin account with `sudo -u courtbox courtbox user add NAME "
        "--role admin`, then set api.host to serve the room's screens")


def central_template() -> str:
    """The centre's TOML with every key of ``CentralConfig`` at its default, each under
    its description, and the database left for the court to name."""
    from courtbox.central.config import CentralConfig

    out = ["# courtbox centre configuration, shared by every collector and the web service",
           "# of the court (docs/central.md). Unknown keys are errors. Keep it 0640: it",
           "# holds the S3 secret. Then: courtbox central migrate --config THIS_FILE", ""]
    defaults = CentralConfig().model_dump(mode="json")
    for section, field in CentralConfig.model_fields.items():
        out += [f"# {field.description}", f"[{section}]"]
        model = field.annotation
        for key, sub in model.model_fields.items():
            out += [f"# {line}" for line in _wrap(sub.description or "")]
            value = defaults[section][key]
            if section == "central" and key == "database":
                out.append('database = ""   # e.g. "postgresql://courtbox@db.court.example/'
                           'courtbox": required')
            elif value is None or isinstance(value, dict):
                out.append(f"# {key} =")
            else:
                out.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
        out.append("")
    return "\n".join(out)


def _wrap(text: str, width: int = 86) -> list[str]:
    import textwrap

    return textwrap.wrap(text.replace("``", "`"), width) or [""]


def install_central_config(root: Path, say: Callable[[str], None]) -> None:
    """``/etc/courtbox/central.toml`` from ``central_template``, unless there is one;
    readable by the collector's group where the account exists on this machine."""
    config = root / "etc/courtbox/central.toml"
    if config.exists():
        say(f"config: {config} kept as it is")
        return
    config.write_text(central_template(), encoding="utf-8")
    config.chmod(0o640)
    give_group(config, root, "courtbox-central")
    say(f"config: {config} written; name the database (central.database) and the S3 "
        "store ([objects])")


def give_group(path: Path, root: Path, group: str) -> None:
    """Make ``path`` root's and ``group``'s (as ``root/etc/group`` names it: the accounts
    just created, in an image too), so that the service running as that group reads it.
    Left as it is when this process may not chown."""
    groups = root / "etc/group"
    if os.geteuid() != 0 or not groups.exists():
        return
    for line in groups.read_text(encoding="utf-8").splitlines():
        name, _, gid, *_ = line.split(":") + ["", "", ""]
        if name == group and gid.isdigit():
            os.chown(path, 0, int(gid))
            return


def uninstall(root: Path = Path("/"), *, say: Callable[[str], None] = print) -> None:
    root = Path(root)
    target = root / "etc/systemd/system"
    units = [u for u in (AGENT_UNIT, CENTRAL_UNIT, CENTRAL_WEB_UNIT)
             if (target / u).exists()]
    if systemd_running(root) and units:
        _run(["systemctl", "disable", "--now", *units], "stop and disable the units")
    for unit in units:
        (target / unit).unlink()
        say(f"removed {target / unit}")
    if systemd_running(root):
        _run(["systemctl", "daemon-reload"], "reload systemd")
    say(f"kept: the data ({root / 'var/lib/courtbox'}), the config "
        f"({root / 'etc/courtbox'}) and the courtbox accounts")


def _run(cmd: list[str], what: str) -> None:
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as e:
        raise CourtboxError(f"cannot {what}: {cmd[0]}: {e}") from e
    if r.returncode != 0:
        raise CourtboxError(f"cannot {what}: {' '.join(cmd)}: "
                            f"{(r.stderr or r.stdout).strip()}")
