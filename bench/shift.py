"""Lunch shifts, simulated against a real hub: `python -m bench.shift [--minutes 150]
[--peak 1.6] [--seed 7] [--days 3] [--write]`.

Phones order over HTTP (127.0.0.1) with arrivals following a lunch peak; every station has a
fixed number of cooks, and each cook takes the next ticket its screen shows as ready
(fired, and its paced start reached; the one fired first), says so ("start" over HTTP),
makes it in the item's real time (a spread around its true mean, with a few outliers: a
cook called away) and bumps it over HTTP. Time is a simulated clock the hub runs on (its
second-by-second loop run at each step), so a three-hour lunch takes seconds and every run
with the same seed is the same shift. Orders of two courses have their mains held and fired
when the starters are bumped. The hub learns its prep times from a lunch the day before;
then `--days` lunches are measured (seeds seed, seed+1, ...), for enough courses that a p90
of their spread means something.

The same shift runs twice: paced (a fired course's tickets start so they land together) and
with everything fired at once. Reported: the quoted wait's error against the actual ready
time (p50/p90, over all quotes and over those given while the queue was longer than 15
minutes), and the spread between the tickets of one order's course reaching the pass, with
what the cooks' own variation alone leaves of it (each ticket's time taken less its
expected time, spread over its course: had every ticket started exactly on time).
`--write` puts the table and an SVG plot into docs/benchmarks.md (between its pacing
markers) and docs/bench/shift.svg.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import math
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from hub.app import running_hub
from hub.config import HttpLimits, HubConfig, Limits, PacingConfig, StationPacing
from hub.domain.pacing import percentile
from hub.ops.menu_file import demo_menu
from hub.services import staff
from plumbing.clock import iso_from_ms
from plumbing.packed import unpack

REPO = Path(__file__).resolve().parent.parent
START_MS = 1_780_000_000_000 // 3_600_000 * 3_600_000  # an hour's start, 2026
COOKS = {"grill": 4, "wok": 4, "cold": 2, "bar": 2}
TRUE_S = {"grill": (420, 780), "wok": (300, 600), "cold": (120, 300), "bar": (60, 150)}
SPREAD = 0.08  # lognormal sigma of a cook's time around the item's mean (a practised line)
OUTLIERS = 0.03  # a cook called away: 2.5x as long
WALL_LIMIT_S = 110.0
TABLES_A_DAY = 125
DAYS = 3  # lunches measured, after the one the hub learns from: enough courses for a p90
DAY = 86_400_000
OVERLOAD = 1.2  # orders a minute at the peak: queues past an hour
QUOTE_BANDS_MIN = [(0, 5), (5, 10), (10, 15), (15, 25), (25, 40), (40, 24 * 60)]
MARK_BEGIN = "<!-- pacing:begin -->"
MARK_END = "<!-- pacing:end -->"


class SimClock:
    """The shift's clock: moved forward by the simulation only."""

    def __init__(self, start_ms: int) -> None:
        self.t = start_ms

    def now_ms(self) -> int:
        return self.t

    def now_iso(self) -> str:
        return iso_from_ms(self.t)

    def monotonic_ms(self) -> int:
        return self.t


@dataclass
class Kitchen:
    """What the simulated cooks know: each station's cooks (busy until, on which ticket)."""

    busy: dict[str, list[tuple[int, int] | None]] = field(default_factory=dict)
    taken: set[int] = field(default_factory=set)
    away: set[int] = field(default_factory=set)  # tickets a cook was called away from
    bumped_at: dict[int, int] = field(default_factory=dict)
    course_of: dict[int, tuple[int, str | None]] = field(default_factory=dict)
    took_at: dict[int, int] = field(default_factory=dict)  # when a cook took each ticket
    tickets: dict[int, dict[str, Any]] = field(default_factory=dict)  # as the hub has them


