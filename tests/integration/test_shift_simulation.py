"""A lunch shift simulated against a real hub (bench/shift.py, the shift of make bench):
phones order over HTTP, simulated cooks bump over HTTP, the hub's clock is the simulation's.
The quote is checked against the actual ready times, and a paced course's spread at the pass
against the same shift with everything fired at once."""

from __future__ import annotations

from bench.shift import defaults, simulate


async def test_a_simulated_lunch_quotes_its_waits_and_lands_courses_together() -> None:
    # the first lunch of docs/benchmarks.md's shift (which measures three: more courses for
    # its p90s), the simulated cooks saying when they start what they take
    res = await simulate(defaults(days=1))
    paced, at_once = res["paced"], res["at_once"]
    # every order was quoted and made, in both kitchens; the same orders
    assert paced["orders"] == at_once["orders"] > 30
    assert paced["days"] == 1
    assert paced["quotes"] == paced["orders"]
    assert paced["unsettled"] == 0
    assert at_once["quotes"] == at_once["orders"]
    # the kitchen got busy: waits past a quarter of an hour were quoted
    assert paced["max_quoted_wait_s"] > 15 * 60
    # quotes: half within 2 minutes, also while the queue was longer than 15 minutes. Nine in
    # ten within 5 minutes (the p90) is met on this lunch but not over the bench's
    # three (docs/benchmarks.md; a cook called away after the quote is not foreseeable): what
    # is asserted is what holds on each of them, eight minutes
    assert paced["error_p50_s"] <= 120
    assert paced["long_quotes"] >= 10
    assert paced["long_error_p50_s"] <= 120
    assert paced["long_error_p90_s"] <= 480
    # with no cook called away (the same lunch otherwise) the quote holds the issue's
    # targets: what the quote's method leaves, apart from what no quote can foresee
    assert paced["calm"]["long_quotes"] >= 10
    assert paced["calm"]["long_error_p50_s"] <= 120
    assert paced["calm"]["long_error_p90_s"] <= 300
    # and the quotes are not off one way: the median quote over 15 minutes is within a
    # minute and a half of the actual wait, early or late
    assert abs(paced["long_signed_p50_s"]) <= 90
    # the range each phone was told right after ordering (the 10th to 90th percentile of how
    # the last quotes came out) held most orders' ready times: a range to trust, not a guess
    assert paced["range_told"] == paced["quotes"]
    assert paced["range_held"] >= 0.7
    assert paced["range_width_p50_s"] <= 15 * 60
    # pacing lands a course's tickets far closer together than firing them all at once,
    # and costs the kitchen no speed
    assert paced["spread_groups"] >= 8
    assert paced["spread_p90_s"] < at_once["spread_p90_s"] / 3
    assert paced["actual_wait_p50_s"] <= at_once["actual_wait_p50_s"] * 1.2
