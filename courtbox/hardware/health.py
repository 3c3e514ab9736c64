"""The box's health: what the probes read, and which readings cross their thresholds.

Probes (each ``None`` where this machine cannot tell, never guessed): disk space as hours
of recording, CPU load per core, the hottest thermal zone in sysfs, available memory,
clock synchronisation. The agent adds what only it knows (the audio device, the archive
and transcription lag, a speech model it could not load) and turns ``alarms`` into audit
events when one starts or clears (``courtbox.room.healthwatch``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from courtbox.hardware.clock import clock_synchronized
from courtbox.hardware.disk import disk_status

THERMAL = Path("/sys/class/thermal")
MEMINFO = Path("/proc/meminfo")


@dataclass(frozen=True)
class Thresholds:
    """Where a reading becomes an alarm (the agent's ``[health]`` config)."""

    disk_hours_min: float
    load_per_core_max: float
    temperature_max_c: float
    memory_available_min_pct: float
    archive_lag_max_s: float
    transcription_lag_max_s: float

    @classmethod
    def of(cls, section: object) -> Thresholds:
        """The thresholds named in ``section`` (the config's ``[health]``), by field name."""
        return cls(**{f.name: getattr(section, f.name) for f in fields(cls)})


def temperature_c(root: Path = THERMAL) -> float | None:
    """The hottest thermal zone, in °C; None without any."""
    temps = []
    for zone in root.glob("thermal_zone*/temp"):
        try:
            temps.append(int(zone.read_text().strip()) / 1000)
        except (OSError, ValueError):
            continue
    return max(temps) if temps else None


def memory(path: Path = MEMINFO) -> dict | None:
    try:
        fields = dict(line.split(":", 1) for line in path.read_text().splitlines()
                      if ":" in line)
        total = int(fields["MemTotal"].split()[0]) << 10
        available = int(fields["MemAvailable"].split()[0]) << 10
    except (OSError, KeyError, ValueError):
        return None
    return {"total_bytes": total, "available_bytes": available,
            "available_pct": round(100 * available / total, 1)}


class Every:
    """``fn``'s answer, asked again only when the last one is over ``max_age_s`` old: for
    probes too costly to run on every request."""

    def __init__(self, fn: Callable[[], Any], max_age_s: float) -> None:
        self.fn = fn
        self.max_age_s = max_age_s
        self._at: float | None = None
        self._value: Any = None
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            if self._at is None or time.monotonic() - self._at > self.max_age_s:
                self._value, self._at = self.fn(), time.monotonic()
            return self._value

    def seed(self, value: Any) -> None:
        """Take ``value`` as a fresh answer (one the caller just had by other means)."""
        with self._lock:
            self._value, self._at = value, time.monotonic()


clock_synced = Every(clock_synchronized, 60.0)  # runs timedatectl: once a minute


def read_probes(data_dir: Path, *, channels: int, sample_rate: int,
                reserve_bytes: int) -> dict:
    disk = disk_status(data_dir, channels=channels, sample_rate=sample_rate,
                       reserve_bytes=reserve_bytes)
    cores = os.cpu_count() or 1
    load1, load5, _ = os.getloadavg()
    return {
        "disk": {"free_bytes": disk.free_bytes, "total_bytes": disk.total_bytes,
                 "hours_left": round(disk.hours_left, 1), "full": disk.full},
        "cpu": {"cores": cores, "load1": round(load1, 2), "load5": round(load5, 2),
                "load_per_core": round(load5 / cores, 2)},
        "temperature_c": temperature_c(),
        "memory": memory(),
        "clock_synced": clock_synced(),
    }


def alarms(probes: dict, limits: Thresholds) -> dict[str, str]:
    """Alarm name -> what is wrong, for every reading past its threshold."""
    out: dict[str, str] = {}
    disk = probes.get("disk") or {}
    if disk.get("full"):
        out["disk_full"] = "the data disk is full: recording is held in memory"
    elif disk.get("hours_left", float("inf")) < limits.disk_hours_min:
        out["disk_low"] = f"{disk['hours_left']} hours of recording fit on the disk"
    cpu = probes.get("cpu") or {}
    if cpu.get("load_per_core", 0) > limits.load_per_core_max:
        out["cpu_load"] = f"CPU load {cpu['load_per_core']} per core"
    temp = probes.get("temperature_c")
    if temp is not None and temp > limits.temperature_max_c:
        out["temperature"] = f"{temp:.0f} °C"
    mem = probes.get("memory")
    if mem is not None and mem["available_pct"] < limits.memory_available_min_pct:
        out["memory_low"] = f"{mem['available_pct']} % of memory available"
    if probes.get("clock_synced") is False:
        out["clock_unsynced"] = "the clock is not synchronised: hearing times are unsure"
    device = probes.get("audio_device")
    if device is not None and not device["present"]:
        out["audio_device_missing"] = device["message"]
    if probes.get("dead_mics"):
        out["dead_mics"] = "no signal from " + ", ".join(probes["dead_mics"])
    if probes.get("database") not in (None, "ok"):
        out["database"] = f"the database check says: {probes['database']}"
    if probes.get("model_problem"):
        out["model_unavailable"] = (f"{probes['model_problem']}: recording without "
                                    "transcription")
    lag = probes.get("lag") or {}
    if lag.get("archive_s", 0) > limits.archive_lag_max_s:
        out["archive_lag"] = f"the archive is {lag['archive_s']:.0f} s behind capture"
    if lag.get("transcription_s", 0) > limits.transcription_lag_max_s:
        out["transcription_lag"] = (f"transcription is {lag['transcription_s']:.0f} s "
                                    "behind speech")
    return out