def shift_menu(seed: int) -> tuple[dict[str, Any], dict[str, int]]:
    """The demo menu with courses and menu prep times a chef would write (within 30% of the
    truth); and each item's true mean time."""
    rng = random.Random(seed)
    doc = copy.deepcopy(demo_menu())
    doc["courses"] = [
        {"id": "drinks", "name": {"en": "Drinks"}, "hold": False},
        {"id": "starters", "name": {"en": "Starters"}},
        {"id": "mains", "name": {"en": "Mains"}},
        {"id": "desserts", "name": {"en": "Desserts"}},
    ]
    by_cat = {"starters": "starters", "salads": "starters", "mains": "mains"}
    by_cat |= {"noodles-rice": "mains", "desserts": "desserts", "drinks": "drinks"}
    for cat in doc["categories"]:
        cat["course"] = by_cat[cat["id"]]
    doc["tables"] = {"count": 500}  # a party a table: TABLES_A_DAY a lunch
    truth = {}
    for item in doc["items"]:
        lo, hi = TRUE_S[item["station"]]
        truth[item["id"]] = rng.randint(lo, hi)
        item["prep_s"] = max(30, round(truth[item["id"]] * rng.uniform(0.7, 1.3) / 30) * 30)
    return doc, truth


def _simple(doc: dict[str, Any]) -> dict[str, list[str]]:
    """Items with no required choice, by category (what the phones order)."""
    out: dict[str, list[str]] = {}
    for it in doc["items"]:
        if it.get("price_per_grams") or any(g.get("min", 0) for g in it["modifier_groups"]):
            continue
        out.setdefault(it["category"], []).append(it["id"])
    return out


def arrivals(
    minutes: int, peak: float, seed: int, doc: dict[str, Any], start_ms: int = 0, first: int = 1
) -> list[Any]:
    """(at_ms, table, lines) of a lunch: a rate rising to `peak` orders a minute at the
    middle of the shift and falling again (thinned Poisson)."""
    rng = random.Random(seed * 31 + 1)
    menu = _simple(doc)
    out: list[Any] = []
    t = 0.0
    while True:
        t += rng.expovariate(peak) * 60_000
        if t >= minutes * 60_000:
            return out
        x = t / (minutes * 60_000)
        rate = 0.25 + 0.75 * max(0.0, 1 - abs(x - 0.45) / 0.45)
        if rng.random() > rate:
            continue
        lines = [{"item": rng.choice(menu["mains"] + menu["noodles-rice"]), "qty": 1}]
        if rng.random() < 0.6:
            lines.append({"item": rng.choice(menu["mains"] + menu["noodles-rice"]), "qty": 1})
        if rng.random() < 0.45:  # two courses: the mains wait for the starters
            lines.append({"item": rng.choice(menu["starters"] + menu["salads"]), "qty": 1})
        if rng.random() < 0.6:
            lines.append({"item": rng.choice(menu["drinks"]), "qty": rng.randint(1, 3)})
        out.append((start_ms + int(t), f"T{first + len(out)}", lines))  # a party a table


def true_time(
    seed: int, truth: dict[str, int], ticket: dict[str, Any], away_rate: float = OUTLIERS
) -> tuple[int, bool]:
    """What this ticket takes its cook (ms): its longest line, each drawn around its truth;
    and whether the cook was called away from it (an outlier, `away_rate` of the lines)."""
    longest, away = 0.0, False
    for ln in ticket["items"]:
        rng = random.Random(f"{seed}:{ticket['id']}:{ln['idx']}")
        s = truth[ln["item"]] * math.exp(rng.gauss(0, SPREAD) - SPREAD**2 / 2)
        if rng.random() < away_rate:
            s *= 2.5
            away = True
        longest = max(longest, s)
    return int(longest * 1000), away


