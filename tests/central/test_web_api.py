"""The centre's web service as the court's systems meet it: ``courtbox central serve`` as a
real process over HTTPS, on the session's real PostgreSQL and SeaweedFS, holding a hearing
pulled from a real box (``tests/central/conftest.py``).

Every operation of the served OpenAPI is listed with the permission it needs, so an
endpoint added without a decision about who may call it fails this file; each is called
with no session, as operations and as archivist. Bad input is a 4xx with an English code
and a Chinese message; audio comes in ranges from the object store, byte for byte, and
each fetch is audited; refused logins write nothing per attempt; schemathesis draws
requests for every operation (no 5xx, every answer as documented).
"""

from __future__ import annotations

import hashlib
import signal
import subprocess

import httpx
import pytest
import schemathesis
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from courtbox.central.objects import object_key
from courtbox.central.web.accounts import PERMISSIONS
from courtbox.cli.main import cli
from tests.central.conftest import CASE, PASSWORD, WEB_USERS, Served
from tests.conftest import courtbox_cmd

# (method, path) -> permission; None: anyone (logging in), "any": any session
OPERATIONS = {
    ("POST", "/api/v1/session"): None,
    ("GET", "/api/v1/session"): "any",
    ("DELETE", "/api/v1/session"): "any",
    ("GET", "/api/v1/audit"): "audit",
    ("GET", "/api/v1/boxes"): "boxes",
    ("GET", "/api/v1/courts"): "any",
    ("GET", "/api/v1/hearings"): "hearings",
    ("GET", "/api/v1/hearings/{hearing_id}"): "hearings",
    ("GET", "/api/v1/hearings/{hearing_id}/transcript"): "hearings",
    ("POST", "/api/v1/holds"): "holds",
    ("GET", "/api/v1/audio/{sha256}"): "audio",
    ("GET", "/api/v1/audio/{sha256}/link"): "audio",
}
BODIES = {"/api/v1/session": {"name": "nobody", "password": "x"},
          "/api/v1/holds": {"case_number": "无此案", "release": True}}


def segment(served: Served) -> str:
    (sha,), = served.centre.sql("SELECT sha256 FROM box_objects WHERE hearing_id = %s"
                                " ORDER BY seq LIMIT 1", [served.hearing_id])
    return sha


def concrete(served: Served, path: str) -> str:
    return path.replace("{hearing_id}", served.hearing_id).replace("{sha256}", segment(served))


def test_every_operation_has_a_declared_permission(served: Served) -> None:
    spec = httpx.get(served.url + "/api/v1/openapi.json", verify=served.verify).json()
    assert {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops} == set(OPERATIONS)
    assert {p for p in OPERATIONS.values() if p not in (None, "any")} == set(PERMISSIONS)


def test_the_role_matrix(served: Served) -> None:
    """No session: 401 (but logging in); the wrong role: 403; the right one: 200."""
    clients = {"": served.client(), **{name: served.client(name) for name in WEB_USERS}}
    roles = {"": None, **{name: role for name, (role, _) in WEB_USERS.items()}}
    got, want = {}, {}
    for (method, path), permission in sorted(OPERATIONS.items(), key=lambda x: x[0][0] ==
                                             "DELETE"):  # logging out last
        for name, client in clients.items():
            role = roles[name]
            if permission is None:
                expected = 401  # a wrong password, whoever asks
            elif role is None:
                expected = 401
            elif permission == "any" or role in PERMISSIONS[permission]:
                expected = 200
            else:
                expected = 403
            r = client.request(method, concrete(served, path), json=BODIES.get(path)
                               if method == "POST" else None)
            got[(method, path, name)] = r.status_code
            want[(method, path, name)] = expected
            assert r.headers["content-security-policy"].startswith("default-src 'self'")
            if r.status_code >= 400:
                body = r.json()
                assert body["code"] and body["message"] and body["detail"], body
    assert got == want
    # The real box as operations sees it: its court and room from its hearing, its backlog
    # as it reported it with the batch (before that batch was acknowledged), nothing left
    # unpulled, what the centre holds of it.
    (box,) = served.client("ops1").get("/api/v1/boxes", params={"text": served.box_id}
                                       ).json()["items"]
    (court, room), = served.centre.sql("SELECT court, room FROM hearings")
    assert (box["court"], box["room"], box["not_pulled_records"]) == (court, room, 0)
    assert box["box_unacked_records"] > 0
    assert box["held_records"] > 0 and box["held_bytes"] > 0 and box["version"]
    hashes = [h for (h,) in served.centre.sql("SELECT password_hash FROM web_users")]
    assert all(h.startswith("scrypt$") and PASSWORD not in h for h in hashes)


