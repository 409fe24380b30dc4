"""Taking an order: check it against the menu, price it, and save it with its tickets and
events in one group-committed write. Idempotent on the client's key."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from msgspec import UnsetType
from msgspec.structs import replace

from hub.domain.events import (
    LineModifier,
    Order,
    OrderLine,
    OrderPlaced,
    OrderWeighed,
    TableRef,
    Ticket,
    TicketCreated,
    TicketLine,
    TicketModifier,
    TicketUpdated,
)
from hub.domain.menu import Menu
from hub.domain.orders import (
    LineRequest,
    PricedLine,
    check_key,
    price_order,
    route,
    weighed_line_cents,
)
from hub.domain.ports import Clock
from hub.domain.ratelimit import Limit, RateLimiter
from hub.domain.tickets import TicketItem
from hub.errors import (
    Conflict,
    Forbidden,
    IdempotencyMismatch,
    NotFound,
    StoreBusy,
    TableClosed,
)
from hub.services import stock
from hub.services.catalog import Catalog, Table
from hub.store import repos
from hub.store.db import Store, Tx
from plumbing.clock import iso_from_ms, ms_from_iso

if TYPE_CHECKING:
    from hub.services.pacing import Pacer

log = logging.getLogger("tablehub.ordering")

# an order is refused (503, Retry-After) while the oldest write has waited longer than this
BUSY_AFTER_S = 0.5


def request_hash(lines: Sequence[LineRequest]) -> str:
    canon = json.dumps(
        # a seat only when given: the keys of orders taken before seats stay the same
        [
            [
                ln.item,
                ln.qty,
                sorted(ln.modifiers),
                ln.note,
                *(() if ln.seat is None else (ln.seat,)),
            ]
            for ln in lines
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canon.encode()).hexdigest()[:32]


def _order_line(p: PricedLine, course: str | None) -> OrderLine:
    mods = [LineModifier(o.id, dict(o.name), o.price_delta_cents) for o in p.options]
    per = p.item.price_per_grams
    if per is not None:
        # sold by weight: priced when staff put it on the scale
        return OrderLine(
            p.item.id,
            dict(p.item.name),
            p.qty,
            p.unit_cents,
            p.line_cents,
            mods,
            p.note,
            per_grams=per,
            grams=None,
            weight_pending=True,
            seat=p.seat,
            course=course,
        )
    return OrderLine(
        p.item.id,
        dict(p.item.name),
        p.qty,
        p.unit_cents,
        p.line_cents,
        mods,
        p.note,
        seat=p.seat,
        course=course,
    )


def _ticket_line(
    idx: int, p: PricedLine, course: str | None, prep_s: int, start_ms: int
) -> TicketLine:
    mods = [TicketModifier(o.id, dict(o.name)) for o in p.options]
    allergens = list(p.item.allergens)
    per = p.item.price_per_grams
    if per is not None:
        return TicketLine(
            idx, p.item.id, dict(p.item.name), p.qty, mods, p.note, allergens,
            per_grams=per, grams=None, seat=p.seat, course=course, prep_s=prep_s,
            start_at_ms=start_ms,
        )  # fmt: skip
    return TicketLine(
        idx, p.item.id, dict(p.item.name), p.qty, mods, p.note, allergens, seat=p.seat,
        course=course, prep_s=prep_s, start_at_ms=start_ms,
    )  # fmt: skip


# runs inside the order's own write, e.g. to queue its kitchen chits
TicketsHook = Callable[[Tx, list[Ticket]], Awaitable[None]]

KEYS_WINDOW_MS = 24 * 3_600_000  # an idempotency key gives its order back for a day
KEYS_AT_LEAST = 5_000  # and so do the keys of the last this many orders, whenever taken
KEYS_MAX = 200_000  # past this many in the window, the oldest are forgotten first


class RecentKeys:
    """The idempotency keys of the orders taken in the last day, in memory: (table, key) →
    order id. A retry within the day gets its order back, wherever the order went since (a
    check closed, moved or merged). An index of the keys in the store did the same forever,
    but keys are random, so every order's commit wrote a leaf of it at random (about two
    pages of the SD card an order). Loaded from the store when the first order comes; a key
    found here is checked against its order's row, so one left by a write that failed is
    not trusted."""

    def __init__(
        self,
        window_ms: int = KEYS_WINDOW_MS,
        at_least: int = KEYS_AT_LEAST,
        limit: int = KEYS_MAX,
    ) -> None:
        self.window_ms = window_ms
        self.at_least = at_least
        self.limit = limit
        self._orders: dict[tuple[str, str], tuple[int, int]] = {}  # oldest first
        self._loaded = False
        self._loading = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._orders)

    async def load(self, store: Store, now_ms: int) -> None:
        """Once: the keys of the last day's orders (and of the last `at_least`)."""
        if self._loaded:
            return
        async with self._loading:
            if self._loaded:
                return
            since = iso_from_ms(now_ms - self.window_ms)
            for table, key, order_id, created_at in await repos.read_recent_keys(
                store, since, self.at_least
            ):
                self._orders[(table, key)] = (order_id, ms_from_iso(created_at))
            self._loaded = True
            log.debug("idempotency keys of %d recent orders loaded", len(self._orders))

    def get(self, table_id: str, key: str) -> int | None:
        got = self._orders.get((table_id, key))
        return None if got is None else got[0]

    def add(self, table_id: str, key: str, order_id: int, created_ms: int) -> None:
        self._orders[(table_id, key)] = (order_id, created_ms)
        cutoff = created_ms - self.window_ms
        while self._orders:
            first = next(iter(self._orders))
            too_many = len(self._orders) > self.limit
            # the newest `at_least` stay whatever their age (a clock set back)
            too_old = self._orders[first][1] < cutoff and len(self._orders) > self.at_least
            if not (too_many or too_old):
                break
            del self._orders[first]


