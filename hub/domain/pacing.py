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

import bisect
import heapq
import statistics
from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
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
    min_station: int = 5
    _hour: dict[tuple[str, str, int], deque[float]] = field(default_factory=dict)
    _all: dict[tuple[str, str], deque[float]] = field(default_factory=dict)
    _ratio: dict[str, deque[float]] = field(default_factory=dict)
    _cache: dict[tuple[str, str, int], float | None] = field(default_factory=dict)
    _over: dict[str, deque[float]] = field(default_factory=dict)
    _tail: dict[str, TimeTail] = field(default_factory=dict)

    def observe(self, item: str, station: str, hour: int, seconds: float) -> None:
        """A ticket of this one item took `seconds`."""
        if not 0 < seconds < 6 * 3600:
            return  # a clock step or a ticket left on a screen overnight: not a prep time
        self._hour.setdefault((item, station, hour), deque(maxlen=self.window)).append(seconds)
        self._all.setdefault((item, station), deque(maxlen=self.window)).append(seconds)
        for h in range(-1, 24):  # every hour falling back to the day's changes too
            self._cache.pop((item, station, h), None)

    def observe_station(self, station: str, seconds: float, menu_s: int) -> None:
        """Any ticket of the station took `seconds` where the menu said `menu_s`: how far
        the menu's times are off at this station, for items not learnt yet."""
        if 0 < seconds < 6 * 3600 and menu_s > 0:
            self._ratio.setdefault(station, deque(maxlen=4 * self.window)).append(seconds / menu_s)

    def observe_ticket(self, station: str, seconds: float, expected_s: int) -> None:
        """A ticket expected to take `expected_s` took `seconds`: what a station's queue
        drains at. Expected times are typical (median) times; a queue drains at the mean, and
        the mean holds the cook called away and the ticket of two long dishes."""
        if 0 < seconds < 6 * 3600 and expected_s > 0:
            got = self._over.setdefault(station, deque(maxlen=5 * self.window))
            got.append(min(3.0, seconds / expected_s))
            self._tail.pop(station, None)

    def queue_factor(self, station: str) -> float:
        """How much longer than expected the station's tickets take on average (1.0 until
        it has `min_station` of them), 0.8 to 1.5."""
        got = self._over.get(station, ())
        if len(got) < self.min_station:
            return 1.0
        return min(1.5, max(0.8, statistics.fmean(got)))

    def time_left_s(self, station: str, expected_s: int, elapsed_s: float) -> float | None:
        """What a ticket of the station under way for `elapsed_s` (expected to take
        `expected_s`) still takes on average, from the station's last tickets that ran
        longer (`mean_left_s`); None while fewer than `min_station` of them did."""
        tail = self._tail.get(station)
        if tail is None:
            tail = self._tail[station] = TimeTail(self._over.get(station, ()))
        return tail.mean_left_s(expected_s, elapsed_s, self.min_station)

    def station_ratio(self, station: str) -> float:
        got = self._ratio.get(station, ())
        if len(got) < self.min_station:
            return 1.0
        return min(2.0, max(0.5, robust_median(list(got), self.k) or 1.0))

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
        """The learnt time; else the menu's, as far off as the station's menu times are."""
        got = self.learnt(item, station, hour)
        if got is None:
            return max(1, round(default_s * self.station_ratio(station)))
        return max(1, round(got))

    def count(self, item: str, station: str) -> int:
        return len(self._all.get((item, station), ()))


class TimeTail:
    """Past jobs' (time taken / expected time) ratios, sorted, to tell what a job under way
    still takes on average: a job past its expected time is more likely one that goes on
    long (a cook called away, a ticket of two long dishes) than one about to end."""

    def __init__(self, ratios: Iterable[float]) -> None:
        self.ratios = sorted(r for r in ratios if r > 0)
        self._sums = [0.0] * (len(self.ratios) + 1)  # the sum of ratios[i:] at i
        for i in range(len(self.ratios) - 1, -1, -1):
            self._sums[i] = self._sums[i + 1] + self.ratios[i]

    def mean_left_s(self, expected_s: int, elapsed_s: float, min_n: int = 5) -> float | None:
        """The mean time still to go of a job expected to take `expected_s` that has run
        `elapsed_s`: over the past jobs that ran longer than it has (as a share of their
        expected time), their mean time less what it has run. None with fewer than `min_n`
        of them (past all of them: nothing learnt says how long it goes on)."""
        if expected_s <= 0:
            return None
        ran = max(0.0, elapsed_s) / expected_s
        i = bisect.bisect_right(self.ratios, ran)
        n = len(self.ratios) - i
        if n < max(1, min_n):
            return None
        return (self._sums[i] / n - ran) * expected_s


