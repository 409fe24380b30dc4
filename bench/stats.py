"""Percentiles and per-phase summaries, shared by the load generator (to stop a sweep at
saturation) and the report. Pure: lists of numbers in, dicts of numbers out.

Latencies are measured from a request's *scheduled* send time (open loop), so a generator
or hub that falls behind shows up as latency instead of being hidden (no coordinated
omission). The generator's own lag (actual send - scheduled send) is reported beside it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

# A phase is saturated when the hub no longer keeps up with the offered rate.
SAT_ACHIEVED = 0.90  # achieved below 90% of offered
SAT_ERRORS = 0.01  # more than 1% of orders not answered 201
SAT_P99_S = 1.0  # POST->201 p99 over one second
GEN_LAG_S = 0.010  # generator lag p99 over 10 ms: the point also measures the generator

# order rows as the load generator records them
PHASE, T_SCHED, T_SENT, T_DONE, STATUS, ORDER_ID, ATTEMPTS, KEY, TABLE, ERROR = range(10)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), nearest rank on sorted data; None when empty."""
    if not values:
        return None
    data = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(data)))
    return data[min(rank, len(data)) - 1]


def dist(values: Sequence[float], scale: float = 1000.0) -> dict[str, float | int | None]:
    """p50/p99/p99.9/max (milliseconds by default) and the count."""
    out: dict[str, float | int | None] = {"n": len(values)}
    for name, q in (("p50", 50), ("p99", 99), ("p999", 99.9), ("max", 100)):
        v = percentile(values, q)
        out[name] = None if v is None else round(v * scale, 3)
    return out


def phase_summary(
    rows: Sequence[Sequence[Any]],
    rate: float,
    seconds: float,
    kds: Mapping[int, float] | None = None,
    mqtt: Mapping[int, float] | None = None,
) -> dict[str, Any]:
    """Throughput, latencies and saturation flags of one phase's order rows."""
    ok = [r for r in rows if r[STATUS] == 201]
    sent = [r for r in rows if r[STATUS] != -1]
    post = [r[T_DONE] - r[T_SCHED] for r in ok]
    lag = [r[T_SENT] - r[T_SCHED] for r in sent]
    first = min((r[T_SCHED] for r in rows), default=0.0)
    last = max((r[T_DONE] for r in ok), default=first)
    span = max(last - first, 1e-9)
    achieved = len(ok) / span if ok else 0.0
    out: dict[str, Any] = {
        "offered": rate,
        "seconds": seconds,
        "scheduled": len(rows),
        "ok": len(ok),
        "errors": len(rows) - len(ok),
        "not_sent": len(rows) - len(sent),
        "achieved": round(achieved, 1),
        "post_201_ms": dist(post),
        "gen_lag_ms": dist(lag),
    }
    statuses: dict[str, int] = {}
    for r in rows:
        if r[STATUS] != 201:
            key = f"{r[STATUS]} {r[ERROR]}".strip()
            statuses[key] = statuses.get(key, 0) + 1
    out["error_kinds"] = statuses
    for name, arrivals in (("kds_ms", kds), ("mqtt_ms", mqtt)):
        if arrivals is None:
            continue
        lat = [arrivals[r[ORDER_ID]] - r[T_SCHED] for r in ok if r[ORDER_ID] in arrivals]
        out[name] = dist(lat)
        out[name]["missing"] = len(ok) - len(lat)
    err_rate = out["errors"] / max(1, len(rows))
    p99 = out["post_201_ms"]["p99"]
    out["saturated"] = bool(
        not ok
        or err_rate > SAT_ERRORS
        or achieved < SAT_ACHIEVED * rate
        or (p99 is not None and p99 > SAT_P99_S * 1000)
    )
    gen_p99 = out["gen_lag_ms"]["p99"]
    out["generator_limited"] = bool(gen_p99 is not None and gen_p99 > GEN_LAG_S * 1000)
    return out


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 2)
