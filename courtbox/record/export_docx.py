"""The 庭审笔录 as a Word document (python-docx): header table, the lines and events, the
integrity values and sign-offs, and each party's act with their drawn signature.

Text arrives neutralised (``courtbox.record.export``); ``xml_safe`` is the last guard for
what XML 1.0 cannot hold at all.
"""

from __future__ import annotations

import base64
import io
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from courtbox.record.export import HearingRecord

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """Text a DOCX or PDF can hold: control characters (which XML 1.0 forbids) shown as
    U+FFFD rather than refused, so that no stray byte in one line blocks the export."""
    return _NOT_XML.sub("\ufffd", text)


def signature_png(act: dict) -> bytes | None:
    """The PNG a party drew, as the record holds it (base64)."""
    data = act.get("signature_png")
    return base64.b64decode(data) if data else None


def to_docx(record: HearingRecord) -> bytes:
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    from courtbox.record.export import body, header_rows, integrity_rows, party_rows

    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "SimSun"
    style.font.size = Pt(11)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    title = doc.add_heading("庭审笔录", level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER

    def grid(rows: list[tuple[str, str]]):
        table = doc.add_table(rows=0, cols=2)
        table.style = "Table Grid"
        for k, v in rows:
            cells = table.add_row().cells
            cells[0].text, cells[1].text = xml_safe(k), xml_safe(v)
        return table

    grid(header_rows(record))
    doc.add_paragraph()
    for _, text in body(record):
        doc.add_paragraph(xml_safe(text))
    doc.add_heading("完整性校验值", level=2)
    grid(integrity_rows(record))
    if record.parties:
        doc.add_heading("当事人阅看与签名", level=2)
        table = grid(party_rows(record))
        for row, act in zip(table.rows, record.parties, strict=True):
            png = signature_png(act)
            if png:
                run = row.cells[1].add_paragraph().add_run()
                run.add_picture(io.BytesIO(png), width=Mm(45))
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