class Shift:
    def __init__(self, args: argparse.Namespace, pace: bool, root: Path) -> None:
        self.args = args
        self.pace = pace
        self.root = root
        self.doc, self.truth = shift_menu(args.seed)
        # the day before (the hub learns its prep times from it), then the measured day
        self.warmup = arrivals(args.minutes, args.peak, args.seed + 1000, self.doc, START_MS - DAY)
        # the measured lunches: the first with the seed, the next ones with seeds after it
        self.lunches = [
            arrivals(
                args.minutes,
                args.peak,
                args.seed + d,
                self.doc,
                START_MS + d * DAY,
                1 + TABLES_A_DAY * (d + 1),
            )
            for d in range(max(1, getattr(args, "days", 1)))
        ]
        if any(len(day) > TABLES_A_DAY for day in [self.warmup, *self.lunches]):
            raise SystemExit(f"more than {TABLES_A_DAY} parties a lunch: lower --peak or --minutes")
        if TABLES_A_DAY * (len(self.lunches) + 1) > 500:
            raise SystemExit("at most 3 lunches: the menu has 500 tables, a party each")
        self.orders = [o for lunch in self.lunches for o in lunch]
        self.clock = SimClock(START_MS - DAY)
        self.k = Kitchen(busy={s: [None] * n for s, n in COOKS.items()})
        self.requests = 0
        self.told: dict[int, tuple[int, int]] = {}  # order -> the range its phone was told
        self.away_rate = float(getattr(args, "away", OUTLIERS))

    def config(self) -> HubConfig:
        stations = {s: StationPacing(cooks=n) for s, n in COOKS.items()}
        return HubConfig(
            data_dir=self.root / ("paced" if self.pace else "at-once"),
            http_host="127.0.0.1",
            http_port=0,
            broker=None,
            limits=Limits(enabled=False),
            http_limits=HttpLimits(connections_per_address=1024),
            backup_every_s=0,
            pacing=PacingConfig(
                auto_fire="ready", pace=self.pace, stations=stations, slack_s=self.args.slack
            ),
        )

    async def run(self) -> dict[str, Any]:
        t0 = time.monotonic()
        async with (
            running_hub(self.config(), clock=self.clock, seed_menu=self.doc) as hub,
            aiohttp.ClientSession() as http,
        ):
            kitchen = await staff.issue(hub.services.store, "kitchen", "simulated cooks")
            tokens = {t: hub.services.catalog.token_for(t) for t in hub.services.catalog.tables}
            self.http, self.url, self.hub = http, hub.url, hub
            self.auth = {"Authorization": f"Bearer {kitchen}"}
            steps = 0
            days = [(START_MS - DAY, self.warmup)]
            days += [(START_MS + d * DAY, lunch) for d, lunch in enumerate(self.lunches)]
            for day, orders in days:
                self.clock.t = max(self.clock.t, day)
                if day == START_MS:  # what the hub learnt from is not measured
                    self.k.bumped_at.clear()
                    self.k.took_at.clear()
                steps += await self._day(list(orders), tokens, day, t0)
            quotes = await hub.services.store.read_all(
                "SELECT quoted_ms, ready_by_ms, ready_ms, id, quote_tickets FROM orders "
                "WHERE quoted_ms >= ? ORDER BY quoted_ms",
                (START_MS,),
            )
            self.quote_rows = [tuple(q) for q in quotes]
            rows = await hub.services.store.read_all(
                "SELECT id, order_id, body, station FROM tickets ORDER BY id"
            )
        for r in rows:
            body = json.loads(unpack(r[2]))
            self.k.course_of[int(r[0])] = (int(r[1]), body.get("course"))
            self.k.tickets[int(r[0])] = dict(body, station=r[3])
        return self._results(quotes, time.monotonic() - t0, steps)

    async def _day(self, pending: list[Any], tokens: dict[str, str], day: int, t0: float) -> int:
        """One lunch: orders as they come, cooks making and bumping, until all is made."""
        wake: int | None = None
        end = day + (self.args.minutes + 240) * 60_000
        steps = 0
        while steps < 50_000 and time.monotonic() - t0 < WALL_LIMIT_S:
            steps += 1
            times = [c[0] for cooks in self.k.busy.values() for c in cooks if c]
            times += [pending[0][0]] if pending else []
            times += [wake] if wake is not None else []
            if not times or min(times) > end:
                break
            moved = min(times) > self.clock.t
            self.clock.t = max(self.clock.t, min(times))
            await self._finish()
            if moved:  # the hub's second-by-second loop, on the simulated clock
                await self.hub.services.pacer.tick()
            while pending and pending[0][0] <= self.clock.t:
                at, table, lines = pending.pop(0)
                await self._order(tokens[table], f"shift-{at}-{table}", lines)
            wake = await self._assign()
        return steps

    async def _order(self, token: str, key: str, lines: list[dict[str, Any]]) -> None:
        body = {"table": token, "idempotency_key": key[:64], "lines": lines}
        self.requests += 1
        async with self.http.post(f"{self.url}/api/v1/orders", json=body) as r:
            if r.status != 201:
                raise RuntimeError(f"order refused: {r.status} {await r.text()}")
            order_id = int((await r.json())["order_id"])
        # what the diner's phone is told right after ordering: the ETA's range
        self.requests += 1
        url = f"{self.url}/api/v1/orders/{order_id}"
        async with self.http.get(url, params={"table": token}) as r:
            span = (await r.json()).get("eta_range_ms") if r.status == 200 else None
        if span:
            self.told[order_id] = (int(span[0]), int(span[1]))

    async def _finish(self) -> None:
        for cooks in self.k.busy.values():
            for i, c in enumerate(cooks):
                if c is not None and c[0] <= self.clock.t:
                    self.requests += 1
                    url = f"{self.url}/api/v1/tickets/{c[1]}/bump"
                    async with self.http.post(
                        url, json={"id": f"sim-{c[1]}"}, headers=self.auth
                    ) as r:
                        if r.status != 200:
                            raise RuntimeError(f"bump refused: {r.status} {await r.text()}")
                    self.k.bumped_at[c[1]] = self.clock.t
                    cooks[i] = None

    async def _assign(self) -> int | None:
        """Idle cooks take, of the tickets that may start, the one fired first (the screen's
        order) and say they start it; returns when a paced ticket may start next (None: none
        waiting)."""
        wake: int | None = None
        for station, cooks in self.k.busy.items():
            if all(c is not None for c in cooks):
                continue
            self.requests += 1
            url = f"{self.url}/api/v1/stations/{station}/tickets"
            async with self.http.get(url, headers=self.auth) as r:
                view = await r.json()
            queue = []
            for t in view["tickets"]:
                if t["id"] in self.k.taken:
                    continue
                ready = max(t["fired_ms"] or t["created_ms"], t["start_at_ms"])
                if ready > self.clock.t:
                    wake = ready if wake is None else min(wake, ready)
                    continue
                queue.append((t["fired_ms"] or t["created_ms"], t["id"], t))
            queue.sort(key=lambda q: (q[0], q[1]))
            for i, c in enumerate(cooks):
                if c is None and queue:
                    _, tid, t = queue.pop(0)
                    self.k.taken.add(tid)
                    self.k.took_at[tid] = self.clock.t
                    took, away = true_time(self.args.seed, self.truth, t, self.away_rate)
                    if away:
                        self.k.away.add(tid)
                    cooks[i] = (self.clock.t + took, tid)
                    await self._start(tid)
        return wake

    async def _start(self, tid: int) -> None:
        """The cook taps "start" on the ticket they take."""
        self.requests += 1
        url = f"{self.url}/api/v1/tickets/{tid}/start"
        async with self.http.post(url, json={"id": f"sim-start-{tid}"}, headers=self.auth) as r:
            if r.status != 200:
                raise RuntimeError(f"start refused: {r.status} {await r.text()}")

    def _results(self, quotes: list[Any], wall_s: float, steps: int) -> dict[str, Any]:
        done = [(int(q[0]), int(q[1]), int(q[2])) for q in quotes if q[2] is not None]
        errors = [abs(r - by) / 1000 for _, by, r in done]
        long_q = [abs(r - by) / 1000 for q, by, r in done if by - q > 15 * 60_000]
        groups: dict[tuple[int, str | None], list[tuple[int, bool]]] = {}
        for tid, key in self.k.course_of.items():
            if tid in self.k.bumped_at:
                groups.setdefault(key, []).append((self.k.bumped_at[tid], tid in self.k.away))
        spread = {k: (max(v)[0] - min(v)[0]) / 1000 for k, v in groups.items() if len(v) >= 2}
        # what the cooks' own times leave: the spread had every ticket of the course started
        # exactly its expected time before one common end (its time taken less expected)
        off: dict[tuple[int, str | None], list[float]] = {}
        for tid, key in self.k.course_of.items():
            if key in spread and tid in self.k.took_at:
                took = (self.k.bumped_at[tid] - self.k.took_at[tid]) / 1000
                off.setdefault(key, []).append(took - self.k.tickets[tid]["expected_s"])
        floor = [max(v) - min(v) for v in off.values() if len(v) >= 2]
        spreads = list(spread.values())
        clean = [spread[k] for k in spread if not any(a for _, a in groups[k])]
        waits = [(by - q) / 1000 for q, by, _ in done]
        # the signed error (positive: ready later than quoted) by the wait quoted: a bias
        # shows as a median away from 0 in a band, noise as a wide p10 to p90
        bands = []
        for lo, hi in QUOTE_BANDS_MIN:
            got = [(r - by) / 1000 for q, by, r in done if lo * 60_000 <= by - q < hi * 60_000]
            bands.append(
                {
                    "band_min": [lo, hi],
                    "count": len(got),
                    "signed_p10_s": percentile(got, 10),
                    "signed_p50_s": percentile(got, 50),
                    "signed_p90_s": percentile(got, 90),
                    "signed_mean_s": round(sum(got) / len(got), 1) if got else None,
                }
            )
        signed_long = [(r - by) / 1000 for q, by, r in done if by - q > 15 * 60_000]
        # the range told at ordering: did the order come out inside it, and how wide was it
        told = [
            (self.told[int(q[3])], int(q[2]), int(q[1]) - int(q[0]))
            for q in quotes
            if q[2] is not None and int(q[3]) in self.told
        ]
        inside = [lo <= ready <= hi for (lo, hi), ready, _ in told]
        inside_long = [lo <= r <= hi for (lo, hi), r, w in told if w > 15 * 60_000]
        widths = [(hi - lo) / 1000 for (lo, hi), _, _ in told]
        # a long quote by the ticket that made its order ready last: one paced to start after
        # it was fired, or one free to start when fired; and how long that ticket waited for
        # a cook once it could start (what the quote had to foresee)
        last_kind: dict[str, tuple[list[float], list[float]]] = {
            "paced": ([], []),
            "at_fire": ([], []),
        }
        for q in quotes:
            if q[2] is None or int(q[1]) - int(q[0]) <= 15 * 60_000 or not q[4]:
                continue
            tids = [t for t in json.loads(q[4]) if t in self.k.bumped_at]
            if not tids:
                continue
            last = max(tids, key=lambda t: self.k.bumped_at[t])
            body = self.k.tickets.get(last, {})
            could = max(int(body.get("start_at_ms") or 0), int(body.get("fired_ms") or 0))
            kind = "paced" if could > int(body.get("fired_ms") or 0) + 1000 else "at_fire"
            last_kind[kind][0].append((int(q[2]) - int(q[1])) / 1000)
            if last in self.k.took_at:
                last_kind[kind][1].append((self.k.took_at[last] - could) / 1000)
        by_last = {
            k: {
                "count": len(errs),
                "signed_p50_s": percentile(errs, 50),
                "signed_p90_s": percentile(errs, 90),
                "cook_wait_p50_s": percentile(waits_c, 50),
                "cook_wait_p90_s": percentile(waits_c, 90),
            }
            for k, (errs, waits_c) in last_kind.items()
        }
        return {
            "paced": self.pace,
            "orders": len(self.orders),
            "days": len(self.lunches),
            "tickets": len(self.k.bumped_at),
            "quotes": len(done),
            "unsettled": len(quotes) - len(done),
            "error_p50_s": percentile(errors, 50),
            "error_p90_s": percentile(errors, 90),
            "long_quotes": len(long_q),
            "long_error_p50_s": percentile(long_q, 50),
            "long_error_p90_s": percentile(long_q, 90),
            "long_signed_p10_s": percentile(signed_long, 10),
            "long_signed_p50_s": percentile(signed_long, 50),
            "long_signed_p90_s": percentile(signed_long, 90),
            "quote_bands": bands,
            "range_told": len(told),
            "range_held": round(sum(inside) / len(inside), 3) if inside else None,
            "range_held_long": round(sum(inside_long) / len(inside_long), 3)
            if inside_long
            else None,
            "range_width_p50_s": percentile(widths, 50),
            "long_by_last_ticket": by_last,
            "max_quoted_wait_s": max(waits, default=0),
            "max_actual_wait_s": max(((r - q) / 1000 for q, _, r in done), default=0),
            "actual_wait_p50_s": percentile([(r - q) / 1000 for q, _, r in done], 50),
            "spread_groups": len(spreads),
            "spread_p50_s": percentile(spreads, 50),
            "spread_p90_s": percentile(spreads, 90),
            "spread_clean_groups": len(clean),
            "spread_clean_p90_s": percentile(clean, 90),
            "spread_floor_p50_s": percentile(floor, 50),
            "spread_floor_p90_s": percentile(floor, 90),
            "requests": self.requests,
            "steps": steps,
            "wall_s": round(wall_s, 1),
            "timeline": [
                ((q - START_MS) % DAY / 60_000, (by - q) / 1000, (r - q) / 1000)
                for q, by, r in done
            ],
        }


