"""``courtbox run`` as a process: SIGTERM mid-recording closes the part and flushes
everything; after a restart the recording hearing records on by itself and the clerk
resumes the paused one where it stood."""

from __future__ import annotations

import time
from pathlib import Path

from courtbox.record.store import Store
from tests.conftest import RunningAgent, run_courtbox


def _store_read(data: Path, fn):
    store = Store.in_dir(data)
    try:
        return fn(store)
    finally:
        store.close()


def test_sigterm_closes_the_part_and_a_restart_carries_on(tmp_path: Path,
                                                         cache_dir: Path) -> None:
    agent = RunningAgent(tmp_path / "first", transcribe=False)
    try:
        with agent.client("clerk1") as clerk:
            paused = clerk.post("/api/v1/hearings", json={"case_number": "A"}).json()["id"]
            clerk.post(f"/api/v1/hearings/{paused}/start").raise_for_status()
            time.sleep(3)
            clerk.post(f"/api/v1/hearings/{paused}/pause",
                       json={"reason": "mediation"}).raise_for_status()
            live = clerk.post("/api/v1/hearings", json={"case_number": "B"}).json()["id"]
            clerk.post(f"/api/v1/hearings/{live}/start").raise_for_status()
            time.sleep(7.5)
    finally:
        assert agent.stop() == 0, agent.log.read_text()  # SIGTERM while B records

    # Everything B captured before the signal is archived, hashed and verifiable.
    segments = _store_read(agent.data, lambda s: s.segments(live))
    assert sum(s["frames"] for s in segments) / 16000 >= 6.5
    assert not any(s["defective"] for s in segments)
    run_courtbox("verify", "--data-dir", str(agent.data))

    again = RunningAgent(tmp_path / "second", transcribe=False, data=agent.data)
    try:
        with again.client("clerk1") as clerk:
            # B was recording when the service stopped: it records on by itself.
            assert clerk.get(f"/api/v1/hearings/{live}").json()["state"] == "recording"
            time.sleep(2)
            assert clerk.post(f"/api/v1/hearings/{live}/close").json()["state"] == "closed"
            # A was paused: it resumes as a new part, later on its own timeline.
            before = _store_read(agent.data, lambda s: s.segments(paused))
            end = max(s["start_sample"] + s["frames"] for s in before)
            r = clerk.post(f"/api/v1/hearings/{paused}/resume")
            assert r.status_code == 200 and r.json()["state"] == "recording", r.text
            time.sleep(6)
            clerk.post(f"/api/v1/hearings/{paused}/close").raise_for_status()
            txt = clerk.get(f"/api/v1/hearings/{paused}/export",
                            params={"format": "txt"}).text
            assert "休庭（调解）" in txt and "继续开庭" in txt and "闭庭" in txt
    finally:
        assert again.stop() == 0, again.log.read_text()
    b_parts = _store_read(agent.data, lambda s: s.segments(live))
    assert {s["part"] for s in b_parts} == {1, 2}
    continued = _store_read(agent.data, lambda s: [
        a["detail"] for a in s.audit_entries(live) if a["action"] == "recording.continued"])
    assert len(continued) == 1 and continued[0]["gap_seconds"] > 0
    after = _store_read(agent.data, lambda s: s.segments(paused))
    part2 = [s for s in after if s["part"] == 2]
    assert part2 and part2[0]["start_sample"] >= end + 16000 * 7  # the pause and restart
    actions = _store_read(agent.data, lambda s: [a["action"]
                                                 for a in s.db["audit_log"].rows])
    assert actions.count("agent.start") == 2 and actions.count("agent.stop") >= 2
    run_courtbox("verify", "--data-dir", str(agent.data))
