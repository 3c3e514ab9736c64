"""The hearing lifecycle: every transition allowed or refused, every one audit-logged."""

from __future__ import annotations

import json

import pytest

from courtbox.config import load_config
from courtbox.errors import HearingError
from courtbox.record.hearing import (
    HearingInfo,
    close_hearing,
    next_part,
    open_hearing,
    pause_hearing,
    resume_hearing,
    start_hearing,
)
from courtbox.record.store import Store


def _open(store: Store) -> str:
    config = load_config("/dev/null", data_dir=store.path.parent)
    return open_hearing(store, config, HearingInfo("(2026)沪0101民初9号", case_type="民事",
                                                   panel=["张三"], parties=["甲公司", "乙"]),
                        actor="clerk1", sample_rate=48000)


def test_full_lifecycle_is_audited_with_actor_and_reason(store: Store) -> None:
    """open → start → pause(休庭) → resume → pause(other) → resume → close, all logged."""
    hid = _open(store)
    start_hearing(store, hid, actor="clerk1")
    pause_hearing(store, hid, actor="clerk1", reason="recess")
    assert store.hearing(hid)["state"] == "paused"
    assert resume_hearing(store, hid, actor="clerk1") == 1
    pause_hearing(store, hid, actor="clerk1", reason="other", text="设备检修")
    resume_hearing(store, hid, actor="judge1")
    close_hearing(store, hid, actor="clerk1")
    rows = list(store.db.execute("SELECT actor, action, detail FROM audit_log ORDER BY id"))
    assert [r[1] for r in rows] == ["hearing.open", "hearing.start", "hearing.pause",
                                    "hearing.resume", "hearing.pause", "hearing.resume",
                                    "hearing.close"]
    assert json.loads(rows[2][2])["reason_name"] == "休庭"
    assert json.loads(rows[4][2])["text"] == "设备检修"
    assert rows[5][0] == "judge1"
    hearing = store.hearing(hid)
    assert hearing["state"] == "closed" and hearing["wall_start"] and hearing["closed_at"]


@pytest.mark.parametrize("steps, bad", [
    ([], "pause"), ([], "resume"), (["start"], "start"), (["start"], "resume"),
    (["start", "pause"], "pause"), (["close"], "start"), (["close"], "close"),
])
def test_transitions_out_of_order_are_refused(store: Store, steps: list[str], bad: str
                                              ) -> None:
    """A transition the state does not allow raises HearingError naming the state."""
    hid = _open(store)
    actions = {"start": lambda: start_hearing(store, hid, actor="c"),
               "pause": lambda: pause_hearing(store, hid, actor="c", reason="mediation"),
               "resume": lambda: resume_hearing(store, hid, actor="c"),
               "close": lambda: close_hearing(store, hid, actor="c")}
    for step in steps:
        actions[step]()
    state = store.hearing(hid)["state"]
    with pytest.raises(HearingError, match=f"it is {state}"):
        actions[bad]()
    assert store.hearing(hid)["state"] == state


def test_pause_reasons_are_checked(store: Store) -> None:
    """Unknown reasons and 'other' without a text are refused; the hearing keeps recording."""
    hid = _open(store)
    start_hearing(store, hid, actor="c")
    with pytest.raises(HearingError, match="not one of recess"):
        pause_hearing(store, hid, actor="c", reason="lunch")
    with pytest.raises(HearingError, match="needs a text"):
        pause_hearing(store, hid, actor="c", reason="other", text=" ")
    assert store.hearing(hid)["state"] == "recording"
    assert next_part(store, hid) == 1


def test_the_hearings_own_names_become_hotwords_but_not_its_case_number() -> None:
    """Issue 18: fed `(2026)京0105民初123号`, the recogniser wrote 京神病医师 for 精神病医师."""
    from courtbox.record.hearing import hearing_hotwords

    hearing = {"case_number": "(2026)京0105民初123号", "clerk": "王芳",
               "panel": ["张三", "李四"], "parties": ["北京某某科技有限公司", "张三", " ", "赵"],
               "terms": ["违约金", "第3条", "(2025)京01民终7号"]}
    assert hearing_hotwords(hearing) == ("王芳", "张三", "李四", "北京某某科技有限公司",
                                         "违约金")
