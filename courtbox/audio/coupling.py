"""The room's seat-to-microphone coupling: how much of each seat's voice reaches every other
seat's microphone, learned while one seat speaks alone, and the bleed it predicts.

In a reverberant courtroom a voice reaches the other seats' microphones only 10–15 dB down
(the reverberant field is nearly the same everywhere in a hall), so no fixed margin below
the loudest seat tells a second talker from bleed: a margin wide enough for a quiet second
voice lets bleed through, a narrow one drops genuine double talk. The coupling of a fixed
room is stable, though, and it can be measured: while seat *i* speaks alone, the power
above the noise floor at microphone *j* over that at microphone *i* is the coupling
``c[i, j]``. ``Coupling`` keeps the last ``history`` such observations per pair and takes
a high percentile of them (bleed fluctuates frame to frame, a prediction that is usually
right is not enough), and ``active`` calls a seat speaking only when its microphone carries
more than ``margin_db`` above the bleed predicted from every other seat.

Reverberation outlasts the voice: when a talker stops, the direct sound at their own
microphone is gone at once while the room's tail still reaches the others, so for a few
hundred milliseconds a neighbour's microphone is as loud as the talker's. The prediction
therefore uses each seat's *held* level, which decays no faster than ``hold_db_per_s`` (60
dB in a second: slower than any courtroom's reverberation), so a tail stays below the bleed
predicted for it.

Pure and synchronous; one instance per segmenter, fed every frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CouplingOptions:
    prior_db: float = -8.0  # bleed assumed between two seats before any is measured
    margin_db: float = 6.0  # a seat speaks only this far above the bleed predicted for it
    learn_snr_db: float = 15.0  # single talk: the talker this far above its floor
    learn_lead_db: float = 3.0  # ... and every other microphone at least this far below
    near_peak_db: float = 6.0  # ... and the talker within this of its held level (no tail)
    history: int = 400  # observations kept per pair (about 13 s of single talk)
    min_observations: int = 30  # before this many, the prior holds
    percentile: float = 80.0  # of the observations: the bleed predicted
    hold_db_per_s: float = 60.0  # how fast a seat's held level may fall
    lowest_db: float = -45.0  # coupling is never taken for less than this
    lead_db: float = 6.0  # a talker's microphone leads the others' median by this much


def _db(power: np.ndarray | float) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(power, 1e-12))


class Coupling:
    """Learned seat-to-microphone coupling of ``seats`` seats (frames of ``frame_ms``)."""

    def __init__(self, seats: int, frame_ms: int, options: CouplingOptions | None = None
                 ) -> None:
        self.options = o = options or CouplingOptions()
        self.seats = seats
        self.coupling_db = np.full((seats, seats), o.prior_db)  # [talker, microphone]
        np.fill_diagonal(self.coupling_db, 0.0)
        self._coupling = 10.0 ** (self.coupling_db / 10.0)
        np.fill_diagonal(self._coupling, 0.0)
        self._seen = np.zeros((seats, seats), dtype=np.int64)
        self._ratios = np.zeros((seats, seats, o.history))
        self._decay = 10.0 ** (-o.hold_db_per_s * frame_ms / 1000 / 10.0)
        self.held = np.zeros(seats)  # each seat's held power above its floor
        self._since_update = np.zeros(seats, dtype=np.int64)

    def predicted(self) -> np.ndarray:
        """Bleed power above its floor each microphone is expected to carry from the other
        seats' held levels."""
        return self.held @ self._coupling

    def active(self, excess: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Which ``candidates`` carry more than their predicted bleed. ``excess``: each
        microphone's power above its noise floor (linear) in this frame. Also updates the
        held levels. A seat's held level is of its *own* voice (its excess less the bleed
        the others' levels predict in it): a microphone carrying only bleed is no source
        of bleed in turn."""
        decayed = self.held * self._decay
        own = np.maximum(excess - np.maximum(excess, decayed) @ self._coupling, 0.0)
        self.held = np.maximum(own, decayed)
        margin = 10.0 ** (self.options.margin_db / 10.0)
        active = candidates & (excess >= self.predicted() * margin)
        if self.seats >= 3:
            # A talker is close to one microphone: murmur in the gallery, far from every
            # seat, reaches them all alike and leads none (double talk still does: the
            # median of the others is a silent seat's).
            others = np.array([np.median(np.delete(excess, i)) for i in range(self.seats)])
            active &= excess >= others * 10.0 ** (self.options.lead_db / 10.0)
        return active

    def learn(self, excess: np.ndarray, snr_db: np.ndarray) -> None:
        """Record this frame's coupling from its loudest seat, if it speaks alone."""
        o = self.options
        talker = int(np.argmax(snr_db))
        if snr_db[talker] < o.learn_snr_db or excess[talker] <= 0:
            return
        if _db(excess[talker]) < _db(self.held[talker]) - o.near_peak_db:
            return
        ratio = _db(excess) - _db(excess[talker])
        ratio[talker] = -np.inf
        if ratio.max() > -o.learn_lead_db:
            return
        for mic in range(self.seats):
            if mic != talker:
                n = self._seen[talker, mic]
                self._ratios[talker, mic, n % o.history] = max(ratio[mic], o.lowest_db)
                self._seen[talker, mic] = n + 1
        self._since_update[talker] += 1
        if self._since_update[talker] >= 10:
            self._since_update[talker] = 0
            self._update(talker)

    def _update(self, talker: int) -> None:
        o = self.options
        for mic in range(self.seats):
            n = self._seen[talker, mic]
            if mic == talker or n < o.min_observations:
                continue
            kept = self._ratios[talker, mic, :min(n, o.history)]
            self.coupling_db[talker, mic] = float(np.percentile(kept, o.percentile))
        self._fill_unlearned()
        self._coupling = 10.0 ** (self.coupling_db / 10.0)
        np.fill_diagonal(self._coupling, 0.0)

    def _fill_unlearned(self) -> None:
        """A pair not yet heard in single talk takes the reverse pair's coupling (the same
        two places in the same room), else the median of those learned, else the prior: so
        that a seat's first words in double talk are not held to the prior's bleed."""
        o = self.options
        learned = self._seen >= o.min_observations
        np.fill_diagonal(learned, False)
        if not learned.any():
            return
        typical = float(np.median(self.coupling_db[learned]))
        for i in range(self.seats):
            for j in range(self.seats):
                if i != j and not learned[i, j]:
                    self.coupling_db[i, j] = (self.coupling_db[j, i] if learned[j, i]
                                              else min(typical, o.prior_db))
