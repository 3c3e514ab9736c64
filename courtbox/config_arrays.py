"""The ``[[arrays]]`` section of the config: microphone arrays and the seats in front of them.

An array is a set of input channels (its capsules) with a geometry: a ``ring`` with a
radius, a ``line`` with a spacing, or ``explicit`` capsule coordinates in metres, turned by
``orientation_deg`` (azimuth 0 is where capsule 0 points on a ring, or along a line). A
seat in front of an array names it (``seats[].array``) and its direction seen from the
array (``azimuth_deg``, optionally ``elevation_deg`` and the width of its ``sector_deg``);
``courtbox array calibrate`` measures them. A seat at an array without a direction yet is
valid but not heard until it is calibrated. Such a seat needs no channel of its own: it is
given the capsule nearest its direction as the channel its raw sound is played from.
Seats with their own microphone keep their channel, in the same room.

``check_arrays`` is the cross-check the config runs once seats and arrays are read; each
problem is one line naming the key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from courtbox.config import Seat


class ArrayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$",
                    description="Stable array id, named by its seats' `array`.")
    channels: list[int] = Field(min_length=2, max_length=32, description="Input channels "
                                "(0-based) of the capsules, in geometry order.")
    geometry: Literal["ring", "line", "explicit"] = Field(
        "ring", description="Capsule layout: `ring` (radius_m), `line` (spacing_m) or "
        "`explicit` (capsules).")
    radius_m: float = Field(0.045, ge=0.01, le=0.5, description="Ring radius in metres.")
    spacing_m: float = Field(0.04, ge=0.005, le=0.5,
                             description="Capsule spacing of a line, metres.")
    capsules: list[list[float]] = Field(
        [], max_length=32, description="Explicit capsule coordinates [x, y] or [x, y, z] "
        "in metres, one per channel.")
    orientation_deg: float = Field(0.0, ge=-360, le=360, description="Azimuth of capsule "
                                   "0 (ring) or of the line's axis, degrees.")
    beam: Literal["mvdr", "ds", "sd"] = Field(
        "sd", description="Beam toward each seat: `sd` (superdirective: rejects the diffuse "
        "reverberant field), `mvdr` (noise-adaptive) or `ds` (delay-and-sum).")

    @model_validator(mode="after")
    def _shape(self) -> ArrayConfig:
        if any(not 0 <= c <= 63 for c in self.channels):
            raise ValueError("channels must be input channels 0–63")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("channels must be distinct")
        if self.geometry == "explicit":
            if len(self.capsules) != len(self.channels):
                raise ValueError("explicit geometry needs one capsule per channel")
            if any(len(p) not in (2, 3) or max(map(abs, p)) > 2 for p in self.capsules):
                raise ValueError("capsules are [x, y] or [x, y, z] within 2 m")
        return self


def check_arrays(seats: list[Seat], arrays: list[ArrayConfig]) -> bool:
    """Fill in the reference capsule of array seats without a channel; ``ValueError``
    with one line per problem, each naming its key."""
    if problems := _problems(seats, arrays):
        raise ValueError("\n".join(problems))
    return True


def _problems(seats: list[Seat], arrays: list[ArrayConfig]) -> list[str]:
    problems: list[str] = []
    by_id = {a.id: a for a in arrays}
    if len(by_id) != len(arrays):
        problems.append("arrays: an id is used by more than one array")
    capsule_owner: dict[int, str] = {}
    for i, a in enumerate(arrays):
        for c in a.channels:
            if c in capsule_owner:
                problems.append(f"arrays[{i}].channels: channel {c} is in two arrays")
            capsule_owner[c] = a.id
    taken: set[int] = set()
    for i, seat in enumerate(seats):
        if seat.array is None:
            if seat.channel is None:
                problems.append(f"seats[{i}].channel: a seat needs a channel or an array")
            elif seat.channel in capsule_owner:
                problems.append(f"seats[{i}].channel: channel {seat.channel} is a capsule of "
                                f"array {capsule_owner[seat.channel]!r}")
            else:
                taken.add(seat.channel)
            continue
        if seat.array not in by_id:
            problems.append(f"seats[{i}].array: no array {seat.array!r} in [[arrays]]")
        elif seat.channel is not None and seat.channel not in by_id[seat.array].channels:
            problems.append(f"seats[{i}].channel: not a capsule of array {seat.array!r}")
    for i, seat in enumerate(seats):
        if seat.array in by_id and seat.channel is None:
            free = [c for c in _by_direction(by_id[seat.array], seat.azimuth_deg or 0.0)
                    if c not in taken]
            if not free:
                problems.append(f"seats[{i}].array: more seats than capsules on array "
                                f"{seat.array!r}")
                continue
            seat.channel = free[0]
        if seat.array is not None and seat.channel is not None:
            taken.add(seat.channel)
    return problems


def capsule_positions(array: ArrayConfig) -> np.ndarray:
    """``[capsules × 3]`` metres around the array's centre, turned by its orientation."""
    n, turn = len(array.channels), np.radians(array.orientation_deg)
    if array.geometry == "ring":
        az = turn + 2 * np.pi * np.arange(n) / n
        return np.stack([array.radius_m * np.cos(az), array.radius_m * np.sin(az),
                         np.zeros(n)], axis=1)
    if array.geometry == "line":
        d = (np.arange(n) - (n - 1) / 2) * array.spacing_m
        return np.stack([d * np.cos(turn), d * np.sin(turn), np.zeros(n)], axis=1)
    p = np.array([[*c, 0.0][:3] for c in array.capsules], dtype=np.float64)
    p -= p.mean(axis=0)
    c, s = np.cos(turn), np.sin(turn)
    return p @ np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def _by_direction(array: ArrayConfig, azimuth_deg: float) -> list[int]:
    """The array's channels, the capsule pointing nearest ``azimuth_deg`` first."""
    p = capsule_positions(array)
    az = np.degrees(np.arctan2(p[:, 1], p[:, 0]))
    order = np.argsort(np.abs((az - azimuth_deg + 180) % 360 - 180), kind="stable")
    return [array.channels[k] for k in order]
