"""Text that lies (issue 17, class 9): bidirectional overrides, NUL and other controls and
terminal escapes. Identifiers (case numbers, user and display names, the panel's accounts)
refuse them with a 422 naming the field; free text (corrections, annotations) is kept as it
was typed, and every export neutralises what a person cannot type."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from courtbox.config import load_config
from courtbox.errors import BadText
from courtbox.record import users
from courtbox.record.export import load_record, render
from courtbox.record.hearing import HearingInfo, close_hearing, open_hearing
from courtbox.record.text import check_identifier, neutral
from courtbox.record.transcript import correct_line
from courtbox.web.app import create_app
from tests.conftest import PASSWORD

LIARS = ["\u202e", "\u202a", "\u2066", "\u2069", "\x00", "\x1b[2J", "\x07", "\x85",
         "\u2028", "\u200f"]


def test_the_sanitiser_keeps_what_a_person_types_and_shows_the_rest() -> None:
    typed = "原告：请求判令被告支付货款30万元（含违约金）。\n第二行，English & 123!"
    assert neutral(typed) == typed
    assert neutral("甲\u202e乙") == "甲[U+202E]乙"
    assert neutral("\x1b[31m红") == "[U+001B][31m红"
    assert neutral("a\x00b\tc") == "a[U+0000]b c"
    assert neutral("一\n二", multiline=False) == "一 二"
    for liar in LIARS:
        with pytest.raises(BadText, match="case_number"):
            check_identifier("case_number", f"(2026)京0105民初{liar}1号")
    check_identifier("case_number", "(2026)京0105民初123号")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(tmp_path / "data")

    def prepare(s) -> str:
        users.add_user(s, "admin1", "admin", PASSWORD, actor="test")
        return users.login(s, "admin1", PASSWORD)[0]

    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {app.state.api.write(prepare)}"
        yield client


@pytest.mark.parametrize("liar", LIARS)
def test_identifiers_refuse_controls_with_the_field_named(served: TestClient,
                                                          liar: str) -> None:
    """Before the fix the case number passed validation (503: nothing records here)."""
    r = served.post("/api/v1/hearings", json={"case_number": f"(2026)京{liar}1号"})
    assert r.status_code == 422, r.text
    assert "case_number" in json.dumps(r.json()["detail"])
    r = served.post("/api/v1/hearings", json={"case_number": "(2026)京1号",
                                              "panel": [f"张{liar}三"]})
    assert r.status_code == 422 and "panel" in json.dumps(r.json()["detail"])
    r = served.post("/api/v1/users", json={"name": "li", "role": "clerk",
                                           "password": PASSWORD,
                                           "display_name": f"李{liar}四"})
    assert r.status_code == 422 and "display_name" in json.dumps(r.json()["detail"])


def test_the_record_refuses_a_lying_case_number(store, tmp_path: Path) -> None:
    config = load_config("/dev/null", data_dir=tmp_path)
    with pytest.raises(BadText, match="case_number"):
        open_hearing(store, config, HearingInfo(case_number="(2026)\u202e京1号"),
                     actor="clerk1", sample_rate=16000)
    assert store.hearings() == []


def test_free_text_is_kept_and_every_export_neutralises_it(store, tmp_path: Path) -> None:
    """Before the fix the TXT export wrote U+202E, NUL and ESC raw."""
    config = load_config("/dev/null", data_dir=tmp_path)
    hid = open_hearing(store, config, HearingInfo(case_number="(2026)京0105民初7号"),
                       actor="clerk1", sample_rate=16000)
    store.update_hearing(hid, wall_start="2026-03-02T01:30:00.000Z")
    store.add_final(hearing_id=hid, utterance_id="u0", seat="plaintiff", t0=1, t1=2,
                    text="原告陈述", words=[], avg_logprob=None)
    lie = "被告\u202e付款\u2066了\x00\x1b[2J\x1b]0;owned\x07"
    correct_line(store, hid, "u0", text=lie, base_revision=0, user="clerk1")
    store.add_annotation(hearing_id=hid, t=1.5, label="异议", text=lie, author="clerk1")
    assert store.revisions(hid, "u0")[-1]["text"] == lie  # nothing lost
    close_hearing(store, hid, actor="clerk1")
    record = load_record(store, hid)
    bad = set("\u202e\u2066\x00\x1b\x07")
    for fmt in ("txt", "srt", "vtt", "json"):
        out = render(record, fmt).decode("utf-8")
        assert not bad & set(out), (fmt, out)
        assert "[U+202E]" in out and "[U+001B]" in out, fmt
        assert "\\u202e" not in out.lower(), fmt  # nor as a JSON escape
    from io import BytesIO

    from docx import Document
    doc = Document(BytesIO(render(record, "docx")))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "[U+202E]" in text and not bad & set(text)
    pdf = tmp_path / "x.pdf"
    pdf.write_bytes(render(record, "pdf"))
    import subprocess
    shown = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                           text=True).stdout
    assert "U+202E" in shown and not bad & set(shown)
