"""The kitchen's actions: bump an item or a ticket, recall, serve; and the station views.

Every action may carry the client's action id; an action id seen before returns the first
result and changes nothing (bump bars and flaky Wi-Fi repeat themselves)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from typing import TYPE_CHECKING, Any

from msgspec.structs import replace

from hub.domain import tickets as tk
from hub.domain.events import Order, OrderStatusChanged, Ticket, TicketStarted, TicketUpdated
from hub.domain.orders import order_status
from hub.errors import Conflict, Forbidden, NotFound
from hub.services.actions import Result, check_action_id, once, once_on
from hub.services.catalog import Catalog
from hub.store import repos
from hub.store.db import Store, Tx
from plumbing.clock import Clock, SystemClock, iso_from_ms

if TYPE_CHECKING:
    from hub.services.pacing import Pacer

log = logging.getLogger("tablehub.kitchen")

SERVE_AT_ONCE = 200  # orders served by time in one commit
READY_WATCHED = 5000  # ready orders a sweep looks at (the oldest first)
# the orders ready now, oldest first, through orders_open (those not served yet)
READY_SQL = (
    "SELECT id, updated_at FROM orders WHERE served_ms IS NULL AND status = 'ready' "
    "ORDER BY id LIMIT ?"
)


async def _ticket_row(tx: Tx, ticket_id: int, station: str | None) -> sqlite3.Row:
    """The ticket's row, or NotFound; with `station`, only a ticket of that station."""
    row = await repos.tx_ticket_row(tx, ticket_id)
    if row is None:
        raise NotFound(f"no ticket {ticket_id}", field="ticket")
    _check_station(row, station)
    return row


def _check_station(row: sqlite3.Row, station: str | None) -> None:
    """A bump bar acts only on its own station's tickets: ticket ids are easy to guess, and
    the broker's ACL only keeps each bar on its own topic. `station` None or "expo": any."""
    if station is not None and station != "expo" and row["station"] != station:
        raise Forbidden(
            f"a ticket of station '{row['station']}', not of '{station}'", field="ticket"
        )


async def _refresh_order(tx: Tx, order_id: int) -> None:
    """Recompute an order's status from its tickets; emit when it changed."""
    order = await repos.tx_order(tx, order_id)
    if order is None:
        return
    rows = await repos.tx_tickets_of_order(tx, order_id)
    states = [repos.ticket_state(r) for r in rows]
    progressed = any(s.progressed for s in states) or any(
        repos.ticket_body(r).started_ms for r in rows if r["status"] == "open"
    )
    status = order_status([s.status for s in states], progressed, order.status == "served")
    if status != order.status:
        await repos.set_order_status(tx, order_id, status)
        tx.emit(OrderStatusChanged(order=replace(order, status=status)))


