"""Voids, comps and changes of an order's lines, each in one write with its record, its
events and its chits.

Whether the kitchen made a line is decided inside the write, from the ticket as it is then:
a void that races a bump is one or the other, never half of each. Before the line is bumped
a floor login may void it; after, it is a comp and needs an admin login or the manager PIN.
A change is only for a line not yet bumped. Each correction carries the client's action id:
the same id again returns the first answer and changes nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from msgspec.structs import replace

from hub.domain import corrections as rules
from hub.domain import tokens
from hub.domain.events import (
    Correction,
    LineChange,
    LineFields,
    LineModifier,
    LineVoid,
    Order,
    OrderCorrected,
    OrderLine,
    TicketLine,
    TicketModifier,
    TicketUpdated,
)
from hub.domain.menu import Menu
from hub.domain.orders import LineRequest, price_line
from hub.domain.ports import Clock
from hub.domain.ratelimit import Limit, RateLimiter
from hub.errors import Conflict, Forbidden, InvalidInput, NotFound, SoldOut
from hub.services.catalog import Catalog
from hub.services.printing import Printing
from hub.store import checks as store_checks
from hub.store import repos
from hub.store.db import Store, Tx

log = logging.getLogger("tablehub.corrections")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: the staff login's label (kept in the record) and whether it is an admin."""

    label: str
    admin: bool = False
    token_id: str = ""


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    qty: int | None = None
    modifiers: list[str] | None = None
    note: str | None = None


def business_day(at_iso: str, zone: str | None, starts_at_hour: int) -> str:
    """The business day (YYYY-MM-DD) a moment counts to: local time, the day starting at
    `starts_at_hour` (a night past midnight counts to the day before)."""
    when = datetime.fromisoformat(at_iso.replace("Z", "+00:00"))
    local = when.astimezone(ZoneInfo(zone)) if zone else when.astimezone()
    return (local - timedelta(hours=starts_at_hour)).date().isoformat()