async def simulate(args: argparse.Namespace) -> dict[str, Any]:
    """The shift paced and fired at once, on fresh stores; and both again with no cook ever
    called away (the same lunches and cooks otherwise): what the quote's method leaves once
    the one thing no quote can foresee is taken out."""
    calm = argparse.Namespace(**dict(vars(args), away=0.0))
    with tempfile.TemporaryDirectory(prefix="tablehub-shift-") as tmp:
        paced = await Shift(args, True, Path(tmp) / "a").run()
        at_once = await Shift(args, False, Path(tmp) / "a").run()
        paced_calm = await Shift(calm, True, Path(tmp) / "calm").run()
        at_once_calm = await Shift(calm, False, Path(tmp) / "calm").run()
    paced["calm"] = _quote_only(paced_calm)
    at_once["calm"] = _quote_only(at_once_calm)
    return {
        "command": f"python -m bench.shift --minutes {args.minutes} --peak {args.peak} "
        f"--seed {args.seed} --slack {args.slack} --days {args.days}"
        + (f" --away {args.away}" if getattr(args, "away", OUTLIERS) != OUTLIERS else ""),
        "cooks": COOKS,
        "paced": paced,
        "at_once": at_once,
    }


def _quote_only(res: dict[str, Any]) -> dict[str, Any]:
    keys = ["quotes", "long_quotes", "long_error_p50_s", "long_error_p90_s", "long_signed_p10_s"]
    keys += ["long_signed_p50_s", "long_signed_p90_s", "spread_p90_s"]
    return {k: res[k] for k in keys}


