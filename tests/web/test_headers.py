"""Browser hardening: the headers on every response (pages, assets, the API, its refusals),
a Content-Security-Policy that lets no inline script run but the pages' own (by hash),
the login page's ``next`` only to a path on the box itself (the server's redirect and
``safeNext`` in real Chromium), and the live WebSocket refusing another site's Origin."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from courtbox.config import load_config
from courtbox.record import users
from courtbox.record.hearing import HearingInfo, open_hearing
from courtbox.web.app import create_app
from courtbox.web.deps import COOKIE
from courtbox.web.headers import script_hashes
from courtbox.web.pages import PAGES, local_path, page
from tests.conftest import PASSWORD, RunningAgent

API = "/api/v1"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
EVERY = {"content-security-policy", "x-frame-options", "x-content-type-options",
         "referrer-policy"}
# Forms a browser reads as another host (or another scheme), decoded as ?next= gives them.
FOREIGN = ["//evil.example", "///evil.example", "/\\evil.example", "\\/evil.example",
           "\\\\evil.example", "https:evil.example", "https://evil.example",
           "javascript:alert(1)", "/\t/evil.example", "/\n/evil.example",
           "/\r\\evil.example", "\t//evil.example", " //evil.example", "evil",
           "/clerk\\..\\..\\evil", "/\x00/evil", "//", "", "/\u0085/evil"]
LOCAL = ["/", "/clerk", "/%0a", "/judge?h=abc&x=1", "/%2F%2Fevil.example", "/clerk#top",
         "/审判席"]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[TestClient, str, str]]:
    data = tmp_path / "data"
    app = create_app(data)
    api = app.state.api
    config = load_config("/dev/null", data_dir=data)

    def prepare(s) -> tuple[str, str]:
        users.add_user(s, "clerk1", "clerk", PASSWORD, actor="test")
        token, _ = users.login(s, "clerk1", PASSWORD)
        return token, open_hearing(s, config, HearingInfo(case_number="(2026)京0105民初2号"),
                                   actor="test", sample_rate=16000)

    with TestClient(app, base_url="https://testserver") as client:
        token, hid = api.write(prepare)
        yield client, hid, token


def test_every_response_carries_the_hardening_headers(served) -> None:
    """Before: none of them, on any response."""
    client, hid, token = served
    auth = {"Authorization": f"Bearer {token}"}
    answers = [client.get(p) for p in PAGES] + [
        client.get("/web/app.js"), client.get("/web/style.css"), client.get("/logout",
                                                                         follow_redirects=False),
        client.get(f"{API}/hearings"),  # 401
        client.get(f"{API}/hearings", headers=auth),
        client.get(f"{API}/hearings/nope", headers=auth),  # 404
        client.post(f"{API}/hearings", json={"case_number": ""}, headers=auth),  # 422
        client.post(f"{API}/hearings", content=b"x" * (2 << 20), headers=auth),  # 413
        client.post(f"{API}/hearings", content=b'{"x":NaN}', headers=auth),  # 422
        client.get("/nothing-here")]
    for r in answers:
        missing = EVERY - set(r.headers)
        assert not missing, (r.request.url, r.status_code, missing)
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["strict-transport-security"].startswith("max-age=")
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    with TestClient(client.app) as plain:  # not over TLS: no HSTS (RFC 6797 §7.2)
        r = plain.get("/login")
        assert "strict-transport-security" not in r.headers
        assert EVERY <= set(r.headers)


def test_the_policy_runs_the_pages_own_scripts_and_nothing_inline_else(served) -> None:
    client, _, _ = served
    csp = client.get("/").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    script = directives["script-src"].split()
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script
    assert set(script) == {"'self'", *script_hashes()}
    assert directives["object-src"] == "'none'" and directives["base-uri"] == "'none'"
    for name in set(PAGES.values()):
        html = page(name)
        assert not re.search(r"<[^>]*\son[a-z]+\s*=", html), f"inline handler in {name}"
        assert "javascript:" not in html
        for inline in re.findall(r"<script>(.*?)</script>", html, re.DOTALL):
            digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in script, name


def test_the_login_page_redirects_a_foreign_next_to_itself(served) -> None:
    """Before: ``/login?next=/\\evil`` was served, and its script went to evil."""
    client, _, _ = served
    for target in FOREIGN:
        assert not local_path(target), repr(target)
        r = client.get(f"/login?next={quote(target, safe='')}", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login", repr(target)
    for target in LOCAL:
        assert local_path(target), target
        r = client.get(f"/login?next={quote(target, safe='')}", follow_redirects=False)
        assert r.status_code == 200, target
    assert client.get("/login", follow_redirects=False).status_code == 200


def receive_code(ws) -> int:
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    return closed.value.code


def test_the_live_socket_refuses_another_sites_origin(served) -> None:
    """Before: any Origin listened in with the clerk's cookie."""
    client, hid, token = served
    url = f"{API}/hearings/{hid}/live"
    cookie = {"Cookie": f"{COOKIE}={token}"}
    for origin in ["https://evil.example", "https://testserver.evil.example",
                   "https://testserver:444", "null", "file://", "https://evil@testserver"]:
        with client.websocket_connect(url, headers={**cookie, "Origin": origin}) as ws:
            assert receive_code(ws) == 4403, origin
    # No Origin (not a browser): a cookie alone is not enough, the token is.
    with client.websocket_connect(url, headers=cookie) as ws:
        assert receive_code(ws) == 4401
    with client.websocket_connect(url, headers={"Origin": "https://testserver",
                                                **cookie}) as ws:
        r = client.post(f"{API}/hearings/{hid}/annotations", json={"label": "重点",
                        "t": 1.0}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
        assert ws.receive_json()["type"] == "annotation"
    with client.websocket_connect(f"{url}?token={token}") as ws:
        client.post(f"{API}/hearings/{hid}/annotations", json={"label": "异议", "t": 2.0},
                    headers={"Authorization": f"Bearer {token}"})
        assert ws.receive_json()["type"] == "annotation"


@pytest.mark.skipif(CHROMIUM is None, reason="apt-get install chromium")
def test_chromium_runs_the_pages_under_the_policy_and_logs_in_only_to_the_box(
        tmp_path: Path) -> None:
    """In real Chromium: no page meets a CSP violation; ``safeNext`` refuses every foreign
    form; a login whose ``next`` was made foreign after the server saw the page lands on
    the box; and an inline script injected into a page does not run."""
    from playwright.sync_api import sync_playwright

    from tests.web.test_browser import launch

    agent = RunningAgent(tmp_path, transcribe=False,
                         extra_config="[sync]\nadvertise = false\n")
    try:
        with sync_playwright() as p:
            browser = launch(p, agent)
            page_ = browser.new_context().new_page()
            page_.set_default_timeout(30_000)
            violations: list[str] = []
            page_.on("console", lambda m: violations.append(m.text)
                     if "Content Security Policy" in m.text else None)
            page_.goto(agent.url + "/login")
            assert page_.evaluate("xs => xs.map(safeNext)", FOREIGN) == [None] * len(FOREIGN)
            assert page_.evaluate("xs => xs.map(safeNext)", LOCAL) == LOCAL
            page_.evaluate("history.replaceState(null, '', '/login?next=' + "
                           "encodeURIComponent('/\\\\evil.example/x'))")
            page_.fill("#name", "clerk1")
            page_.fill("#password", PASSWORD)
            page_.click("#submit")
            page_.wait_for_url(agent.url + "/clerk")
            for path in ("/judge", "/technician", "/", "/clerk"):
                page_.goto(agent.url + path)
                page_.wait_for_load_state("networkidle")
            assert violations == []
            ran = page_.evaluate("""() => new Promise(done => {
                window.injected = false;
                document.addEventListener('securitypolicyviolation', () => done(window.injected));
                setTimeout(() => done(window.injected), 3000);
                const s = document.createElement('script');
                s.textContent = 'window.injected = true';
                document.body.appendChild(s);
            })""")
            assert ran is False
            page_.click("[data-logout]")  # the handler is attached by app.js now
            page_.wait_for_url("**/login")
            browser.close()
    finally:
        agent.stop()
