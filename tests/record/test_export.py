"""Exports of a hearing's record, opened the way a court opens them: the DOCX with
python-docx, the PDF rendered to PNG by poppler (pdftoppm) with its embedded font checked
(pdffonts), the subtitles parsed; and ``courtbox export`` and ``courtbox user`` as a
technician runs them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image  # reportlab's own dependency

from courtbox.record.export import load_record, render
from courtbox.record.store import Store
from tests.conftest import RECORDED_CASE, run_courtbox


def test_txt_srt_vtt_json_carry_the_record(recorded_hearing: tuple[Path, str]) -> None:
    data, hid = recorded_hearing
    store = Store.in_dir(data)
    try:
        record = load_record(store, hid)
    finally:
        store.close()
    txt = render(record, "txt").decode()
    for needle in ("庭审笔录", "示例人民法院", RECORDED_CASE, "张审判长", "王某",
                   "审判长：现在开庭", "原告：请求判令被告支付货款30万元", "真实性有异议",
                   "休庭（调解）", "继续开庭", "【异议】被告对证据提出异议", "笔录校验值",
                   record.integrity["transcript_sha256"], "签署（书记员）：李书记员（clerk1）",
                   "签署（审判长）：张审判长（judge1）", "（书记员 李书记员更正）",
                   "【异议】被告对证据提出异议（审判长 张审判长）"):
        assert needle in txt, needle
    assert "被告对原告提交的证据有异议" not in txt  # the correction replaced it
    srt = render(record, "srt").decode()
    assert re.search(r"^1\n00:00:00,500 --> 00:00:03,000\n审判长：现在开庭", srt, re.M)
    vtt = render(record, "vtt").decode()
    assert vtt.startswith("WEBVTT\n") and "<v 原告>请求判令" in vtt
    doc = json.loads(render(record, "json"))
    assert [line["revision"] for line in doc["lines"]] == [0, 0, 1]
    assert doc["integrity"]["audio_chain_head"] == record.integrity["audio_chain_head"]


def test_docx_opens_with_python_docx(recorded_hearing: tuple[Path, str],
                                     tmp_path: Path) -> None:
    from docx import Document

    data, hid = recorded_hearing
    out = tmp_path / "笔录.docx"
    run_courtbox("export", hid, "--format", "docx", "-o", str(out), "--data-dir", str(data),
                 timeout=120)
    doc = Document(str(out))
    text = "\n".join(p.text for p in doc.paragraphs)
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert "庭审笔录" in text and "原告：请求判令被告支付货款30万元及违约金。" in text
    assert "(2026)京0105民初123号" in cells and "北京甲科技有限公司、王某" in cells
    assert any(re.fullmatch(r"[0-9a-f]{64}", c) for c in cells)


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils: scripts/setup.sh")
def test_pdf_embeds_its_cjk_font_and_renders_the_chinese(
        recorded_hearing: tuple[Path, str], tmp_path: Path) -> None:
    data, hid = recorded_hearing
    out = tmp_path / "笔录.pdf"
    run_courtbox("export", RECORDED_CASE, "-f", "pdf", "-o", str(out), "--data-dir", str(data),
                 timeout=120)
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True).stdout
    cjk = [line for line in fonts.splitlines() if "WenQuanYi" in line or "UMing" in line]
    assert cjk and all(line.split()[-5] == "yes" for line in cjk), fonts  # emb = yes
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True,
                          text=True).stdout
    assert "庭审笔录" in text and "请求判令被告支付货款30万元" in text
    png = tmp_path / "page"
    subprocess.run(["pdftoppm", "-r", "80", "-png", "-f", "1", "-l", "1", str(out),
                    str(png)], check=True)
    page = np.asarray(Image.open(next(tmp_path.glob("page*.png"))).convert("L"))
    ink = (page < 128).mean()
    assert 0.005 < ink < 0.3, ink  # text on the page, not a blank or a black box
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copy(next(tmp_path.glob("page*.png")), artifacts / "export-pdf-page1.png")


def test_export_names_what_is_wrong(tmp_path: Path, recorded_hearing: tuple[Path, str]) -> None:
    data, _ = recorded_hearing
    r = run_courtbox("export", "nope", "-f", "txt", "-o", str(tmp_path / "x"), "--data-dir",
                     str(data), check=False)
    assert r.returncode == 1 and "no hearing nope" in r.stderr
    r = run_courtbox("export", "x", "-f", "txt", "-o", str(tmp_path / "x"), "--data-dir",
                     str(tmp_path / "empty"), check=False)
    assert r.returncode == 1 and "no courtbox database" in r.stderr


def test_user_add_checks_its_input_and_never_stores_the_password(tmp_path: Path) -> None:
    data = tmp_path / "data"

    def add(name: str, role: str, password: str) -> subprocess.CompletedProcess:
        return run_courtbox("user", "add", name, "--role", role, "--password-stdin",
                            "--data-dir", str(data), input=password + "\n", check=False)

    assert add("zhang", "clerk", "a long secret").returncode == 0
    r = add("zhang", "judge", "a long secret")
    assert r.returncode == 1 and "already exists" in r.stderr
    r = add("li", "clerk", "short")
    assert r.returncode == 1 and "at least 8" in r.stderr
    r = add("li", "janitor", "a long secret")
    assert r.returncode == 2 and "janitor" in r.stderr
    listed = run_courtbox("user", "list", "--data-dir", str(data)).stdout
    assert re.search(r"zhang\s+clerk\s+active", listed)
    db = (data / "courtbox.db").read_bytes()
    assert b"a long secret" not in db
    store = Store.in_dir(data)
    try:
        assert store.user("zhang")["password_hash"].startswith("scrypt$32768$8$1$")
        assert [a["action"] for a in store.db["audit_log"].rows] == ["user.add"]
    finally:
        store.close()
    run_courtbox("user", "disable", "zhang", "--data-dir", str(data))
    store = Store.in_dir(data)
    try:
        from courtbox.record.users import login
        assert login(store, "zhang", "a long secret") is None
    finally:
        store.close()


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils: scripts/setup.sh")
def test_the_biluo_has_local_times_real_names_and_the_parties_signatures(
        recorded_copy: tuple[Path, str], tmp_path: Path) -> None:
    """Issue 18: the PDF's 开庭时间 was UTC without a zone; sign-offs named login names; the
    parties did not sign at all. Now: Asia/Shanghai (court.timezone) everywhere, 书记员 李书记员,
    and each party's drawn signature or refusal. The PDF's pages go to test-artifacts/."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from docx import Document

    from courtbox.record import parties
    from courtbox.record.identity import open_store
    from tests.record.test_parties import signature_png

    data, hid = recorded_copy
    store = open_store(data)
    try:
        _, s = parties.redeem_code(
            store, parties.issue_code(store, hid, "plaintiff", actor="clerk1")["code"])
        parties.sign(store, s, name="王某", png=signature_png())
        _, d = parties.redeem_code(
            store, parties.issue_code(store, hid, "defendant", actor="clerk1")["code"])
        parties.refuse(store, d, name="北京甲科技有限公司 赵某", reason="笔录未记录我方质证意见")
        record = load_record(store, hid)
        start = store.hearing(hid)["wall_start"]
    finally:
        store.close()
    local = datetime.fromisoformat(start.replace("Z", "+00:00")).astimezone(
        ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    txt = render(record, "txt").decode()
    assert f"开庭时间：{local}" in txt and "时区：Asia/Shanghai" in txt
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", txt), txt  # no raw ISO stamp
    ARTIFACTS.mkdir(exist_ok=True)
    docx_path = ARTIFACTS / "biluo-with-parties.docx"
    docx_path.write_bytes(render(record, "docx"))
    doc = Document(str(docx_path))
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert local in cells and len(doc.inline_shapes) == 1
    assert any(c.startswith("李书记员（clerk1） ") for c in cells)
    assert any("（签署后添加）" in c and "已签名" in c for c in cells)
    pdf = ARTIFACTS / "biluo-with-parties.pdf"
    pdf.write_bytes(render(record, "pdf"))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                          text=True).stdout
    for needle in (local, "张审判长（judge1）", "当事人阅看与签名", "笔录未记录我方质证意见"):
        assert needle in text.replace("\n", ""), needle
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True,
                            text=True).stdout.splitlines()[2:]
    assert len(images) >= 1, "the drawn signature is in the PDF"
    for old in ARTIFACTS.glob("biluo-with-parties-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "70", "-png", str(pdf),
                    str(ARTIFACTS / "biluo-with-parties")], check=True)
    assert list(ARTIFACTS.glob("biluo-with-parties-*.png"))


