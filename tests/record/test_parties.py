"""The parties' review and signature (issue 18; SPC 法释〔2017〕5号 Art. 7 and 9): one-time
codes that expire and cost nothing when guessed, a party session that sees its own hearing
only, signatures (a drawn PNG, hashed, chained), refusals with their reason, requests for
correction the clerk accepts (a revision) or declines — each in the audit log, the outbox
and the exports."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw

from courtbox.config import load_config
from courtbox.errors import BadPartyCode, PartyError, TranscriptError
from courtbox.record import parties, users
from courtbox.record.export import load_record, render
from courtbox.record.hearing import HearingInfo, close_hearing, open_hearing
from courtbox.record.store import Store
from courtbox.record.transcript import sign_off
from courtbox.web.app import create_app
from courtbox.web.parties import MAX_FAILURES, PARTY_COOKIE
from tests.conftest import PASSWORD, run_courtbox


def signature_png() -> bytes:
    image = Image.new("RGBA", (300, 100), (255, 255, 255, 0))
    ImageDraw.Draw(image).line([(10, 80), (80, 20), (150, 70), (290, 30)], fill="black",
                               width=4)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _closed_hearing(store: Store, tmp: Path) -> str:
    config = load_config("/dev/null", data_dir=tmp)
    users.add_user(store, "clerk1", "clerk", PASSWORD, actor="test", display_name="李书记员")
    users.add_user(store, "judge1", "judge", PASSWORD, actor="test", display_name="张审判长")
    hid = open_hearing(store, config, HearingInfo(case_number="(2026)京0105民初5号",
                                                  panel_users=["judge1"]),
                       actor="clerk1", sample_rate=16000)
    store.update_hearing(hid, wall_start="2026-03-02T01:30:00.000Z")
    for n, (seat, text) in enumerate([("presiding_judge", "现在开庭"),
                                      ("plaintiff", "请求判令被告支付货款三十万元")]):
        store.add_final(hearing_id=hid, utterance_id=f"u{n}", seat=seat, t0=n * 2.0,
                        t1=n * 2.0 + 1.5, text=text, words=[], avg_logprob=None)
    close_hearing(store, hid, actor="clerk1")
    return hid


def test_codes_are_one_time_expire_and_belong_to_a_party_seat(store, tmp_path) -> None:
    config = load_config("/dev/null", data_dir=tmp_path)
    open_id = open_hearing(store, config, HearingInfo(case_number="(2026)京1号"),
                           actor="clerk1", sample_rate=16000)
    with pytest.raises(PartyError, match="闭庭后"):
        parties.issue_code(store, open_id, "plaintiff", actor="clerk1")
    hid = _closed_hearing(store, tmp_path)
    with pytest.raises(PartyError, match="不是当事人席位"):
        parties.issue_code(store, hid, "clerk", actor="clerk1")
    first = parties.issue_code(store, hid, "plaintiff", actor="clerk1")
    second = parties.issue_code(store, hid, "plaintiff", actor="clerk1")
    with pytest.raises(BadPartyCode):  # a new code for the seat revoked the old one
        parties.redeem_code(store, first["code"])
    token, session = parties.redeem_code(store, second["code"].lower())  # as typed
    assert session["hearing_id"] == hid and session["seat_id"] == "plaintiff"
    assert parties.party_session(store, token)["code_id"] == second["code_id"]
    with pytest.raises(BadPartyCode):  # one time
        parties.redeem_code(store, second["code"])
    late = parties.issue_code(store, hid, "defendant", actor="clerk1")
    store.db.execute("UPDATE party_codes SET expires_at = '2000-01-01T00:00:00.000Z'"
                     " WHERE id = ?", [late["code_id"]])
    with pytest.raises(BadPartyCode, match="过期"):
        parties.redeem_code(store, late["code"])
    assert second["code"].replace("-", "") not in store.path.read_bytes().decode("latin-1")
    actions = [a["action"] for a in store.audit_entries(hid, "party.")]
    assert actions == ["party.code_issued"] * 2 + ["party.code_used", "party.code_issued"]


def test_sign_refuse_and_requests_are_the_records(store, tmp_path) -> None:
    hid = _closed_hearing(store, tmp_path)
    png = signature_png()
    _, plaintiff = parties.redeem_code(
        store, parties.issue_code(store, hid, "plaintiff", actor="clerk1")["code"])
    ask = parties.request_correction(store, plaintiff, utterance_id="u1",
                                     proposed="请求判令被告支付货款三十万元及违约金",
                                     reason="漏记违约金")
    other = parties.request_correction(store, plaintiff, utterance_id="u0",
                                       proposed="现在开庭审理", reason="")
    with pytest.raises(PartyError, match="PNG"):
        parties.sign(store, plaintiff, name="王某", png=b"<svg/>")
    with pytest.raises(PartyError, match="理由"):
        parties.handle_request(store, hid, other["id"], accept=False, user="clerk1")
    done = parties.handle_request(store, hid, ask["id"], accept=True, user="clerk1")
    assert done["revision"] == 1 and done["name"] == "书记员 李书记员"
    assert store.revisions(hid, "u1")[-1]["text"].endswith("及违约金")
    parties.handle_request(store, hid, other["id"], accept=False, reason="与录音不符",
                           user="clerk1")
    with pytest.raises(PartyError, match="已处理"):
        parties.handle_request(store, hid, other["id"], accept=True, user="clerk1")
    signed = parties.sign(store, plaintiff, name="王某", png=png)
    assert signed["signature_sha256"] == hashlib.sha256(png).hexdigest()
    assert signed["transcript_sha256"] == parties.checksums(store, hid)["transcript_sha256"]
    with pytest.raises(PartyError, match="已签名"):
        parties.refuse(store, plaintiff, name="王某", reason="改主意")
    _, defendant = parties.redeem_code(
        store, parties.issue_code(store, hid, "defendant", actor="clerk1")["code"])
    with pytest.raises(PartyError, match="理由"):
        parties.refuse(store, defendant, name="赵某", reason=" ")
    parties.refuse(store, defendant, name="赵某", reason="笔录未记录我方质证意见")
    # in the chain: the PNG itself, hashed, in the signed outbox
    entry = next(e for e in store.outbox() if e.record_id == signed["id"])
    record = json.loads(entry.body)["record"]
    assert base64.b64decode(record["signature_png"]) == png and entry.signature
    actions = [a["action"] for a in store.audit_entries(hid, "party.")]
    for action in ("party.request", "party.request_accepted", "party.request_declined",
                   "party.sign", "party.refuse"):
        assert action in actions, action
    # the clerk signs off: from then on an accepted request is a refused correction
    sign_off(store, hid, user="clerk1", role="clerk")
    _, again = parties.redeem_code(
        store, parties.issue_code(store, hid, "plaintiff", actor="clerk1")["code"])
    late = parties.request_correction(store, again, utterance_id="u0", proposed="x")
    with pytest.raises(TranscriptError, match="笔录已签署"):
        parties.handle_request(store, hid, late["id"], accept=True, user="clerk1")
    acts = parties.party_acts(store, hid)
    assert [a["after_signoff"] for a in acts] == [False] * 4 + [True]
    r = run_courtbox("verify", "--data-dir", str(store.path.parent), check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_export_lists_the_parties_acts(store, tmp_path) -> None:
    hid = _closed_hearing(store, tmp_path)
    _, s = parties.redeem_code(
        store, parties.issue_code(store, hid, "plaintiff", actor="clerk1")["code"])
    parties.sign(store, s, name="王某", png=signature_png())
    _, d = parties.redeem_code(
        store, parties.issue_code(store, hid, "defendant", actor="clerk1")["code"])
    parties.refuse(store, d, name="赵某", reason="笔录未记录我方质证意见")
    record = load_record(store, hid)
    txt = render(record, "txt").decode()
    assert "当事人签名（原告 王某）：已签名 2026" in txt
    assert "拒绝签名（被告 赵某）：理由：笔录未记录我方质证意见" in txt
    doc = json.loads(render(record, "json"))
    assert [a["kind"] for a in doc["parties"]] == ["sign", "refuse"]
    from docx import Document
    docx = Document(io.BytesIO(render(record, "docx")))
    assert len(docx.inline_shapes) == 1  # the drawn signature
    cells = [c.text for t in docx.tables for row in t.rows for c in row.cells]
    assert any("笔录未记录我方质证意见" in c for c in cells)


@pytest.fixture
def served(recorded_copy: tuple[Path, str]) -> Iterator[tuple[TestClient, str, str]]:
    """``(client, hearing_id, clerk_token)``: the recorded (closed, signed) hearing and a
    second hearing beside it, served in this process."""
    data, hid = recorded_copy
    app = create_app(data)

    def prepare(s) -> str:
        config = load_config("/dev/null", data_dir=data)
        other = open_hearing(s, config, HearingInfo(case_number="(2026)京2号"),
                             actor="clerk1", sample_rate=16000)
        close_hearing(s, other, actor="clerk1")
        return other

    with TestClient(app) as client:
        other = app.state.api.write(prepare)
        token = client.post("/api/v1/session", json={"name": "clerk1",
                                                     "password": PASSWORD}).json()["token"]
        client.cookies.clear()
        yield client, hid, other, token


def test_a_party_session_sees_its_own_hearing_only(served) -> None:
    client, hid, other, token = served
    clerk = {"Authorization": f"Bearer {token}"}
    r = client.post(f"/api/v1/hearings/{hid}/party-codes", json={"seat": "plaintiff"},
                    headers=clerk)
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert client.get("/api/v1/party/review").status_code == 401
    assert client.post("/api/v1/party/session", json={"code": code}).status_code == 200
    assert client.cookies.get(PARTY_COOKIE)
    review = client.get("/api/v1/party/review").json()
    assert review["hearing"]["id"] == hid and review["seat"]["name"] == "原告"
    assert review["integrity"]["transcript_sha256"] and review["integrity"][
        "audio_chain_head"]
    r = client.get(f"/api/v1/hearings/{hid}/audio", headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and r.content[:4] == b"RIFF"
    assert client.get(f"/api/v1/hearings/{other}/audio").status_code == 403
    for path in ("/api/v1/hearings", f"/api/v1/hearings/{hid}",
                 f"/api/v1/hearings/{hid}/transcript", f"/api/v1/hearings/{hid}/export"):
        assert client.get(path).status_code == 401, path
    r = client.post("/api/v1/party/sign", json={"name": "王某", "signature": "data:image/"
                    "png;base64," + base64.b64encode(signature_png()).decode()})
    assert r.status_code == 201, r.text
    assert client.get("/api/v1/party/review").status_code == 401  # signing ends it
    acts = client.get(f"/api/v1/hearings/{hid}/party-acts", headers=clerk).json()
    assert [(a["kind"], a["after_signoff"]) for a in acts] == [("sign", True)]
    assert "signature_png" not in acts[0]


def test_guessing_codes_costs_the_box_nothing(served) -> None:
    """Hundreds of wrong codes: 401 each until the source is throttled (429), a handful of
    audit rows in all, no row per try."""
    client, hid, other, token = served
    store = client.app.state.api.store
    before = store.db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    seen = [client.post("/api/v1/party/session", json={"code": f"WRONG{n:05d}"}).status_code
            for n in range(300)]
    assert seen[:MAX_FAILURES] == [401] * MAX_FAILURES and set(seen[MAX_FAILURES:]) == {429}
    after = store.db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0]
    assert after - before <= 2
    rows = {t: store.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
            for t in ("party_codes", "party_sessions", "party_acts")}
    assert rows == {"party_codes": 0, "party_sessions": 0, "party_acts": 0}
    r = client.post("/api/v1/party/session", json={"code": "x" * 33})
    assert r.status_code == 422


def test_the_clerk_handles_requests_over_the_api(store, tmp_path) -> None:
    hid = _closed_hearing(store, tmp_path)
    _, s = parties.redeem_code(
        store, parties.issue_code(store, hid, "plaintiff", actor="clerk1")["code"])
    ask = parties.request_correction(store, s, utterance_id="u1", proposed="改为此文")
    store.close()
    app = create_app(tmp_path / "data")
    with TestClient(app) as client:
        token = client.post("/api/v1/session", json={"name": "clerk1",
                                                     "password": PASSWORD}).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        url = f"/api/v1/hearings/{hid}/party-acts/{ask['id']}/handling"
        r = client.post(url, json={"accept": False}, headers=h)
        assert r.status_code == 409 and "理由" in r.json()["detail"]
        r = client.post(url, json={"accept": True}, headers=h)
        assert r.status_code == 201 and r.json()["revision"] == 1
        lines = client.get(f"/api/v1/hearings/{hid}/transcript", headers=h).json()
        assert lines[1]["text"] == "改为此文" and lines[1]["author"] == "clerk1"


def test_party_tables_are_box_local_or_chained(store, tmp_path) -> None:
    """Codes and sessions never leave the box; acts and handlings are chained records."""
    hid = _closed_hearing(store, tmp_path)
    _, s = parties.redeem_code(
        store, parties.issue_code(store, hid, "plaintiff", actor="clerk1")["code"])
    ask = parties.request_correction(store, s, utterance_id="u1", proposed="改为此文")
    parties.handle_request(store, hid, ask["id"], accept=False, reason="不符",
                           user="clerk1")
    kinds = {e.kind for e in store.outbox()}
    assert {"party_act", "party_handling"} <= kinds
    assert not {"party_code", "party_session"} & kinds
