"""Microphone arrays: where the capsules are, where a voice comes from, and whose seat it is.

``Geometry`` holds the capsules' positions in metres in the array's own frame (a ring with
a radius, a line with a spacing, or explicit coordinates; ``orientation_deg`` turns it so
that azimuth 0 is the room direction the technician chose) and the delays a plane wave
from a direction (azimuth, elevation) makes at each capsule.

``SrpPhat`` is the direction finder: steered response power with the phase transform over
an azimuth × elevation grid, on one STFT frame (32 ms) at a time, in the band where a ring
of a few centimetres resolves direction (300–4000 Hz by default; above, its spacing
aliases). PHAT whitening makes each time-frequency bin vote by phase alone, so the direct
sound's onset outweighs the room's diffuse tail; ``weights`` let only some bins vote (the
array front's: those above the room's noise, so a fan does not outvote a quiet talker).
It was chosen over NormMUSIC
(pyroomacoustics) for cost: one matrix product per frame, no eigen-decomposition, well
a few percent of a core for 8 capsules (``scripts/bench_arrays.py``).

``SeatTracker`` turns frame peaks into seats: the strongest peak and a second one at
least ``min_separation_deg`` away (a second talker) are matched to the nearest seat
direction within its sector; each seat keeps a leaky evidence score with hysteresis, so a
seat neither flickers on a single reflection nor drops in a breath between two words, and
two seats can be on at once (double talk).

Pure numpy; stateful objects are fed by one thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SOUND_SPEED = 343.0  # m/s at about 20 °C
SNR_VOTE = 2.0  # a bin votes on the direction this far above the noise (power ratio)
MIN_VOTES = 8  # fewer bins above the noise than this in the band: every bin votes
_UPSAMPLE = 4  # cross-correlations at a quarter sample (16 kHz: 5 mm of path)


def direction(azimuth_deg: float | np.ndarray, elevation_deg: float | np.ndarray
              ) -> np.ndarray:
    """Unit vectors ``[... × 3]`` toward (azimuth, elevation), degrees."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az),
                     np.sin(el) * np.ones_like(az)], axis=-1)


def angle_between(a_deg: float | np.ndarray, b_deg: float | np.ndarray) -> np.ndarray:
    """Smallest absolute difference of two azimuths in degrees (0–180)."""
    return np.abs((np.asarray(a_deg) - np.asarray(b_deg) + 180.0) % 360.0 - 180.0)


@dataclass(frozen=True)
class Geometry:
    """Capsule positions ``[capsules × 3]`` in metres, relative to the array's centre."""

    positions: np.ndarray

    @classmethod
    def ring(cls, capsules: int, radius_m: float, orientation_deg: float = 0.0) -> Geometry:
        k = np.arange(capsules)
        az = np.radians(orientation_deg) + 2 * np.pi * k / capsules
        return cls(np.stack([radius_m * np.cos(az), radius_m * np.sin(az),
                             np.zeros(capsules)], axis=1))

    @classmethod
    def line(cls, capsules: int, spacing_m: float, orientation_deg: float = 0.0) -> Geometry:
        offsets = (np.arange(capsules) - (capsules - 1) / 2) * spacing_m
        az = np.radians(orientation_deg)
        return cls(np.stack([offsets * np.cos(az), offsets * np.sin(az),
                             np.zeros(capsules)], axis=1))

    @classmethod
    def explicit(cls, coordinates: list[list[float]], orientation_deg: float = 0.0
                 ) -> Geometry:
        p = np.asarray(coordinates, dtype=np.float64)
        if p.shape[1] == 2:
            p = np.concatenate([p, np.zeros((len(p), 1))], axis=1)
        p = p - p.mean(axis=0)
        c, s = np.cos(np.radians(orientation_deg)), np.sin(np.radians(orientation_deg))
        return cls(p @ np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]))

    @property
    def capsules(self) -> int:
        return int(self.positions.shape[0])

    @property
    def aperture_m(self) -> float:
        return float(self.distances().max())

    def distances(self) -> np.ndarray:
        """``[capsules × capsules]``: the distance between every two capsules, metres."""
        d = self.positions[:, None, :] - self.positions[None, :, :]
        return np.sqrt((d ** 2).sum(-1))

    def diffuse_coherence(self, freqs: np.ndarray) -> np.ndarray:
        """``[freqs × capsules × capsules]``: the coherence ``sinc(2fd/c)`` of a diffuse
        (spherically isotropic) sound field between the capsules."""
        return np.sinc(2.0 * freqs[:, None, None] * self.distances()[None] / SOUND_SPEED)

    def delays(self, azimuth_deg: float | np.ndarray, elevation_deg: float | np.ndarray
               ) -> np.ndarray:
        """Arrival time at each capsule relative to the centre, seconds ``[... × capsules]``
        (negative: the capsule hears the plane wave first)."""
        return -(direction(azimuth_deg, elevation_deg) @ self.positions.T) / SOUND_SPEED

    def steering(self, freqs: np.ndarray, azimuth_deg: float | np.ndarray,
                 elevation_deg: float | np.ndarray) -> np.ndarray:
        """Steering vectors ``[... × freqs × capsules]``: the phase a unit plane wave has at
        each capsule, ``exp(-j 2π f τ)``."""
        tau = self.delays(azimuth_deg, elevation_deg)
        return np.exp(-2j * np.pi * freqs[:, None] * tau[..., None, :]).astype(np.complex64)

    def without(self, dead: np.ndarray) -> Geometry:
        """The geometry of the capsules still alive (``dead``: bool per capsule)."""
        return Geometry(self.positions[~np.asarray(dead, dtype=bool)])


