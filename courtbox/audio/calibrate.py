"""Array calibration: each seat's direction, measured from speech known to be that seat's.

``directions_from_labels`` reads a recording and labelled spans (a recorded hearing's
utterances with the clerk's seat labels, or each seat speaking in turn): for every 32-ms
frame of a span in which Silero VAD hears speech, the strongest SRP-PHAT direction and its
elevation, with only the bins that stand above the room's noise (its level away from every
span, as the live front learns it) voting: a room's diffuse noise is coherent across
capsules a few centimetres apart at low frequencies and pulls an unweighted response toward
itself. A seat's azimuth is the circular mean of its frames within 20° of their circular
median (reflections off a wall land elsewhere and are left out); its elevation the median;
its sector twice the spread that holds 90 % of the frames, at least 30°. Spans that overlap
another seat's are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from courtbox.audio.arrays import SrpPhat, angle_between
from courtbox.audio.beams import Stft
from courtbox.audio.types import SPEECH_RATE

FRAME = 512
NOISE_MARGIN_S = 0.5  # kept away from every span when learning the noise


@dataclass(frozen=True)
class SeatCalibration:
    seat: str
    azimuth_deg: float
    elevation_deg: float
    sector_deg: float
    frames: int


def _circular_mean(deg: np.ndarray) -> float:
    rad = np.radians(deg)
    return float(np.degrees(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean())) % 360.0)


def _noise_level(capsules: np.ndarray, spans: list[tuple[str, float, float]]
                 ) -> np.ndarray | None:
    """The mean power per STFT bin of the frames far from every span (None: under a
    second of them)."""
    quiet = np.ones(len(capsules), dtype=bool)
    for _, t0, t1 in spans:
        quiet[max(0, int((t0 - NOISE_MARGIN_S) * SPEECH_RATE)):
              int((t1 + NOISE_MARGIN_S) * SPEECH_RATE)] = False
    stft = Stft(capsules.shape[1])
    levels = [np.mean(np.abs(stft.analyse(capsules[k:k + FRAME])) ** 2, axis=(0, 2))
              for k in range(0, len(capsules) - FRAME + 1, FRAME) if quiet[k:k + FRAME].all()]
    return np.mean(levels, axis=0) if len(levels) * FRAME >= SPEECH_RATE else None


def directions_from_labels(srp: SrpPhat, capsules: np.ndarray,
                           spans: list[tuple[str, float, float]],
                           speech: object | None = None) -> list[SeatCalibration]:
    """``capsules``: 16 kHz float32 ``[samples × capsules]``; ``spans``: (seat, t0, t1);
    ``speech``: a ``SileroVad``-like gate (``speech(frame[:, None])``), or None (all)."""
    alone = [(s, a, b) for s, a, b in spans
             if not any(o != s and oa < b and a < ob for o, oa, ob in spans)]
    found: dict[str, list[tuple[float, float]]] = {}
    el_grid = np.asarray(srp.options.elevations_deg)
    noise = _noise_level(capsules, spans)
    for seat, t0, t1 in alone:
        piece = capsules[int(t0 * SPEECH_RATE):int(t1 * SPEECH_RATE)]
        stft = Stft(capsules.shape[1])
        for k in range(len(piece) // FRAME):
            frame = piece[k * FRAME:(k + 1) * FRAME]
            spectra = stft.analyse(frame)
            if speech is not None and not speech.speech(frame.mean(axis=1)[:, None])[0]:
                continue
            weights = srp.votes(np.mean(np.abs(spectra) ** 2, axis=(0, 2)), noise)
            grid = np.mean([srp.power_grid(x, weights) for x in spectra], axis=0)
            a, e = np.unravel_index(int(np.argmax(grid)), grid.shape)
            found.setdefault(seat, []).append((float(srp.azimuths[a]), float(el_grid[e])))
    out = []
    for seat, values in found.items():
        az = np.array([v[0] for v in values])
        el = np.array([v[1] for v in values])
        centre = _circular_mean(az)
        near = angle_between(az, centre) <= 20.0
        if near.sum() >= 3:
            centre = _circular_mean(az[near])
        spread = float(np.percentile(angle_between(az[near], centre), 90)) if near.any() else 0
        out.append(SeatCalibration(seat, round(centre, 1), float(np.median(el[near])),
                                   round(max(30.0, 2 * spread), 1), len(values)))
    return out
