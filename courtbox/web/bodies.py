"""The request bodies of the API, as pydantic models: every field bounded, nothing extra."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from courtbox.errors import BadText
from courtbox.record import users
from courtbox.record.hearing import PAUSE_REASONS
from courtbox.record.store import SQLITE_MAX
from courtbox.record.text import check_identifier

Text40 = Annotated[str, Field(min_length=1, max_length=40)]
Name = Annotated[str, Field(pattern=users.NAME_PATTERN)]  # an account's login name


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(_Body):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


def _identifier(value: str, info: ValidationInfo) -> str:
    """An identifier holds no control or bidirectional character (``record.text``)."""
    try:
        return check_identifier(info.field_name or "value", value)
    except BadText as e:
        raise ValueError(str(e)) from None


def _identifiers(value: list[str], info: ValidationInfo) -> list[str]:
    return [_identifier(v, info) for v in value]


class UserBody(_Body):
    name: str = Field(pattern=users.NAME_PATTERN)
    role: Literal["clerk", "judge", "technician", "admin"]
    password: str = Field(min_length=users.MIN_PASSWORD, max_length=256)
    display_name: str = Field("", max_length=40, description="The person's real name "
                              "(张三), shown with the role wherever they sign or mark.")

    _names = field_validator("display_name")(_identifier)


class HearingBody(_Body):
    case_number: str = Field(min_length=1, max_length=64, description="案号")
    case_type: str = Field("", max_length=40, description="e.g. 民事")
    title: str = Field("", max_length=200, description="案由")
    panel: list[Text40] = Field([], max_length=20)
    clerk: str = Field("", max_length=40)
    parties: list[Text40] = Field([], max_length=40)
    terms: list[Text40] = Field([], max_length=100,
                                description="The case's own words, fed to recognition.")
    panel_users: list[Name] = Field([], max_length=20, description="The panel's accounts "
                                    "(judges; the first presides): they sign the record.")
    clerk_user: Name | Literal[""] = Field("", description="The clerk's account, who "
                                           "signs and closes (default: who opens it).")

    _one = field_validator("case_number", "case_type", "title", "clerk",
                           "clerk_user")(_identifier)
    _many = field_validator("panel", "parties", "terms", "panel_users")(_identifiers)


class PauseBody(_Body):
    reason: Literal[tuple(PAUSE_REASONS)]  # type: ignore[valid-type]
    text: str = Field("", max_length=500)


class CorrectionBody(_Body):
    text: str = Field(min_length=1, max_length=5000)
    base_revision: int = Field(ge=0, le=SQLITE_MAX,
                               description="The revision the correction was made on.")


class MoveBody(_Body):
    seat: str = Field(min_length=1, max_length=64, description="A seat id of the hearing.")
    base_revision: int = Field(ge=0, le=SQLITE_MAX,
                               description="The revision the move was made on.")


class SplitBody(_Body):
    at: int = Field(ge=1, le=5000, description="The character the second line begins at.")
    base_revision: int = Field(ge=0, le=SQLITE_MAX,
                               description="The revision the split was made on.")


class MergeBody(_Body):
    next: str = Field(min_length=1, max_length=200, description="The line right after.")
    base_revision: int = Field(ge=0, le=SQLITE_MAX)
    next_revision: int = Field(ge=0, le=SQLITE_MAX)


class AnnotationBody(_Body):
    label: str = Field(min_length=1, max_length=40)
    text: str = Field("", max_length=2000)
    t: float | None = Field(None, ge=0, le=7 * 24 * 3600, description="Seconds on the "
                            "hearing timeline; default: now, while recording.")