def _f(v: float | None) -> str:
    return "–" if v is None else f"{v:.0f}"


def section(res: dict[str, Any], *, heading: bool = True) -> list[str]:
    """The markdown of the pacing benchmark (table and, with the heading, plot)."""
    p, a = res["paced"], res["at_once"]
    ok_quote = (p["long_error_p50_s"] or 1e9) <= 120 and (p["long_error_p90_s"] or 1e9) <= 300
    ok_spread = (p["spread_p90_s"] or 1e9) < 60
    cooks = ", ".join(f"{s} {n}" for s, n in res["cooks"].items())
    head = "## Pacing: a simulated lunch shift" if heading else "### The same, overloaded"
    return [
        head,
        "",
        f"`{res['command']}`: {p['orders']} orders from phones over {p.get('days', 1)} "
        f"lunch(es) over HTTP, {p['tickets']} tickets started and bumped over HTTP by simulated "
        f"cooks ({cooks}) on a simulated clock (after a lunch the hub learnt its prep times "
        "from); two-course orders have their mains held and fired when the starters are "
        "bumped. Targets: quoted-wait error p50 ≤ 120 s and p90 ≤ 300 s "
        "while the queue is longer than 15 minutes; a paced course's spread at the pass p90 "
        "< 60 s.",
        "",
        "| | paced | everything fired at once |",
        "|---|---:|---:|",
        f"| quotes settled | {p['quotes']} | {a['quotes']} |",
        f"| quoted-wait error p50 / p90, all quotes (s) | {_f(p['error_p50_s'])} / "
        f"{_f(p['error_p90_s'])} | {_f(a['error_p50_s'])} / {_f(a['error_p90_s'])} |",
        f"| same, quotes over 15 min ({p['long_quotes']} / {a['long_quotes']}) (s) | "
        f"{_f(p['long_error_p50_s'])} / {_f(p['long_error_p90_s'])} | "
        f"{_f(a['long_error_p50_s'])} / {_f(a['long_error_p90_s'])} |",
        f"| same, signed (actual − quoted) p10 / p50 / p90 (s) | "
        f"{_f(p['long_signed_p10_s'])} / {_f(p['long_signed_p50_s'])} / "
        f"{_f(p['long_signed_p90_s'])} | {_f(a['long_signed_p10_s'])} / "
        f"{_f(a['long_signed_p50_s'])} / {_f(a['long_signed_p90_s'])} |",
        *[
            f"| same, orders whose last ticket {words} ({p['long_by_last_ticket'][k]['count']} "
            f"/ {a['long_by_last_ticket'][k]['count']}): signed p50 / p90; its wait for a cook "
            f"once it could start p50 / p90 (s) | "
            + " | ".join(
                f"{_f(x[k]['signed_p50_s'])} / {_f(x[k]['signed_p90_s'])}; "
                f"{_f(x[k]['cook_wait_p50_s'])} / {_f(x[k]['cook_wait_p90_s'])}"
                for x in (p["long_by_last_ticket"], a["long_by_last_ticket"])
            )
            + " |"
            for k, words in (("paced", "was paced"), ("at_fire", "could start when fired"))
            if "long_by_last_ticket" in p and "long_by_last_ticket" in a  # older results: none
        ],
        *_range_row(p, a),
        *_calm_row(p, a),
        f"| longest quoted wait (min) | {p['max_quoted_wait_s'] / 60:.0f} | "
        f"{a['max_quoted_wait_s'] / 60:.0f} |",
        f"| actual wait p50 / longest (min) | {(p['actual_wait_p50_s'] or 0) / 60:.0f} / "
        f"{p['max_actual_wait_s'] / 60:.0f} | {(a['actual_wait_p50_s'] or 0) / 60:.0f} / "
        f"{a['max_actual_wait_s'] / 60:.0f} |",
        f"| spread of a course at the pass p50 / p90 (s), {p['spread_groups']} courses | "
        f"{_f(p['spread_p50_s'])} / {_f(p['spread_p90_s'])} | "
        f"{_f(a['spread_p50_s'])} / {_f(a['spread_p90_s'])} |",
        f"| same, courses no cook was called away from ({p['spread_clean_groups']}) p90 (s) | "
        f"{_f(p['spread_clean_p90_s'])} | {_f(a['spread_clean_p90_s'])} |",
        f"| same, had every ticket started exactly on time (the cooks' own variation) p50 / p90 "
        f"(s) | {_f(p['spread_floor_p50_s'])} / {_f(p['spread_floor_p90_s'])} | "
        f"{_f(a['spread_floor_p50_s'])} / {_f(a['spread_floor_p90_s'])} |",
        f"| HTTP requests; wall time (s) | {p['requests']}; {p['wall_s']} | "
        f"{a['requests']}; {a['wall_s']} |",
        "",
        f"Quote target {'met' if ok_quote else 'MISSED'}; spread target "
        f"{'met' if ok_spread else 'MISSED'}.{_calm_words(p, ok_quote)}",
        "",
        *(["![quoted wait vs actual over the shift](bench/shift.svg)", ""] if heading else []),
    ]


