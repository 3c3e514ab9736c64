"""Exports of a hearing's record: the 庭审笔录 as DOCX, PDF or plain text, subtitles (SRT,
WebVTT) and the whole record as JSON.

Every format is rendered from one ``HearingRecord``: the court, case number, parties,
panel, clerk and times; the lines (each line's latest revision, labelled with its seat and
its time); the pauses with their reasons and any gaps where the microphones were lost; the
clerk's and judge's annotations; and the integrity values (the transcript's sha256, the
head of the audio hash chain, and who signed off when). The PDF embeds a CJK TrueType font
(subset) so it reads the same on any reader; a standard CID font would render only where
the reader has Asian fonts installed.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

from courtbox.errors import ExportError
from courtbox.record.store import Store, parse_utc
from courtbox.record.transcript import integrity_values

FORMATS = ("docx", "pdf", "txt", "srt", "vtt", "json")
MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf", "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8", "vtt": "text/vtt; charset=utf-8",
    "json": "application/json",
}
CJK_FONTS = (  # (path, subfont index of a .ttc)
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
)


@dataclass
class Line:
    seat: str
    name: str
    t0: float
    t1: float
    text: str
    revision: int
    author: str


@dataclass
class Event:
    """A pause, resume, device loss or annotation, at a time on the timeline."""
    t: float
    kind: str
    text: str


@dataclass
class HearingRecord:
    hearing: dict
    seats: list[dict]
    lines: list[Line] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    integrity: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def load_record(store: Store, hearing_id: str) -> HearingRecord:
    hearing = store.hearing(hearing_id)
    if hearing is None:
        raise ExportError(f"no hearing {hearing_id}")
    seats = store.seats(hearing_id)
    names = {s["seat_id"]: s["name"] for s in seats}
    record = HearingRecord(hearing=hearing, seats=seats)
    record.lines = [Line(r["seat"], names.get(r["seat"], r["seat"]), r["t0"], r["t1"],
                         r["text"], r["revision"], r["author"])
                    for r in store.finals(hearing_id)]
    start = parse_utc(hearing["wall_start"]) if hearing["wall_start"] else None
    for entry in store.audit_entries(hearing_id):
        t = (parse_utc(entry["at"]) - start).total_seconds() if start else 0.0
        text = _event_text(entry["action"], entry["detail"])
        if text is not None and start is not None:
            record.events.append(Event(round(max(t, 0.0), 3), entry["action"], text))
    record.events += [Event(a["t"], "annotation", f"【{a['label']}】{a['text']}"
                            f"（{a['author']}）") for a in store.annotations(hearing_id)]
    record.events.sort(key=lambda e: e.t)
    record.integrity = integrity_values(store, hearing_id)
    return record


def _event_text(action: str, d: dict) -> str | None:
    """How the 笔录 names a step of the hearing's audit log; None for the rest."""
    if action == "hearing.pause":
        why = [d.get("reason_name", "")] if d.get("reason") != "recess" else []
        why += [d["text"]] if d.get("text") else []
        return "休庭" + (f"（{'：'.join(why)}）" if why else "")
    if action == "audio.device_restored":
        return f"录音设备恢复（中断 {d.get('gap_seconds')} 秒）"
    if action == "recording.continued":
        return f"录音系统重启，继续录音（中断 {d.get('gap_seconds')} 秒）"
    return {"hearing.resume": "继续开庭", "audio.device_lost": "录音设备中断",
            "hearing.close": "闭庭"}.get(action)


# -- text forms -----------------------------------------------------------------------------

def clock(seconds: float, sep: str = ".") -> str:
    """Subtitle time: 01:02:03.456 (``sep`` "," for SRT)."""
    ms = round(seconds * 1000)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def hms(seconds: float) -> str:
    return clock(seconds)[:-4]


def local_time(stamp: str | None, seconds: float = 0.0) -> str:
    """A UTC stamp (plus ``seconds``) in the box's local time, as a 笔录 writes it."""
    if not stamp:
        return ""
    return (parse_utc(stamp) + timedelta(seconds=seconds)).astimezone().strftime(
        "%Y-%m-%d %H:%M:%S")


def header_rows(record: HearingRecord) -> list[tuple[str, str]]:
    h = record.hearing
    rows = [("法院", h["court"]), ("法庭", h["room"]), ("案号", h["case_number"]),
            ("案由", h["title"] or h["case_type"]), ("合议庭", "、".join(h["panel"])),
            ("书记员", h["clerk"]), ("当事人", "、".join(h["parties"])),
            ("开庭时间", local_time(h["wall_start"]) or "未开庭"),
            ("闭庭时间", local_time(h["closed_at"]))]
    return [(k, v) for k, v in rows if v]


def integrity_rows(record: HearingRecord) -> list[tuple[str, str]]:
    i = record.integrity
    rows = [("笔录校验值 (SHA-256)", i["transcript_sha256"]),
            ("录音哈希链头 (SHA-256)", i["audio_chain_head"] or "（无录音）")]
    for s in i["signoffs"]:
        role = {"judge": "审判人员", "clerk": "书记员"}.get(s["role"], s["role"])
        rows.append((f"签署（{role}）", f"{s['user']} {s['created_at']}"))
    if not i["signoffs"]:
        rows.append(("签署", "未签署（笔录尚可更正）"))
    return rows


