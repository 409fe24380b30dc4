"""Pacing the kitchen, as pure functions: which courses of an order are held, what an item
takes (learnt from bumps, robustly), when the kitchen will get to each ticket (a projection of
every station's queue over its cooks), and when each ticket of a fired course should start so
that the course lands on the pass together.

A *job* is one ticket as a cook sees it: it may start at `ready_ms` (fired, and its paced
start reached) and takes `work_s` (the longest of its lines). A station has `parallel` cooks
taking jobs in order of `ready_ms`.

Pure: the standard library only.
"""

from __future__ import annotations

import heapq
import statistics
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

# ---------------------------------------------------------------- courses


def held_ranks(
    order_ranks: Sequence[tuple[int, bool]], table_held: Iterable[int], all_together: bool
) -> set[int]:
    """The course ranks of a new order that are held. `order_ranks`: each line's course rank
    (-1: no course) and whether that course may be held; `table_held`: the ranks the table
    already has held. The order's first course goes at once; later ones wait, and so does a
    course the table already holds (or a later one), so a round added to a held course
    joins it. "All together": nothing is held."""
    if all_together:
        return set()
    holdable = sorted({r for r, hold in order_ranks if hold and r >= 0})
    if not holdable:
        return set()
    first = holdable[0]
    held_before = min(table_held, default=None)
    return {r for r in holdable if r > first or (held_before is not None and r >= held_before)}


# ---------------------------------------------------------------- learnt prep times


def robust_median(values: Sequence[float], k: float = 3.0) -> float | None:
    """The median of `values` once those further than k scaled MADs from it are left out
    (a ticket bumped late, or forgotten and bumped an hour on, does not move it)."""
    if not values:
        return None
    med = statistics.median(values)
    mad = statistics.median(abs(v - med) for v in values) * 1.4826
    spread = max(mad, 0.05 * med, 1.0)
    kept = [v for v in values if abs(v - med) <= k * spread]
    return statistics.median(kept) if kept else med


@dataclass
class PrepModel:
    """What an item takes at a station, from its last `window` bumps: per hour of day once
    that hour has `min_hour` of them, else over the whole day once there are `min_all`, else
    the menu's prep time. Outliers beyond `k` scaled MADs are ignored."""

    window: int = 40
    k: float = 3.0
    min_hour: int = 5
    min_all: int = 3
    _hour: dict[tuple[str, str, int], deque[float]] = field(default_factory=dict)
    _all: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    _cache: dict[tuple[str, str, int], float | None] = field(default_factory=dict)

    def observe(self, item: str, station: str, hour: int, seconds: float) -> None:
        if not 0 < seconds < 6 * 3600:
            return  # a clock step or a ticket left on a screen overnight: not a prep time
        self._hour.setdefault((item, station, hour), deque(maxlen=self.window)).append(seconds)
        self._all.setdefault((item, station), deque(maxlen=self.window)).append(seconds)
        self._cache.pop((item, station, hour), None)
        self._cache.pop((item, station, -1), None)

    def learnt(self, item: str, station: str, hour: int) -> float | None:
        """The learnt time, or None while there are too few bumps."""
        key = (item, station, hour)
        if key not in self._cache:
            by_hour = self._hour.get(key, ())
            if len(by_hour) >= self.min_hour:
                self._cache[key] = robust_median(list(by_hour), self.k)
            else:
                self._cache[key] = self._day(item, station)
        return self._cache[key]

    def _day(self, item: str, station: str) -> float | None:
        key = (item, station, -1)
        if key not in self._cache:
            all_day = self._all.get((item, station), ())
            ok = len(all_day) >= self.min_all
            self._cache[key] = robust_median(list(all_day), self.k) if ok else None
        return self._cache[key]

    def expected(self, item: str, station: str, hour: int, default_s: int) -> int:
        got = self.learnt(item, station, hour)
        return default_s if got is None else max(1, round(got))

    def count(self, item: str, station: str) -> int:
        return len(self._all.get((item, station), ()))


def service_time(bump_ms: int, ready_ms: int, freed: Sequence[int], parallel: int) -> float:
    """How long a cook spent on a ticket bumped at `bump_ms`: from when it could start and a
    cook was free (the `parallel`-th last bump of the station before it, `freed` newest
    last) to its bump."""
    start = ready_ms
    if len(freed) >= parallel:
        start = max(start, freed[-parallel])
    return (bump_ms - start) / 1000.0


# ---------------------------------------------------------------- the queue's projection


@dataclass(frozen=True, slots=True)
class Job:
    ticket_id: int
    station: str
    ready_ms: int  # may start from then (fired, paced start reached); held: its fire guess
    work_s: int  # what it takes once started
    order_id: int = 0
    held: bool = False