class Ordering:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        clock: Clock,
        *,
        require_open: bool = False,
        require_pin: bool = False,
        on_tickets: TicketsHook | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._clock = clock
        self.require_open = require_open
        self.require_pin = require_pin
        # wrong PINs: 5 tries, then one more per two minutes, per table
        self._pin_tries = RateLimiter(Limit(burst=5, per_minute=0.5), clock.monotonic_ms)
        self.placed = 0
        self.refused_busy = 0
        self._on_tickets = on_tickets
        self.pacer = pacer
        self.keys = RecentKeys()

    def check_table(self, table: Table, pin: str | None) -> None:
        """A store may require staff to open a table, and the party to give its PIN."""
        if (self.require_open or self.require_pin) and not table.is_open:
            raise TableClosed(
                "this table is not open for orders; please ask the staff", field="table"
            )
        if not self.require_pin:
            return
        # a locked-out table refuses every PIN, the right one too: otherwise a guesser would
        # only have to try them all and watch for the one answer that is not a 429
        self._pin_tries.check(table.id, "wrong PINs", field="pin")
        if pin is None or not hmac.compare_digest(pin, table.pin or ""):
            self._pin_tries.take(table.id, "wrong PINs", field="pin")
            raise Forbidden("the table PIN is not right; the staff can tell you", field="pin")

    async def place(
        self,
        table_token: str,
        key: str,
        lines: Sequence[LineRequest],
        pin: str | None = None,
        *,
        admit: Callable[[Table], None] | None = None,
        all_together: bool = False,
    ) -> tuple[Order, bool]:
        """Save an order; returns (order, replayed). Raises an `InvalidInput` naming the field.

        The key is looked up first: a retry of an order already taken gets that order back
        whatever changed since (item sold out, table closed, menu changed, limits reached),
        since the kitchen is already cooking it. Only a new order goes through the table's
        checks, then `admit` (the caller's rate limits), then the menu."""
        table = self._catalog.table_from_token(table_token)

        def checks(table: Table) -> None:
            self.check_table(table, pin)
            if admit is not None:
                admit(table)

        return await self._place(table, key, lines, checks, None, all_together)

    async def place_for_staff(
        self,
        table_id: str,
        key: str,
        lines: Sequence[LineRequest],
        entered_by: str,
        *,
        all_together: bool = False,
        stock_taken: bool = False,
    ) -> tuple[Order, bool]:
        """An order taken by staff for a table (no table code or PIN; the menu's checks
        all apply), saying who entered it. Idempotent on (table, key) like a diner's.
        `stock_taken`: its portions were taken already (a pre-order reserves them)."""
        table = self._catalog.tables.get(table_id) if isinstance(table_id, str) else None
        if table is None:
            raise NotFound(f"no table '{str(table_id)[:40]}'", field="table")
        return await self._place(
            table, key, lines, None, entered_by, all_together, stock_taken=stock_taken
        )

    async def _place(
        self,
        table: Table,
        key: str,
        lines: Sequence[LineRequest],
        checks: Callable[[Table], None] | None,
        entered_by: str | None,
        all_together: bool = False,
        *,
        stock_taken: bool = False,
    ) -> tuple[Order, bool]:
        check_key(key)
        digest = request_hash(lines)
        await self.keys.load(self._store, self._clock.now_ms())
        earlier = await self._replay(table.id, key, digest)
        if earlier is not None:
            return earlier, True
        if checks is not None:
            checks(table)
        menu = self._catalog.menu
        if menu is None:
            raise NotFound("no menu loaded")
        if self._store.backlog_s() > BUSY_AFTER_S:
            # refuse now rather than queue without end: the phone retries with the same key
            self.refused_busy += 1
            raise StoreBusy("the kitchen is very busy; your order is being sent again shortly")
        priced, total = price_order(menu, lines)
        if self.pacer is not None:
            self.pacer.check_paused(menu, [(i, p.item.station) for i, p in enumerate(priced)])
        created_ms = self._clock.now_ms()
        how = _How(self.pacer, menu, all_together)

        async def unit(tx: Tx) -> tuple[Order, bool]:
            # checked again inside the write: two copies of one new order may race here
            known = self.keys.get(table.id, key)
            existing = (
                None if known is None else await repos.find_order_by_key(tx, known, table.id, key)
            )
            if existing is not None:
                _same_request(existing["request_hash"], digest)
                order = await repos.tx_order(tx, int(existing["id"]))
                assert order is not None
                return order, True
            # counted items: taken in this write, or the whole order is refused
            if not stock_taken:
                await stock.take(tx, menu, [(p.item.id, p.qty) for p in priced])
            order, tickets = await _save(
                tx, table, key, digest, priced, total, created_ms, entered_by, how
            )
            # now: a copy of it later in this same commit finds it
            self.keys.add(table.id, key, order.order_id, created_ms)
            if self._on_tickets is not None:
                # a held course prints when it is fired
                await self._on_tickets(tx, [t for t in tickets if t.status != "held"])
            return order, False

        order, replayed = await self._store.write(unit)
        if not replayed:
            self.placed += 1  # a line a minute sums these up (hub/consumers/activity.py)
            log.debug(
                "order %s from %s: %d lines, %d cents",
                order.order_id,
                table.id,
                len(priced),
                total,
            )
        return order, replayed

    async def _replay(self, table_id: str, key: str, digest: str) -> Order | None:
        """The order already taken under this key, or None; a different body is refused."""
        known = self.keys.get(table_id, key)
        row = (
            None
            if known is None
            else await repos.read_order_by_key(self._store, known, table_id, key)
        )
        if row is None:
            return None
        _same_request(row["request_hash"], digest)
        return await repos.read_order(self._store, int(row["id"]))


