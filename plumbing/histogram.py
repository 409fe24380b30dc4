"""A fixed-bucket histogram of durations in seconds: counts per upper bound, the sum and the
count, kept in plain ints and floats so any exporter (Prometheus text, a JSON status) can
read it without the hot path knowing about either."""

from __future__ import annotations

import bisect
from collections.abc import Sequence


class Histogram:
    """`observe(seconds)`; `cumulative()` gives (upper bound, observations <= it) pairs ending
    with +Inf, the form Prometheus expects."""

    __slots__ = ("_counts", "bounds", "count", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        if not bounds or list(bounds) != sorted(set(bounds)):
            raise ValueError("bounds must be increasing and not empty")
        self.bounds = tuple(float(b) for b in bounds)
        self._counts = [0] * (len(self.bounds) + 1)  # the last one: above every bound
        self.count = 0
        self.sum = 0.0

    def __repr__(self) -> str:
        return f"<Histogram n={self.count} sum={self.sum:.3f}s>"

    def observe(self, seconds: float) -> None:
        seconds = max(0.0, seconds)  # a clock step back never makes a negative duration
        self._counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.count += 1
        self.sum += seconds

    def cumulative(self) -> list[tuple[float, int]]:
        out, running = [], 0
        for bound, n in zip((*self.bounds, float("inf")), self._counts, strict=True):
            running += n
            out.append((bound, running))
        return out
