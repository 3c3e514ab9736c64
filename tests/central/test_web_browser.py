"""The centre's pages in real headless Chromium (Debian's ``chromium`` through Playwright,
``executable_path``, no browser download) against ``courtbox central serve``, with 1,000
boxes in the centre's PostgreSQL beside the real box and its real hearing
(``tests/central/conftest.py``).

Operations sees the fleet with the boxes that need a technician first, filters it to one
court's and sorts it; an archivist finds the hearing by its case number, reads the final
transcript with a correction and its earlier text, the sign-off, the mark and the pause,
and plays the audio from a line, streamed from the object store. Screenshots go to
``test-artifacts/central-*.png``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from tests.central.conftest import CASE, PASSWORD, Served
from tests.conftest import load_script

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="apt-get install chromium "
                                "(scripts/setup.sh --test does)")


bench = load_script("bench_central_web")
COURTS = bench.COURTS


def seed(served: Served) -> float:
    """1,000 boxes in one statement (``scripts/bench_central_web.py``'s): every 53rd
    unreachable, every 61st quarantined, every 71st with a dead microphone, every 89th with
    its disk nearly full, every 97th off the clock."""
    with psycopg.connect(served.centre.dsn, autocommit=True) as conn:
        return bench.seed_boxes(conn, 1, 1000)


def login(page, url: str, name: str, lands: str) -> None:
    page.goto(url + lands)
    page.wait_for_url("**/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    page.wait_for_url(url + lands)


def test_dashboard_and_ecase_file_in_chromium(served: Served) -> None:
    from playwright.sync_api import expect, sync_playwright

    from courtbox.sync.tls import spki_sha256

    assert seed(served) < 5.0
    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=30_000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--autoplay-policy=no-user-gesture-required",
            f"--ignore-certificate-errors-spki-list={spki_sha256(served.cert.read_bytes())}"])
        try:
            ops = browser.new_context(viewport={"width": 1500, "height": 1000},
                                      locale="zh-CN").new_page()
            login(ops, served.url, "ops1", "/ops")
            rows = ops.locator("#boxes tbody tr")
            expect(rows).to_have_count(50)
            expect(ops.locator("#total")).to_contain_text("共 1001 台")
            # Unreachable first, then quarantined, then dead microphones, disk, clock.
            expect(rows.first.locator(".issue").first).to_have_text("失联")
            issues = [rows.nth(i).locator(".issue").first.inner_text() for i in range(50)]
            order = ["失联", "隔离待查", "麦克风无信号", "磁盘将满", "时钟未同步"]
            ranks = [order.index(x) if x in order else 9 for x in issues]
            assert ranks == sorted(ranks) and {0, 1, 2} <= set(ranks), issues
            ops.screenshot(path=str(ARTIFACTS / "central-dashboard.png"), full_page=True)

            ops.select_option("#court", COURTS[3])
            ops.check("#needs")
            ops.click("#apply")
            expect(ops.locator("#total")).not_to_contain_text("1001")
            courts = ops.locator("#boxes tbody tr td:nth-child(2)").all_inner_texts()
            assert courts and all(c.startswith(COURTS[3]) for c in courts), courts
            assert all(rows.nth(i).locator(".issue").count() for i in range(rows.count()))
            ops.click("th[data-sort=disk_hours]")
            expect(ops.locator("th.sorted")).to_have_text("磁盘可录")
            ops.screenshot(path=str(ARTIFACTS / "central-dashboard-filtered.png"),
                           full_page=True)

            arch = browser.new_context(viewport={"width": 1400, "height": 1100},
                                       locale="zh-CN").new_page()
            login(arch, served.url, "arch1", "/ecase")
            arch.fill("#case", "民初321")
            arch.click("#go")
            expect(arch.locator("#found")).to_have_text("找到 1 次庭审")
            arch.locator("#results tbody tr").first.click()
            expect(arch.locator("#h-title")).to_contain_text(CASE)
            lines = arch.locator("#lines .line")
            expect(lines).to_have_count(2)
            expect(lines.nth(1).locator(".revised")).to_have_text("已更正 r1")
            expect(lines.nth(1).locator(".earlier")).to_contain_text("被告认为货物质量不合格")
            expect(arch.locator("#signoffs")).to_contain_text("审判员")
            expect(arch.locator("#marks")).to_contain_text("【重点】原告陈述诉讼请求")
            expect(arch.locator("#pauses")).to_contain_text("休庭")
            lines.first.click()
            arch.wait_for_function(
                "() => { const a = document.getElementById('player');"
                " return a.readyState >= 2 && !a.paused && a.currentTime > 0; }")
            arch.screenshot(path=str(ARTIFACTS / "central-ecase.png"), full_page=True)
        finally:
            browser.close()
    fetched = served.centre.sql("SELECT COUNT(*) FROM web_audit WHERE actor = 'arch1' AND"
                                " action = 'audio.fetch'")[0][0]
    assert fetched >= 1