def _same_request(stored: str, digest: str) -> None:
    if stored != digest:
        raise IdempotencyMismatch(
            "this idempotency key was used for a different order", field="idempotency_key"
        )


@dataclass(frozen=True, slots=True)
class _How:
    """How an order's tickets are cut and sent: by station and course, the later courses
    held and the fired ones paced (with a pacer), or one ticket per station sent at once."""

    pacer: Pacer | None
    menu: Menu
    all_together: bool = False

    def course(self, p: PricedLine) -> str | None:
        return self.menu.course_of(p.item) if self.menu.courses else None


async def _save(
    tx: Tx,
    table: Table,
    key: str,
    digest: str,
    priced: list[PricedLine],
    total: int,
    created_ms: int,
    entered_by: str | None = None,
    how: _How | None = None,
) -> tuple[Order, list[Ticket]]:
    check_id, round_no = await repos.open_check(tx, table.id)
    # a check moved here keeps its orders' table: they all show this table now
    ref = TableRef(table.id, table.name)
    courses = [None if how is None else how.course(p) for p in priced]
    body = repos.OrderBody(
        ref,
        [_order_line(p, c) for p, c in zip(priced, courses, strict=True)],
        entered_by,
        all_together=how is not None and how.all_together,
    )
    order_id = await repos.insert_order(
        tx,
        check_id=check_id,
        table_id=table.id,
        round_no=round_no,
        key=key,
        request_hash=digest,
        total_cents=total,
        body=body,
    )
    order = repos.make_order(body, order_id, "received", total, round_no, tx.now, check_id=check_id)
    tx.emit(OrderPlaced(order=order))
    groups: dict[tuple[str, str | None], list[int]] = {}  # one ticket per station and course
    for station, idxs in route(priced).items():
        for i in idxs:
            groups.setdefault((station, courses[i]), []).append(i)
    plans: list[dict[str, Any]] = [{} for _ in groups]
    if how is not None and how.pacer is not None:
        plans = await how.pacer.plan_in_tx(
            tx,
            table.id,
            [(st, c, [(i, priced[i].item.id) for i in idxs]) for (st, c), idxs in groups.items()],
            how.all_together,
            created_ms,
        )
    tickets = []
    for ((station, course), idxs), plan in zip(groups.items(), plans, strict=True):
        ticket = await _save_ticket(
            tx, ref, order_id, round_no, station, course, idxs, priced, plan, created_ms
        )
        tickets.append(ticket)
    if tickets:
        await repos.set_order_tickets(tx, order_id, tickets[0].id, tickets[-1].id)
    fired = [t for t in tickets if t.status == "open"]
    if how is not None and how.pacer is not None and how.pacer.records_quotes and fired:
        await repos.insert_quote(
            tx,
            order_id=order_id,
            table_id=table.id,
            quoted_ms=created_ms,
            ready_by_ms=max(t.due_ms for t in fired),
            tickets=[t.id for t in fired],
        )
    return order, tickets