def _range_row(p: dict[str, Any], a: dict[str, Any]) -> list[str]:
    """How often the range the phone was told at ordering held (older results: none)."""
    if p.get("range_held") is None or a.get("range_held") is None:
        return []

    def cell(x: dict[str, Any]) -> str:
        long = "–" if x["range_held_long"] is None else f"{x['range_held_long']:.0%}"
        return f"{x['range_held']:.0%} / {long}; {_f(x['range_width_p50_s'])}"

    return [
        f"| the range the phone was told at ordering (`eta_range_ms`, from the 10th to the "
        f"90th percentile of how the last quotes came out): ready inside it, all / quotes over "
        f"15 min; its width p50 (s) | {cell(p)} | {cell(a)} |"
    ]


def _calm_row(p: dict[str, Any], a: dict[str, Any]) -> list[str]:
    """The long quotes of the same lunches with no cook called away (older results: none)."""
    if "calm" not in p or "calm" not in a:
        return []
    cells = " | ".join(
        f"{_f(x['long_error_p50_s'])} / {_f(x['long_error_p90_s'])}; "
        f"{_f(x['long_signed_p10_s'])} / {_f(x['long_signed_p50_s'])} / "
        f"{_f(x['long_signed_p90_s'])}"
        for x in (p["calm"], a["calm"])
    )
    return [
        f"| same, the same lunches with no cook called away ({p['calm']['long_quotes']} / "
        f"{a['calm']['long_quotes']}): p50 / p90; signed p10 / p50 / p90 (s) | {cells} |"
    ]


