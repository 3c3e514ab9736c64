"""Seat accuracy of a multi-seat transcript against a per-seat reference (``courtbox bench``).

A room's reference is a ``hearing.json`` (the bundled sample's, or one the courtroom
simulator wrote): its seats with their channels and every utterance with its seat and its
span on the timeline. Final lines are matched to reference utterances by time overlap:

- a line is *on a silent seat* when its own seat's reference speech (each utterance widened
  by ``PAD_S``) covers less than half of its speech (without pre-roll and tail):
  bleed, or another seat's words written on this one;
- an utterance is *on its own seat* when its seat's lines (with their pre-roll and tail:
  a reference span holds the recording's own leading and trailing silence) cover at least
  half of it;
- *double talk* is two seats' utterances overlapping by ``DOUBLE_TALK_S`` or more; it is
  *found* when both are on their own seats;
- *the seat of an utterance* as the arrays' issue counts it (``seat_accuracy``): alone, it
  is right when its own seat's lines cover more of it than any other seat's; overlapped by
  another seat, when its own seat's lines cover at least 30 % of it;
- CER per seat: that seat's lines in time order against its reference utterances in time
  order; overall, the sum over seats.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from courtbox.errors import ConfigError
from courtbox.transcribe.metrics import ErrorCount, errors_for

PAD_S = 0.3
DOUBLE_TALK_S = 1.0
COVERED = 0.5
DOUBLE_TALK_COVERED = 0.3


@dataclass(frozen=True)
class RefUtterance:
    seat: str
    t0: float
    t1: float
    text: str


@dataclass(frozen=True)
class RoomReference:
    """Who sits on which channel, and who said what when."""

    seats: tuple[tuple[int, str], ...]  # (channel, seat id)
    utterances: tuple[RefUtterance, ...]
    audio: Path | None = None  # the recording the reference belongs to
    # A microphone array of the room and the seats only it hears: its channels, its
    # capsules [x, y, z] in metres, and (seat id, azimuth, elevation) in degrees.
    array: dict | None = None

    def text(self) -> str:
        return "".join(u.text for u in sorted(self.utterances, key=lambda u: u.t0))


def load_room_reference(path: Path) -> RoomReference:
    """A ``hearing.json`` with ``seats`` (channel, id) and ``utterances`` (seat, t0, t1,
    text); every problem is a ``ConfigError`` naming the file."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        # A seat without a microphone of its own (channel null) is heard by none here.
        seats = tuple((int(s["channel"]), str(s["id"])) for s in meta["seats"]
                      if s.get("channel") is not None)
        ids = {str(s["id"]) for s in meta["seats"]}
        utterances = tuple(RefUtterance(str(u["seat"]), float(u["t0"]), float(u["t1"]),
                                        str(u["text"])) for u in meta["utterances"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        raise ConfigError([f"{path}: not a room reference (seats with channel and id, "
                           f"utterances with seat, t0, t1 and text): {e}"], str(path)) from e
    unknown = sorted({u.seat for u in utterances} - ids)
    if unknown:
        raise ConfigError([f"{path}: utterances on seats it does not list: "
                           f"{', '.join(unknown)}"], str(path))
    # The recording it names, else the hearing.flac beside it (the bundled sample's).
    audio = path.parent / (meta["audio"] if isinstance(meta.get("audio"), str)
                           else "hearing.flac")
    return RoomReference(seats, utterances, audio, _array(path, meta))


def _array(path: Path, meta: dict) -> dict | None:
    """The room's array and the seats without a microphone of their own, at the directions
    the reference gives (azimuth; elevation from the talker's and the array's positions
    where both are known, else 0)."""
    a = meta.get("array")
    if not a:
        return None
    try:
        seats = []
        for s in meta["seats"]:
            if s.get("channel") is not None or s.get("azimuth_deg") is None:
                continue
            elevation = 0.0
            if s.get("talker") and a.get("center"):
                d = [t - c for t, c in zip(s["talker"], a["center"], strict=True)]
                elevation = abs(math.degrees(math.atan2(d[2], math.hypot(d[0], d[1]))))
            seats.append((str(s["id"]), float(s["azimuth_deg"]) % 360.0, elevation))
        return {"channels": [int(c) for c in a["channels"]],
                "capsules": [[float(v) for v in p] for p in a["capsules"]], "seats": seats}
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError([f"{path}: array: channels and capsules, and seats with "
                           f"azimuth_deg: {e}"], str(path)) from e


def _covered(spans: list[tuple[float, float]], t0: float, t1: float) -> float:
    """Share of [t0, t1] that the union of ``spans`` covers."""
    if t1 <= t0:
        return 0.0
    cuts = sorted((max(a, t0), min(b, t1)) for a, b in spans if b > t0 and a < t1)
    total, end = 0.0, t0
    for a, b in cuts:
        a = max(a, end)
        if b > a:
            total += b - a
            end = b
    return total / (t1 - t0)


def _speech_span(line: dict) -> tuple[float, float]:
    """A line's speech (without the pre-roll and tail kept around it), where known."""
    return line.get("speech_t0", line["t0"]), line.get("speech_t1", line["t1"])


def seat_errors(lines: list[dict], ref: RoomReference, language: str
                ) -> dict[str, ErrorCount]:
    """Per seat: its lines in time order against its reference in time order."""
    sep = " " if language == "en" else ""
    seats = [seat for _, seat in ref.seats]
    seats += sorted({u.seat for u in ref.utterances} - set(seats))  # seats at an array
    seats += sorted({ln["seat"] for ln in lines} - set(seats))
    out: dict[str, ErrorCount] = {}
    for seat in seats:
        hyp = sep.join(ln["text"] for ln in sorted(lines, key=lambda x: x["t0"])
                       if ln["seat"] == seat)
        want = sep.join(u.text for u in sorted(ref.utterances, key=lambda u: u.t0)
                        if u.seat == seat)
        out[seat] = errors_for(language, want, hyp)
    return out


def seat_accuracy(lines: list[dict], ref: RoomReference) -> dict:
    """The seat of each reference utterance as the issue of arrays counts it: alone (no
    other seat's utterance overlaps it), it is right when its own seat's lines' speech
    covers more of it than any other seat's; in double talk, when its own seat's lines'
    speech covers at least ``DOUBLE_TALK_COVERED`` of it."""
    alone = alone_right = overlapped = overlapped_right = 0
    for u in ref.utterances:
        cover: dict[str, float] = {}
        for ln in lines:
            a, b = _speech_span(ln)
            if min(u.t1, b) > max(u.t0, a):
                cover[ln["seat"]] = cover.get(ln["seat"], 0.0) + min(u.t1, b) - max(u.t0, a)
        if any(o.seat != u.seat and o.t0 < u.t1 and u.t0 < o.t1 for o in ref.utterances):
            overlapped += 1
            overlapped_right += cover.get(u.seat, 0.0) >= DOUBLE_TALK_COVERED * (u.t1 - u.t0)
        else:
            alone += 1
            alone_right += bool(cover) and max(cover, key=cover.get) == u.seat
    return {"alone": alone, "alone_right": alone_right, "overlapped": overlapped,
            "overlapped_right": overlapped_right}


def seat_score(lines: list[dict], ref: RoomReference, language: str = "zh") -> dict:
    """Lines on silent seats, utterances on their own seats, double talk found, CER per
    seat. ``lines``: final lines with ``seat``, ``t0``, ``t1`` and ``text``."""
    spoken: dict[str, list[tuple[float, float]]] = {}
    for u in ref.utterances:
        spoken.setdefault(u.seat, []).append((u.t0 - PAD_S, u.t1 + PAD_S))
    written: dict[str, list[tuple[float, float]]] = {}
    for ln in lines:
        written.setdefault(ln["seat"], []).append((ln["t0"], ln["t1"]))
    silent = [ln for ln in lines
              if _covered(spoken.get(ln["seat"], []), *_speech_span(ln)) < COVERED]
    own = {u for u in ref.utterances
           if _covered(written.get(u.seat, []), u.t0, u.t1) >= COVERED}
    pairs = [(a, b) for i, a in enumerate(ref.utterances) for b in ref.utterances[i + 1:]
             if a.seat != b.seat and min(a.t1, b.t1) - max(a.t0, b.t0) >= DOUBLE_TALK_S]
    found = [p for p in pairs if p[0] in own and p[1] in own]
    per_seat = seat_errors(lines, ref, language)
    return {
        "lines": len(lines), "on_silent_seat": len(silent),
        "utterances": len(ref.utterances), "on_own_seat": len(own),
        "double_talk": len(pairs), "double_talk_found": len(found),
        **seat_accuracy(lines, ref),
        "per_seat": {seat: [e.errors, e.reference_length] for seat, e in per_seat.items()},
        "silent_lines": [{"seat": ln["seat"], "t0": ln["t0"], "text": ln["text"]}
                         for ln in silent],
    }


def sum_scores(scores: list[dict]) -> dict | None:
    """The files' seat scores added up, with the shares the bench reports."""
    if not scores:
        return None
    keys = ("lines", "on_silent_seat", "utterances", "on_own_seat", "double_talk",
            "double_talk_found", "alone", "alone_right", "overlapped", "overlapped_right")
    total = {k: sum(s[k] for s in scores) for k in keys}
    errors = ErrorCount(sum(e for s in scores for e, _ in s["per_seat"].values()),
                        sum(n for s in scores for _, n in s["per_seat"].values()))

    def share(a: str, b: str) -> float | None:
        return round(total[a] / total[b], 4) if total[b] else None

    return {**total, "silent_share": share("on_silent_seat", "lines"),
            "own_share": share("on_own_seat", "utterances"),
            "double_talk_share": share("double_talk_found", "double_talk"),
            "alone_share": share("alone_right", "alone"),
            "overlapped_share": share("overlapped_right", "overlapped"),
            "seat_cer": round(errors.rate, 4) if errors.reference_length else None}