def test_the_hearing_stages_head_the_lines_that_follow_them(store) -> None:
    """The clerk's one-click stage marks (宣布开庭 … 宣判) structure the 笔录: each is a
    numbered heading before the lines of its stage, in every text export."""
    from courtbox.record.export import load_record, to_srt, to_txt
    from tests.record.test_store import final, new_hearing

    hid = new_hearing(store)
    store.add_annotation(hearing_id=hid, t=0.0, label="宣布开庭", text="", author="clerk1")
    final(store, hid, "u1", 1.0, "现在开庭")
    store.add_annotation(hearing_id=hid, t=5.0, label="法庭调查", text="原告陈述", author="clerk1")
    final(store, hid, "u2", 5.0, "原告陈述诉讼请求")
    final(store, hid, "u3", 9.0, "被告答辩")
    store.add_annotation(hearing_id=hid, t=12.0, label="法庭辩论", text="", author="clerk1")
    final(store, hid, "u4", 13.0, "双方辩论")
    store.add_annotation(hearing_id=hid, t=14.0, label="请注意", text="证据三", author="clerk1")
    txt = to_txt(load_record(store, hid)).splitlines()
    order = [i for i, line in enumerate(txt) for key in (
        "一、宣布开庭", "现在开庭", "二、法庭调查：原告陈述", "原告陈述诉讼请求", "被告答辩",
        "三、法庭辩论", "双方辩论", "【请注意】证据三") if key in line]
    assert order == sorted(order) and len(order) == 8, txt
    assert "一、宣布开庭（00:00:00 起）" in txt
    assert "法庭调查" in to_srt(load_record(store, hid))