class Corrections:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        clock: Clock,
        printing: Printing,
        *,
        manager_pin_hash: str | None = None,
        void_reasons: tuple[str, ...] = (),
        timezone: str | None = None,
        day_starts_at_hour: int = 4,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._clock = clock
        self._printing = printing
        self._pin_hash = manager_pin_hash
        self.void_reasons = void_reasons
        self._zone = timezone
        self._day_start = day_starts_at_hour
        # wrong manager PINs: 5 tries, then one more per two minutes, per staff login
        self._pin_tries = RateLimiter(Limit(burst=5, per_minute=0.5), clock.monotonic_ms)

    def day_of(self, at_iso: str) -> str:
        return business_day(at_iso, self._zone, self._day_start)

    async def may_comp(self, actor: Actor, pin: str | None) -> bool:
        """An admin may comp; so may anyone with the manager PIN. A wrong PIN is refused at
        once (and counted: five, then one try per two minutes per login)."""
        if actor.admin:
            return True
        if pin is None:
            return False
        who = actor.token_id or actor.label
        self._pin_tries.check(who, "wrong manager PINs", field="pin")
        if self._pin_hash is None:
            raise Forbidden("no manager PIN is set up; an admin login can comp", field="pin")
        ok = await asyncio.to_thread(tokens.verify_manager_pin, pin, self._pin_hash)
        if not ok:
            self._pin_tries.take(who, "wrong manager PINs", field="pin")
            raise Forbidden("the manager PIN is not right", field="pin")
        return True

    # ------------------------------------------------------------ void

    async def void(
        self,
        order_id: int,
        idx: int,
        *,
        qty: int | None,
        reason: str,
        action_id: str,
        actor: Actor,
        pin: str | None = None,
    ) -> Any:
        """Void `qty` units of a line (None: all left), or comp them when the kitchen has
        made them. Returns the order (or, repeated, the first answer)."""
        action_id = rules.check_action_id(action_id)
        reason = rules.check_reason(reason)
        may_comp = await self.may_comp(actor, pin)
        op = f"void:{order_id}:{idx}"

        async def unit(tx: Tx) -> Any:
            done, first = await store_checks.done_action(tx, action_id, op)
            if done:
                return first
            order, trow, taken = await self._void_in_tx(
                tx, order_id, idx, qty, reason, actor, may_comp, action_id
            )
            if trow is not None:
                ticket = await repos.tx_ticket(tx, int(trow["id"]))
                assert ticket is not None
                await self._printing.correction_chits_in_tx(
                    tx, ticket, action_id, voids=[(idx, taken, reason)]
                )
            result = msgspec.to_builtins(order)
            await store_checks.save_action(tx, action_id, op, result)
            return order

        result = await self._store.write(unit)
        log.info("order %d line %d: voided by %s (%s)", order_id, idx, actor.label, reason)
        return result

    async def void_order(
        self, order_id: int, *, reason: str, action_id: str, actor: Actor, pin: str | None = None
    ) -> Any:
        """Void every line of an order that is still charged, in one write (lines the
        kitchen made are comps: admin or manager PIN); one VOID chit per ticket."""
        action_id = rules.check_action_id(action_id)
        reason = rules.check_reason(reason)
        may_comp = await self.may_comp(actor, pin)
        op = f"void:{order_id}"

        async def unit(tx: Tx) -> Any:
            done, first = await store_checks.done_action(tx, action_id, op)
            if done:
                return first
            row = await repos.tx_order_row(tx, order_id)
            if row is None:
                raise NotFound(f"no order {order_id}", field="order_id")
            left = [i for i, ln in enumerate(repos.order_body(row).lines) if rules.remaining(ln)]
            if not left:
                raise Conflict("every line of this order is voided already", field="order_id")
            by_ticket: dict[int, list[tuple[int, int, str]]] = {}
            order = None
            for idx in left:
                order, trow, taken = await self._void_in_tx(
                    tx, order_id, idx, None, reason, actor, may_comp, f"{action_id}.{idx}"
                )
                if trow is not None:
                    by_ticket.setdefault(int(trow["id"]), []).append((idx, taken, reason))
            for ticket_id, voids in by_ticket.items():
                ticket = await repos.tx_ticket(tx, ticket_id)
                assert ticket is not None
                await self._printing.correction_chits_in_tx(tx, ticket, action_id, voids=voids)
            result = msgspec.to_builtins(order)
            await store_checks.save_action(tx, action_id, op, result)
            return order

        result = await self._store.write(unit)
        log.info("order %d: voided by %s (%s)", order_id, actor.label, reason)
        return result

    async def _void_in_tx(
        self,
        tx: Tx,
        order_id: int,
        idx: int,
        qty: int | None,
        reason: str,
        actor: Actor,
        may_comp: bool,
        record_id: str,
    ) -> tuple[Order, Any, int]:
        """Void units of one line inside a write: the order, the ticket line, the record and
        the event; returns the order, the ticket's row (before) and the units taken off."""
        row, body, line, trow = await _line_in_tx(tx, order_id, idx)
        made = _made(row, trow, idx)
        if made and not may_comp:
            raise Forbidden(
                "the kitchen has made this line: voiding it is a comp, which needs an "
                "admin login or the manager PIN",
                field="pin",
            )
        voided = rules.void_line(line, qty, LineVoid(0, reason, made, actor.label, tx.now))
        taken = voided.void_qty - line.void_qty
        order = await _save_line(tx, row, body, idx, voided)
        correction = Correction(
            id=record_id,
            kind="comp" if made else "void",
            by=actor.label,
            at=tx.now,
            table=order.table.id,
            order_id=order_id,
            line=idx,
            qty=taken,
            cents=line.line_cents - voided.line_cents,
            reason=reason,
            comp=made,
            before={"qty": line.qty, "void_qty": line.void_qty, "cents": line.line_cents},
            after={"qty": voided.qty, "void_qty": voided.void_qty, "cents": voided.line_cents},
        )
        await self._record(tx, order, correction)
        if trow is not None:
            await _save_ticket_line(
                tx, trow, idx, lambda t: replace(t, void_qty=voided.void_qty, void_reason=reason)
            )
        return order, trow, taken

    # ------------------------------------------------------------ change

    async def change(
        self, order_id: int, idx: int, want: ChangeRequest, *, action_id: str, actor: Actor
    ) -> Any:
        """Change a line's quantity, modifiers or note before the kitchen bumps it."""
        action_id = rules.check_action_id(action_id)
        if want.qty is None and want.modifiers is None and want.note is None:
            raise InvalidInput("give the qty, modifiers or note to change", field="qty")
        note = None if want.note is None else rules.check_note(want.note)
        menu = self._catalog.menu
        if menu is None:
            raise NotFound("no menu loaded")
        op = f"change:{order_id}:{idx}"

        async def unit(tx: Tx) -> Any:
            done, first = await store_checks.done_action(tx, action_id, op)
            if done:
                return first
            row, body, line, trow = await _line_in_tx(tx, order_id, idx)
            if rules.remaining(line) <= 0:
                raise Conflict("this line is voided", field="line")
            if _made(row, trow, idx):
                raise Conflict(
                    "the kitchen has made this line: a change now is a void and a new line",
                    field="line",
                )
            if rules.weighed(line) and isinstance(line.grams, int):
                raise Conflict("this line is weighed already: void it instead", field="line")
            before = rules.fields_of(line)
            after = LineFields(
                qty=before.qty if want.qty is None else want.qty,
                modifiers=before.modifiers if want.modifiers is None else list(want.modifiers),
                note=before.note if want.note is None else note,
            )
            fields = rules.changed_fields(before, after)
            if not fields:
                raise InvalidInput("this changes nothing on the line", field="qty")
            if after.qty <= line.void_qty:
                raise InvalidInput(
                    f"quantity must be more than the {line.void_qty} voided", field="qty"
                )
            changed = _reprice(menu, line, after)
            stamp = LineChange(fields, before, after, actor.label, tx.now)
            changed = replace(changed, changes=[*line.changes, stamp])
            order = await _save_line(tx, row, body, idx, changed)
            correction = Correction(
                id=action_id,
                kind="change",
                by=actor.label,
                at=tx.now,
                table=order.table.id,
                order_id=order_id,
                line=idx,
                cents=line.line_cents - changed.line_cents,
                before=msgspec.to_builtins(before),
                after=msgspec.to_builtins(after),
            )
            await self._record(tx, order, correction)
            if trow is not None:
                ticket = await _save_ticket_line(
                    tx, trow, idx, lambda t: _changed_ticket_line(t, changed, fields)
                )
                await self._printing.correction_chits_in_tx(
                    tx, ticket, action_id, change=(idx, stamp)
                )
            result = msgspec.to_builtins(order)
            await store_checks.save_action(tx, action_id, op, result)
            return order

        result = await self._store.write(unit)
        log.info("order %d line %d: changed by %s", order_id, idx, actor.label)
        return result

    async def _record(self, tx: Tx, order: Order, correction: Correction) -> None:
        await store_checks.insert_correction(tx, correction, self.day_of(correction.at))
        tx.emit(OrderCorrected(order=order, correction=correction))

    # ------------------------------------------------------------ the report

    async def report(self, day: str) -> dict[str, Any]:
        """Voids and comps of a business day, by reason and by staff login, and every
        correction of the day as recorded."""
        rows = await store_checks.read_corrections(self._store, day)
        totals: dict[str, dict[str, int]] = {}
        by_reason: dict[tuple[str, str], dict[str, Any]] = {}
        by_staff: dict[tuple[str, str], dict[str, Any]] = {}
        records = []
        for r in rows:
            records.append(
                {
                    "id": r["id"],
                    "kind": r["kind"],
                    "order_id": r["order_id"],
                    "line": r["line"],
                    "table": r["table_id"],
                    "qty": r["qty"],
                    "cents": r["cents"],
                    "reason": r["reason"],
                    "comp": bool(r["comp"]),
                    "by": r["by"],
                    "at": r["at"],
                    "before": repos.loads(r["before"]),
                    "after": repos.loads(r["after"]),
                }
            )
            if r["kind"] not in ("void", "comp"):
                continue
            kind = str(r["kind"])
            for bucket in (
                totals.setdefault(kind, {"count": 0, "qty": 0, "cents": 0}),
                by_reason.setdefault(
                    (kind, r["reason"]),
                    {"kind": kind, "reason": r["reason"], "count": 0, "qty": 0, "cents": 0},
                ),
                by_staff.setdefault(
                    (kind, r["by"]), {"kind": kind, "by": r["by"], "count": 0, "qty": 0, "cents": 0}
                ),
            ):
                bucket["count"] += 1
                bucket["qty"] += int(r["qty"])
                bucket["cents"] += int(r["cents"])
        empty = {"count": 0, "qty": 0, "cents": 0}
        return {
            "day": day,
            "voids": totals.get("void", dict(empty)),
            "comps": totals.get("comp", dict(empty)),
            "by_reason": sorted(by_reason.values(), key=lambda b: (b["kind"], -b["cents"])),
            "by_staff": sorted(by_staff.values(), key=lambda b: (b["kind"], -b["cents"])),
            "corrections": records,
        }