def service_time(bump_ms: int, ready_ms: int, freed: Sequence[int], parallel: int) -> float:
    """How long a cook spent on a ticket bumped at `bump_ms`: from when it could start and a
    cook was free (the `parallel`-th last bump of the station before it, `freed` newest
    last) to its bump."""
    start = ready_ms
    if len(freed) >= parallel:
        start = max(start, freed[-parallel])
    return (bump_ms - start) / 1000.0


# ---------------------------------------------------------------- the queue's projection

# a station's queue past this (hours of work): new tickets follow it, not re-placed (placing
# one re-simulates the queue, three times for a course: at 400 that was a fifth of the hub's
# core at 100 orders/s with the kitchen far behind; the shift bench's queues stay under 50)
RESIMULATE_MAX = 100


@dataclass(frozen=True, slots=True)
class Job:
    ticket_id: int
    station: str
    ready_ms: int  # may start from then (fired, paced start reached); held: its fire guess
    work_s: int  # what it takes once started
    order_id: int = 0
    held: bool = False
    fired_ms: int = 0  # its place in the station's order (0: its ready_ms)
    started_ms: int = 0  # a cook said they started it then (0: not said)


@dataclass(frozen=True, slots=True)
class Projection:
    """The stations' queues as projected at `now_ms`: when each job should be done, and what
    is needed to place more jobs among them (each station's jobs and its cooks' free times
    before them)."""

    now_ms: int
    finish_ms: Mapping[int, int]  # ticket id -> when it should be bumped
    jobs: Mapping[str, list[Job]] = field(default_factory=dict)
    cooks_free: Mapping[str, list[int]] = field(default_factory=dict)
    free_after: Mapping[str, list[int]] = field(default_factory=dict)  # after every job

    def place(self, station: str, new: Sequence[Job]) -> dict[int, int]:
        """When each of `new` would start at `station`, among its queue (new jobs count as
        fired now, after every job already there). With no job waiting for a later start
        (or a very long queue) they simply follow the queue."""
        known = self.jobs.get(station, ())
        if len(known) > RESIMULATE_MAX or all(j.ready_ms <= self.now_ms for j in known):
            after = sorted(self.free_after.get(station) or [self.now_ms])
            out = {}
            for j in sorted(new, key=_by_ready):
                start = max(heapq.heappop(after), j.ready_ms)
                out[j.ticket_id] = start
                heapq.heappush(after, start + j.work_s * 1000)
            return out
        heap = list(self.cooks_free.get(station) or [self.now_ms - 10**9])
        jobs = sorted([*self.jobs.get(station, ()), *new], key=_by_ready)
        starts: dict[int, int] = {}
        _schedule(self.now_ms, jobs, heap, {}, starts)
        return {j.ticket_id: starts[j.ticket_id] for j in new}

    def without(self, station: str, ticket_id: int, now_ms: int) -> Projection:
        """The projection once `ticket_id` of `station` is bumped at `now_ms`: its cook is
        free now, and only that station's queue is placed again (the others are as they
        were: a bump costs one station's queue, not the kitchen's)."""
        jobs = list(self.jobs.get(station, ()))
        kept = [j for j in jobs if j.ticket_id != ticket_id]
        if len(kept) > RESIMULATE_MAX:
            # a queue this long is not placed again per bump (its projection is at most a
            # second old, and minutes off anyway): a bump in a rush costs no more than this
            finish = {k: v for k, v in self.finish_ms.items() if k != ticket_id}
            jobs_now = {**self.jobs, station: kept}
            return Projection(now_ms, finish, jobs_now, self.cooks_free, self.free_after)
        heap = list(self.cooks_free.get(station, ()))
        gone = self.finish_ms.get(ticket_id)
        if len(kept) < len(jobs) or gone not in heap:
            # not under way as far as the cooks go: the cook free longest is taken as the
            # one who made it, free again now
            heap = sorted([*heap[1:], now_ms]) if heap else [now_ms]
        else:
            heap.remove(gone)  # a started ticket's cook
            heap = sorted([*heap, now_ms])
        finish = {k: v for k, v in self.finish_ms.items() if k != ticket_id}
        for j in kept:
            finish.pop(j.ticket_id, None)
        cooks = list(heap)
        _schedule(now_ms, kept, heap, finish, {})
        return Projection(
            now_ms,
            finish,
            {**self.jobs, station: kept},
            {**self.cooks_free, station: cooks},
            {**self.free_after, station: [max(t, now_ms) for t in heap]},
        )

    def start_if_ready(self, station: str, ticket_id: int, work_s: int, fired_ms: int) -> int:
        """When a job of `station` would start were it ready now: its place among the
        station's queue is by when it was fired, whatever its paced start."""
        probe = Job(ticket_id, station, self.now_ms, work_s, fired_ms=fired_ms)
        others = [j for j in self.jobs.get(station, ()) if j.ticket_id != ticket_id]
        if len(others) > RESIMULATE_MAX:
            return self.now_ms
        heap = list(self.cooks_free.get(station) or [self.now_ms - 10**9])
        starts: dict[int, int] = {}
        _schedule(self.now_ms, sorted([*others, probe], key=_by_ready), heap, {}, starts)
        return max(self.now_ms, starts[ticket_id])

    def station_wait_s(self, station: str, now_ms: int) -> int:
        """How long a ticket sent now would wait for a cook."""
        probe = Job(-1, station, now_ms, 60, fired_ms=now_ms + 1)
        return max(0, (self.place(station, [probe])[-1] - now_ms) // 1000)


def _overdue_s(work_s: int) -> int:
    """What a job past its expected time is still given: a tenth of it, 30 s to 2 min."""
    return min(120, max(30, work_s // 10))


def project(
    now_ms: int,
    jobs: Iterable[Job],
    parallel: Mapping[str, int],
    freed: Mapping[str, Sequence[int]] | None = None,
    live: Collection[str] = (),
) -> Projection:
    """When each job should be done. Every station's cooks work as its screen asks: a free
    cook takes, of the tickets that may start, the one fired first (a paced ticket whose
    time has come goes before those fired after it). A job a cook said they started holds
    a cook until its expected time (or, past it, a little longer); the other cooks are free
    from their last bumps (`freed`, the station's recent bump times). At a `live` station
    (its cooks say when they start) a job not started starts now at the earliest; elsewhere
    it may already be under way, on a cook free since a bump."""
    by_station: dict[str, list[Job]] = {}
    for j in jobs:
        by_station.setdefault(j.station, []).append(j)
    finish: dict[int, int] = {}
    cooks_free: dict[str, list[int]] = {}
    free_after: dict[str, list[int]] = {}
    for station in set(by_station) | set(parallel):
        c = max(1, parallel.get(station, 1))
        waiting: list[Job] = []
        busy: list[int] = []
        for j in by_station.get(station, ()):
            if j.started_ms:
                done = j.started_ms + j.work_s * 1000
                finish[j.ticket_id] = (
                    done if done > now_ms else now_ms + _overdue_s(j.work_s) * 1000
                )
                busy.append(finish[j.ticket_id])
            else:
                waiting.append(j)
        busy = sorted(busy)[-c:]  # more started than cooks: the last to end frees a cook
        n_free = c - len(busy)
        recent = list((freed or {}).get(station, ()))[-n_free:] if n_free else []
        heap = sorted(busy + recent + [now_ms - 10**9] * (n_free - len(recent)))
        if station in live:
            heap = [max(t, now_ms) for t in heap]
        cooks_free[station] = list(heap)
        by_station[station] = sorted(waiting, key=_by_ready)
        _schedule(now_ms, by_station[station], heap, finish, {})
        free_after[station] = [max(t, now_ms) for t in heap]
    return Projection(now_ms, finish, by_station, cooks_free, free_after)


def _by_ready(j: Job) -> tuple[int, int]:
    return (j.ready_ms, j.ticket_id)


def _schedule(
    now_ms: int, jobs: list[Job], heap: list[int], finish: dict[int, int], starts: dict[int, int]
) -> None:
    """List scheduling of one station's `jobs` (sorted by ready) on the cooks in `heap`."""
    waiting: list[tuple[int, int, Job]] = []  # (fired, id, job) of jobs that may start
    i = 0
    while i < len(jobs) or waiting:
        free_at = heapq.heappop(heap)
        if not waiting and jobs[i].ready_ms > free_at:
            free_at = jobs[i].ready_ms
        while i < len(jobs) and jobs[i].ready_ms <= free_at:
            j = jobs[i]
            heapq.heappush(waiting, (j.fired_ms or j.ready_ms, j.ticket_id, j))
            i += 1
        j = heapq.heappop(waiting)[2]
        start = max(free_at, j.ready_ms)
        done = start + j.work_s * 1000
        if done <= now_ms:  # under way and past its time: a little longer yet
            done = now_ms + _overdue_s(j.work_s) * 1000
        finish[j.ticket_id] = done
        starts[j.ticket_id] = start
        heapq.heappush(heap, done)


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
    now_ms: int,
    tickets: Sequence[PaceTicket],
    projection: Projection,
    *,
    together: bool = True,
    slack_ms: int = 0,
) -> list[Paced]:
    """Start times for the tickets of one fired course. Each station takes a new ticket when
    its next cook is free (`projection`); the course's target is the latest of those finishes,
    and every ticket (every line) starts so that it ends at the target (`slack_ms` early: a
    cook busy at its time then still makes it). A ticket whose station's queue holds it back
    that long anyway may start now: held back from its queue, the tickets fired after it would
    take its cooks first (a station takes them in the order they were fired), and it would
    fall behind them. `together` False: all start now (everything fired at once), each due
    when its own station can make it."""
    ready = {t.ticket_id: now_ms for t in tickets}
    ends: dict[int, int] = {}
    first: dict[int, int] = {}  # when each would start, may it start now
    target = now_ms
    for step in range(3 if together else 1):
        # where each ticket would start among the known queue, starting when asked; then
        # ask each to start so that all end together, and look again (a cook may be busy)
        by_station: dict[str, list[Job]] = {}
        for t in tickets:
            job = Job(t.ticket_id, t.station, ready[t.ticket_id], t.work_s, fired_ms=now_ms + 1)
            by_station.setdefault(t.station, []).append(job)
        starts: dict[int, int] = {}
        for station, new in by_station.items():
            starts.update(projection.place(station, new))
        if step == 0:
            first = dict(starts)
        ends = {t.ticket_id: starts[t.ticket_id] + t.work_s * 1000 for t in tickets}
        if max(ends.values(), default=now_ms) == target:
            break
        target = max(ends.values(), default=now_ms)
        ready = {
            t.ticket_id: (
                now_ms
                if first[t.ticket_id] >= target - t.work_s * 1000 - slack_ms
                else max(now_ms, target - t.work_s * 1000 - slack_ms)
            )
            for t in tickets
        }
    out = []
    for t in tickets:
        due = target if together else ends[t.ticket_id]
        if not together:
            lines = {ln.key: now_ms for ln in t.lines}
        elif ready[t.ticket_id] == now_ms:  # may start now: its lines from its longest
            lines = {ln.key: now_ms + (t.work_s - ln.prep_s) * 1000 for ln in t.lines}
        else:
            lines = {ln.key: max(now_ms, due - ln.prep_s * 1000 - slack_ms) for ln in t.lines}
        start = min(lines.values(), default=now_ms)
        out.append(Paced(t.ticket_id, start, due, t.work_s, lines))
    return out


# ---------------------------------------------------------------- pacing on the cooks' starts


@dataclass(frozen=True, slots=True)
class CourseTicket:
    """A fired ticket of a course as re-pacing sees it: what it takes, when it was planned
    to start, and when a cook started it (0: not yet)."""

    ticket_id: int
    expected_s: int
    start_at_ms: int = 0
    started_ms: int = 0


def anchor_of(tickets: Sequence[CourseTicket]) -> CourseTicket | None:
    """The course's anchor: its longest ticket (the first of equals)."""
    return min(tickets, key=lambda t: (-t.expected_s, t.ticket_id), default=None)


def course_target(
    now_ms: int, tickets: Sequence[CourseTicket], earliest_ms: Mapping[int, int] | None = None
) -> int:
    """When a course should land, as its cooks' starts say: the latest of the started
    tickets' ends (start + expected time) and the earliest ends of those not started (from
    `earliest_ms`, when their station's queue lets a cook take them, else now; plus their
    time). The anchor started: its end; started late: later by as much; a ticket started
    before its time: the others follow it; a station that cannot take its ticket in time:
    the others wait for it."""
    earliest = earliest_ms or {}
    ends = [
        (t.started_ms or max(now_ms, earliest.get(t.ticket_id, now_ms))) + t.expected_s * 1000
        for t in tickets
    ]
    return max(ends, default=now_ms)


def repace_on_start(
    now_ms: int,
    tickets: Sequence[CourseTicket],
    lead_ms: Mapping[int, int] | None = None,
    *,
    earliest_ms: Mapping[int, int] | None = None,
    due_ms: int = 0,
    late_ms: int = 15_000,
) -> dict[int, tuple[int, int]]:
    """New (start_at_ms, due_ms) of a course's tickets not started yet, so that they end with
    the course's target (`course_target`); `lead_ms`: how much earlier each is shown as
    startable, for the wait for a free cook at its station. While no ticket is started the
    course keeps its plan (`due_ms`) unless its anchor is late to start (its start more than
    `late_ms` past) or a station cannot take its ticket in time for it (`earliest_ms`). A
    ticket shown as one that may start is not held back again while nothing is started: held
    back from its queue, the tickets fired after it would take its cooks first."""
    if not tickets:
        return {}
    anchor = anchor_of(tickets)
    assert anchor is not None
    started = [t for t in tickets if t.started_ms]
    target = course_target(now_ms, tickets, earliest_ms)
    anchor_late = not anchor.started_ms and anchor.start_at_ms + late_ms < now_ms
    behind = bool(due_ms) and target > due_ms + late_ms
    lead = lead_ms or {}
    earliest = earliest_ms or {}
    out = {}
    for t in tickets:
        if t.started_ms:
            continue
        start = target - t.expected_s * 1000 - lead.get(t.ticket_id, 0)
        if earliest.get(t.ticket_id, now_ms) >= start:
            start = now_ms  # its station's queue holds it back that long: it may start now
        out[t.ticket_id] = (max(now_ms, start), target)
    if not started and not anchor_late and not behind:
        return {}
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


BAND_WINDOW_MS = 3 * 3_600_000  # quotes settled this long ago still tell
BAND_MOST = 500  # the last quotes settled that tell, at most
BAND_LEAST = 20  # with fewer, the range is the default one
BAND_DEFAULT = (0.75, 1.25)
BAND_LOW_P, BAND_HIGH_P = 10, 90
BAND_MIN_WIDTH_S = 120
BAND_FLOOR_S = 60  # a wait quoted shorter counts as this long (no ratio of a zero wait)


class QuoteBand:
    """How the waits quoted lately came out, as the range a new wait is told in.

    Each settled quote gives the actual wait over the wait quoted (both from when it was
    quoted). A new wait `w` is told as `w × p10` to `w × p90` of those ratios, over the last
    `BAND_MOST` quotes settled within `BAND_WINDOW_MS`: if the kitchen keeps running as it did,
    eight orders in ten are ready inside it. A ratio, not a number of seconds: a kitchen that
    is 20% slow is minutes slow on a long wait and seconds on a short one. Until
    `BAND_LEAST` quotes are settled (a new store, the first orders of the day after a quiet
    spell), the range is `BAND_DEFAULT`. At least `BAND_MIN_WIDTH_S` wide."""

    def __init__(self) -> None:
        self._seen: deque[tuple[int, float]] = deque(maxlen=BAND_MOST)  # (ready_ms, ratio)
        self._cached: tuple[int, int, tuple[float, float, int]] | None = None

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, quoted_ms: int, ready_by_ms: int, ready_ms: int) -> None:
        """A quote settled: quoted at `quoted_ms` for `ready_by_ms`, ready at `ready_ms`."""
        quoted = max(BAND_FLOOR_S * 1000, ready_by_ms - quoted_ms)
        self._seen.append((ready_ms, max(0, ready_ms - quoted_ms) / quoted))
        self._cached = None

    def factors(self, now_ms: int) -> tuple[float, float, int]:
        """(low, high, how many quotes they come from; 0: the default)."""
        got = self._cached
        if got is not None and got[0] == now_ms // 10_000 and got[1] == len(self._seen):
            return got[2]
        ratios = [r for at, r in self._seen if now_ms - BAND_WINDOW_MS <= at]
        if len(ratios) < BAND_LEAST:
            out = (*BAND_DEFAULT, 0)
        else:
            low = percentile(ratios, BAND_LOW_P) or 0.0
            high = percentile(ratios, BAND_HIGH_P) or 0.0
            out = (round(low, 3), round(max(low, high), 3), len(ratios))
        self._cached = (now_ms // 10_000, len(self._seen), out)
        return out

    def range_s(self, wait_s: int, now_ms: int) -> tuple[int, int]:
        """The range (s) a wait of `wait_s` from now is told in."""
        if wait_s <= 0:
            return (0, 0)
        low_f, high_f, _ = self.factors(now_ms)
        base = max(BAND_FLOOR_S, wait_s)
        low = int(base * low_f)
        high = max(int(base * high_f), low + BAND_MIN_WIDTH_S)
        return (low, high)
