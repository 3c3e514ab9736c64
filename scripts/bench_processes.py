"""The processes of ``scripts/bench_central.py``: what each has cost in CPU seconds and
memory (from ``/proc``: no library needed for two numbers), and every one it starts, stopped
on the way out."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int, children: bool = True) -> float:
    """CPU seconds of a process (and of its children it has reaped); 0 when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    f = text[text.rindex(")") + 2:].split()
    ticks = int(f[11]) + int(f[12]) + ((int(f[13]) + int(f[14])) if children else 0)
    return ticks / TICK


def proc_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_cpu(root: int | None) -> float | None:
    """CPU of ``root`` and every live child of it (PostgreSQL's backends)."""
    if root is None or not Path(f"/proc/{root}").exists():
        return None
    total = proc_cpu(root)
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                text = (p / "stat").read_text()
                if int(text[text.rindex(")") + 2:].split()[1]) == root:
                    total += proc_cpu(int(p.name), children=False)
    return total


class Processes:
    """Every process the benchmark starts, stopped (TERM, then KILL) on the way out."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, cmd: list[str], log: Path, **kw) -> subprocess.Popen:
        out = log.open("ab")
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, **kw)
        out.close()
        self.procs.append(proc)
        return proc

    def stop(self, sig: int = signal.SIGTERM, grace: float = 20) -> None:
        """``sig`` to each (a collector given SIGINT hands its leases back), then KILL."""
        procs = self.procs
        for p in procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, sig)
        deadline = time.monotonic() + grace
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs = []


class Meter:
    """CPU seconds of each group of processes, from one reading to the next."""

    def __init__(self, groups: dict) -> None:
        self.groups = groups  # name -> callable giving CPU seconds (or None)
        self.at = self.read()

    def read(self) -> dict:
        return {"wall": time.monotonic(), **{k: f() for k, f in self.groups.items()}}

    def lap(self) -> dict:
        now, before = self.read(), self.at
        self.at = now
        return {k: (None if now[k] is None or before[k] is None else now[k] - before[k])
                for k in now}
