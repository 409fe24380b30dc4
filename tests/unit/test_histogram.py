"""plumbing.histogram: counts land in the first bucket whose bound holds them, cumulatively."""

from __future__ import annotations

import math

import pytest

from plumbing.histogram import Histogram


def test_observations_fall_into_cumulative_buckets() -> None:
    h = Histogram((0.1, 1.0))
    for seconds in (0.05, 0.1, 0.5, 3.0, -2.0):  # a step back of the clock counts as 0
        h.observe(seconds)
    assert h.cumulative() == [(0.1, 3), (1.0, 4), (math.inf, 5)]
    assert h.count == 5
    assert h.sum == pytest.approx(3.65)


@pytest.mark.parametrize("bounds", [(), (1.0, 0.5), (0.5, 0.5)])
def test_bounds_must_increase(bounds: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="increasing"):
        Histogram(bounds)