# ---------------------------------------------------------------- inside the write


async def _line_in_tx(
    tx: Tx, order_id: int, idx: int
) -> tuple[Any, repos.OrderBody, OrderLine, Any]:
    """The order's row and body, its line `idx`, and the row of the ticket holding it."""
    row = await repos.tx_order_row(tx, order_id)
    if row is None:
        raise NotFound(f"no order {order_id}", field="order_id")
    check = await store_checks.tx_check_of_order(tx, order_id)
    if check is not None and check["closed_at"] is not None:
        raise Conflict("this order's check is closed", field="order_id")
    body = repos.order_body(row)
    if not 0 <= idx < len(body.lines):
        raise NotFound(f"no line {idx} in order {order_id}", field="line")
    for trow in await repos.tx_tickets_of_order(tx, order_id):
        if any(it.idx == idx for it in repos.ticket_body(trow).items):
            return row, body, body.lines[idx], trow
    return row, body, body.lines[idx], None


def _made(order_row: Any, trow: Any, idx: int) -> bool:
    """Whether the kitchen has made the line: its item or its whole ticket is bumped, or the
    order is served."""
    if order_row["status"] == "served":
        return True
    if trow is None:
        return False
    state = repos.ticket_state(trow)
    return state.status == "bumped" or any(i.idx == idx and i.bumped for i in state.items)


