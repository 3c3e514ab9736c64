"""Who may sign what (issue 17, class 5): sign-off belongs to the hearing's own panel and
clerk, named when it is opened; after the first signature nothing the transcript's checksum
covers may change; what is added later is marked 签署后添加 in every export."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from courtbox.config import load_config
from courtbox.errors import NotYourHearing, TranscriptError
from courtbox.record import users
from courtbox.record.export import load_record, render
from courtbox.record.hearing import HearingInfo, close_hearing, open_hearing
from courtbox.record.transcript import sign_off
from courtbox.web.app import create_app
from tests.conftest import PASSWORD

ACCOUNTS = {"clerk1": ("clerk", "李书记员"), "clerk2": ("clerk", "赵书记员"),
            "judge1": ("judge", "张审判长"), "judge2": ("judge", "钱审判员"),
            "admin1": ("admin", "")}


def _hearing(s, config, **info) -> str:
    hid = open_hearing(s, config, HearingInfo(case_number="(2026)京0105民初9号", **info),
                       actor="clerk1", sample_rate=16000)
    s.add_final(hearing_id=hid, utterance_id="u0", seat="plaintiff", t0=1.0, t1=2.0,
                text="原告请求判令被告支付违约金", words=[], avg_logprob=-0.2)
    return hid


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, str, dict]]:
    """``(client, hearing_id, tokens)``: a closed hearing opened by clerk1 with judge1 as
    its panel, and a session token per account."""
    app = create_app(tmp_path / "data")
    config = load_config("/dev/null", data_dir=tmp_path / "data")

    def prepare(s) -> tuple[str, dict]:
        for name, (role, display) in ACCOUNTS.items():
            users.add_user(s, name, role, PASSWORD, actor="test", display_name=display)
        hid = _hearing(s, config, panel=["张审判长"], panel_users=["judge1"])
        close_hearing(s, hid, actor="clerk1")
        return hid, {n: users.login(s, n, PASSWORD)[0] for n in ACCOUNTS}

    with TestClient(app) as client:
        hid, tokens = app.state.api.write(prepare)
        yield client, hid, tokens


def _as(tokens: dict, name: str) -> dict:
    return {"Authorization": f"Bearer {tokens[name]}"}


def test_only_the_hearings_own_panel_and_clerk_sign(served) -> None:
    """Before the fix judge2 and clerk2 signed a hearing that was not theirs (201)."""
    client, hid, tokens = served
    url = f"/api/v1/hearings/{hid}/signoff"
    for outsider in ("judge2", "clerk2"):
        r = client.post(url, headers=_as(tokens, outsider))
        assert r.status_code == 403, (outsider, r.text)
        assert "不是本案" in r.json()["detail"]
    assert client.post(url, headers=_as(tokens, "clerk1")).status_code == 201
    r = client.post(url, headers=_as(tokens, "judge1"))
    assert r.status_code == 201
    signed = r.json()["signoffs"]
    assert [(s["user"], s["title"], s["name"]) for s in signed] == [
        ("clerk1", "书记员", "李书记员"), ("judge1", "审判长", "张审判长")]


def test_after_the_first_signature_a_correction_is_refused_in_chinese(served) -> None:
    """Before the fix the refusal read 'the transcript was signed off ... and is frozen'."""
    client, hid, tokens = served
    assert client.post(f"/api/v1/hearings/{hid}/signoff",
                       headers=_as(tokens, "judge1")).status_code == 201
    r = client.post(f"/api/v1/hearings/{hid}/transcript/u0/corrections",
                    json={"text": "改过的", "base_revision": 0}, headers=_as(tokens, "clerk1"))
    assert r.status_code == 409
    assert "笔录已签署" in r.json()["detail"], r.text


def test_the_store_itself_refuses_to_change_a_frozen_transcript(store, tmp_path) -> None:
    """The mechanism, not the one endpoint: before the fix a revision written straight to
    the store after sign-off went in, and the signed checksum no longer matched."""
    config = load_config("/dev/null", data_dir=tmp_path)
    hid = _hearing(store, config)
    close_hearing(store, hid, actor="clerk1")
    sign_off(store, hid, user="clerk1", role="clerk")
    with pytest.raises(TranscriptError, match="笔录已签署"):
        store.add_final(hearing_id=hid, utterance_id="u0", seat="plaintiff", t0=1, t1=2,
                        text="悄悄改", words=[], avg_logprob=None, revision=1, author="x")
    with pytest.raises(sqlite3.IntegrityError, match="笔录已签署"):  # SQL by hand
        store.db.execute("UPDATE transcript SET text = 'x' WHERE hearing_id = ?", [hid])
    with pytest.raises(TranscriptError, match="笔录已签署"):
        store.update_hearing(hid, frozen_at=None)
    assert [r["text"] for r in store.finals(hid)] == ["原告请求判令被告支付违约金"]


def test_the_opener_is_the_clerk_and_the_panel_is_named_at_open(store, tmp_path) -> None:
    config = load_config("/dev/null", data_dir=tmp_path)
    for name, (role, display) in ACCOUNTS.items():
        users.add_user(store, name, role, PASSWORD, actor="test", display_name=display)
    hid = _hearing(store, config, panel_users=["judge1"])
    hearing = store.hearing(hid)
    assert hearing["clerk_user"] == "clerk1" and hearing["panel_users"] == ["judge1"]
    with pytest.raises(NotYourHearing):
        close_hearing(store, hid, actor="clerk2")
    close_hearing(store, hid, actor="admin1")
    with pytest.raises(NotYourHearing):
        sign_off(store, hid, user="judge2", role="judge")
    with pytest.raises(NotYourHearing, match="judge"):
        _hearing(store, config, panel_users=["clerk2"])  # a clerk is no judge
    with pytest.raises(NotYourHearing, match="nobody"):
        _hearing(store, config, panel_users=["nobody"])


def test_what_is_added_after_signoff_is_marked_in_every_export(store, tmp_path) -> None:
    """Before the fix an annotation added after sign-off stood in the 笔录 under a
    checksum that does not cover it, unmarked."""
    config = load_config("/dev/null", data_dir=tmp_path)
    hid = _hearing(store, config)
    store.update_hearing(hid, wall_start="2026-03-02T01:30:00.000Z")
    store.add_annotation(hearing_id=hid, t=1.0, label="重点", text="签署前的标记",
                         author="clerk1")
    close_hearing(store, hid, actor="clerk1")
    sign_off(store, hid, user="clerk1", role="clerk")
    store.add_annotation(hearing_id=hid, t=1.5, label="异议", text="签署后的标记",
                         author="clerk1")
    record = load_record(store, hid)
    for fmt in ("txt", "srt", "vtt"):
        out = render(record, fmt).decode()
        late = [ln for ln in out.splitlines() if "签署后的标记" in ln]
        early = [ln for ln in out.splitlines() if "签署前的标记" in ln]
        assert late and all("签署后添加" in ln for ln in late), (fmt, out)
        assert early and not any("签署后添加" in ln for ln in early), (fmt, out)
    events = json.loads(render(record, "json"))["events"]
    assert [e["after_signoff"] for e in events if e["kind"] == "annotation"] == [False, True]
    from docx import Document
    paragraphs = [p.text for p in Document(BytesIO(render(record, "docx"))).paragraphs]
    assert any("签署后的标记" in p and "签署后添加" in p for p in paragraphs)
    pdf = tmp_path / "x.pdf"
    pdf.write_bytes(render(record, "pdf"))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                          text=True).stdout.replace("\n", "")
    assert "签署后的标记" in text and "签署后添加" in text
