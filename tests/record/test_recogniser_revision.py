"""The recogniser's second reading of a seat's whole turn (``transcribe.turns``) as the
record keeps it (``record.recognised.recogniser_revision``): the turn's first line gets the
whole text as its next revision by the recogniser, the later lines are merged into it, the
machine's first text stays as revision 0, all audited and chained; never over a person's
correction nor a signed transcript."""

from __future__ import annotations

import pytest

from courtbox.config import load_config
from courtbox.record.hearing import HearingInfo, open_hearing, start_hearing
from courtbox.record.recognised import RECOGNISER, recogniser_revision
from courtbox.record.store import Store
from courtbox.record.transcript import correct_line


@pytest.fixture
def hearing(store: Store) -> str:
    config = load_config("/dev/null", data_dir=store.path.parent)
    hid = open_hearing(store, config, HearingInfo(case_number="(2026)京0105民初8号"),
                       actor="clerk1", sample_rate=16000)
    start_hearing(store, hid, actor="clerk1")
    for uid, t0, t1, text in (("a", 1.0, 3.0, "本庭现在"), ("b", 3.8, 5.0, "开亭"),
                              ("c", 9.0, 11.0, "请坐")):
        store.add_final(hearing_id=hid, utterance_id=uid, seat="presiding_judge", t0=t0,
                        t1=t1, text=text, words=[], avg_logprob=-0.3)
    return hid


def test_a_turn_read_again_is_one_line_revised_by_the_recogniser(store: Store,
                                                                 hearing: str) -> None:
    row = recogniser_revision(store, hearing, "a", text="本庭现在开庭", t1=5.0,
                              words=[], avg_logprob=-0.2, merged=("b",))
    assert row is not None and (row["revision"], row["author"]) == (1, RECOGNISER)
    assert [(r["utterance_id"], r["t0"], r["t1"], r["text"]) for r in store.finals(hearing)
            ] == [("a", 1.0, 5.0, "本庭现在开庭"), ("c", 9.0, 11.0, "请坐")]
    assert [r["text"] for r in store.revisions(hearing, "a")] == ["本庭现在", "本庭现在开庭"]
    assert [(r["text"], r["author"]) for r in store.revisions(hearing, "b")] == [
        ("开亭", "asr"), ("", RECOGNISER)]
    (entry,) = store.audit_entries(hearing, "transcript.recogniser_revision")
    assert entry["detail"]["merged"] == ["b"] and entry["actor"] == RECOGNISER


def test_a_persons_correction_is_never_overwritten_by_the_recogniser(store: Store,
                                                                     hearing: str) -> None:
    correct_line(store, hearing, "b", text="开庭", base_revision=0, user="clerk1")
    assert recogniser_revision(store, hearing, "a", text="本庭现在开庭", t1=5.0, words=[],
                               avg_logprob=None, merged=("b",)) is None
    assert [r["text"] for r in store.finals(hearing)] == ["本庭现在", "开庭", "请坐"]
    (entry,) = store.audit_entries(hearing, "transcript.recogniser_revision_skipped")
    assert "clerk1" in entry["detail"]["reason"]