def _calm_words(p: dict[str, Any], ok_quote: bool) -> str:
    """What the quote's miss comes from, when the calm lunches tell."""
    calm = p.get("calm")
    if ok_quote or not calm:
        return ""
    c50, c90 = calm["long_error_p50_s"] or 1e9, calm["long_error_p90_s"] or 1e9
    if c50 <= 120 and c90 <= 300:
        return (
            f" With no cook called away the paced quote meets it ({_f(c50)} / {_f(c90)} s): "
            f"the miss is the cooks called away ({OUTLIERS:.0%} of lines take 2.5 times as "
            "long) from the order's own tickets or those queued ahead of them, which a quote "
            "made at ordering cannot see. Pacing makes each such delay cost more: a paced "
            "ticket whose start comes while the delayed ticket still waits goes before it, "
            "as it was fired first."
        )
    return f" With no cook called away it is missed too ({_f(c50)} / {_f(c90)} s)."


def svg(res: dict[str, Any]) -> str:
    """Quoted and actual waits of the paced run over the shift, as a small SVG by hand."""
    pts = res["paced"]["timeline"]
    w, h, pad = 640, 260, 40
    tmax = max((t for t, _, _ in pts), default=1) or 1
    ymax = max((max(q, a) for _, q, a in pts), default=1) / 60 or 1

    def xy(t: float, s: float) -> str:
        return f"{pad + t / tmax * (w - 2 * pad):.1f},{h - pad - s / 60 / ymax * (h - 2 * pad):.1f}"

    quoted = " ".join(xy(t, q) for t, q, _ in pts)
    dots = "".join(
        '<circle cx="{}" cy="{}" r="1.5" fill="#c0392b"/>'.format(*xy(t, a).split(","))
        for t, _, a in pts
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-size="11" '
        'font-family="sans-serif">'
        f'<rect width="{w}" height="{h}" fill="white"/>'
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="black"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="black"/>'
        f'<polyline points="{quoted}" fill="none" stroke="#2c7fb8" stroke-width="1.2"/>'
        f"{dots}"
        f'<text x="{w / 2}" y="{h - 8}" text-anchor="middle">minutes into the shift '
        f"(0–{tmax:.0f})</text>"
        f'<text x="10" y="{pad - 12}">wait (min, 0–{ymax:.0f}): quoted (line), actual (dots)'
        "</text></svg>\n"
    )


