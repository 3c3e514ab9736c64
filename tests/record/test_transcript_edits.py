"""A clerk's edits of the transcript's shape (``courtbox.record.edits``): a line moved to
another seat, split in two, two lines merged. Each is a revision in the record (the old
ones stay), chained into the outbox, audited, in the exports, and refused once the
transcript is signed off."""

from __future__ import annotations

import json

import pytest

from courtbox.config import load_config
from courtbox.errors import NoSuchLine, TranscriptError
from courtbox.record import export
from courtbox.record.edits import merge_lines, move_line, split_line
from courtbox.record.hearing import HearingInfo, close_hearing, open_hearing, start_hearing
from courtbox.record.store import Store
from courtbox.record.transcript import sign_off
from courtbox.record.verify import verify
from tests.conftest import RECORDED_LINES


@pytest.fixture
def hearing(store: Store) -> str:
    config = load_config("/dev/null", data_dir=store.path.parent)
    hid = open_hearing(store, config, HearingInfo(case_number="(2026)京0105民初7号"),
                       actor="clerk1", sample_rate=16000)
    start_hearing(store, hid, actor="clerk1")
    for n, (seat, t0, t1, text) in enumerate(RECORDED_LINES):
        store.add_final(hearing_id=hid, utterance_id=f"u{n}", seat=seat, t0=t0, t1=t1,
                        text=text, words=[], avg_logprob=-0.3)
    return hid


def _lines(store: Store, hid: str) -> list[tuple[str, str, float, float, str]]:
    return [(r["utterance_id"], r["seat"], r["t0"], r["t1"], r["text"])
            for r in store.finals(hid)]


def _actions(store: Store, hid: str) -> list[str]:
    return [a["action"] for a in store.audit_entries(hid, "transcript.")]


def test_a_line_moved_to_another_seat_is_a_revision(store: Store, hearing: str) -> None:
    row = move_line(store, hearing, "u1", seat="defendant", base_revision=0, user="clerk1")
    assert (row["seat"], row["revision"], row["author"]) == ("defendant", 1, "clerk1")
    assert [r["seat"] for r in store.revisions(hearing, "u1")] == ["plaintiff", "defendant"]
    assert _lines(store, hearing)[1][1] == "defendant"
    (entry,) = store.audit_entries(hearing, "transcript.move")
    assert entry["detail"]["seat_from"] == "plaintiff"
    assert entry["detail"]["seat_to"] == "defendant"
    with pytest.raises(NoSuchLine, match="no seat judge9"):
        move_line(store, hearing, "u1", seat="judge9", base_revision=1, user="clerk1")
    with pytest.raises(TranscriptError, match="revised meanwhile"):
        move_line(store, hearing, "u1", seat="plaintiff", base_revision=0, user="clerk1")
    assert "transcript.move_refused" in _actions(store, hearing)


def test_a_split_line_is_two_lines_and_the_old_one_stays(store: Store, hearing: str) -> None:
    text = RECORDED_LINES[0][3]  # 现在开庭。请原告陈述诉讼请求。
    first, second = split_line(store, hearing, "u0", at=5, base_revision=0, user="clerk1")
    assert (first["text"], first["revision"]) == ("现在开庭。", 1)
    assert (second["utterance_id"], second["text"], second["revision"]) == (
        "u0.2", "请原告陈述诉讼请求。", 1)
    t = round(0.5 + 2.5 * 5 / len(text), 3)
    assert _lines(store, hearing)[:2] == [("u0", "presiding_judge", 0.5, t, "现在开庭。"),
                                           ("u0.2", "presiding_judge", t, 3.0,
                                            "请原告陈述诉讼请求。")]
    assert store.revisions(hearing, "u0")[0]["text"] == text  # the machine's, kept
    assert "transcript.split" in _actions(store, hearing)
    with pytest.raises(TranscriptError, match="both sides"):
        split_line(store, hearing, "u1", at=0, base_revision=0, user="clerk1")
    # the new line splits again like any other
    _, third = split_line(store, hearing, "u0.2", at=3, base_revision=1, user="clerk1")
    assert third["utterance_id"] == "u0.2.2"


def test_two_merged_lines_are_one_and_the_second_is_gone(store: Store, hearing: str) -> None:
    row = merge_lines(store, hearing, "u1", "u2", base_revision=0, next_revision=0,
                      user="clerk1")
    assert row["text"] == RECORDED_LINES[1][3] + RECORDED_LINES[2][3]
    assert (row["t0"], row["t1"]) == (3.5, 11.0)
    assert [u for u, *_ in _lines(store, hearing)] == ["u0", "u1"]
    assert store.count_finals(hearing) == 2
    assert [r["text"] for r in store.revisions(hearing, "u2")][0] == RECORDED_LINES[2][3]
    assert "transcript.merge" in _actions(store, hearing)
    with pytest.raises(NoSuchLine):  # merged away: not a line any more
        move_line(store, hearing, "u2", seat="plaintiff", base_revision=1, user="clerk1")
    with pytest.raises(TranscriptError, match="not the line after"):
        merge_lines(store, hearing, "u1", "u0", base_revision=1, next_revision=0,
                    user="clerk1")


def test_edits_are_in_the_exports_and_the_chain(store: Store, hearing: str) -> None:
    move_line(store, hearing, "u2", seat="plaintiff", base_revision=0, user="clerk1")
    split_line(store, hearing, "u0", at=5, base_revision=0, user="clerk1")
    merge_lines(store, hearing, "u1", "u2", base_revision=0, next_revision=1,
                user="clerk1")
    record = export.load_record(store, hearing)
    assert [(ln.text, ln.revision) for ln in record.lines] == [
        ("现在开庭。", 1), ("请原告陈述诉讼请求。", 1),
        (RECORDED_LINES[1][3] + RECORDED_LINES[2][3], 1)]
    txt = export.render(record, "txt").decode("utf-8")
    assert "请原告陈述诉讼请求。" in txt and "被告对原告提交的证据有异议。" in txt
    assert txt.count("被告对原告提交的证据有异议。") == 1
    lines = json.loads(export.render(record, "json"))["lines"]
    assert len(lines) == 3
    report = verify(store.path.parent, hearing)
    assert report.ok, report


def test_after_sign_off_every_edit_is_refused_and_audited(store: Store,
                                                          hearing: str) -> None:
    close_hearing(store, hearing, actor="clerk1")
    sign_off(store, hearing, user="clerk1", role="clerk")
    for edit in (lambda: move_line(store, hearing, "u0", seat="plaintiff", base_revision=0,
                                   user="clerk1"),
                 lambda: split_line(store, hearing, "u0", at=3, base_revision=0,
                                    user="clerk1"),
                 lambda: merge_lines(store, hearing, "u0", "u1", base_revision=0,
                                     next_revision=0, user="clerk1")):
        with pytest.raises(TranscriptError, match="不能再更正"):
            edit()
    refused = [a for a in _actions(store, hearing) if a.endswith("_refused")]
    assert refused == ["transcript.move_refused", "transcript.split_refused",
                       "transcript.merge_refused"]
    assert store.count_finals(hearing) == 3
