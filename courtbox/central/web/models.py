"""The web service's request bodies and responses (pydantic), so that its OpenAPI
(``/api/v1/openapi.json``) states what the court's case-management system gets. Times are
ISO 8601 in the court's time zone (``web.timezone``); names of states and issues come in
English (``state``, ``issues``) and in Chinese (``state_name``, ``issue_names``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(_Body):
    name: str = Field(min_length=1, max_length=40)
    password: str = Field(min_length=1, max_length=200)


class HoldBody(_Body):
    case_number: str = Field(min_length=1, max_length=200, description="The case (案号).")
    release: bool = Field(False, description="Lift the hold instead (the retention stays).")


class SessionOut(BaseModel):
    user: str
    display_name: str
    role: Literal["operations", "archivist"]
    role_name: str
    permissions: list[str]
    timezone: str
    expires_at: str
    token: str | None = Field(None, description="Only when logging in: send it as "
                              "``Authorization: Bearer`` (the pages use the cookie).")


class LoggedOut(BaseModel):
    user: str
    logged_out: bool


# -- the dashboard --------------------------------------------------------------------------

class BoxRow(BaseModel):
    id: int
    url: str
    box_id: str | None
    court: str
    room: str
    state: Literal["recording", "idle", "unreachable"]
    state_name: str
    issues: list[str] = Field(description="What needs a technician, most urgent first: "
                              "unreachable, quarantine, dead_mics, disk_low, "
                              "clock_unsynced, pull_error, alarm.")
    issue_names: list[str]
    priority: int = Field(description="0 (unreachable) … 6 (another alarm), 9: nothing.")
    heartbeat_at: str | None
    heartbeat_age_s: float | None
    open_hearing: str | None
    disk_hours_left: float | None
    disk_full: bool | None
    dead_mics: list[str]
    clock_synced: bool | None
    box_unacked_records: int | None = Field(description="Records the box reports the "
                                            "centre has not yet acknowledged.")
    box_unacked_bytes: int | None = Field(description="Audio bytes the box still holds "
                                          "unacknowledged.")
    not_pulled_records: int | None = Field(description="The box's last seq less the "
                                           "centre's cursor.")
    held_records: int = Field(description="Records the centre holds of the box.")
    held_bytes: int = Field(description="Audio bytes the centre holds of the box.")
    quarantined: int
    blocked: str | None
    alarms: dict[str, str]
    last_error: str | None
    version: str | None


class BoxPage(BaseModel):
    total: int
    limit: int
    offset: int
    counts: dict[str, int] = Field(description="The whole fleet: boxes per state and per "
                                   "issue.")
    unreachable_after_s: float
    items: list[BoxRow]


class CourtRow(BaseModel):
    court: str
    boxes: int
    hearings: int


# -- the e-case file ------------------------------------------------------------------------

class HearingRow(BaseModel):
    box_id: str
    hearing_id: str
    case_number: str
    case_type: str
    title: str
    court: str
    room: str
    state: str | None
    created_at: str | None
    closed_at: str | None
    match: str | None = Field(None, description="A line that matched the text searched.")


class HearingPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[HearingRow]


class Seat(BaseModel):
    seat_id: str
    channel: int | None
    role: str
    name: str


class Signoff(BaseModel):
    user: str
    role: str
    name: str
    transcript_sha256: str
    audio_sha256: str | None
    created_at: str | None


class Mark(BaseModel):
    id: str
    t: float | None
    label: str
    text: str
    author: str
    created_at: str | None


class Pause(BaseModel):
    t0: float | None = Field(description="Seconds on the hearing's timeline.")
    t1: float | None = Field(description="Its end (None: the hearing ended paused).")
    at0: str | None
    at1: str | None
    reason: str
    reason_name: str
    text: str
    by: str


class Segment(BaseModel):
    sha256: str
    part: int | None
    idx: int | None
    t0: float | None = Field(description="Where it starts on the hearing's timeline (s).")
    duration_s: float | None
    size: int
    channels: int | None
    url: str = Field(description="GET it (FLAC, HTTP Range) with the same session.")


class HearingDetail(HearingRow):
    panel: list[str]
    parties: list[str]
    clerk: str
    wall_start: str | None
    timezone: str
    sample_rate: int | None
    channels: int | None
    seats: list[Seat]
    signoffs: list[Signoff]
    marks: list[Mark]
    pauses: list[Pause]
    segments: list[Segment]
    lines: int
    record: dict[str, Any] = Field(description="The hearing's record as the box signed "
                                   "it, every update merged.")


class Revision(BaseModel):
    revision: int
    text: str
    author: str | None
    created_at: str | None


class Line(BaseModel):
    utterance_id: str
    seat: str | None
    seat_name: str
    t0: float | None
    t1: float | None
    text: str = Field(description="The final text: the latest revision.")
    revision: int
    author: str | None
    created_at: str | None
    earlier: list[Revision] = Field(description="The revisions before it, the machine's "
                                    "first.")


class Transcript(BaseModel):
    box_id: str
    hearing_id: str
    lines: list[Line]


class AudioLink(BaseModel):
    url: str = Field(description="A presigned GET of the object store, for the court's "
                     "systems that reach it.")
    expires_in_s: int


class HoldOut(BaseModel):
    case_number: str
    action: Literal["hold", "release"]
    objects: int


class AuditRow(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    client: str | None
    target: str | None
    detail: dict[str, Any]


class AuditPage(BaseModel):
    total: int
    items: list[AuditRow]
