"""The agent's API as a client meets it: a real ``courtbox run`` process on a loopback port,
real accounts, the real sample audio as the room's microphones (archive only here; the
browser test transcribes).

Every operation in the served OpenAPI is listed below with the permission it needs, so an
endpoint added without a decision about who may call it fails this file.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from courtbox.record.users import PERMISSIONS
from tests.conftest import PASSWORD, USERS, RunningAgent, courtbox_cmd

# (method, path) -> permission; None: open to anyone (logging in)
OPERATIONS = {
    ("POST", "/api/v1/session"): None,
    ("GET", "/api/v1/session"): "any",
    ("DELETE", "/api/v1/session"): "any",
    ("GET", "/api/v1/users"): "users",
    ("POST", "/api/v1/users"): "users",
    ("GET", "/api/v1/health"): "health",
    ("GET", "/api/v1/hearings"): "read",
    ("POST", "/api/v1/hearings"): "operate",
    ("GET", "/api/v1/hearings/{hearing_id}"): "read",
    ("POST", "/api/v1/hearings/{hearing_id}/start"): "operate",
    ("POST", "/api/v1/hearings/{hearing_id}/pause"): "operate",
    ("POST", "/api/v1/hearings/{hearing_id}/resume"): "operate",
    ("POST", "/api/v1/hearings/{hearing_id}/close"): "operate",
    ("GET", "/api/v1/hearings/{hearing_id}/levels"): "levels",
    ("GET", "/api/v1/hearings/{hearing_id}/transcript"): "read",
    ("GET", "/api/v1/hearings/{hearing_id}/partials"): "read",
    ("GET", "/api/v1/hearings/{hearing_id}/transcript/{utterance_id}/revisions"): "read",
    ("POST", "/api/v1/hearings/{hearing_id}/transcript/{utterance_id}/corrections"):
        "correct",
    ("POST", "/api/v1/hearings/{hearing_id}/transcript/{utterance_id}/seat"): "correct",
    ("POST", "/api/v1/hearings/{hearing_id}/transcript/{utterance_id}/split"): "correct",
    ("POST", "/api/v1/hearings/{hearing_id}/transcript/{utterance_id}/merge"): "correct",
    ("GET", "/api/v1/hearings/{hearing_id}/pauses"): "read",
    ("POST", "/api/v1/hearings/{hearing_id}/signoff"): "sign",
    ("GET", "/api/v1/hearings/{hearing_id}/annotations"): "read",
    ("POST", "/api/v1/hearings/{hearing_id}/annotations"): "annotate",
    ("GET", "/api/v1/hearings/{hearing_id}/audio"): "read",
    ("GET", "/api/v1/hearings/{hearing_id}/export"): "read",
    ("POST", "/api/v1/hearings/{hearing_id}/party-codes"): "operate",
    ("GET", "/api/v1/hearings/{hearing_id}/party-acts"): "read",
    ("POST", "/api/v1/hearings/{hearing_id}/party-acts/{act_id}/handling"): "correct",
    # a party, with the session its one-time code opened (tests/record/test_parties)
    ("POST", "/api/v1/party/session"): None,
    ("DELETE", "/api/v1/party/session"): "party",
    ("GET", "/api/v1/party/review"): "party",
    ("POST", "/api/v1/party/sign"): "party",
    ("POST", "/api/v1/party/refuse"): "party",
    ("POST", "/api/v1/party/requests"): "party",
    # the court's collectors, with the token `courtbox sync enroll` issued (tests/test_sync)
    ("GET", "/api/v1/sync/identity"): None,
    ("GET", "/api/v1/sync/changes"): "collector",
    ("GET", "/api/v1/sync/blobs/{sha256}"): "collector",
    ("POST", "/api/v1/sync/ack"): "collector",
}
HEARING = {"case_number": "(2026)京0105民初7号", "case_type": "民事", "title": "买卖合同纠纷",
           "panel": ["张法官"], "clerk": "李书记", "parties": ["北京甲公司", "王某"],
           "terms": ["违约金", "买卖合同"]}


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path):
    running = RunningAgent(tmp_path_factory.mktemp("api"), transcribe=False)
    yield running
    assert running.stop() == 0, running.log.read_text()


@pytest.fixture(scope="module")
def hearing(agent: RunningAgent) -> dict:
    """A hearing recorded for a few seconds and paused, with one line to correct."""
    with agent.client("clerk1") as clerk:
        h = clerk.post("/api/v1/hearings", json=HEARING).json()
        assert clerk.post(f"/api/v1/hearings/{h['id']}/start").status_code == 200
        time.sleep(6)  # one 5-s segment archived
        r = clerk.post(f"/api/v1/hearings/{h['id']}/pause", json={"reason": "recess"})
        assert r.status_code == 200, r.text
    _add_machine_line(agent, h["id"])
    return h


def _add_machine_line(agent: RunningAgent, hearing_id: str) -> None:
    """A final line as the recogniser would write it (this agent runs without one)."""
    from courtbox.record.store import Store

    store = Store.in_dir(agent.data)
    try:
        store.add_final(hearing_id=hearing_id, utterance_id="u1", seat="plaintiff", t0=1.0,
                        t1=3.5, text="原告请求判令被告支付违约金三万元",
                        words=[{"w": "原告", "t0": 1.0, "t1": 1.4, "p": 0.9}],
                        avg_logprob=-0.2)
    finally:
        store.close()


def _concrete(path: str, hearing_id: str) -> str:
    return (path.replace("{hearing_id}", hearing_id).replace("{utterance_id}", "u1")
            .replace("{sha256}", "0" * 64).replace("{act_id}", "nope"))


def test_every_operation_has_a_declared_permission(agent: RunningAgent) -> None:
    spec = httpx.get(agent.url + "/api/v1/openapi.json", verify=agent.verify).json()
    served = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert served == set(OPERATIONS)


def test_no_session_is_401_and_the_wrong_role_is_403(agent: RunningAgent) -> None:
    """Each role calls every operation once, on a hearing of its own (the calls that are
    allowed do what they say: a clerk's close closes it)."""
    with agent.client("clerk1") as clerk:
        scratch = clerk.post("/api/v1/hearings", json={"case_number": "scratch",
                                                      "panel_users": ["judge1"]}).json()
    clients = {name: agent.client(name) for name in USERS}
    anonymous = agent.client()
    try:
        for (method, path), permission in OPERATIONS.items():
            if permission is None or (method, path) == ("DELETE", "/api/v1/session"):
                continue
            url = _concrete(path, scratch["id"])
            r = anonymous.request(method, url, json={})
            assert r.status_code == 401, (method, path, r.text)
            assert r.json()["detail"]
            for name, role in USERS.items():
                r = clients[name].request(method, url, json={})
                if permission in ("collector", "party"):  # no user's session is one
                    assert r.status_code == 401, (method, path, role, r.text)
                    continue
                allowed = permission == "any" or role in PERMISSIONS[permission]
                if allowed:
                    assert r.status_code not in (401, 403), (method, path, role, r.text)
                else:
                    assert r.status_code == 403, (method, path, role, r.text)
                    assert role in r.json()["detail"]
    finally:
        for c in [*clients.values(), anonymous]:
            c.close()


def test_malformed_bodies_get_422_naming_the_field(agent: RunningAgent,
                                                   hearing: dict) -> None:
    hid = hearing["id"]
    with agent.client("admin1") as admin:
        cases = [
            ("/api/v1/hearings", {"case_number": ""}, "case_number"),
            ("/api/v1/hearings", {**HEARING, "panel": "张法官"}, "panel"),
            ("/api/v1/hearings", {**HEARING, "surprise": 1}, "surprise"),
            (f"/api/v1/hearings/{hid}/pause", {"reason": "lunch"}, "reason"),
            (f"/api/v1/hearings/{hid}/pause", {}, "reason"),
            (f"/api/v1/hearings/{hid}/transcript/u1/corrections", {"text": "x"},
             "base_revision"),
            (f"/api/v1/hearings/{hid}/transcript/u1/corrections",
             {"text": "", "base_revision": 0}, "text"),
            (f"/api/v1/hearings/{hid}/annotations", {"label": "x" * 41}, "label"),
            (f"/api/v1/hearings/{hid}/annotations", {"label": "重点", "t": -1}, "t"),
            ("/api/v1/users", {"name": "bad name!", "role": "clerk",
                               "password": PASSWORD}, "name"),
            ("/api/v1/users", {"name": "x", "role": "janitor", "password": PASSWORD},
             "role"),
            ("/api/v1/users", {"name": "x", "role": "clerk", "password": "short"},
             "password"),
        ]
        for url, body, field in cases:
            r = admin.post(url, json=body)
            assert r.status_code == 422, (url, body, r.text)
            assert field in json.dumps(r.json()["detail"]), (url, r.text)
        r = admin.post("/api/v1/hearings", content=b"{not json",
                       headers={"Content-Type": "application/json"})
        assert r.status_code == 422
        r = admin.get(f"/api/v1/hearings/{hid}/transcript", params={"limit": 0})
        assert r.status_code == 422 and "limit" in r.text


def test_a_wrong_password_is_401_and_audited(agent: RunningAgent) -> None:
    with agent.client() as c:
        r = c.post("/api/v1/session", json={"name": "clerk1", "password": "wrong password"})
        assert r.status_code == 401
        r = c.post("/api/v1/session", json={"name": "nobody", "password": "wrong password"})
        assert r.status_code == 401
        assert "wrong user name or password" in r.json()["detail"]
    with agent.client("admin1") as admin:
        # the audit log is read from the database: no endpoint needed to see it
        from courtbox.record.store import Store
        store = Store.in_dir(agent.data)
        try:
            failed = [a for a in store.db["audit_log"].rows
                      if a["action"] == "user.login_failed"]
        finally:
            store.close()
        assert {a["actor"] for a in failed} >= {"clerk1", "nobody"}
        assert admin.get("/api/v1/session").json()["role"] == "admin"


def test_logout_ends_the_session(agent: RunningAgent) -> None:
    token = agent.token("judge1")
    headers = {"Authorization": f"Bearer {token}"}
    with agent.client() as c:
        assert c.get("/api/v1/hearings", headers=headers).status_code == 200
        assert c.delete("/api/v1/session", headers=headers).status_code == 200
        assert c.get("/api/v1/hearings", headers=headers).status_code == 401


def test_a_state_the_hearing_refuses_is_409_with_a_reason(agent: RunningAgent,
                                                          hearing: dict) -> None:
    with agent.client("clerk1") as clerk:
        r = clerk.post(f"/api/v1/hearings/{hearing['id']}/start")
        assert r.status_code == 409 and "paused" in r.json()["detail"]
        r = clerk.post(f"/api/v1/hearings/{hearing['id']}/pause",
                       json={"reason": "other"})
        assert r.status_code in (409, 422)
        r = clerk.get("/api/v1/hearings/nope")
        assert r.status_code == 404 and "nope" in r.json()["detail"]


def test_audio_is_served_in_ranges_on_the_hearing_timeline(agent: RunningAgent,
                                                           hearing: dict) -> None:
    url = f"/api/v1/hearings/{hearing['id']}/audio"
    with agent.client("judge1") as judge:
        whole = judge.get(url, params={"seat": "plaintiff"})
        assert whole.status_code == 200 and whole.content[:4] == b"RIFF"
        size = len(whole.content)
        assert int(whole.headers["content-length"]) == size
        part = judge.get(url, params={"seat": "plaintiff"},
                         headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 1000-1999/{size}"
        assert part.content == whole.content[1000:2000]
        tail = judge.get(url, params={"seat": "plaintiff"}, headers={"Range": "bytes=-10"})
        assert tail.content == whole.content[-10:]
        bad = judge.get(url, params={"seat": "plaintiff"},
                        headers={"Range": f"bytes={size + 5}-"})
        assert bad.status_code == 416
        assert judge.get(url, params={"seat": "usher"}).status_code == 404
        mix = judge.get(url, headers={"Range": "bytes=0-43"})
        assert mix.status_code == 206 and mix.content[:4] == b"RIFF"


def test_corrections_are_revisions_and_search_finds_the_latest(agent: RunningAgent,
                                                               hearing: dict) -> None:
    hid = hearing["id"]
    with agent.client("clerk1") as clerk:
        found = clerk.get(f"/api/v1/hearings/{hid}/transcript", params={"q": "违约金"}).json()
        assert [line["utterance_id"] for line in found] == ["u1"]
        r = clerk.post(f"/api/v1/hearings/{hid}/transcript/u1/corrections",
                       json={"text": "原告请求判令被告支付违约金3万元", "base_revision": 0})
        assert r.status_code == 201 and r.json()["revision"] == 1
        assert r.json()["author"] == "clerk1"
        stale = clerk.post(f"/api/v1/hearings/{hid}/transcript/u1/corrections",
                           json={"text": "别的", "base_revision": 0})
        assert stale.status_code == 409 and "revision 1" in stale.json()["detail"]
        revisions = clerk.get(f"/api/v1/hearings/{hid}/transcript/u1/revisions").json()
        assert [r["text"] for r in revisions] == ["原告请求判令被告支付违约金三万元",
                                                  "原告请求判令被告支付违约金3万元"]
        assert clerk.get(f"/api/v1/hearings/{hid}/transcript",
                         params={"q": "三万元"}).json() == []
        assert len(clerk.get(f"/api/v1/hearings/{hid}/transcript",
                             params={"q": "3万元"}).json()) == 1


def test_live_socket_replays_what_a_reconnecting_page_missed(agent: RunningAgent,
                                                             hearing: dict) -> None:
    from websockets.sync.client import connect

    hid = hearing["id"]
    ws_url = agent.url.replace("https", "wss") + f"/api/v1/hearings/{hid}/live"
    token = agent.token("judge1")
    tls = agent.verify
    with connect(f"{ws_url}?token={token}", ssl=tls) as ws, \
            agent.client("judge1") as judge:
        judge.post(f"/api/v1/hearings/{hid}/annotations", json={"label": "重点", "t": 2.0})
        first = json.loads(ws.recv(timeout=10))
        assert first["type"] == "annotation"
    with agent.client("judge1") as judge:  # while the page is away
        judge.post(f"/api/v1/hearings/{hid}/annotations", json={"label": "异议", "t": 3.0})
    with connect(f"{ws_url}?token={token}&after={first['seq']}", ssl=tls) as ws:
        missed = json.loads(ws.recv(timeout=10))
        assert missed["type"] == "annotation" and missed["annotation"]["label"] == "异议"
        assert missed["seq"] > first["seq"]
    with pytest.raises(Exception, match="4401"):
        with connect(ws_url, ssl=tls) as ws:
            ws.recv(timeout=10)


def test_an_api_beyond_loopback_waits_for_an_admin(tmp_path: Path, cache_dir: Path) -> None:
    """With no admin account, api.host = 0.0.0.0 is refused: the agent listens on
    127.0.0.1 and says so."""
    config = tmp_path / "agent.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n'
                      '[api]\nhost = "0.0.0.0"\nport = 0\n')
    proc = subprocess.Popen([*courtbox_cmd(), "run", "--no-transcribe", "--config",
                             str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        said = [proc.stdout.readline(), proc.stdout.readline()]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    assert "no admin account" in said[0]
    assert re.search(r"listening on https://127\.0\.0\.1:\d+", said[1]), said


# -- property-based: no input makes the server fail ---------------------------------------

def test_no_request_makes_the_server_fail(agent: RunningAgent, hearing: dict) -> None:
    """schemathesis draws requests from the served OpenAPI, valid and not, for every
    operation (as an admin, on the module's hearing): none gets a 5xx."""
    schema = schemathesis.openapi.from_url(agent.url + "/api/v1/openapi.json",
                                           verify=str(agent.cert))
    headers = {"Authorization": f"Bearer {agent.token('admin1')}"}
    tried = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) == ("DELETE", "/api/v1/session"):
            continue  # would end the session this run uses

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def call(case) -> None:
            if "hearing_id" in (case.path_parameters or {}):
                case.path_parameters["hearing_id"] = hearing["id"]
            response = case.call(base_url=agent.url, headers=headers, verify=str(agent.cert))
            case.validate_response(response, checks=[not_a_server_error])

        call()
        tried.append(operation.label)
    assert len(tried) == len(OPERATIONS) - 1
