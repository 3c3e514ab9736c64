"""The 庭审笔录 as PDF (reportlab): the same content as the DOCX, with the parties' drawn
signatures as images. The PDF embeds a CJK TrueType font (subset) so it reads the same on
any reader; a standard CID font would render only where the reader has Asian fonts
installed."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from courtbox.errors import ExportError
from courtbox.record.export_docx import signature_png, xml_safe

if TYPE_CHECKING:
    from courtbox.record.export import HearingRecord

CJK_FONTS = (  # (path, subfont index of a .ttc)
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
)


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
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from courtbox.record.export import body, header_rows, integrity_rows, party_rows

    path, index = cjk_font()
    if "CourtboxCJK" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("CourtboxCJK", path, subfontIndex=index))
    text = ParagraphStyle("text", fontName="CourtboxCJK", fontSize=10.5, leading=16,
                          wordWrap="CJK")
    title = ParagraphStyle("title", parent=text, fontSize=18, leading=26, alignment=1)
    small = ParagraphStyle("small", parent=text, fontSize=8, leading=11)

    def para(value: str, style: ParagraphStyle) -> Paragraph:
        return Paragraph(escape(xml_safe(value)), style)

    def grid(rows: list[list]) -> Table:
        table = Table(rows, colWidths=[40 * mm, 130 * mm])
        table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, "#888888"),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        return table

    def signature(act: dict, value: str) -> list:
        png = signature_png(act)
        if not png:
            return [para(value, small)]
        image = Image(io.BytesIO(png))
        scale = 45 * mm / image.imageWidth
        image.drawWidth, image.drawHeight = 45 * mm, image.imageHeight * scale
        return [para(value, small), image]

    story = [Paragraph("庭审笔录", title), Spacer(1, 4 * mm),
             grid([[para(k, text), para(v, text)] for k, v in header_rows(record)]),
             Spacer(1, 5 * mm)]
    story += [para(line, text) for _, line in body(record)]
    story += [Spacer(1, 6 * mm), Paragraph("完整性校验值", text),
              grid([[para(k, small), para(v, small)] for k, v in integrity_rows(record)])]
    if record.parties:
        story += [Spacer(1, 6 * mm), Paragraph("当事人阅看与签名", text),
                  grid([[para(k, small), signature(act, v)] for (k, v), act
                        in zip(party_rows(record), record.parties, strict=True)])]
    buf = io.BytesIO()
    h = record.hearing
    SimpleDocTemplate(buf, pagesize=A4, title=xml_safe(f"庭审笔录 {h['case_number']}"),
                      author=xml_safe(h["court"]), leftMargin=20 * mm, rightMargin=20 * mm,
                      topMargin=18 * mm, bottomMargin=18 * mm).build(story)
    return buf.getvalue()