@dataclass(frozen=True)
class DoaOptions:
    nfft: int = 512
    fmin_hz: float = 300.0
    fmax_hz: float = 4000.0
    azimuth_step_deg: float = 2.0
    elevations_deg: tuple[float, ...] = (0.0, 20.0, 40.0, 60.0)  # a planar array cannot
    # tell up from down: these cover talkers level with a table array and below a ceiling


class SrpPhat:
    """SRP-PHAT over an azimuth × elevation grid, one STFT frame at a time."""

    def __init__(self, geometry: Geometry, sample_rate: int = 16000,
                 options: DoaOptions | None = None) -> None:
        self.options = o = options or DoaOptions()
        self.sample_rate = sample_rate
        self._n = o.nfft * _UPSAMPLE
        freqs = np.fft.rfftfreq(o.nfft, 1.0 / sample_rate)
        self.band = np.flatnonzero((freqs >= o.fmin_hz) & (freqs <= o.fmax_hz))
        self.freqs = freqs[self.band]
        self.azimuths = np.arange(0.0, 360.0, o.azimuth_step_deg)
        az, el = np.meshgrid(self.azimuths, np.asarray(o.elevations_deg), indexing="ij")
        self.grid_az, self.grid_el = az.ravel(), el.ravel()
        self.set_geometry(geometry)

    def set_geometry(self, geometry: Geometry) -> None:
        self.geometry = geometry
        m = geometry.capsules
        self._i, self._j = np.triu_indices(m, 1)
        # The response at a direction is the sum over capsule pairs of their PHAT
        # cross-correlation at the pair's delay difference: one inverse FFT per pair
        # (upsampled for sub-sample lags) and a table lookup per direction.
        tau = geometry.delays(self.grid_az, self.grid_el)  # [grid × M]
        lag = (tau[:, self._i] - tau[:, self._j]) * self.sample_rate * _UPSAMPLE
        self._lags = np.round(lag).astype(np.int64).T % self._n  # [pairs × grid]

    def votes(self, level: np.ndarray, noise: np.ndarray | None) -> np.ndarray | None:
        """Which bins vote on the direction (all rfft bins): where a frame's ``level``
        (power per bin) stands ``SNR_VOTE`` above the room's ``noise``, so that a fan or a
        vent, which holds every other bin, does not outvote a quiet far talker. None (every
        bin votes) without a noise level, or with fewer than ``MIN_VOTES`` in the band."""
        if noise is None:
            return None
        weights = level > SNR_VOTE * noise
        return weights if weights[self.band].sum() >= MIN_VOTES else None

    def power(self, spectrum: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """The response ``[azimuths]`` (best over elevation) of one frame's spectrum
        ``[bins × capsules]`` (all rfft bins); ``weights``: each bin's vote (all rfft
        bins; default 1)."""
        return self.power_grid(spectrum, weights).max(axis=1)

    def power_grid(self, spectrum: np.ndarray, weights: np.ndarray | None = None
                   ) -> np.ndarray:
        """The response ``[azimuths × elevations]`` of one frame's spectrum."""
        x = spectrum[self.band]
        x = x / np.maximum(np.abs(x), 1e-9)
        if weights is not None:
            x = x * np.sqrt(weights[self.band])[:, None].astype(np.float32)
        cross = np.zeros((len(self._i), self._n // 2 + 1), dtype=np.complex64)
        cross[:, self.band] = x[:, self._i].T * np.conj(x[:, self._j].T)
        r = np.fft.irfft(cross, n=self._n, axis=1) * (self._n / 2)  # Re Σ_f, per pair
        pairs = np.take_along_axis(r, self._lags, axis=1).sum(axis=0)
        m, f = self.geometry.capsules, len(self.band)
        p = (f * m + 2 * pairs) / (f * m * m)
        return p.reshape(len(self.azimuths), -1)


def peaks(power: np.ndarray, azimuths: np.ndarray, count: int, min_separation_deg: float
          ) -> list[tuple[float, float]]:
    """Up to ``count`` (azimuth, response) local maxima, strongest first, each at least
    ``min_separation_deg`` from the ones before."""
    local = (power >= np.roll(power, 1)) & (power >= np.roll(power, -1))
    out: list[tuple[float, float]] = []
    for i in np.flatnonzero(local)[np.argsort(-power[local])]:
        if all(angle_between(azimuths[i], a) >= min_separation_deg for a, _ in out):
            out.append((float(azimuths[i]), float(power[i])))
        if len(out) == count:
            break
    return out


@dataclass(frozen=True)
class SeatDirection:
    seat: str
    azimuth_deg: float
    sector_deg: float = 40.0  # the whole width of the seat's sector, centred on azimuth


@dataclass(frozen=True)
class TrackerOptions:
    # A second peak counts if this close to the first, and with this weight: a second
    # talker holds such a peak frame after frame, a wall's reflection of the first only
    # now and then (on the tuning rooms, seeds 801-803, 0.7/0.6 put 16 of 49 lines on a
    # silent seat, these 9 of 40, with double talk found as often).
    second_peak_ratio: float = 0.85
    second_weight: float = 0.4
    min_separation_deg: float = 30.0
    min_contrast: float = 1.15  # a frame's best peak over its mean response: a direction
    smoothing: float = 0.85  # evidence of a seat: e <- smoothing·e + (1-smoothing)·hit
    on: float = 0.3  # a seat turns active above this evidence ...
    off: float = 0.12  # ... and inactive below this one


class SeatTracker:
    """Which seats of an array speak, frame by frame, from SRP peaks."""

    def __init__(self, seats: list[SeatDirection], options: TrackerOptions | None = None
                 ) -> None:
        self.seats = seats
        self.options = options or TrackerOptions()
        self.evidence = np.zeros(len(seats))
        self.active = np.zeros(len(seats), dtype=bool)
        self._az = np.array([s.azimuth_deg for s in seats])
        self._half = np.array([s.sector_deg / 2 for s in seats])

    def seat_of(self, azimuth_deg: float) -> int | None:
        """The seat whose sector holds this azimuth (the nearest if sectors overlap)."""
        if not self.seats:
            return None
        d = angle_between(self._az, azimuth_deg)
        i = int(np.argmin(d))
        return i if d[i] <= self._half[i] else None

    def hits(self, power: np.ndarray, azimuths: np.ndarray, speech: bool) -> np.ndarray:
        """Each seat's vote from one frame's response (0 without speech)."""
        o = self.options
        hit = np.zeros(len(self.seats))
        if not speech or power.mean() <= 0:
            return hit
        found = peaks(power, azimuths, 2, o.min_separation_deg)
        if not found or found[0][1] < o.min_contrast * power.mean():
            return hit
        for rank, (az, value) in enumerate(found):
            if rank and value < o.second_peak_ratio * found[0][1]:
                break
            seat = self.seat_of(az)
            if seat is not None:
                hit[seat] = max(hit[seat], 1.0 if rank == 0 else o.second_weight)
        return hit

    def update(self, hit: np.ndarray) -> np.ndarray:
        """Feed one frame's votes; returns which seats are active now."""
        o = self.options
        self.evidence = o.smoothing * self.evidence + (1 - o.smoothing) * hit
        self.active = np.where(self.active, self.evidence >= o.off, self.evidence >= o.on)
        return self.active.copy()


def calibrate(azimuths_by_seat: dict[str, list[float]]) -> dict[str, float]:
    """Each seat's direction from the azimuths heard while it alone spoke: the circular
    mean, rounded to a degree."""
    out: dict[str, float] = {}
    for seat, values in azimuths_by_seat.items():
        if values:
            rad = np.radians(np.asarray(values))
            mean = np.degrees(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean()))
            out[seat] = round(float(mean) % 360.0, 1)
    return out