def write(res: dict[str, Any], docs: Path, over: dict[str, Any] | None = None) -> None:
    """The sections into docs/benchmarks.md between the pacing markers, and the plot."""
    (docs / "bench").mkdir(exist_ok=True)
    (docs / "bench" / "shift.svg").write_text(svg(res))
    path = docs / "benchmarks.md"
    text = path.read_text()
    more = section(over, heading=False) if over is not None else []
    block = "\n".join([MARK_BEGIN, *section(res), *more, MARK_END])
    if MARK_BEGIN in text:
        head, rest = text.split(MARK_BEGIN, 1)
        text = head + block + rest.split(MARK_END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def defaults(**over: Any) -> argparse.Namespace:
    """The arguments of `make bench`'s run (those of `python -m bench.shift`)."""
    return argparse.Namespace(
        **dict({"minutes": 150, "peak": 0.85, "seed": 7, "slack": 60, "days": DAYS}, **over)
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=int, default=150)
    ap.add_argument("--peak", type=float, default=0.85, help="orders a minute at the peak")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--slack", type=int, default=60, help="[pacing] slack_seconds")
    ap.add_argument("--days", type=int, default=DAYS, help="lunches measured (seed, seed+1, ...)")
    ap.add_argument(
        "--away", type=float, default=OUTLIERS, help="share of lines a cook is called away from"
    )
    ap.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = ap.parse_args(argv)
    res = asyncio.run(simulate(args))
    print("\n".join(section(res)))
    if args.write:
        over = asyncio.run(simulate(argparse.Namespace(**dict(vars(args), peak=OVERLOAD))))
        print("\n".join(section(over, heading=False)))
        write(res, REPO / "docs", over)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
