"""Exports of a hearing's record: the 庭审笔录 as DOCX, PDF (``export_docx``, ``export_pdf``)
or plain text, subtitles (SRT, WebVTT) and the whole record as JSON.

Every format is rendered from one ``HearingRecord``: the court, case number, parties,
panel, clerk and times (the court's local time, ``courtbox.record.localtime``); the lines
(each line's latest revision, labelled with its seat, its time and who revised it, by real
name and title: 书记员 张三); the pauses with their reasons and any gaps where the
microphones were lost; the annotations; the parties' signatures, refusals and requests for
correction (``courtbox.record.parties``); and the integrity values (the transcript's sha256,
the head of the audio hash chain, who signed off when). What was added after the first
signature (annotations, party acts) is marked 签署后添加: the checksum does not cover it.
Every string is neutralised once, here (``courtbox.record.text.neutral``), so no export
writes a control or bidirectional character raw.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from courtbox.errors import ExportError
from courtbox.record.localtime import court_time, hearing_zone
from courtbox.record.party_access import party_acts
from courtbox.record.stages import HEARING_STAGES
from courtbox.record.store import Store, parse_utc
from courtbox.record.text import neutral, neutral_all
from courtbox.record.transcript import integrity_values
from courtbox.record.users import people

FORMATS = ("docx", "pdf", "txt", "srt", "vtt", "json")
MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf", "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8", "vtt": "text/vtt; charset=utf-8",
    "json": "application/json",
}
LATE = "（签署后添加）"
ORDINALS = "一二三四五六七八九十"  # the mark of what the signed checksum does not cover


@dataclass
class Line:
    seat: str
    name: str
    t0: float
    t1: float
    text: str
    revision: int
    author: str
    by: str = ""  # who made the latest revision, as the record names them (书记员 张三)


@dataclass
class Event:
    """A pause, resume, device loss or annotation, at a time on the timeline."""
    t: float
    kind: str
    text: str
    at: str = ""  # the court's local time
    after_signoff: bool = False


@dataclass
class HearingRecord:
    hearing: dict
    seats: list[dict]
    lines: list[Line] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    integrity: dict = field(default_factory=dict)
    parties: list[dict] = field(default_factory=list)  # party_acts, in order
    zone: str = "Asia/Shanghai"

    def as_dict(self) -> dict:
        return asdict(self)

    def time(self, stamp: str | None, seconds: float = 0.0) -> str:
        return court_time(stamp, self.zone, seconds)


def load_record(store: Store, hearing_id: str) -> HearingRecord:
    hearing = store.hearing(hearing_id)
    if hearing is None:
        raise ExportError(f"no hearing {hearing_id}")
    seats = store.seats(hearing_id)
    names = {s["seat_id"]: s["name"] for s in seats}
    labels = people(store, hearing)
    record = HearingRecord(hearing=hearing, seats=seats, zone=hearing_zone(hearing))
    record.lines = [Line(r["seat"], names.get(r["seat"], r["seat"]), r["t0"], r["t1"],
                         r["text"], r["revision"], r["author"],
                         labels.get(r["author"], r["author"]) if r["revision"] else "")
                    for r in store.finals(hearing_id)]
    frozen = hearing["frozen_at"]
    start = parse_utc(hearing["wall_start"]) if hearing["wall_start"] else None
    for entry in store.audit_entries(hearing_id):
        t = (parse_utc(entry["at"]) - start).total_seconds() if start else 0.0
        text = _event_text(entry["action"], entry["detail"])
        if text is not None and start is not None:
            record.events.append(Event(round(max(t, 0.0), 3), entry["action"], text,
                                       record.time(entry["at"])))
    for a in store.annotations(hearing_id):
        late = bool(frozen and a["created_at"] > frozen)
        stage = a["label"] in HEARING_STAGES  # a heading: the lines after it are that stage
        record.events.append(Event(
            a["t"], "stage" if stage else "annotation",
            (a["label"] + (f"：{a['text']}" if a["text"] else "") if stage
             else f"【{a['label']}】{a['text']}（{labels.get(a['author'], a['author'])}）")
            + (LATE if late else ""), record.time(a["created_at"]), late))
    record.events.sort(key=lambda e: e.t)
    record.integrity = integrity_values(store, hearing_id)
    record.parties = party_acts(store, hearing_id)
    return _neutralised(record)


def _neutralised(record: HearingRecord) -> HearingRecord:
    """The record with every string a person may have typed neutralised."""
    record.hearing, record.seats = neutral_all(record.hearing), neutral_all(record.seats)
    for item in (*record.lines, *record.events):
        for key, value in vars(item).items():
            if isinstance(value, str):
                setattr(item, key, neutral(value))
    record.integrity, record.parties = neutral_all(record.integrity), \
        neutral_all(record.parties)
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


def header_rows(record: HearingRecord) -> list[tuple[str, str]]:
    h = record.hearing
    clerk = h["clerk"] or _signer_name(record, h.get("clerk_user"))
    rows = [("法院", h["court"]), ("法庭", h["room"]), ("案号", h["case_number"]),
            ("案由", h["title"] or h["case_type"]), ("合议庭", "、".join(h["panel"])),
            ("书记员", clerk), ("当事人", "、".join(h["parties"])),
            ("开庭时间", record.time(h["wall_start"]) or "未开庭"),
            ("闭庭时间", record.time(h["closed_at"])),
            ("时区", record.zone if h["wall_start"] else "")]
    return [(k, v) for k, v in rows if v]


def _signer_name(record: HearingRecord, user: str | None) -> str:
    return next((s["name"] for s in record.integrity.get("signoffs", [])
                 if s["user"] == user), user or "")


def integrity_rows(record: HearingRecord) -> list[tuple[str, str]]:
    i = record.integrity
    rows = [("笔录校验值 (SHA-256)", i["transcript_sha256"]),
            ("录音哈希链头 (SHA-256)", i["audio_chain_head"] or "（无录音）")]
    for s in i["signoffs"]:
        rows.append((f"签署（{s['title'] or s['role']}）",
                     f"{s['name']}（{s['user']}） {record.time(s['created_at'])}"))
    if not i["signoffs"]:
        rows.append(("签署", "未签署（笔录尚可更正）"))
    return rows


def party_rows(record: HearingRecord) -> list[tuple[str, str]]:
    """What each party did, one row each, as the 笔录 lists them."""
    rows = []
    for a in record.parties:
        who = f"{a['seat_name']} {a['name']}".strip()
        when = record.time(a["created_at"]) + (LATE if a["after_signoff"] else "")
        if a["kind"] == "sign":
            rows.append((f"当事人签名（{who}）", f"已签名 {when}；所签校验值 "
                         f"{a['transcript_sha256']}；签名图像 SHA-256 "
                         f"{a['signature_sha256']}"))
        elif a["kind"] == "refuse":
            rows.append((f"拒绝签名（{who}）", f"理由：{a['reason']} {when}"))
        else:
            rows.append((f"更正申请（{who}）", f"第 {a['utterance_id']} 行：{a['proposed']}"
                         f"（理由：{a['reason'] or '无'}） {when}；{_outcome(record, a)}"))
    return rows


def _outcome(record: HearingRecord, a: dict) -> str:
    h = a.get("handling")
    if not h:
        return "待书记员处理"
    word = f"已采纳，更正为第 {h['revision']} 版" if h["outcome"] == "accepted" \
        else f"未采纳（{h['reason']}）"
    return f"{word}（{h['by']} {record.time(h['created_at'])}）"


def line_text(t0: float, name: str, text: str) -> str:
    """``[hh:mm:ss] 审判长：text``: a line as the 笔录, the console and a TXT file show it."""
    return f"[{hms(t0)}] {name}：{text}"


def srt(cues: Iterable[tuple[float, float, str, str]]) -> str:
    """SubRip of ``(t0, t1, name, text)`` cues."""
    return "\n".join(f"{n}\n{clock(t0, ',')} --> {clock(t1, ',')}\n{name}：{text}\n"
                     for n, (t0, t1, name, text) in enumerate(cues, start=1))


def body(record: HearingRecord) -> list[tuple[float, str]]:
    """(time, text) of every line and event, in timeline order; each stage of the hearing
    (宣布开庭 … 宣判, marked by the clerk) heads the lines that follow it, numbered."""
    items = [(ln.t0, line_text(ln.t0, ln.name, ln.text)
              + (f"（{ln.by}更正）" if ln.by else "")) for ln in record.lines]
    items += [(e.t, f"[{hms(e.t)}] —— {e.text} ——") for e in record.events
              if e.kind != "stage"]
    stages = sorted((e for e in record.events if e.kind == "stage"), key=lambda e: e.t)
    # A heading sorts before the lines of its own second (-0.0005 s keeps it first).
    items += [(e.t - 0.0005, f"{ORDINALS[n % len(ORDINALS)]}、{e.text}（{hms(e.t)} 起）")
              for n, e in enumerate(stages)]
    return sorted(items, key=lambda x: x[0])


def to_txt(record: HearingRecord) -> str:
    out = ["庭审笔录", ""]
    out += [f"{k}：{v}" for k, v in header_rows(record)]
    out += ["", *[text for _, text in body(record)], ""]
    out += [f"{k}：{v}" for k, v in integrity_rows(record)]
    out += [f"{k}：{v}" for k, v in party_rows(record)]
    return "\n".join(out) + "\n"


def _cues(record: HearingRecord) -> list[tuple[float, float, str, str]]:
    """Subtitle cues: the lines, and the annotations (3 s each) with their mark."""
    cues = [(ln.t0, ln.t1, ln.name, ln.text) for ln in record.lines]
    cues += [(e.t, e.t + 3.0, "标注", e.text) for e in record.events
             if e.kind in ("annotation", "stage")]
    return sorted(cues, key=lambda c: c[0])


def to_srt(record: HearingRecord) -> str:
    return srt(_cues(record))


def to_vtt(record: HearingRecord) -> str:
    cues = [f"{clock(t0)} --> {clock(t1)}\n<v {name}>{text}\n"
            for t0, t1, name, text in _cues(record)]
    return "WEBVTT\n\n" + "\n".join(cues)


def to_json(record: HearingRecord) -> str:
    return json.dumps(record.as_dict(), ensure_ascii=False, indent=2)


def _renderers() -> dict:
    from courtbox.record.export_docx import to_docx
    from courtbox.record.export_pdf import to_pdf
    return {"txt": to_txt, "srt": to_srt, "vtt": to_vtt, "json": to_json, "docx": to_docx,
            "pdf": to_pdf}


def render(record: HearingRecord, fmt: str) -> bytes:
    renderers = _renderers()
    if fmt not in renderers:
        raise ExportError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    out = renderers[fmt](record)
    return out.encode("utf-8") if isinstance(out, str) else out


def file_name(record: HearingRecord, fmt: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in record.hearing["case_number"])
    return f"庭审笔录_{safe}.{fmt}"