async def _save_ticket(
    tx: Tx,
    ref: TableRef,
    order_id: int,
    round_no: int,
    station: str,
    course: str | None,
    idxs: list[int],
    priced: list[PricedLine],
    plan: dict[str, Any],
    created_ms: int,
) -> Ticket:
    held = bool(plan.get("held"))
    paced = plan.get("paced")
    prep: dict[int, int] = plan.get("prep", {})
    starts: Mapping[int, int] = {} if paced is None else paced.line_start_ms
    tbody = repos.TicketBody(
        ref,
        order_id,
        [_ticket_line(i, priced[i], course, prep.get(i, 0), starts.get(i, 0)) for i in idxs],
        round_no,
        course=course,
        fired_ms=0 if held else created_ms,
        start_at_ms=0 if paced is None else paced.start_at_ms,
        due_ms=0 if paced is None else paced.due_ms,
        expected_s=0 if paced is None else paced.expected_s,
        held_visible=bool(plan.get("held_visible")),
    )
    status = "held" if held else "open"
    items = [TicketItem(i) for i in idxs]
    ticket_id = await repos.insert_ticket(
        tx,
        order_id=order_id,
        station=station,
        items=items,
        body=tbody,
        created_ms=created_ms,
        status=status,
    )
    ticket = repos.make_ticket(
        tbody,
        ticket_id=ticket_id,
        order_id=order_id,
        station=station,
        status=status,
        created_at=tx.now,
        created_ms=created_ms,
        bumped_at=None,
    )
    tx.emit(TicketCreated(ticket=ticket))
    return ticket


class Weighing:
    """Lines sold by weight: staff put the item on a scale and confirm; the stable weight and
    its price are written onto the order line, the ticket and the total in one write."""

    def __init__(self, store: Store, catalog: Catalog) -> None:
        self._store = store
        self._catalog = catalog

    async def record(self, order_id: int, line_idx: int, grams: int, source: str) -> Order:
        async def unit(tx: Tx) -> Order:
            row = await repos.tx_order_row(tx, order_id)
            if row is None:
                raise NotFound(f"no order {order_id}", field="order_id")
            if row["status"] == "served":
                raise Conflict("the order is already served", field="order_id")
            body = repos.order_body(row)
            if not 0 <= line_idx < len(body.lines):
                raise NotFound(f"no line {line_idx} in order {order_id}", field="line")
            line = body.lines[line_idx]
            if isinstance(line.per_grams, UnsetType):
                raise Conflict("this line is not sold by weight", field="line")
            if line.void_qty:
                raise Conflict("this line is voided", field="line")
            deltas = sum(m.price_delta_cents for m in line.modifiers)
            menu_price = line.unit_cents - deltas
            cents = weighed_line_cents(menu_price, line.per_grams, grams, line.qty, deltas)
            weighed = replace(
                line, line_cents=cents, grams=grams, weight_pending=False, weighed_by=source
            )
            lines = [weighed if i == line_idx else ln for i, ln in enumerate(body.lines)]
            total = int(row["total_cents"]) - line.line_cents + cents
            await repos.update_order_body(tx, order_id, replace(body, lines=lines), total)
            order = await repos.tx_order(tx, order_id)
            assert order is not None
            tx.emit(OrderWeighed(order=order))
            for trow in await repos.tx_tickets_of_order(tx, order_id):
                await _weigh_ticket(tx, trow, line_idx, grams)
            return order

        order: Order = await self._store.write(unit)
        log.info("order %d line %d weighed: %d g (%s)", order_id, line_idx, grams, source)
        return order


async def _weigh_ticket(tx: Tx, trow: Any, line_idx: int, grams: int) -> None:
    """Write the weight onto the ticket holding the line, if this one does."""
    tbody = repos.ticket_body(trow)
    if not any(it.idx == line_idx for it in tbody.items):
        return
    items = [replace(it, grams=grams) if it.idx == line_idx else it for it in tbody.items]
    await repos.update_ticket_body(tx, int(trow["id"]), replace(tbody, items=items))
    fresh = await repos.tx_ticket(tx, int(trow["id"]))
    assert fresh is not None
    tx.emit(TicketUpdated(ticket=fresh))
