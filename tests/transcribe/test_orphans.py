"""A recogniser never outlives the agent that started it (issue 17, class 10): after
``kill -9`` of a real ``courtbox run`` its speech process ends within seconds. Before the
fix it lived on for minutes at 15 % CPU."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.conftest import RunningAgent


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found |= {int(c) for c in text}
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_the_recogniser_dies_with_a_killed_agent(tmp_path: Path, model_dir: Path) -> None:
    agent = RunningAgent(tmp_path, extra_config="[sync]\nadvertise = false\n")
    try:
        children = _children(agent.proc.pid)
        cmdlines = {c: Path(f"/proc/{c}/cmdline").read_bytes() for c in children}
        recognisers = [c for c, cmd in cmdlines.items() if b"multiprocessing" in cmd]
        assert recognisers, cmdlines
    finally:
        os.kill(agent.proc.pid, signal.SIGKILL)
        agent.proc.wait()
    deadline = time.monotonic() + 5
    while any(_alive(c) for c in children):
        assert time.monotonic() < deadline, [c for c in children if _alive(c)]
        time.sleep(0.1)
