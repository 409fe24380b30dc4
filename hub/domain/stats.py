"""The kitchen's numbers for a window of hours: orders per hour, ticket times per station
(bump time minus creation time, median and 90th percentile) and late tickets per station.

Pure: rows and the clock's `now_ms` in, a plain dict out. Hours are whole UTC hours, which are
the store's local hours in every zone with a whole-hour offset; pages label them locally.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

HOUR_MS = 3_600_000
MAX_HOURS = 168


@dataclass(frozen=True, slots=True)
class TicketTime:
    station: str
    created_ms: int
    bumped_ms: int | None  # None: still open


@dataclass(frozen=True, slots=True)
class StationLimits:
    id: str
    name: dict[str, str]
    late_seconds: int


def ms_from_iso(value: str) -> int:
    """'2026-11-22T18:03:11.123Z' -> epoch milliseconds."""
    return round(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


def window_start(now_ms: int, hours: int) -> int:
    """The first hour of a window of `hours` whole hours ending with the current hour."""
    return (now_ms // HOUR_MS - hours + 1) * HOUR_MS


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of already sorted values; None for no values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def orders_per_hour(order_ms: Iterable[int], now_ms: int, hours: int) -> list[dict[str, int]]:
    start = window_start(now_ms, hours)
    counts = [0] * hours
    for ms in order_ms:
        slot = (ms - start) // HOUR_MS
        if 0 <= slot < hours:
            counts[slot] += 1
    return [{"start_ms": start + k * HOUR_MS, "orders": n} for k, n in enumerate(counts)]


def station_numbers(
    tickets: Iterable[TicketTime], stations: Sequence[StationLimits], now_ms: int
) -> list[dict[str, Any]]:
    """Per station: bumped count, p50/p90 ticket time in seconds, late bumped tickets, and
    open tickets (and how many of them are already late)."""
    times: dict[str, list[float]] = {s.id: [] for s in stations}
    open_age: dict[str, list[float]] = {s.id: [] for s in stations}
    for t in tickets:
        if t.station not in times:
            continue
        if t.bumped_ms is None:
            open_age[t.station].append((now_ms - t.created_ms) / 1000)
        else:
            times[t.station].append(max(0.0, (t.bumped_ms - t.created_ms) / 1000))
    out = []
    for s in stations:
        done = sorted(times[s.id])
        p50, p90 = percentile(done, 0.5), percentile(done, 0.9)
        out.append(
            {
                "id": s.id,
                "name": s.name,
                "late_seconds": s.late_seconds,
                "bumped": len(done),
                "p50_s": None if p50 is None else round(p50),
                "p90_s": None if p90 is None else round(p90),
                "late": sum(1 for x in done if x > s.late_seconds),
                "open": len(open_age[s.id]),
                "open_late": sum(1 for x in open_age[s.id] if x > s.late_seconds),
            }
        )
    return out