class Kitchen:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        pacer: Pacer | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self.pacer = pacer
        self._clock: Clock = clock or SystemClock()
        self._ready_seen: dict[int, int] = {}  # order id: monotonic ms first seen ready

    async def bump(
        self,
        ticket_id: int,
        item_idx: int | None = None,
        action_id: str | None = None,
        *,
        station: str | None = None,
    ) -> Result:
        """Bump a ticket (or one item); with `station`, only a ticket of that station."""
        action_id = check_action_id(action_id)

        async def unit(tx: Tx) -> Result:
            async def body() -> Result:
                row = await _ticket_row(tx, ticket_id, station)
                state = tk.bump(repos.ticket_state(row), item_idx, tx.now)
                ticket = await self._save(tx, ticket_id, state)
                if self.pacer is not None and ticket.status == "bumped":
                    await self.pacer.after_bump_in_tx(tx, ticket)
                return ticket

            if station is None:  # a screen's tap names its ticket
                return await once_on(tx, action_id, "bump", "tickets", ticket_id, body)
            return await once(tx, action_id, "bump", body)

        return await self._store.write(unit)

    async def start(
        self,
        ticket_id: int,
        action_id: str | None = None,
        *,
        station: str | None = None,
        by: str = "kds",
    ) -> Result:
        """A cook starts a ticket (once: a ticket started already is answered as it is); with
        `station`, only a ticket of that station. Its course's tickets not yet started are
        timed again to land with it."""
        action_id = check_action_id(action_id)

        async def unit(tx: Tx) -> Result:
            async def body() -> Result:
                row = await _ticket_row(tx, ticket_id, station)
                tk.check_start(repos.ticket_state(row))
                got = repos.ticket_body(row)
                if got.started_ms:
                    ticket = await repos.tx_ticket(tx, ticket_id)
                    assert ticket is not None
                    return ticket
                await repos.update_ticket_body(
                    tx, ticket_id, replace(got, started_ms=self._now_ms())
                )
                ticket = await repos.tx_ticket(tx, ticket_id)
                assert ticket is not None
                tx.emit(TicketStarted(ticket=ticket, by=by))
                await _refresh_order(tx, ticket.order_id)
                if self.pacer is not None:
                    await self.pacer.after_start_in_tx(tx, ticket)
                return ticket

            if station is None:
                return await once_on(tx, action_id, "start", "tickets", ticket_id, body)
            return await once(tx, action_id, "start", body)

        return await self._store.write(unit)

    async def recall(
        self,
        ticket_id: int | None = None,
        *,
        station: str | None = None,
        action_id: str | None = None,
    ) -> Result:
        """Recall a ticket, or (no id) the station's most recently bumped one; with both, only
        a ticket of that station."""
        action_id = check_action_id(action_id)
        if ticket_id is None and station is not None and station != "expo":
            self._catalog.station(station)  # raises NotFound for an unknown station

        async def unit(tx: Tx) -> Result:
            async def body() -> Result:
                tid = ticket_id
                if tid is None:
                    tid = await repos.last_bumped(tx, None if station == "expo" else station)
                    if tid is None:
                        raise Conflict("nothing to recall", field="station")
                row = await repos.tx_ticket_row(tx, tid)
                if row is None:
                    raise NotFound(f"no ticket {tid}", field="ticket")
                _check_station(row, station)
                state = tk.recall(repos.ticket_state(row))
                got = repos.ticket_body(row)
                if got.started_ms:  # made again: not started until a cook says so
                    await repos.update_ticket_body(tx, tid, replace(got, started_ms=0))
                return await self._save(tx, tid, state)

            if station is None and ticket_id is not None:
                return await once_on(tx, action_id, "recall", "tickets", ticket_id, body)
            return await once(tx, action_id, "recall", body)

        return await self._store.write(unit)

    async def serve(self, order_id: int, action_id: str | None = None) -> Result:
        action_id = check_action_id(action_id)

        async def unit(tx: Tx) -> Result:
            async def body() -> Result:
                order = await repos.tx_order(tx, order_id)
                if order is None:
                    raise NotFound(f"no order {order_id}", field="order")
                return await self._serve_in_tx(tx, order)

            return await once_on(tx, action_id, "serve", "orders", order_id, body)

        return await self._store.write(unit)

    async def _serve_in_tx(self, tx: Tx, order: Order) -> Order:
        """Serve `order` in `tx`: its open tickets bumped, its fired courses served."""
        order_id = order.order_id
        if order.status == "served":
            return order
        rows = await repos.tx_tickets_of_order(tx, order_id)
        for row in rows:
            state = repos.ticket_state(row)
            if state.status == "open":
                await self._save(tx, int(row["id"]), tk.bump(state, None, tx.now), refresh=False)
        served = await _mark_served(tx, order_id, rows, self._now_ms())
        if served.status != "served":
            await _refresh_order(tx, order_id)  # later courses are still held
        if self.pacer is not None:
            await self.pacer.after_serve_in_tx(tx, order)
        fresh = await repos.tx_order(tx, order_id)
        assert fresh is not None
        return fresh

    async def serve_ready(self, after_s: int) -> list[int]:
        """Serve the orders that have been ready (every ticket bumped, no course held) and
        untouched for `after_s`: the pass was cleared long ago and nobody tapped serve. They
        leave the expo and the floor as if served by hand, up to `SERVE_AT_ONCE` in one
        commit. Returns their ids.

        Ready that long by the wall clock and, since this run of the hub first saw it ready,
        by the monotonic clock too: a wall clock set forward (a Pi without a battery clock
        meeting NTP) serves nothing early; after a restart they wait `after_s` again."""
        clock = self._clock
        since = iso_from_ms(clock.now_ms() - after_s * 1000)
        rows = await self._store.read_all(
            READY_SQL,
            (READY_WATCHED,),
        )
        mono = clock.monotonic_ms()
        seen = {int(r[0]): self._ready_seen.get(int(r[0]), mono) for r in rows}
        self._ready_seen = seen  # served, recalled or changed: no longer watched
        due = [
            int(r[0]) for r in rows if r[1] < since and mono - seen[int(r[0])] >= after_s * 1000
        ][:SERVE_AT_ONCE]
        if not due:
            return []

        async def unit(tx: Tx) -> list[int]:
            done = []
            for order_id in due:
                now = await tx.one("SELECT status, updated_at FROM orders WHERE id=?", (order_id,))
                # as it is now: a recall or a change since the read keeps it on the pass
                if now is None or now["status"] != "ready" or now["updated_at"] >= since:
                    continue
                order = await repos.tx_order(tx, order_id)
                assert order is not None
                if (await self._serve_in_tx(tx, order)).status == "served":
                    done.append(order_id)
            return done

        served: list[int] = await self._store.write(unit)
        for order_id in served:
            self._ready_seen.pop(order_id, None)
        if served:
            log.info(
                "served %d order(s) ready for over %d min without a serve: %s",
                len(served),
                after_s // 60,
                ", ".join(map(str, served[:20])) + (" ..." if len(served) > 20 else ""),
            )
        return served

    async def run_serving_ready(self, after_s: int, every_s: float = 60.0) -> None:
        """For the hub's life: serve orders left ready past `after_s` (a failed round is
        logged and tried again)."""
        while True:
            await asyncio.sleep(every_s)
            try:
                for _ in range(READY_WATCHED // SERVE_AT_ONCE):  # a backlog: the rest now
                    if len(await self.serve_ready(after_s)) < SERVE_AT_ONCE:
                        break
            except Exception:
                log.exception("serving ready orders failed; trying again in %.0f s", every_s)

    async def _save(
        self, tx: Tx, ticket_id: int, state: tk.TicketState, *, refresh: bool = True
    ) -> Ticket:
        await repos.save_ticket_state(tx, ticket_id, state)
        ticket = await repos.tx_ticket(tx, ticket_id)
        assert ticket is not None
        tx.emit(TicketUpdated(ticket=ticket))
        if refresh:
            await _refresh_order(tx, ticket.order_id)
        return ticket

    def _now_ms(self) -> int:
        return int(time.time() * 1000) if self.pacer is None else self.pacer.now_ms()

    # ------------------------------------------------------------ views

    async def station_view(self, station: str) -> dict[str, Any]:
        """Open tickets (oldest first), the last bumped, and all-day counts of a station."""
        self._catalog.station(station)
        key = None if station == "expo" else station
        open_tickets = await repos.read_open_tickets(self._store, key)
        recent = await repos.read_recent_bumped(self._store, key)
        view: dict[str, Any] = {
            "station": station,
            "tickets": open_tickets,
            "recent": recent,
            "all_day": all_day(open_tickets),
        }
        if self.pacer is not None:
            view["held"] = self.held_view(station)
        return view

    async def next_to_start(self, station: str) -> int | None:
        """The ticket a bump bar's "start" means: the first on the station's screen (in the
        order it shows them) not started yet."""
        tickets = await repos.read_open_tickets(self._store, station)
        waiting = [t for t in tickets if not t.started_ms]
        return min(waiting, key=screen_order).id if waiting else None

    def held_view(self, station: str) -> list[Ticket]:
        """The held tickets a screen shows: the expo every held course; a station its own,
        only when it shows them greyed (a station setting). Screens' snapshots use it too, so
        a reconnect keeps them."""
        if self.pacer is None:
            return []
        key = None if station == "expo" else station
        return [
            t
            for t in self.pacer.held_tickets()
            if key is None or (t.station == key and t.held_visible)
        ]


async def _mark_served(tx: Tx, order_id: int, rows: list[sqlite3.Row], now_ms: int) -> Order:
    """The expo served what the kitchen made of an order: each fired course is recorded
    served; the order is served once none of its courses is still held."""
    row = await repos.tx_order_row(tx, order_id)
    assert row is not None
    body = repos.order_body(row)
    held = {repos.ticket_body(r).course or "" for r in rows if r["status"] == "held"}
    fired = {repos.ticket_body(r).course or "" for r in rows if r["status"] != "held"}
    served = dict(body.served)
    for c in fired - held:
        served.setdefault(c, now_ms)
    if served != body.served:
        await repos.update_order_body(
            tx, order_id, replace(body, served=served), int(row["total_cents"])
        )
    order = await repos.tx_order(tx, order_id)
    assert order is not None
    if held:
        return order
    await repos.set_order_status(tx, order_id, "served")
    done = replace(order, status="served")
    tx.emit(OrderStatusChanged(order=done))
    return done


def screen_order(t: Ticket) -> tuple[int, int]:
    """Where a station's screen shows an open ticket: by when it may start (fired, and its
    paced start reached), so a paced ticket whose time has come goes before those fired
    after it; then by id."""
    return (max(t.fired_ms or t.created_ms, t.start_at_ms), t.id)


def all_day(open_tickets: list[Ticket]) -> list[dict[str, Any]]:
    """How many of each item are still to make across open tickets (voided units left out),
    most first."""
    counts: dict[str, dict[str, Any]] = {}
    for t in open_tickets:
        for it in t.items:
            if it.bumped or it.qty <= it.void_qty:
                continue  # made, or voided: nothing more to make of it
            c = counts.setdefault(it.item, {"item": it.item, "name": it.name, "qty": 0})
            c["qty"] += it.qty - it.void_qty
    return sorted(counts.values(), key=lambda c: (-c["qty"], c["item"]))