def line_text(t0: float, name: str, text: str) -> str:
    """``[hh:mm:ss] 审判长：text``: a line as the 笔录, the console and a TXT file show it."""
    return f"[{hms(t0)}] {name}：{text}"


def srt(cues: Iterable[tuple[float, float, str, str]]) -> str:
    """SubRip of ``(t0, t1, name, text)`` cues."""
    return "\n".join(f"{n}\n{clock(t0, ',')} --> {clock(t1, ',')}\n{name}：{text}\n"
                     for n, (t0, t1, name, text) in enumerate(cues, start=1))


def body(record: HearingRecord) -> list[tuple[float, str]]:
    """(time, text) of every line and event, in timeline order."""
    items = [(ln.t0, line_text(ln.t0, ln.name, ln.text)) for ln in record.lines]
    items += [(e.t, f"[{hms(e.t)}] —— {e.text} ——") for e in record.events]
    return sorted(items, key=lambda x: x[0])


def to_txt(record: HearingRecord) -> str:
    out = ["庭审笔录", ""]
    out += [f"{k}：{v}" for k, v in header_rows(record)]
    out += ["", *[text for _, text in body(record)], ""]
    out += [f"{k}：{v}" for k, v in integrity_rows(record)]
    return "\n".join(out) + "\n"


def to_srt(record: HearingRecord) -> str:
    return srt((ln.t0, ln.t1, ln.name, ln.text) for ln in record.lines)


def to_vtt(record: HearingRecord) -> str:
    cues = [f"{clock(ln.t0)} --> {clock(ln.t1)}\n<v {ln.name}>{ln.text}\n"
            for ln in record.lines]
    return "WEBVTT\n\n" + "\n".join(cues)


def to_json(record: HearingRecord) -> str:
    return json.dumps(record.as_dict(), ensure_ascii=False, indent=2)


# -- documents ------------------------------------------------------------------------------

def to_docx(record: HearingRecord) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "SimSun"
    style.font.size = Pt(11)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    title = doc.add_heading("庭审笔录", level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for k, v in header_rows(record):
        cells = table.add_row().cells
        cells[0].text, cells[1].text = k, xml_safe(v)
    doc.add_paragraph()
    for _, text in body(record):
        doc.add_paragraph(xml_safe(text))
    doc.add_heading("完整性校验值", level=2)
    table = doc.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for k, v in integrity_rows(record):
        cells = table.add_row().cells
        cells[0].text, cells[1].text = k, v
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """Text a DOCX or PDF can hold: control characters (which XML 1.0 forbids) shown as
    U+FFFD rather than refused, so that no stray byte in one line blocks the export."""
    return _NOT_XML.sub("\ufffd", text)


def cjk_font() -> tuple[str, int]:
    for path, index in CJK_FONTS:
        if Path(path).is_file():
            return path, index
    raise ExportError("no CJK TrueType font for the PDF: install fonts-wqy-zenhei "
                      "(apt-get install fonts-wqy-zenhei)")


def to_pdf(record: HearingRecord) -> bytes:
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    path, index = cjk_font()
    if "CourtboxCJK" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("CourtboxCJK", path, subfontIndex=index))
    text = ParagraphStyle("text", fontName="CourtboxCJK", fontSize=10.5, leading=16,
                          wordWrap="CJK")
    title = ParagraphStyle("title", parent=text, fontSize=18, leading=26, alignment=1)
    small = ParagraphStyle("small", parent=text, fontSize=8, leading=11)

    def grid(rows: list[tuple[str, str]], style: ParagraphStyle) -> Table:
        table = Table([[Paragraph(escape(k), style), Paragraph(escape(xml_safe(v)), style)]
                       for k, v in rows], colWidths=[40 * mm, 130 * mm])
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, "#888888"),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return table

    story = [Paragraph("庭审笔录", title), Spacer(1, 4 * mm),
             grid(header_rows(record), text), Spacer(1, 5 * mm)]
    story += [Paragraph(escape(xml_safe(line)), text) for _, line in body(record)]
    story += [Spacer(1, 6 * mm), Paragraph("完整性校验值", text),
              grid(integrity_rows(record), small)]
    buf = io.BytesIO()
    h = record.hearing
    SimpleDocTemplate(buf, pagesize=A4, title=xml_safe(f"庭审笔录 {h['case_number']}"),
                      author=xml_safe(h["court"]), leftMargin=20 * mm, rightMargin=20 * mm,
                      topMargin=18 * mm, bottomMargin=18 * mm).build(story)
    return buf.getvalue()


RENDERERS = {"txt": to_txt, "srt": to_srt, "vtt": to_vtt, "json": to_json, "docx": to_docx,
             "pdf": to_pdf}


def render(record: HearingRecord, fmt: str) -> bytes:
    if fmt not in RENDERERS:
        raise ExportError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    out = RENDERERS[fmt](record)
    return out.encode("utf-8") if isinstance(out, str) else out


def file_name(record: HearingRecord, fmt: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in record.hearing["case_number"])
    return f"庭审笔录_{safe}.{fmt}"
