"""From readings to what the hub sees: `StabilityFilter`, pure, with the time passed in.

A weight is stable when the scale says so, OR when it has held within +-`band_g` grams of
where it settled for `hold_s` seconds (many kitchen scales never report "stable" on a
vibrating bench). When it settles, the mean of the readings in the window is reported and
kept while it stays in the band, so a wobble inside the band does not flicker the weight.
A status-only reading (in motion, over/under capacity, no number) keeps the last weight and
makes it unstable.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.scales.protocols import Reading

_NEVER_STABLE = frozenset({"over", "under", "error"})


@dataclass(frozen=True, slots=True)
class Weight:
    """What gets published on ``scales/{scale}/weight``."""

    grams: int
    stable: bool


class StabilityFilter:
    def __init__(self, hold_s: float, band_g: int = 2) -> None:
        """`hold_s` <= 0 turns the hold rule off (only the scale's own flag counts)."""
        self.hold_s = hold_s
        self.band_g = band_g
        self._anchor: int | None = None
        self._since = 0.0
        self._sum = 0
        self._n = 0
        self._settled: int | None = None
        self._last: Weight | None = None

    def __repr__(self) -> str:
        return f"<StabilityFilter hold={self.hold_s}s band={self.band_g}g last={self._last}>"

    @property
    def last(self) -> Weight | None:
        return self._last

    def update(self, reading: Reading, now: float) -> Weight | None:
        """The weight to show after `reading` (None until the first number arrives)."""
        if reading.grams is None or reading.flags & _NEVER_STABLE:
            self._anchor = None
            grams = reading.grams if reading.grams is not None else self._last_grams()
            if grams is None:
                return None
            self._last = Weight(grams, False)
            return self._last
        grams = reading.grams
        if self._anchor is None or abs(grams - self._anchor) > self.band_g:
            self._anchor, self._since, self._sum, self._n = grams, now, 0, 0
            self._settled = None
        self._sum += grams
        self._n += 1
        if reading.stable:
            self._last = Weight(grams, True)
        elif self.hold_s > 0 and now - self._since >= self.hold_s:
            if self._settled is None:
                self._settled = round(self._sum / self._n)
            self._last = Weight(self._settled, True)
        else:
            self._last = Weight(grams, False)
        return self._last

    def _last_grams(self) -> int | None:
        return None if self._last is None else self._last.grams
