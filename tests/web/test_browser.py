"""The clerk console and the judge view in real headless Chromium (Debian's ``chromium``,
driven by Playwright with ``executable_path``; no browser download), against a real
``courtbox run`` transcribing the sample hearing live.

A clerk logs in, opens and starts a hearing, sees lines appear, corrects one, marks a
moment, pauses and resumes, closes and signs off; a judge on the bench sees the same lines
live, the correction and the mark, clicks a line to hear the audio from there, and signs
off too. A technician sees the box's health alarms, readings and microphones. Screenshots
of the pages go to ``test-artifacts/``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, RunningAgent

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="apt-get install chromium "
                                "(scripts/setup.sh --test does)")

FINAL = "#lines .line:not(.partial):not(.mark)"


def login(page, url: str, path: str, name: str) -> None:
    page.goto(url + path)
    page.wait_for_url("**/login?next=*")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(url + path)


def launch(p, agent: RunningAgent):
    """Headless Chromium that trusts the box's self-signed certificate by its key alone,
    as a court's managed browsers on the bench would (or the box has the court's CA's)."""
    from courtbox.sync.tls import spki_sha256

    return p.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--autoplay-policy=no-user-gesture-required",
        f"--ignore-certificate-errors-spki-list={spki_sha256(agent.cert.read_bytes())}"])


