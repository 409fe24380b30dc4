"""Pacing the kitchen: holding and firing courses, learning prep times from bumps, pacing a
fired course so it lands together, the wait quoted to diners, and pausing a station's items
while its projected wait is past the store's limit.

The load is kept in memory (every open and held ticket as a `Job`), read from the store at
start and kept from then on from the committed ticket events; prep times are learnt from the
last bumps the same way. Firing is a write like any other: its events commit with it, and a
held ticket is a row of the store, so a fire survives a crash and happens once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from msgspec.structs import replace

from hub.config import PacingConfig
from hub.consumers.live import LiveHub
from hub.domain import pacing as pc
from hub.domain.events import (
    Order,
    OrderStatusChanged,
    Ticket,
    TicketEvent,
    TicketFired,
    TicketUpdated,
)
from hub.domain.menu import Menu
from hub.domain.ports import Clock
from hub.errors import Conflict, InvalidInput, NotFound
from hub.services.actions import Result, check_action_id, once
from hub.services.catalog import Catalog
from hub.store import repos
from hub.store.db import Event, Store, Tx

log = logging.getLogger("tablehub.pacing")

LEARN_FROM = 3000  # bumps read back at start
TICK_S = 1.0
RESUME_AT = 0.8  # a paused station's items come back under this share of its limit
CACHE_ALWAYS_OVER = 200  # with more open tickets, the projection is kept a second anyway
REPACE_MAX = 2000  # with more open tickets, bumps do not move paced starts
LATE_MS = 15_000  # an anchor this far past its start, not started: its course moves with it
SOON_MS = 60_000  # a course whose anchor starts within this is checked against its stations
LOOK_MAX = 50  # courses looked at again a tick

ChitsHook = Callable[[Tx, list[Ticket]], Awaitable[None]]


def ms_of(iso: str | None) -> int | None:
    if not iso:
        return None
    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1000)
    except ValueError:
        return None


class Pacer:
    """The kitchen's load and the courses' firing (a consumer: it follows the commits)."""

    name = "pacer"

    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        clock: Clock,
        live: LiveHub,
        config: PacingConfig,
        *,
        timezone: str | None = None,
        chits: ChitsHook | None = None,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._clock = clock
        self._live = live
        self.config = config
        self._tz = ZoneInfo(timezone) if timezone else None
        self._chits = chits
        self.model = pc.PrepModel()
        self.jobs: dict[int, Ticket] = {}  # open and held tickets by id
        self._freed: dict[str, deque[int]] = {}  # station -> its last bump times (ms)
        self._starting: set[str] = set()  # stations whose cooks say when they start a ticket
        self._last_fired: dict[str, int] = {}  # table -> when a course of it last fired
        self.paused: dict[str, int] = {}  # station -> the wait that paused it
        self._proj: tuple[int, int, pc.Projection] | None = None
        self._version = 0
        self._sent: dict[str, Any] = {}
        self._etas: dict[int, int] = {}
        self.fired = 0
        self.records_quotes = True  # false on a store from before quotes were kept
        self.band = pc.QuoteBand()  # how the last quotes came out: the range a wait is told in
        self._waits: tuple[int, int, dict[str, Any]] | None = None

    def __repr__(self) -> str:
        return f"<Pacer jobs={len(self.jobs)} paused={sorted(self.paused)}>"

    # ------------------------------------------------------------ start and commits

    async def load(self) -> None:
        """The open and held tickets, and the prep times learnt from the last bumps."""
        self.records_quotes = await repos.has_column(self._store, "orders", "quoted_ms")
        if not self.records_quotes:
            log.warning("the store keeps no quotes (an older schema): waits not recorded")
        for t in await repos.read_active_tickets(self._store):
            self.jobs[t.id] = t
            if t.status == "open":
                self._note_fired(t)
        if self.records_quotes:
            # quotes ready within the window, quoted up to a window before it
            since = self._clock.now_ms() - 2 * pc.BAND_WINDOW_MS
            for quoted, by, ready in await repos.read_quotes(self._store, since):
                if ready is not None:
                    self.band.add(quoted, by, ready)
        for t in await repos.read_last_bumped(self._store, LEARN_FROM):
            bumped = ms_of(t.bumped_at)
            if bumped is not None:
                self._observe(t, bumped)
        self._version += 1

    def on_commit(self, events: Sequence[Event]) -> None:
        served = {
            e.event.order.order_id
            for e in events
            if isinstance(e.event, OrderStatusChanged) and e.event.order.status == "served"
        }
        now = self._clock.now_ms()
        for e in events:
            ev = e.event
            if not isinstance(ev, TicketEvent):
                continue
            t = ev.ticket
            self._version += 1
            if t.status == "bumped":
                was = self.jobs.pop(t.id, None)
                if was is not None and was.status == "open" and t.order_id not in served:
                    self._observe(t, now)
                    # a station whose cooks stopped saying when they start is projected
                    # from its bumps again
                    self._note_live(t.station, bool(t.started_ms))
            else:
                if t.started_ms:
                    self._note_live(t.station, True)
                self.jobs[t.id] = t
                if t.status == "open" and t.fired_ms:  # sent at ordering, or fired
                    self._note_fired(t)

    def _note_live(self, station: str, live: bool) -> None:
        if live:
            self._starting.add(station)
        else:
            self._starting.discard(station)

    def _note_fired(self, t: Ticket) -> None:
        fired = t.fired_ms or t.created_ms
        self._last_fired[t.table.id] = max(self._last_fired.get(t.table.id, 0), fired)

    def _observe(self, t: Ticket, bump_ms: int) -> None:
        """Learn from a bumped ticket what a cook spent on it: an item's time from tickets
        of that one item, the station's menu error from every ticket."""
        cooks = self.cooks(t.station)
        freed = self._freed.setdefault(t.station, deque(maxlen=50))
        ready = max(t.fired_ms or t.created_ms, t.start_at_ms)
        if t.started_ms and t.started_ms <= bump_ms:  # the cook said when they started
            seconds = (bump_ms - t.started_ms) / 1000.0
            ready = t.started_ms
        else:
            seconds = pc.service_time(bump_ms, ready, list(freed), cooks)
        freed.append(bump_ms)
        lines = [ln for ln in t.items if ln.qty > ln.void_qty]
        menu = self._catalog.menu
        if not lines or menu is None:
            return
        defaults = [menu.prep_default(menu.items[ln.item]) for ln in lines if ln.item in menu.items]
        if defaults:
            self.model.observe_station(t.station, seconds, max(defaults))
        if t.expected_s:
            self.model.observe_ticket(t.station, seconds, t.expected_s)
        if len({ln.item for ln in lines}) == 1:
            self.model.observe(lines[0].item, t.station, self.hour(ready), seconds)

    def now_ms(self) -> int:
        return self._clock.now_ms()

    def held_tickets(self) -> list[Ticket]:
        return sorted((t for t in self.jobs.values() if t.status == "held"), key=lambda t: t.id)

    # ------------------------------------------------------------ what things take

    def hour(self, ms: int) -> int:
        return datetime.fromtimestamp(ms / 1000, self._tz).hour

    def cooks(self, station: str) -> int:
        return self.config.station(station).cooks

    def prep_s(self, menu: Menu, item_id: str, station: str, at_ms: int) -> int:
        item = menu.items.get(item_id)
        default = 600 if item is None else menu.prep_default(item)
        return self.model.expected(item_id, station, self.hour(at_ms), default)

    def _work_s(self, t: Ticket, menu: Menu, now: int) -> int:
        if t.expected_s:
            return t.expected_s
        return max(
            (self.prep_s(menu, ln.item, t.station, now) for ln in t.items if not ln.bumped),
            default=60,
        )

    def projection(self, now: int | None = None, done: Ticket | None = None) -> pc.Projection:
        """Every station's queue projected over its cooks (cached for a second); `done`: a
        ticket bumped in the write under way (not yet in the committed view)."""
        now = self._clock.now_ms() if now is None else now
        # kept a second at most: under a rush of orders not recomputed for each of them
        cached = self._proj is not None and (
            self._proj[0] == self._version or len(self.jobs) > CACHE_ALWAYS_OVER
        )
        if cached and self._proj is not None and 0 <= now - self._proj[1] < 1000:
            if done is not None:
                # the kitchen as last projected, the bumped ticket's station placed again:
                # under a rush a bump costs one station's queue, not the kitchen's
                return self._proj[2].without(done.station, done.id, now)
            return self._proj[2]
        freed: dict[str, Sequence[int]] = dict(self._freed)
        if done is not None:
            freed[done.station] = [*self._freed.get(done.station, ()), now]
        menu = self._catalog.menu
        assert menu is not None
        cooks = {s.id: self.cooks(s.id) for s in menu.stations}
        # a queue drains at the tickets' mean time, which is longer than the typical one
        factor = {s.id: self.model.queue_factor(s.id) for s in menu.stations}

        def queued_s(t: Ticket) -> int:
            work = self._work_s(t, menu, now)
            if not t.started_ms:
                return round(work * factor.get(t.station, 1.0))
            # under way: what it has run and, on average, what it still takes
            ran = max(0.0, (now - t.started_ms) / 1000)
            left = self.model.time_left_s(t.station, work, ran)
            return work if left is None else max(1, round(ran + left))

        fired = [
            pc.Job(
                t.id,
                t.station,
                max(t.fired_ms or t.created_ms, t.start_at_ms),
                queued_s(t),
                t.order_id,
                fired_ms=t.fired_ms or t.created_ms,
                started_ms=t.started_ms,
            )
            for t in self.jobs.values()
            if t.status == "open" and (done is None or t.id != done.id)
        ]
        first = pc.project(now, fired, cooks, freed, self._starting)
        # a held course is guessed to fire when its order's fired tickets are done
        done_by_order: dict[int, int] = {}
        for j in fired:
            done_by_order[j.order_id] = max(
                done_by_order.get(j.order_id, now), first.finish_ms[j.ticket_id]
            )
        held = [
            pc.Job(
                t.id,
                t.station,
                done_by_order.get(t.order_id, now),
                queued_s(t),
                t.order_id,
                True,
            )
            for t in self.jobs.values()
            if t.status == "held"
        ]
        proj = pc.project(now, fired + held, cooks, freed, self._starting) if held else first
        if done is None:
            self._proj = (self._version, now, proj)
        return proj

    def station_waits(self, now: int | None = None) -> dict[str, int]:
        now = self._clock.now_ms() if now is None else now
        proj = self.projection(now)
        menu = self._catalog.menu
        assert menu is not None
        return {s.id: proj.station_wait_s(s.id, now) for s in menu.stations}

    # ------------------------------------------------------------ placing an order

    async def plan_in_tx(
        self,
        tx: Tx,
        table_id: str,
        groups: list[tuple[str, str | None, list[tuple[int, str]]]],
        all_together: bool,
        now: int,
    ) -> list[dict[str, Any]]:
        """For an order's tickets (station, course, [(line idx, item)]): whether each is held,
        and the fired ones' paced times; ready_by is the quote (max due of the fired ones)."""
        menu = self._catalog.menu
        assert menu is not None
        table_held: set[int] = set()
        if menu.courses and not all_together:
            for row in await repos.tx_held_tickets_of_table(tx, table_id):
                table_held.add(menu.course_rank(repos.ticket_body(row).course))
        ranks = []
        for _, course, _ in groups:
            c = None if course is None else menu.course(course)
            ranks.append((menu.course_rank(course), c is not None and c.hold))
        held = pc.held_ranks(ranks, table_held, all_together)
        pace_in = []
        for g, (station, course, lines) in enumerate(groups):
            if menu.course_rank(course) in held:
                continue
            pl = tuple(
                pc.PaceLine(idx, self.prep_s(menu, item, station, now)) for idx, item in lines
            )
            pace_in.append(pc.PaceTicket(-(g + 1), station, pl))  # ids of tickets to be
        paced = {
            p.ticket_id: p
            for p in pc.pace(
                now,
                pace_in,
                self.projection(now),
                together=self.config.pace,
                slack_ms=self.config.slack_s * 1000,
            )
        }
        out: list[dict[str, Any]] = []
        for g, (station, _course, lines) in enumerate(groups):
            p = paced.get(-(g + 1))
            prep = {idx: self.prep_s(menu, item, station, now) for idx, item in lines}
            out.append(
                {
                    "held": p is None,
                    "held_visible": p is None and self.config.station(station).show_held,
                    "prep": prep,
                    "paced": p,
                }
            )
        return out

    def check_paused(self, menu: Menu, stations: Sequence[tuple[int, str]]) -> None:
        """Refuse lines whose station is paused for its load."""
        from hub.errors import SoldOut

        for i, station in stations:
            if station in self.paused:
                minutes = max(1, round(self.paused[station] / 60))
                said = self.config.station(station).pause_message
                raise SoldOut(
                    said
                    or f"the kitchen is very busy with this dish (about {minutes} min); "
                    "please choose another or try again shortly",
                    field=f"lines[{i}].item",
                )

    # ------------------------------------------------------------ firing

    async def fire(
        self, table_id: str, course: str | None, action_id: str | None, by: str
    ) -> Result:
        """Fire the table's held course (`course`, or the next one held) once."""
        action_id = check_action_id(action_id)
        if table_id not in self._catalog.tables:
            raise NotFound(f"no table '{str(table_id)[:40]}'", field="table")
        menu = self._catalog.menu
        if course is not None and (menu is None or menu.course(course) is None):
            raise InvalidInput(f"no course '{str(course)[:40]}' on the menu", field="course")

        async def unit(tx: Tx) -> Result:
            async def body() -> Result:
                fired = await self.fire_in_tx(tx, table_id, course, by)
                if not fired:
                    what = f"course '{course}'" if course else "course"
                    raise Conflict(f"no {what} is held at table {table_id}", field="course")
                return {"table": table_id, "course": fired[0].course, "tickets": fired}

            return await once(tx, action_id, "fire", body)

        return await self._store.write(unit)

    async def fire_in_tx(self, tx: Tx, table_id: str, course: str | None, by: str) -> list[Ticket]:
        """Fire, inside `tx`, the table's held tickets of `course` (None: the next course
        held); their chits print. Returns the fired tickets (none: nothing held)."""
        menu = self._catalog.menu
        assert menu is not None
        rows = await repos.tx_held_tickets_of_table(tx, table_id)
        if not rows:
            return []
        bodies = [(row, repos.ticket_body(row)) for row in rows]
        if course is None:
            course = min((b.course for _, b in bodies), key=menu.course_rank)
        chosen = [(row, b) for row, b in bodies if b.course == course]
        if not chosen:
            return []
        now = self._clock.now_ms()
        pace_in = [
            pc.PaceTicket(
                int(row["id"]),
                str(row["station"]),
                tuple(
                    pc.PaceLine(ln.idx, self.prep_s(menu, ln.item, str(row["station"]), now))
                    for ln in b.items
                ),
            )
            for row, b in chosen
        ]
        paced = {
            p.ticket_id: p
            for p in pc.pace(
                now,
                pace_in,
                self.projection(now),
                together=self.config.pace,
                slack_ms=self.config.slack_s * 1000,
            )
        }
        fired = []
        for row, b in chosen:
            tid = int(row["id"])
            p = paced[tid]
            prep = {ln.key: ln.prep_s for t in pace_in if t.ticket_id == tid for ln in t.lines}
            items = [
                replace(ln, prep_s=prep[ln.idx], start_at_ms=p.line_start_ms[ln.idx])
                for ln in b.items
            ]
            body = replace(
                b,
                items=items,
                fired_ms=now,
                start_at_ms=p.start_at_ms,
                due_ms=p.due_ms,
                expected_s=p.expected_s,
            )
            await repos.fire_ticket(tx, tid, body)
            ticket = await repos.tx_ticket(tx, tid)
            assert ticket is not None
            tx.emit(TicketFired(ticket=ticket, by=by))
            fired.append(ticket)
        if self._chits is not None:
            await self._chits(tx, fired)
        self.fired += 1
        log.info("table %s: %s fired (%d tickets) by %s", table_id, course, len(fired), by)
        return fired

    async def after_bump_in_tx(self, tx: Tx, ticket: Ticket) -> None:
        """A ticket was bumped: settle its order's quote, move paced starts, and (`ready`)
        fire the table's next course when its earlier courses are ready."""
        if ticket.status == "bumped":
            await self._settle_quote(tx, ticket.order_id)
            if self.config.pace:
                await self._repace_in_tx(tx, ticket)
        if self.config.auto_fire == "ready":
            await self._auto_fire_in_tx(tx, ticket.table.id)

    async def after_serve_in_tx(self, tx: Tx, order: Order) -> None:
        """The expo served an order (its open tickets bumped with it): settle its quote and
        fire the table's next course (unless firing is manual)."""
        await self._settle_quote(tx, order.order_id)
        if self.config.auto_fire != "manual":
            await self._auto_fire_in_tx(tx, order.table.id)

    async def _repace_in_tx(self, tx: Tx, bumped: Ticket) -> None:
        """A bump tells how far the queues are: the tickets of a paced course still waiting
        for their start move so that they end with the rest of their course as projected
        now (the course's tickets already under way, or, the one just bumped, now)."""
        now = self._clock.now_ms()
        if len(self.jobs) > REPACE_MAX:
            return
        waiting = [
            t
            for t in self.jobs.values()
            if t.status == "open" and t.start_at_ms > now and t.due_ms and t.id != bumped.id
        ]
        if not waiting:
            return
        keys = {(t.order_id, t.course) for t in waiting}
        waiting_ids = {t.id for t in waiting}
        # the courses' tickets, grouped in one pass: a rush holds hundreds of open tickets,
        # and a pass over all of them per course made each bump cost their square
        groups: dict[tuple[int, str | None], list[Ticket]] = {}
        for t in self.jobs.values():
            key = (t.order_id, t.course)
            if key in keys:
                groups.setdefault(key, []).append(t)
        proj: pc.Projection | None = None  # only for courses whose cooks do not say
        for group in groups.values():
            anchor = max(group, key=lambda t: (t.expected_s, -t.id))
            if anchor.station in self._starting or any(t.started_ms for t in group):
                # the cooks say when they start: the course follows its starts
                await self._repace_started(tx, [t for t in group if t.id != bumped.id], now)
                continue
            anchors = [t for t in group if t.status == "open" and t.start_at_ms <= now]
            if anchors and proj is None:
                proj = self.projection(now, done=bumped)
            ends = [
                now if t.id == bumped.id or proj is None else proj.finish_ms.get(t.id, now)
                for t in anchors
            ]
            if not ends:
                continue
            target = max(ends)
            for t in group:
                if t.id in waiting_ids:
                    start = target - t.expected_s * 1000 - self.config.slack_s * 1000
                    await self._move_start(tx, t, max(now, start), target)

    async def after_start_in_tx(self, tx: Tx, ticket: Ticket) -> None:
        """A cook started a ticket: its course's tickets not started yet are timed again to
        end with the course as the starts say (`pacing.repace_on_start`)."""
        if not self.config.pace or not ticket.due_ms:
            return
        group = {
            t.id: t
            for t in self.jobs.values()
            if t.order_id == ticket.order_id and t.course == ticket.course and t.status == "open"
        }
        group[ticket.id] = ticket
        now = self._clock.now_ms()
        await self._repace_started(tx, list(group.values()), now, self.projection(now))

    async def _repace_started(
        self,
        tx: Tx,
        group: Sequence[Ticket],
        now: int,
        proj: pc.Projection | None = None,
    ) -> None:
        """Time a course's tickets not started again by its starts (and, with `proj`, by
        when their stations' queues let a cook take them)."""
        paced = [t for t in group if t.due_ms and t.status == "open"]
        if len(paced) < 2:
            return
        menu = self._catalog.menu
        assert menu is not None
        course = [
            pc.CourseTicket(
                t.id, t.expected_s or self._work_s(t, menu, now), t.start_at_ms, t.started_ms
            )
            for t in paced
        ]
        lead = {t.id: self.config.slack_s * 1000 for t in paced}
        earliest = {}
        if proj is not None:
            for t, c in zip(paced, course, strict=True):
                if not t.started_ms:
                    earliest[t.id] = proj.start_if_ready(
                        t.station, t.id, c.expected_s, t.fired_ms or t.created_ms
                    )
        by_id = {t.id: t for t in paced}
        due = max(t.due_ms for t in paced)
        plan = pc.repace_on_start(now, course, lead, earliest_ms=earliest, due_ms=due)
        for tid, (start, due) in plan.items():
            await self._move_start(tx, by_id[tid], start, due)

    def _late_courses(self, now: int) -> list[list[Ticket]]:
        """Paced courses not started, at stations whose cooks say when they start, whose
        anchor is late or about to start (are the others' stations ready for it?); at most
        LOOK_MAX a tick, the nearest first."""
        groups: dict[tuple[int, str | None], list[Ticket]] = {}
        for t in self.jobs.values():
            if t.status == "open" and t.due_ms:
                groups.setdefault((t.order_id, t.course), []).append(t)
        late = []
        for group in groups.values():
            if len(group) < 2 or any(t.started_ms for t in group):
                continue
            anchor = max(group, key=lambda t: (t.expected_s, -t.id))
            if anchor.station not in self._starting:
                continue
            if anchor.start_at_ms < now + SOON_MS:
                late.append(group)
        late.sort(key=lambda g: min(t.start_at_ms for t in g))
        return late[:LOOK_MAX]

    async def _repace_late(self) -> None:
        if not self.config.pace or len(self.jobs) > REPACE_MAX:
            return
        now = self._clock.now_ms()
        late = self._late_courses(now)
        if not late:
            return

        proj = self.projection(now)

        async def unit(tx: Tx) -> None:
            for group in late:
                await self._repace_started(tx, group, now, proj)

        await self._store.write(unit)

    async def _move_start(self, tx: Tx, t: Ticket, start: int, due: int) -> None:
        """Move a paced ticket's start (and due) when it moved enough to tell its screens: 15
        s, or a tenth of the time still to its start (a start far off need not follow every
        bump: each move is a write and a push to the screens)."""
        now = self._clock.now_ms()
        if abs(start - t.start_at_ms) < max(15_000, (min(start, t.start_at_ms) - now) // 10):
            return
        row = await repos.tx_ticket_row(tx, t.id)
        if row is None or row["status"] != "open":
            return
        body = repos.ticket_body(row)
        shift = start - body.start_at_ms
        items = [
            replace(ln, start_at_ms=max(start, ln.start_at_ms + shift)) if ln.start_at_ms else ln
            for ln in body.items
        ]
        fresh = replace(body, items=items, start_at_ms=start, due_ms=due)
        await repos.update_ticket_body(tx, t.id, fresh)
        ticket = await repos.tx_ticket(tx, t.id)
        assert ticket is not None
        tx.emit(TicketUpdated(ticket=ticket))

    async def _auto_fire_in_tx(self, tx: Tx, table_id: str) -> None:
        menu = self._catalog.menu
        if menu is None or not menu.courses:
            return
        rows = await repos.tx_tickets_of_table(tx, table_id)
        held = [repos.ticket_body(r).course for r in rows if r["status"] == "held"]
        if not held:
            return
        nxt = min(menu.course_rank(c) for c in held)
        for r in rows:
            course = repos.ticket_body(r).course
            c = None if course is None else menu.course(course)
            if (
                r["status"] == "open"
                and c is not None
                and c.hold
                and menu.course_rank(course) < nxt
            ):
                return  # an earlier course is still being made (drinks do not count)
        course = menu.courses[nxt].id if nxt >= 0 else None
        await self.fire_in_tx(tx, table_id, course, "auto")

    async def _settle_quote(self, tx: Tx, order_id: int) -> None:
        if not self.records_quotes:
            return
        row = await repos.tx_open_quote(tx, order_id)
        if row is None:
            return
        ids = repos.loads(row["tickets"])
        if all(s == "bumped" for s in await repos.tx_ticket_statuses(tx, ids)):
            now = self._clock.now_ms()
            await repos.resolve_quote(tx, order_id, now)
            # told before the commit: a unit that fails after it leaves one quote too many
            # in the range's statistics, which nothing else reads
            self.band.add(int(row["quoted_ms"]), int(row["ready_by_ms"]), now)

    # ------------------------------------------------------------ the views

    def order_view(
        self, order: Order, tickets: list[Ticket], served: dict[str, int]
    ) -> dict[str, Any]:
        """`eta_ms` (when the fired courses should be ready; None once they are), the range
        it is told in (`eta_range_ms`, see `pc.QuoteBand`) and each course's state: held,
        fired, ready or served."""
        menu = self._catalog.menu
        now = self._clock.now_ms()
        proj = self.projection(now)
        courses: dict[str, list[Ticket]] = {}
        for t in tickets:
            courses.setdefault(t.course or "", []).append(t)
        rank = (lambda c: menu.course_rank(c or None)) if menu is not None else (lambda c: 0)
        out = []
        eta = None
        for c in sorted(courses, key=rank):
            ts = courses[c]
            if order.status == "served" or c in served:
                state = "served"
            elif any(t.status == "held" for t in ts):
                state = "held"
            elif all(t.status == "bumped" for t in ts):
                state = "ready"
            else:
                state = "fired"
            c_eta: int | None = None
            if state in ("fired", "held"):
                c_eta = max(proj.finish_ms.get(t.id, now) for t in ts if t.status != "bumped")
                if state == "fired":
                    eta = c_eta if eta is None else max(eta, c_eta)
            out.append(
                {
                    "course": c or None,
                    "state": state,
                    "eta_ms": c_eta,
                    "fired_ms": max(
                        (t.fired_ms or t.created_ms for t in ts if t.status != "held"), default=None
                    ),
                    "served_ms": served.get(c),
                }
            )
        return {"eta_ms": eta, "eta_range_ms": self.eta_range(eta, now), "courses": out}

    def eta_range(self, eta_ms: int | None, now: int) -> list[int] | None:
        """[earliest, latest] (ms) an order due at `eta_ms` is told it may be ready."""
        if eta_ms is None:
            return None
        low, high = self.band.range_s(max(0, eta_ms - now) // 1000, now)
        return [now + low * 1000, now + high * 1000]

    def menu_waits(self, menu: Menu) -> dict[str, Any]:
        """What the diner's menu shows: each item's wait, whether it is paused or slow, and
        the headline wait (the median item's); worked out at most once a second."""
        now = self._clock.now_ms()
        got = self._waits
        fresh = got is not None and 0 <= now - got[0] < 1000
        many = len(self.jobs) > CACHE_ALWAYS_OVER
        if got is not None and fresh and (got[1] == self._version or many):
            return got[2]
        view = self._menu_waits(menu, now)
        self._waits = (now, self._version, view)
        return view

    def _menu_waits(self, menu: Menu, now: int) -> dict[str, Any]:
        waits = self.station_waits(now)
        items: dict[str, dict[str, Any]] = {}
        food: list[int] = []
        for item in menu.items.values():
            prep = self.prep_s(menu, item.id, item.station, now)
            limit = self.config.station(item.station).wait_limit_s
            queue = waits.get(item.station, 0)
            paused = item.station in self.paused
            items[item.id] = {
                "course": menu.course_of(item),
                "wait_s": queue + prep,
                "wait_range_s": list(self.band.range_s(queue + prep, now)),
                "prep_s": prep,
                "busy": bool(limit) and queue > limit,
                "paused": paused,
            }
            said = self.config.station(item.station).pause_message
            if paused and said:
                items[item.id]["pause_message"] = said
            food.append(queue + prep)
        food.sort()
        headline = food[len(food) // 2] if food else 0
        return {
            "wait_s": headline,
            "wait_range_s": list(self.band.range_s(headline, now)),
            "items": items,
        }

    def load_view(self) -> dict[str, Any]:
        """Each station's projected wait, cooks, open and held tickets, limit and pause."""
        now = self._clock.now_ms()
        waits = self.station_waits(now)
        out = {}
        for sid, wait in waits.items():
            cfg = self.config.station(sid)
            out[sid] = {
                "wait_s": wait,
                "cooks": cfg.cooks,
                "open": sum(
                    1 for t in self.jobs.values() if t.station == sid and t.status == "open"
                ),
                "held": sum(
                    1 for t in self.jobs.values() if t.station == sid and t.status == "held"
                ),
                "limit_s": cfg.wait_limit_s,
                "paused": sid in self.paused,
            }
        low, high, quotes = self.band.factors(now)
        band = {"low": low, "high": high, "quotes": quotes}
        return {"stations": out, "at_ms": now, "band": band}

    # ------------------------------------------------------------ the loop

    async def run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self.tick()
            except Exception:  # one bad tick is logged; the next one tries again
                log.exception("pacing tick failed")

    async def stop(self) -> bool:
        return False

    async def tick(self) -> None:
        """Fire held courses past their delay, pause or resume stations for their load, and
        tell the screens a wait or an ETA that moved."""
        if self._catalog.menu is None:
            return
        await self._fire_due()
        await self._repace_late()
        waits = self.station_waits()
        self._throttle(waits)
        self._tell(waits)

    async def _fire_due(self) -> None:
        after = self.config.fire_after_s
        if after <= 0 or self.config.auto_fire == "manual":
            return
        now = self._clock.now_ms()
        tables = {t.table.id for t in self.jobs.values() if t.status == "held"}
        for table in sorted(tables)[:50]:  # bounded per tick; the rest on the next
            last = self._last_fired.get(table)
            if last is None or now - last < after * 1000:
                continue
            held = min(
                t.id for t in self.jobs.values() if t.status == "held" and t.table.id == table
            )

            async def unit(tx: Tx, table: str = table) -> list[Ticket]:
                return await self.fire_in_tx(tx, table, None, "auto")

            self._last_fired[table] = now  # once per delay, whatever the write says
            try:
                await self._store.write(unit)
            except Exception as exc:
                log.warning("table %s: timed fire of ticket %d failed: %s", table, held, exc)

    def _throttle(self, waits: dict[str, int]) -> None:
        for sid, wait in waits.items():
            cfg = self.config.station(sid)
            if not (cfg.pause and cfg.wait_limit_s):
                self.paused.pop(sid, None)
                continue
            if sid not in self.paused and wait > cfg.wait_limit_s:
                self.paused[sid] = wait
                log.warning(
                    "station %s paused: projected wait %d s over %d s", sid, wait, cfg.wait_limit_s
                )
            elif sid in self.paused and wait < cfg.wait_limit_s * RESUME_AT:
                del self.paused[sid]
                log.info("station %s resumed: projected wait %d s", sid, wait)
            elif sid in self.paused:
                self.paused[sid] = wait

    def _tell(self, waits: dict[str, int]) -> None:
        menu = self._catalog.menu
        assert menu is not None
        view = self.menu_waits(menu)
        busy = sorted({i for i, w in view["items"].items() if w["busy"]})
        msg = {
            "type": "wait",
            "wait_s": view["wait_s"],
            "wait_range_s": view["wait_range_s"],
            "paused": sorted(self.paused),
        }
        before = self._sent
        if (
            not before
            or _moved(before.get("wait_s", 0), view["wait_s"])
            or before.get("paused") != msg["paused"]
            or before.get("busy") != busy  # an item turning busy or calm is told at once
        ):
            msg["busy"] = busy
            self._sent = msg
            self._live.broadcast(dict(msg, items=view["items"]))
        now = self._clock.now_ms()
        proj = self.projection(now)
        by_order: dict[int, tuple[str, int]] = {}
        for t in self.jobs.values():
            if t.status != "open":
                continue
            eta = proj.finish_ms.get(t.id, now)
            prev = by_order.get(t.order_id)
            by_order[t.order_id] = (t.table.id, max(eta, prev[1] if prev else eta))
        for order_id, (table, eta) in by_order.items():
            old = self._etas.get(order_id)
            if old is None or _moved((old - now) // 1000, (eta - now) // 1000):
                self._etas[order_id] = eta
                span = self.eta_range(eta, now)
                self._live.broadcast(
                    {"type": "eta", "order_id": order_id, "eta_ms": eta, "eta_range_ms": span},
                    table=table,
                )
        for gone in set(self._etas) - set(by_order):
            del self._etas[gone]


def _moved(before_s: int, now_s: int) -> bool:
    """A wait worth telling again: a minute or a sixth of it."""
    return abs(now_s - before_s) >= max(60, abs(before_s) // 6)
