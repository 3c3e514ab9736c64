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
                   record.integrity["transcript_sha256"], "签署（书记员）：clerk1",
                   "签署（审判人员）：judge1"):
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
