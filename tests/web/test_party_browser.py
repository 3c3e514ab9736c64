"""The parties' review in real headless Chromium against a real ``courtbox run``: the clerk
issues a code on the clerk page; on a tablet the plaintiff enters it, reads the transcript,
plays a line, asks for a correction, sees the 完整性校验值 and signs with a signature drawn
on the canvas with the mouse; the defendant refuses with a reason; the clerk sees both and
declines the request with a reason; the 笔录 PDF shows the drawn signature. Screenshots and
the PDF's pages go to ``test-artifacts/``."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import RunningAgent
from tests.web.test_browser import ARTIFACTS, CHROMIUM, launch, login

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="apt-get install chromium "
                                "(scripts/setup.sh --test does)")


def issue(clerk, seat: str) -> str:
    """The code the clerk page shows for ``seat`` (a new one: the text changes)."""
    before = clerk.inner_text("#party-code")
    clerk.select_option("#party-seat", seat)
    clerk.click("#issue-code")
    clerk.wait_for_function("([before]) => { const t = document.getElementById("
                            "'party-code').textContent; return t !== before &&"
                            " t.includes('阅看码'); }", arg=[before])
    return re.search(r"[A-Z2-9]{5}-[A-Z2-9]{5}", clerk.inner_text("#party-code")).group(0)


def enter(tablet, url: str, code: str) -> None:
    from playwright.sync_api import expect

    tablet.goto(url + "/party")
    tablet.fill("#code", code)
    tablet.click("#open")
    expect(tablet.locator("#review")).to_be_visible()


def draw(tablet) -> None:
    box = tablet.locator("#pad").bounding_box()
    x, y = box["x"], box["y"]
    tablet.mouse.move(x + 40, y + 150)
    tablet.mouse.down()
    for i in range(1, 30):  # a signature-like scrawl
        tablet.mouse.move(x + 40 + i * 15, y + 100 + (45 if i % 4 < 2 else -45) - i, steps=2)
    tablet.mouse.up()


def test_a_party_reviews_signs_or_refuses_in_the_browser(
        recorded_copy: tuple[Path, str], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    data, hid = recorded_copy
    agent = RunningAgent(tmp_path, data=data, transcribe=False)
    expect.set_options(timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    try:
        with sync_playwright() as p:
            browser = launch(p, agent)
            clerk = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            clerk.on("pageerror", lambda e: errors.append(str(e)))
            login(clerk, agent.url, "/clerk", "clerk1")
            clerk.goto(f"{agent.url}/clerk?hearing={hid}")
            expect(clerk.locator("#party-panel")).to_be_visible()
            code = issue(clerk, "plaintiff")

            tablet_ctx = browser.new_context(viewport={"width": 1024, "height": 1366})
            tablet = tablet_ctx.new_page()
            tablet.on("pageerror", lambda e: errors.append(str(e)))
            enter(tablet, agent.url, code)
            expect(tablet.locator("#who")).to_have_text("原告")
            expect(tablet.locator("#transcript-sha")).to_have_text(re.compile("^[0-9a-f]{64}$"))
            expect(tablet.locator("#lines .line")).to_have_count(3)
            tablet.screenshot(path=str(ARTIFACTS / "party-review.png"), full_page=True)

            tablet.locator("#lines .line .play").nth(1).click()  # hear the plaintiff's line
            tablet.wait_for_function("() => { const a = document.getElementById('player');"
                                     " return a.readyState >= 2 && a.currentTime > 3; }")
            line = tablet.locator('#lines .line[data-utterance="u1"]')
            line.locator(".ask").click()
            line.locator(".proposed").fill("请求判令被告支付货款30万元及违约金5万元。")
            line.locator(".ask-reason").fill("漏记违约金数额")
            line.locator(".send-ask").click()
            expect(tablet.locator("#acts")).to_contain_text("更正申请（u1）")

            tablet.fill("#name", "王某")
            draw(tablet)
            tablet.screenshot(path=str(ARTIFACTS / "party-signature-drawn.png"),
                              full_page=True)
            tablet.click("#sign")
            expect(tablet.locator("#done")).to_contain_text("王某，您已于")
            tablet.screenshot(path=str(ARTIFACTS / "party-signed.png"), full_page=True)
            tablet_ctx.close()

            # The defendant refuses, with the reason.
            code = issue(clerk, "defendant")
            refuser_ctx = browser.new_context(viewport={"width": 1024, "height": 1366})
            refuser = refuser_ctx.new_page()
            refuser.on("pageerror", lambda e: errors.append(str(e)))
            enter(refuser, agent.url, code)
            refuser.fill("#name", "赵某")
            refuser.fill("#refuse-reason", "笔录未记录我方质证意见")
            refuser.click("#refuse")
            expect(refuser.locator("#done")).to_contain_text("已记录您拒绝签名及理由")
            refuser.screenshot(path=str(ARTIFACTS / "party-refused.png"), full_page=True)
            again = refuser.evaluate("async code => (await fetch('/api/v1/party/session', {"
                                     "method: 'POST', headers: {'Content-Type': "
                                     "'application/json'}, body: JSON.stringify({code})}))"
                                     ".status", code)
            assert again == 401  # one time
            refuser_ctx.close()

            # The clerk sees the acts and declines the request (signed off: no correction).
            acts = clerk.locator("#party-acts")
            expect(acts).to_contain_text("拒绝签名", timeout=15_000)
            request = acts.locator(".act", has_text="更正申请")
            request.locator(".decline-reason").fill("笔录已签署，违约金数额见庭审录音")
            request.locator(".decline").click()
            expect(acts).to_contain_text("未采纳：笔录已签署，违约金数额见庭审录音")
            clerk.screenshot(path=str(ARTIFACTS / "clerk-party-acts.png"), full_page=True)
            browser.close()
        assert not errors, errors

        with agent.client("clerk1") as api:
            pdf = api.get(f"/api/v1/hearings/{hid}/export", params={"format": "pdf"})
            assert pdf.status_code == 200
        out = ARTIFACTS / "party-biluo.pdf"
        out.write_bytes(pdf.content)
        text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True,
                              text=True).stdout.replace("\n", "")
        for needle in ("当事人签名（原告 王某）", "拒绝签名（被告 赵某）", "笔录未记录我方质证意见",
                       "未采纳（笔录已签署，违约金数额见庭审录音）", "签署后添加"):
            assert needle in text, needle
        if shutil.which("pdftoppm"):
            subprocess.run(["pdftoppm", "-r", "70", "-png", str(out),
                            str(ARTIFACTS / "party-biluo")], check=True)
    finally:
        assert agent.stop() == 0, agent.log.read_text()