def test_clerk_and_judge_run_a_hearing_in_the_browser(tmp_path: Path, cache_dir: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    agent = RunningAgent(tmp_path)
    expect.set_options(timeout=60_000)  # two browsers and live recognition on 2 cores
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = launch(p, agent)
            clerk = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            judge = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            for page in (clerk, judge):
                page.on("dialog", lambda d: d.accept())
                page.set_default_timeout(60_000)

            # The clerk opens the hearing, with its parties and terms, and starts it.
            login(clerk, agent.url, "/clerk", "clerk1")
            clerk.click("#new")
            clerk.fill("#f-case", "(2026)京0105民初88号")
            clerk.fill("#f-title", "买卖合同纠纷")
            clerk.fill("#f-panel", "张审判长")
            clerk.fill("#f-parties", "北京甲科技有限公司、王某")
            clerk.fill("#f-terms", "违约金、货款")
            clerk.click("#create")
            expect(clerk.locator("#state")).to_have_text("未开庭")
            clerk.click("#start")
            expect(clerk.locator("#state")).to_have_text("庭审录音中")

            # The judge's bench shows the same hearing, live.
            login(judge, agent.url, "/judge", "judge1")
            expect(judge.locator("#title")).to_contain_text("(2026)京0105民初88号")
            for page in (clerk, judge):  # lines appear as the seats speak
                page.wait_for_function(f"document.querySelectorAll('{FINAL}').length >= 2")
            first = clerk.locator(FINAL).first
            utterance = first.get_attribute("data-utterance")
            machine = first.locator(".text").inner_text()
            judge_line = judge.locator(f'{FINAL}[data-utterance="{utterance}"]')
            expect(judge_line.locator(".text")).to_have_text(machine)
            expect(clerk.locator(".meter .db").first).not_to_have_text("—")

            # The clerk corrects the first line in place; the judge sees the correction.
            first.locator(".text").click()
            corrected = f"{machine}（经核对）"
            clerk.fill("#lines input.edit", corrected)
            clerk.press("#lines input.edit", "Enter")
            fixed = clerk.locator(f'{FINAL}[data-utterance="{utterance}"]')
            expect(fixed.locator(".revised")).to_have_text("已更正 r1")
            expect(judge_line.locator(".text")).to_contain_text(corrected)

            # A mark at the current moment, by hot-key, shown in both timelines.
            clerk.fill("#mark-text", "原告陈述诉讼请求")
            clerk.keyboard.press("Alt+1")
            expect(clerk.locator(".mark")).to_contain_text("【重点】原告陈述诉讼请求")
            expect(judge.locator(".mark")).to_contain_text("【重点】原告陈述诉讼请求")

            # 休庭 and back.
            clerk.select_option("#pause-reason", "recess")
            clerk.click("#pause")
            expect(clerk.locator("#state")).to_have_text("休庭")
            expect(judge.locator("#state")).to_have_text("休庭")
            clerk.click("#resume")
            expect(clerk.locator("#state")).to_have_text("庭审录音中")

            # The judge clicks the first line and hears the hearing from that moment.
            judge_line.click()
            judge.wait_for_function(
                "() => { const a = document.getElementById('player');"
                " return a.readyState >= 2 && !a.paused && a.currentTime > 0; }")
            t0 = float(judge_line.get_attribute("data-t0"))
            now = judge.evaluate("document.getElementById('player').currentTime")
            assert t0 - 0.5 <= now <= t0 + 10, (t0, now)
            expect(judge_line).to_have_class("line playing")

            clerk.screenshot(path=str(ARTIFACTS / "clerk-console.png"), full_page=True)
            judge.screenshot(path=str(ARTIFACTS / "judge-view.png"), full_page=True)

            # Close and sign off: the clerk, then the judge; the transcript is frozen.
            clerk.click("#close")
            expect(clerk.locator("#state")).to_have_text("已闭庭")
            clerk.click("#signoff")
            expect(clerk.locator("#integrity")).to_contain_text("已签署：clerk1")
            expect(judge.locator("#signoff")).to_be_visible()
            judge.click("#signoff")
            expect(judge.locator("#signoff")).to_have_text("已签署")
            expect(clerk.locator("#integrity")).to_contain_text("clerk1、judge1")
            clerk.screenshot(path=str(ARTIFACTS / "clerk-console-signed.png"),
                             full_page=True)
            browser.close()

        with agent.client("clerk1") as api:
            hearing = api.get("/api/v1/hearings").json()[0]
            detail = api.get(f"/api/v1/hearings/{hearing['id']}").json()
            assert detail["state"] == "closed" and detail["frozen_at"]
            assert [s["user"] for s in detail["integrity"]["signoffs"]] == ["clerk1",
                                                                           "judge1"]
            r = api.post(f"/api/v1/hearings/{hearing['id']}/transcript/{utterance}"
                         "/corrections", json={"text": "改", "base_revision": 1})
            assert r.status_code == 409 and "frozen" in r.json()["detail"]
            actions = [a["action"] for a in _audit(agent)]
            for action in ("hearing.open", "hearing.start", "transcript.correct",
                           "hearing.pause", "hearing.resume", "hearing.close",
                           "transcript.signoff", "transcript.correction_refused"):
                assert action in actions, action
    finally:
        assert agent.stop() == 0, agent.log.read_text()


def _audit(agent: RunningAgent) -> list[dict]:
    from courtbox.record.store import Store

    store = Store.in_dir(agent.data)
    try:
        return list(store.db["audit_log"].rows)
    finally:
        store.close()


def test_the_technician_sees_health_alarms_and_the_microphones(tmp_path: Path,
                                                              cache_dir: Path) -> None:
    """A box that holds fewer hours than it must: the technician's page shows the alarm
    first, every reading, and the meters of the hearing being recorded."""
    from playwright.sync_api import expect, sync_playwright

    agent = RunningAgent(tmp_path, transcribe=False, extra_config=(
        "[health]\ndisk_hours_min = 10000\n[sync]\nadvertise = false\n"))
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with agent.client("clerk1") as clerk:
            hid = clerk.post("/api/v1/hearings", json={"case_number": "tech"}).json()["id"]
            clerk.post(f"/api/v1/hearings/{hid}/start").raise_for_status()
        with sync_playwright() as p:
            browser = launch(p, agent)
            page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
            page.set_default_timeout(30_000)
            login(page, agent.url, "/technician", "tech1")
            expect(page.locator("#status")).to_have_text("告警")
            disk_low = page.locator('#alarms li[data-alarm="disk_low"]')
            expect(disk_low).to_contain_text("磁盘空间不足")
            expect(disk_low.locator(".why")).to_contain_text("磁盘：还可录音")
            # the disk's row is marked (a loaded test machine may mark the CPU's too)
            expect(page.locator("#readings tr.bad").filter(has_text="磁盘")
                   ).to_contain_text("还可录音")
            expect(page.locator("#readings")).to_contain_text("录音中（" + hid)
            expect(page.locator("#meters .meter")).to_have_count(4)
            expect(page.locator("#meters .meter .db").first).to_contain_text("dB")
            page.screenshot(path=str(ARTIFACTS / "technician.png"), full_page=True)
            browser.close()
    finally:
        assert agent.stop() == 0
