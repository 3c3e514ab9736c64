"""The request bodies of the API, as pydantic models: every field bounded, nothing extra."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from courtbox.record import users
from courtbox.record.hearing import PAUSE_REASONS
from courtbox.record.store import SQLITE_MAX

Text40 = Annotated[str, Field(min_length=1, max_length=40)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(_Body):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class UserBody(_Body):
    name: str = Field(pattern=users.NAME_PATTERN)
    role: Literal["clerk", "judge", "technician", "admin"]
    password: str = Field(min_length=users.MIN_PASSWORD, max_length=256)


class HearingBody(_Body):
    case_number: str = Field(min_length=1, max_length=64, description="案号")
    case_type: str = Field("", max_length=40, description="e.g. 民事")
    title: str = Field("", max_length=200, description="案由")
    panel: list[Text40] = Field([], max_length=20)
    clerk: str = Field("", max_length=40)
    parties: list[Text40] = Field([], max_length=40)
    terms: list[Text40] = Field([], max_length=100,
                                description="The case's own words, fed to recognition.")


class PauseBody(_Body):
    reason: Literal[tuple(PAUSE_REASONS)]  # type: ignore[valid-type]
    text: str = Field("", max_length=500)


class CorrectionBody(_Body):
    text: str = Field(min_length=1, max_length=5000)
    base_revision: int = Field(ge=0, le=SQLITE_MAX,
                               description="The revision the correction was made on.")


class AnnotationBody(_Body):
    label: str = Field(min_length=1, max_length=40)
    text: str = Field("", max_length=2000)
    t: float | None = Field(None, ge=0, le=7 * 24 * 3600, description="Seconds on the "
                            "hearing timeline; default: now, while recording.")