def test_bad_input_is_a_4xx_with_a_code_and_a_chinese_reason(served: Served) -> None:
    ops, arch = served.client("ops1"), served.client("arch1")
    cases = [
        (ops, "/api/v1/boxes?limit=0", 422, "invalid_request"),
        (ops, "/api/v1/boxes?sort=nope", 422, "invalid_request"),
        (ops, "/api/v1/boxes?state=asleep", 422, "invalid_request"),
        (ops, "/api/v1/boxes?court=%00", 422, "invalid_request"),
        (arch, "/api/v1/hearings?text=a", 422, "invalid_request"),
        (arch, "/api/v1/hearings?date_from=2026-02-01&date_to=2026-01-01", 422,
         "invalid_request"),
        (arch, "/api/v1/hearings?date_from=yesterday", 422, "invalid_request"),
        (arch, "/api/v1/hearings/no-such-hearing", 404, "not_found"),
        (arch, "/api/v1/hearings/bad%20id", 422, "invalid_request"),
        (arch, "/api/v1/audio/" + "0" * 64, 404, "not_found"),
        (arch, "/api/v1/audio/xyz", 422, "invalid_request"),
    ]
    for client, path, status, code in cases:
        r = client.get(path)
        assert (r.status_code, r.json()["code"]) == (status, code), (path, r.text)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in r.json()["message"]), r.text
    r = arch.get(f"/api/v1/audio/{segment(served)}", headers={"Range": "bytes=99999999-"})
    assert r.status_code == 416 and r.json()["code"] == "range_not_satisfiable"
    r = arch.post("/api/v1/holds", json={"case_number": ""})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "case_number"]
    r = arch.post("/api/v1/holds", content=b"{" * 70000,
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    r = arch.post("/api/v1/holds", content=iter([b"[" * 40000] * 3),  # chunked, no length
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "too_large"
    r = httpx.post(served.url + "/api/v1/session", json={"name": "ops1", "password": "nope!"},
                   verify=served.verify)
    assert (r.status_code, r.json()["message"]) == (401, "用户名或密码错误")


def test_audio_comes_in_ranges_from_the_object_store_and_is_audited(served: Served) -> None:
    sha = segment(served)
    whole = served.centre.s3().get_object(Bucket=served.centre.bucket,
                                          Key=object_key(sha))["Body"].read()
    assert hashlib.sha256(whole).hexdigest() == sha
    with served.client("arch1") as arch:
        detail = arch.get(f"/api/v1/hearings/{served.hearing_id}").json()
        assert sha in [s["sha256"] for s in detail["segments"]]
        r = arch.get(f"/api/v1/audio/{sha}", headers={"Range": "bytes=100-4195"})
        assert r.status_code == 206
        assert r.headers["content-range"] == f"bytes 100-4195/{len(whole)}"
        assert r.content == whole[100:4196]
        r = arch.get(f"/api/v1/audio/{sha}", headers={"Range": "bytes=-10"})
        assert (r.status_code, r.content) == (206, whole[-10:])
        r = arch.get(f"/api/v1/audio/{sha}")
        assert (r.status_code, r.headers["content-type"]) == (200, "audio/flac")
        assert r.content == whole
        link = arch.get(f"/api/v1/audio/{sha}/link").json()
        assert httpx.get(link["url"]).content == whole  # presigned, straight from the store
    rows = served.centre.sql("SELECT action, detail->>'first', detail->>'last',"
                             " detail->>'hearing_id' FROM web_audit WHERE actor = 'arch1'"
                             " AND target = %s ORDER BY id", [sha])
    assert ("audio.fetch", "100", "4195", served.hearing_id) in rows
    assert ("audio.link", None, None, served.hearing_id) in rows


def test_the_hearing_whole_with_revisions_signoffs_marks_and_pauses(served: Served) -> None:
    with served.client("arch1") as arch:
        found = arch.get("/api/v1/hearings", params={"text": "货款"}).json()
        assert [h["hearing_id"] for h in found["items"]] == [served.hearing_id]
        assert "货款" in found["items"][0]["match"]
        by_case = arch.get("/api/v1/hearings", params={"case_number": "民初321"}).json()
        assert by_case["total"] == 1 and by_case["items"][0]["case_number"] == CASE
        court = by_case["items"][0]["court"]
        assert arch.get("/api/v1/hearings", params={"court": court, "date_from": "2000-01-01",
                                                    "date_to": "2000-01-02"}).json()["total"] == 0
        h = arch.get(f"/api/v1/hearings/{served.hearing_id}").json()
        assert h["created_at"].endswith("+08:00")  # the court's local time
        assert h["panel"] == ["张法官"] and h["parties"] == ["北京甲公司", "王某"]
        assert [(s["user"], s["role"]) for s in h["signoffs"]] == [("judge1", "judge")]
        assert [(m["label"], m["text"]) for m in h["marks"]] == [("重点", "原告陈述诉讼请求")]
        assert [(p["reason"], p["reason_name"]) for p in h["pauses"]] == [("recess", "休庭")]
        assert h["pauses"][0]["t1"] is not None and h["seats"] and h["segments"]
        lines = arch.get(f"/api/v1/hearings/{served.hearing_id}/transcript").json()["lines"]
        assert [(x["utterance_id"], x["text"], x["revision"]) for x in lines] == [
            ("u1", "原告请求判令被告支付货款三万元", 0), ("u2", "被告认为货物的质量不合格", 1)]
        assert [e["text"] for e in lines[1]["earlier"]] == ["被告认为货物质量不合格"]
        assert lines[0]["seat_name"] == "原告"


def test_an_archivist_puts_a_case_under_legal_hold_and_releases_it(served: Served) -> None:
    sha, s3 = segment(served), served.centre.s3()

    def status() -> str:
        return s3.get_object_legal_hold(Bucket=served.centre.bucket, Key=object_key(sha)
                                        )["LegalHold"]["Status"]

    with served.client("arch1") as arch:
        held = arch.post("/api/v1/holds", json={"case_number": CASE}).json()
        assert held["action"] == "hold" and held["objects"] >= 1 and status() == "ON"
        released = arch.post("/api/v1/holds", json={"case_number": CASE, "release": True})
        assert released.json()["objects"] == held["objects"] and status() == "OFF"
    assert served.centre.sql("SELECT action, target FROM web_audit WHERE actor = 'arch1' AND"
                             " action IN ('hold', 'release') AND target = %s ORDER BY id",
                             [CASE]) == [("hold", CASE), ("release", CASE)]


def test_refused_logins_write_nothing_each_and_are_summarised(served: Served) -> None:
    """Past the limit an address is refused (429, Retry-After) without a row per
    attempt; the summary is written when its window ends, or at shutdown."""
    count = "SELECT COUNT(*) FROM web_audit WHERE action LIKE 'login%%'"
    proc = subprocess.Popen([*courtbox_cmd(), "central", "serve", "--config",
                             str(served.centre.config)], stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().split("listening on ", 1)[1].strip()
        with httpx.Client(base_url=url, verify=served.verify) as client:
            for _ in range(3):
                r = client.post("/api/v1/session", json={"name": "guess", "password": "x"})
                assert r.status_code == 401
            before = served.centre.sql(count)[0][0]
            for _ in range(30):
                r = client.post("/api/v1/session", json={"name": "guess", "password": "x"})
                assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert served.centre.sql(count)[0][0] == before
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    (refused,), = served.centre.sql("SELECT (detail->>'refused')::int FROM web_audit WHERE"
                                    " action = 'login_throttled' ORDER BY id DESC LIMIT 1")
    assert refused == 30


def test_a_wrong_web_config_is_one_line_naming_the_key(served: Served, tmp_path) -> None:
    from courtbox.central.config import load_central_config
    from courtbox.errors import ConfigError

    base = served.centre.config.read_text().split("\n[web]")[0]
    config = tmp_path / "central.toml"
    for web, key in (("colour = 1\n", "web.colour"), ('timezone = "Mars/Base"\n',
                                                      "web.timezone")):
        config.write_text(f"{base}\n[web]\n{web}")
        with pytest.raises(ConfigError) as refused:
            load_central_config(config)
        assert [line.split(":")[0] for line in refused.value.problems] == [key]
    config.write_text(f'{base}\n[web]\ntls_cert = "{served.cert}"\ntls_key = "{served.cert}"\n')
    r = CliRunner().invoke(cli, ["central", "serve", "--config", str(config)])
    assert r.exit_code == 2 and "web.tls_cert: cannot be served" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def draw(served: Served, operation, headers: dict, sha: str) -> None:
    """A few requests hypothesis draws for one operation, each checked."""
    @given(case=operation.as_strategy())
    @settings(max_examples=6, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def call(case) -> None:
        params = case.path_parameters or {}
        if "hearing_id" in params:
            params["hearing_id"] = served.hearing_id
        if "sha256" in params:
            params["sha256"] = sha
        response = case.call(base_url=served.url, headers=headers, verify=str(served.cert))
        case.validate_response(response, checks=[not_a_server_error,
                                                 response_schema_conformance])

    call()


def test_no_request_makes_the_service_fail(served: Served) -> None:
    """schemathesis draws requests for every operation (as a role allowed it, on the
    real hearing and segment): no 5xx, every answer as the OpenAPI documents it."""
    schema = schemathesis.openapi.from_url(served.url + "/api/v1/openapi.json",
                                           verify=str(served.cert))
    tokens = {role: served.token(name) for name, (role, _) in WEB_USERS.items()}
    sha = segment(served)
    tried = []
    for result in schema.get_all_operations():
        operation = result.ok()
        key = (operation.method.upper(), operation.path)
        if key == ("DELETE", "/api/v1/session"):
            continue  # would end the session this run uses
        permission = OPERATIONS[key]
        role = "operations" if permission in ("boxes", "audit", "any", None) else "archivist"
        draw(served, operation, {"Authorization": f"Bearer {tokens[role]}"}, sha)
        tried.append(operation.label)
    assert len(tried) == len(OPERATIONS) - 1
