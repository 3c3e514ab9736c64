"""Health: the probes read this machine (and a thermal zone laid out as sysfs lays it
out), thresholds from the config turn readings into alarms, and the running agent serves
them at /api/v1/health and audit-logs each alarm when it starts."""

from __future__ import annotations

import json
import time
from pathlib import Path

from courtbox.config import parse_config
from courtbox.hardware.health import Every, Thresholds, alarms, read_probes, temperature_c
from courtbox.record.store import Store
from tests.conftest import RunningAgent


def test_probes_read_this_machine(tmp_path: Path) -> None:
    probes = read_probes(tmp_path, channels=4, sample_rate=16000, reserve_bytes=1 << 20)
    assert probes["disk"]["free_bytes"] > 0 and probes["disk"]["hours_left"] > 0
    assert probes["cpu"]["cores"] >= 1 and probes["cpu"]["load1"] >= 0
    assert 0 < probes["memory"]["available_pct"] <= 100
    zone = tmp_path / "thermal" / "thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "temp").write_text("91500\n")
    assert temperature_c(tmp_path / "thermal") == 91.5
    assert temperature_c(tmp_path / "none") is None


def test_thresholds_from_the_config_make_alarms() -> None:
    limits = Thresholds.of(parse_config(
        {"health": {"temperature_max_c": 80, "disk_hours_min": 10}}).health)
    probes = {"disk": {"hours_left": 3.0, "full": False}, "temperature_c": 91.5,
              "cpu": {"load_per_core": 0.5}, "memory": {"available_pct": 50.0},
              "clock_synced": False, "audio_device": {"present": False,
                                                      "message": "input device 'X' not found"},
              "dead_mics": ["plaintiff"], "lag": {"archive_s": 0, "transcription_s": 120},
              "database": "row 7 missing from index hearings_case",
              "model_problem": "model.path /m: no such directory"}
    got = alarms(probes, limits)
    assert set(got) == {"disk_low", "temperature", "clock_unsynced", "audio_device_missing",
                        "dead_mics", "transcription_lag", "database", "model_unavailable"}
    assert got["audio_device_missing"] == "input device 'X' not found"
    calm = {**probes, "disk": {"hours_left": 30.0, "full": False}, "temperature_c": None,
            "clock_synced": None, "audio_device": {"present": True, "message": ""},
            "dead_mics": [], "lag": {}, "database": "ok", "model_problem": None}
    assert alarms(calm, limits) == {}


def test_a_costly_probe_runs_at_most_once_per_period_and_can_be_seeded() -> None:
    """The database check: the start-up check's answer seeds it, so the first health
    reading does not read the whole database a second time."""
    calls: list[float] = []
    probe = Every(lambda: calls.append(time.monotonic()) or "ok", max_age_s=0.2)
    probe.seed("ok")
    assert probe() == "ok" and probe() == "ok" and calls == []
    time.sleep(0.25)
    assert probe() == "ok" and len(calls) == 1
    assert probe() == "ok" and len(calls) == 1


def test_agent_serves_health_and_audit_logs_alarms(tmp_path: Path, cache_dir: Path) -> None:
    agent = RunningAgent(tmp_path, transcribe=False, extra_config=(
        "[health]\ninterval_s = 1\ndisk_hours_min = 10000\n"))
    try:
        with agent.client("tech1") as tech:
            health = tech.get("/api/v1/health").json()
        assert health["status"] == "alarm" and "disk_low" in health["alarms"]
        assert health["audio_device"]["present"] is True
        for key in ("disk", "cpu", "memory", "temperature_c", "clock_synced", "lag"):
            assert key in health
        time.sleep(1.5)
    finally:
        agent.stop()
    store = Store.in_dir(agent.data)
    try:
        raised = [json.loads(d) for (d,) in store.db.execute(
            "SELECT detail FROM audit_log WHERE action = 'health.alarm'")]
    finally:
        store.close()
    assert [a["alarm"] for a in raised] == ["disk_low"]  # once, not at every check
