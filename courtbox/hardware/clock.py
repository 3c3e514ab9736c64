"""Is the system clock synchronised? Hearing times are evidence, so the answer is recorded.

Asks systemd-timedated (``timedatectl show``), which reports what chrony, ntpd or
systemd-timesyncd last achieved. ``None`` means nobody could tell (no timedatectl, no
systemd), which is recorded as unknown rather than guessed.
"""

from __future__ import annotations

import logging
import shutil
import subprocess

logger = logging.getLogger(__name__)


def clock_synchronized() -> bool | None:
    exe = shutil.which("timedatectl")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, "show", "--property=NTPSynchronized", "--value"],
                             capture_output=True, text=True, timeout=5, check=True).stdout
    except (subprocess.SubprocessError, OSError):
        logger.debug("timedatectl could not tell the clock state", exc_info=True)
        return None
    value = out.strip().lower()
    return True if value == "yes" else False if value == "no" else None