@dataclass(frozen=True, slots=True)
class Projection:
    finish_ms: Mapping[int, int]  # ticket id -> when it should be bumped
    free_ms: Mapping[str, list[int]]  # station -> when each cook is next free (a heap)

    def station_wait_s(self, station: str, now_ms: int) -> int:
        free = self.free_ms.get(station)
        if not free:
            return 0
        return max(0, (min(free) - now_ms) // 1000)


def _overdue_s(work_s: int) -> int:
    """What a job past its expected time is still given: a tenth of it, 30 s to 2 min."""
    return min(120, max(30, work_s // 10))


def project(
    now_ms: int,
    jobs: Iterable[Job],
    parallel: Mapping[str, int],
    freed: Mapping[str, Sequence[int]] | None = None,
) -> Projection:
    """When each job should be done: every station's cooks take its jobs in order of
    `ready_ms`; a cook is free from its last bump (`freed`, the station's recent bump times),
    a job already under way is done at its expected time or, past it, a little later."""
    by_station: dict[str, list[Job]] = {}
    for j in jobs:
        by_station.setdefault(j.station, []).append(j)
    finish: dict[int, int] = {}
    free: dict[str, list[int]] = {}
    for station in set(by_station) | set(parallel):
        c = max(1, parallel.get(station, 1))
        recent = list((freed or {}).get(station, ()))[-c:]
        heap = sorted(recent + [now_ms - 10**9] * (c - len(recent)))
        for j in sorted(by_station.get(station, ()), key=lambda j: (j.ready_ms, j.ticket_id)):
            start = max(heapq.heappop(heap), j.ready_ms)
            done = start + j.work_s * 1000
            if done <= now_ms:  # under way and past its time: a little longer yet
                done = now_ms + _overdue_s(j.work_s) * 1000
            finish[j.ticket_id] = done
            heapq.heappush(heap, done)
        free[station] = [max(t, now_ms) for t in heap]
        heapq.heapify(free[station])
    return Projection(finish, free)


# ---------------------------------------------------------------- pacing a fired course


@dataclass(frozen=True, slots=True)
class PaceLine:
    key: int  # the line's index in the order
    prep_s: int


@dataclass(frozen=True, slots=True)
class PaceTicket:
    ticket_id: int
    station: str
    lines: tuple[PaceLine, ...]

    @property
    def work_s(self) -> int:
        return max((ln.prep_s for ln in self.lines), default=0)


@dataclass(frozen=True, slots=True)
class Paced:
    """A fired ticket's times: it should start at `start_at_ms` (its longest line; each line
    at `line_start_ms`) to be done at `due_ms` with the rest of its course."""

    ticket_id: int
    start_at_ms: int
    due_ms: int
    expected_s: int
    line_start_ms: Mapping[int, int]


def pace(
    now_ms: int, tickets: Sequence[PaceTicket], projection: Projection, *, together: bool = True
) -> list[Paced]:
    """Start times for the tickets of one fired course. Each station takes a new ticket when
    its next cook is free (`projection`); the course's target is the latest of those finishes,
    and every ticket (every line) starts so that it ends at the target. `together` False: all
    start now (everything fired at once), each due when its own station can make it."""
    free = {s: sorted(h) for s, h in projection.free_ms.items()}
    station_start: dict[int, int] = {}
    for t in tickets:
        heap = free.setdefault(t.station, [now_ms])
        start = max(now_ms, heapq.heappop(heap))
        station_start[t.ticket_id] = start
        heapq.heappush(heap, start + t.work_s * 1000)
    ends = {t.ticket_id: station_start[t.ticket_id] + t.work_s * 1000 for t in tickets}
    target = max(ends.values(), default=now_ms)
    out = []
    for t in tickets:
        due = target if together else ends[t.ticket_id]
        lines = {
            ln.key: (max(now_ms, due - ln.prep_s * 1000) if together else now_ms) for ln in t.lines
        }
        start = min(lines.values(), default=now_ms)
        out.append(Paced(t.ticket_id, start, due, t.work_s, lines))
    return out


# ---------------------------------------------------------------- quotes


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100), nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * p // 100)))
    return ordered[int(rank) - 1]


def error_stats(errors_s: Sequence[float]) -> dict[str, float | int | None]:
    """How far quotes were from the actual ready time: count, p50 and p90 of the absolute
    error, and the mean signed error (positive: later than quoted)."""
    absolute = [abs(e) for e in errors_s]
    return {
        "count": len(errors_s),
        "p50_s": percentile(absolute, 50),
        "p90_s": percentile(absolute, 90),
        "mean_s": round(statistics.fmean(errors_s), 1) if errors_s else None,
    }
