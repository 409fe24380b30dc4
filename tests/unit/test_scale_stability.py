"""`StabilityFilter`: the scale's own "stable", or a weight held within the band for the
hold time (time passed in), and status-only readings keep the last weight, unstable."""

from __future__ import annotations

from devices.scales.protocols import Reading
from devices.scales.stability import StabilityFilter, Weight


def moving(grams: int | None, *flags: str) -> Reading:
    return Reading(grams, False, frozenset({"motion", *flags}))


def test_the_scale_saying_stable_is_enough() -> None:
    f = StabilityFilter(hold_s=10)
    assert f.update(Reading(500, True), now=0.0) == Weight(500, True)


def test_a_weight_held_within_the_band_becomes_stable_after_the_hold_time() -> None:
    f = StabilityFilter(hold_s=1.0, band_g=2)
    assert f.update(moving(1000), 0.0) == Weight(1000, False)
    assert f.update(moving(1002), 0.5) == Weight(1002, False)
    assert f.update(moving(998), 0.99) == Weight(998, False)
    # held: reports the mean of the window (1000.25), kept while it wobbles in the band
    assert f.update(moving(1001), 1.0) == Weight(1000, True)
    assert f.update(moving(1002), 1.5) == Weight(1000, True)
    # leaves the band: unstable again, and the clock restarts
    assert f.update(moving(1010), 1.6) == Weight(1010, False)
    assert f.update(moving(1010), 2.5) == Weight(1010, False)
    assert f.update(moving(1011), 2.6) == Weight(1010, True)  # round(3031 / 3)


def test_wobbling_wider_than_the_band_never_settles() -> None:
    f = StabilityFilter(hold_s=0.2, band_g=2)
    out = [f.update(moving(1000 + (5 if i % 2 else -5)), i * 0.1) for i in range(50)]
    assert not any(w is not None and w.stable for w in out)


def test_status_only_readings_keep_the_last_weight_unstable() -> None:
    f = StabilityFilter(hold_s=0.5)
    assert f.update(moving(None), 0.0) is None  # nothing known yet
    f.update(Reading(750, True), 0.1)
    assert f.update(moving(None), 0.2) == Weight(750, False)
    assert f.update(Reading(None, False, frozenset({"over"})), 5.0) == Weight(750, False)


def test_over_capacity_is_never_stable_even_when_held() -> None:
    f = StabilityFilter(hold_s=0.1)
    over = Reading(30_000, False, frozenset({"over"}))
    assert [f.update(over, t).stable for t in (0.0, 1.0, 2.0)] == [False, False, False]  # type: ignore[union-attr]


def test_hold_zero_turns_the_hold_rule_off() -> None:
    f = StabilityFilter(hold_s=0)
    assert f.update(moving(100), 0.0) == Weight(100, False)
    assert f.update(moving(100), 100.0) == Weight(100, False)
