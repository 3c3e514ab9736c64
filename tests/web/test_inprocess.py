"""The API in this process (Starlette's ``TestClient``), where the event loop is watched
(``tests/guards.py``): the live socket reads the store off the loop, events reach it, and
the record's refusals answer the statuses ``courtbox.web.statuses`` gives them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from courtbox.config import load_config
from courtbox.record import users
from courtbox.record.hearing import HearingInfo, open_hearing
from courtbox.web.app import create_app
from tests.conftest import PASSWORD

API = "/api/v1"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, str, str]]:
    """``(client, hearing_id, token)``: the app as ``courtbox demo`` builds it (nothing
    records), a hearing with one final line ``u1``, and a clerk's session token."""
    data = tmp_path / "data"
    app = create_app(data)
    api = app.state.api
    config = load_config("/dev/null", data_dir=data)

    def prepare(s) -> tuple[str, str]:
        users.add_user(s, "clerk1", "clerk", PASSWORD, actor="test")
        token, _ = users.login(s, "clerk1", PASSWORD)
        hid = open_hearing(s, config, HearingInfo(case_number="(2026)京0105民初1号"),
                           actor="test", sample_rate=16000)
        s.add_final(hearing_id=hid, utterance_id="u1", seat="plaintiff", t0=1.0, t1=2.0,
                    text="原告请求判令被告支付违约金", words=[], avg_logprob=-0.2)
        return hid, token

    with TestClient(app) as client:
        hid, token = api.write(prepare)
        client.headers["Authorization"] = f"Bearer {token}"
        yield client, hid, token


def test_the_live_socket_waits_for_the_store_off_the_loop(served) -> None:
    """A long read holds the app's lock while a page connects: the socket's reads wait in
    a worker thread, the loop goes on (a read on the loop fails the guard)."""
    client, hid, token = served
    api = client.app.state.api
    held = threading.Event()

    def hold() -> None:
        with api.lock:
            held.set()
            time.sleep(1.5)

    holder = threading.Thread(target=hold, name="long-read")
    holder.start()
    held.wait()
    try:
        with client.websocket_connect(f"{API}/hearings/nope/live?token={token}") as ws:
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
        assert closed.value.code == 4404
    finally:
        holder.join()
    with client.websocket_connect(f"{API}/hearings/{hid}/live") as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4401


def test_a_mark_and_a_correction_reach_the_live_page(served) -> None:
    client, hid, token = served
    with client.websocket_connect(f"{API}/hearings/{hid}/live?token={token}") as ws:
        r = client.post(f"{API}/hearings/{hid}/annotations", json={"label": "重点", "t": 1.5})
        assert r.status_code == 201, r.text
        event = ws.receive_json()
        assert event["type"] == "annotation" and event["annotation"]["label"] == "重点"
        r = client.post(f"{API}/hearings/{hid}/transcript/u1/corrections",
                        json={"text": "原告请求判令被告支付违约金三万元", "base_revision": 0})
        assert r.status_code == 201, r.text
        event = ws.receive_json()
        assert event["type"] == "correction" and event["line"]["revision"] == 1
    assert client.get(f"{API}/hearings/{hid}/transcript").json()[0]["words"] == []


def test_the_records_refusals_answer_their_statuses(served) -> None:
    client, hid, _ = served
    url = f"{API}/hearings/{hid}/transcript"
    cases = [(f"{url}/u9/corrections", {"text": "别的", "base_revision": 0}, 404, "no line u9"),
             (f"{url}/u1/corrections", {"text": "  ", "base_revision": 0}, 422, "empty"),
             (f"{url}/u1/corrections", {"text": "别的", "base_revision": 3}, 409,
              "revised meanwhile"),
             (f"{API}/hearings/{hid}/signoff", None, 409, "close it before signing off"),
             (f"{API}/hearings", {"case_number": "x"}, 503, "does not record")]
    for path, body, status, detail in cases:
        r = client.post(path, json=body)
        assert r.status_code == status, (path, r.text)
        assert detail in r.json()["detail"], (path, r.text)
    assert client.get(f"{API}/hearings/{hid}/partials").json() == []
    assert client.get(f"{API}/hearings/{hid}/levels").json() == {"seats": []}