async def _save_line(tx: Tx, row: Any, body: repos.OrderBody, idx: int, line: OrderLine) -> Order:
    lines = [line if i == idx else ln for i, ln in enumerate(body.lines)]
    total = sum(ln.line_cents for ln in lines)
    await repos.update_order_body(tx, int(row["id"]), replace(body, lines=lines), total)
    order = await repos.tx_order(tx, int(row["id"]))
    assert order is not None
    return order


async def _save_ticket_line(
    tx: Tx, trow: Any, idx: int, edit: Callable[[TicketLine], TicketLine]
) -> Any:
    tbody = repos.ticket_body(trow)
    items = [edit(it) if it.idx == idx else it for it in tbody.items]
    await repos.update_ticket_body(tx, int(trow["id"]), replace(tbody, items=items))
    ticket = await repos.tx_ticket(tx, int(trow["id"]))
    assert ticket is not None
    tx.emit(TicketUpdated(ticket=ticket))
    return ticket


def _reprice(menu: Menu, line: OrderLine, after: LineFields) -> OrderLine:
    """The line with the new fields, priced by the menu (an item sold out since may still
    be changed as long as no more of it is asked for)."""
    request = LineRequest(line.item, after.qty, tuple(after.modifiers), after.note or "")
    try:
        priced = price_line(menu, request)
    except SoldOut:
        if after.qty > line.qty:
            raise
        priced = price_line(menu.with_availability(line.item, True), request)
    mods = [LineModifier(o.id, dict(o.name), o.price_delta_cents) for o in priced.options]
    charged = after.qty - line.void_qty
    if rules.weighed(line):
        cents = charged * sum(o.price_delta_cents for o in priced.options)
    else:
        cents = priced.unit_cents * charged
    return replace(
        line,
        qty=after.qty,
        unit_cents=priced.unit_cents,
        modifiers=mods,
        note=priced.note or None,
        line_cents=cents,
    )


def _changed_ticket_line(t: TicketLine, line: OrderLine, fields: list[str]) -> TicketLine:
    return replace(
        t,
        qty=line.qty,
        modifiers=[TicketModifier(m.id, dict(m.name)) for m in line.modifiers],
        note=line.note,
        changed=sorted(set(t.changed) | set(fields)),
    )
