"""A table's check on the floor: see it, move the party to a free table, merge one table's
check into another's, split it (by items, by seat, evenly), record payments against it or
its parts (recorded only) and print each part's bill. A check paid in full closes: its table
is free and its QR code starts a new check.

Each action carries the client's action id and is decided inside one write: the same id
again changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from hub.domain import checks as money
from hub.domain.corrections import MAX_PARTS, check_action_id, remaining
from hub.domain.events import (
    ChecksMerged,
    CheckSplit,
    Correction,
    Order,
    OrderCorrected,
    PaymentRecorded,
    TableClosed,
    TableMoved,
    TableOpened,
    TableRef,
    TableState,
    TicketUpdated,
)
from hub.domain.ports import Clock
from hub.errors import Conflict, InvalidInput, NotFound
from hub.services.bills import print_part_bills
from hub.services.catalog import Catalog, Table
from hub.services.corrections import Actor, Corrections
from hub.services.printing import Printing
from hub.store import checks as store_checks
from hub.store import repos
from hub.store.db import Store, Tx

log = logging.getLogger("tablehub.checks")


METHODS = ("cash", "card", "other")


class Checks:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        clock: Clock,
        printing: Printing,
        corrections: Corrections,
        *,
        taxes: Sequence[tuple[str, int]] = (),
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._clock = clock
        self._printing = printing
        self._corrections = corrections
        self._taxes = tuple(taxes)

    def _table(self, table_id: str, field: str = "table") -> Table:
        table = self._catalog.tables.get(table_id)
        if table is None:
            raise NotFound(f"no table '{table_id[:40]}'", field=field)
        return table

    # ------------------------------------------------------------ views

    async def view(self, table_id: str) -> dict[str, Any]:
        """The table's open check: orders, money, parts and payments."""
        table = self._table(table_id)
        check_id = await store_checks.read_open_check_id(self._store, table.id)
        if check_id is None:
            return self._view(table, None, [], None, [])
        return await self.view_of(check_id, table)

    async def view_of(self, check_id: int, table: Table) -> dict[str, Any]:
        rows = await store_checks.read_order_rows_of_check(self._store, check_id)
        orders = [repos.order_from_row(r) for r in rows]
        split = await store_checks.read_split(self._store, check_id)
        payments = await store_checks.read_payments(self._store, check_id)
        return self._view(table, check_id, orders, split, payments)

    def _view(
        self,
        table: Table,
        check_id: int | None,
        orders: list[Order],
        split: Any,
        payments: list[dict[str, Any]],
    ) -> dict[str, Any]:
        m = money.money(orders, self._taxes)
        paid = sum(int(p["amount_cents"]) for p in payments)
        by_part: dict[int, int] = {}
        for p in payments:
            if p["part"] is not None:
                by_part[int(p["part"])] = by_part.get(int(p["part"]), 0) + int(p["amount_cents"])
        parts = money.part_views(money.parts(orders, split, m), by_part)
        return {
            "table": table.as_dict(),
            "currency": self._currency(),
            "check_id": check_id,
            "orders": orders,
            "subtotal_cents": m.subtotal_cents,
            "tax_cents": m.tax_cents,
            "total_cents": m.total_cents,
            "paid_cents": paid,
            "tip_cents": sum(int(p["tip_cents"]) for p in payments),
            "due_cents": max(0, m.total_cents - paid),
            "split": None if not split else split.get("mode"),
            "parts": parts,
            "payments": payments,
        }

    async def floor_tables(self) -> dict[str, Any]:
        """Every table with its open check's money, for the floor's table picker."""
        open_checks = await store_checks.read_open_checks(self._store)
        paid = await store_checks.read_paid_by_check(self._store)
        out = []
        for t in self._catalog.tables.values():
            found = open_checks.get(t.id)
            if found is None:
                out.append(
                    {"id": t.id, "name": t.name, "open": t.is_open, "check_id": None,
                     "total_cents": 0, "due_cents": 0, "orders": 0}
                )  # fmt: skip
                continue
            check_id, n, subtotal = found
            total = money.Money(
                subtotal,
                [(name, (subtotal * ppm + 500_000) // 1_000_000) for name, ppm in self._taxes],
            ).total_cents
            out.append(
                {"id": t.id, "name": t.name, "open": True, "check_id": check_id,
                 "total_cents": total, "due_cents": max(0, total - paid.get(check_id, 0)),
                 "orders": n}
            )  # fmt: skip
        return {
            "tables": out,
            "currency": self._currency(),
            "void_reasons": list(self._corrections.void_reasons),
        }

    def _currency(self) -> str:
        """The menu's currency, so a floor phone shows money as the diners see it."""
        menu = self._catalog.menu
        return menu.store.currency if menu is not None else "USD"

    # ------------------------------------------------------------ move and merge

    async def move(self, table_id: str, to: str, action_id: str, actor: Actor) -> dict[str, Any]:
        """Move the party (its open check) to a free table."""
        action_id = check_action_id(action_id)
        source = self._table(table_id)
        dest = self._table(to, "to")
        if dest.id == source.id:
            raise InvalidInput("move to another table", field="to")

        async def unit(tx: Tx) -> int:
            done, first = await store_checks.done_action(tx, action_id, f"move:{source.id}")
            if done:
                return int(first)
            check_id = await store_checks.tx_open_check(tx, source.id)
            if check_id is None:
                raise Conflict(f"{source.name} has no open check", field="table")
            if await store_checks.tx_open_check(tx, dest.id) is not None:
                raise Conflict(f"{dest.name} has an open check: merge instead", field="to")
            await store_checks.move_check(tx, check_id, dest.id)
            correction = self._correction(tx, action_id, "move", actor, source, dest)
            # first the move (the phones at the old table drop the check), then the orders
            # and tickets under their new table
            tx.emit(
                TableMoved(
                    check_id=check_id,
                    table=TableRef(dest.id, dest.name),
                    from_table=TableRef(source.id, source.name),
                    by=actor.label,
                    correction=correction,
                )
            )
            order_ids = [
                int(r["id"]) for r in await store_checks.tx_order_rows_of_check(tx, check_id)
            ]
            await _retable(tx, order_ids, TableRef(dest.id, dest.name))
            await self._hand_over(tx, source, dest)
            await store_checks.insert_correction(tx, correction, self._corrections.day_of(tx.now))
            await store_checks.save_action(tx, action_id, f"move:{source.id}", check_id)
            return check_id

        check_id = await self._store.write(unit)
        self._after_hand_over(source, dest)
        log.info("check %d moved from %s to %s by %s", check_id, source.id, dest.id, actor.label)
        return await self.view_of(check_id, dest)

    async def merge(
        self, table_id: str, from_id: str, action_id: str, actor: Actor
    ) -> dict[str, Any]:
        """Merge `from_id`'s open check into this table's."""
        action_id = check_action_id(action_id)
        into = self._table(table_id)
        source = self._table(from_id, "from")
        if source.id == into.id:
            raise InvalidInput("merge another table's check", field="from")
        op = f"merge:{into.id}"

        async def unit(tx: Tx) -> int:
            done, first = await store_checks.done_action(tx, action_id, op)
            if done:
                return int(first)
            into_check = await store_checks.tx_open_check(tx, into.id)
            if into_check is None:
                raise Conflict(f"{into.name} has no open check: move instead", field="table")
            from_check = await store_checks.tx_open_check(tx, source.id)
            if from_check is None:
                raise Conflict(f"{source.name} has no open check", field="from")
            if await store_checks.tx_payments(tx, from_check):
                raise Conflict(f"payments are recorded on {source.name}'s check", field="from")
            rows = await store_checks.tx_order_rows_of_check(tx, from_check)
            await store_checks.move_orders(tx, from_check, into_check)
            await store_checks.close_check_id(tx, from_check)
            await store_checks.delete_split(tx, from_check)
            correction = self._correction(tx, action_id, "merge", actor, source, into)
            tx.emit(
                ChecksMerged(
                    check_id=into_check,
                    table=TableRef(into.id, into.name),
                    from_table=TableRef(source.id, source.name),
                    from_check=from_check,
                    by=actor.label,
                    correction=correction,
                )
            )
            await _retable(tx, [int(r["id"]) for r in rows], TableRef(into.id, into.name))
            if source.is_open:
                await repos.set_table_open(tx, source.id, None, False)
                tx.emit(TableClosed(table=TableState(source.id, False)))
            await store_checks.insert_correction(tx, correction, self._corrections.day_of(tx.now))
            await store_checks.save_action(tx, action_id, op, into_check)
            return into_check

        check_id = await self._store.write(unit)
        self._catalog.mark_open(source.id, False, None)
        log.info("check of %s merged into %s by %s", source.id, into.id, actor.label)
        return await self.view_of(check_id, into)

    def _correction(
        self, tx: Tx, action_id: str, kind: str, actor: Actor, source: Table, dest: Table
    ) -> Correction:
        return Correction(
            id=action_id,
            kind=kind,
            by=actor.label,
            at=tx.now,
            table=dest.id,
            before={"table": source.id},
            after={"table": dest.id},
        )

    async def _hand_over(self, tx: Tx, source: Table, dest: Table) -> None:
        """The party's open table (and its PIN) goes with it; the table it left is free."""
        if not source.is_open:
            return
        await repos.set_table_open(tx, dest.id, source.pin, True)
        await repos.set_table_open(tx, source.id, None, False)
        tx.emit(TableOpened(table=TableState(dest.id, True)))
        tx.emit(TableClosed(table=TableState(source.id, False)))

    def _after_hand_over(self, source: Table, dest: Table) -> None:
        if source.is_open:
            self._catalog.mark_open(dest.id, True, source.pin)
            self._catalog.mark_open(source.id, False, None)

    # ------------------------------------------------------------ split

    async def split(
        self,
        table_id: str,
        mode: str,
        action_id: str,
        actor: Actor,
        *,
        parts: list[list[dict[str, Any]]] | None = None,
        n: int | None = None,
    ) -> dict[str, Any]:
        """Split the open check by items (`parts`), by seat, or evenly into `n` parts."""
        action_id = check_action_id(action_id)
        table = self._table(table_id)
        if mode == "even" and (n is None or not 2 <= n <= MAX_PARTS):
            raise InvalidInput(f"split evenly into 2 to {MAX_PARTS} parts", field="n")
        if mode == "items" and not parts:
            raise InvalidInput("give the parts: lists of order lines", field="parts")
        op = f"split:{table.id}"

        async def unit(tx: Tx) -> int:
            done, first = await store_checks.done_action(tx, action_id, op)
            if done:
                return int(first)
            check_id = await store_checks.tx_open_check(tx, table.id)
            if check_id is None:
                raise Conflict(f"{table.name} has no open check", field="table")
            if any(p["part"] is not None for p in await store_checks.tx_payments(tx, check_id)):
                raise Conflict("payments are recorded against the parts already", field="mode")
            rows = await store_checks.tx_order_rows_of_check(tx, check_id)
            orders = [repos.order_from_row(r) for r in rows]
            body: dict[str, Any] = {"mode": mode, "by": actor.label}
            if mode == "even":
                body["n"] = n
            elif mode == "items":
                body["parts"] = _resolve_parts(orders, parts or [])
            elif not any(ln.seat is not None for o in orders for ln in o.lines):
                raise Conflict("no line of this check has a seat", field="mode")
            await store_checks.save_split(tx, check_id, body)
            m = money.money(orders, self._taxes)
            views = money.part_views(money.parts(orders, body, m), {})
            tx.emit(
                CheckSplit(
                    check_id=check_id,
                    table=TableRef(table.id, table.name),
                    by=actor.label,
                    mode=mode,
                    parts=views,
                )
            )
            await store_checks.save_action(tx, action_id, op, check_id)
            return check_id

        check_id = await self._store.write(unit)
        return await self.view_of(check_id, table)

    # ------------------------------------------------------------ payments

    async def pay(
        self,
        table_id: str,
        *,
        method: str,
        amount_cents: int,
        tip_cents: int,
        part: int | None,
        action_id: str,
        actor: Actor,
    ) -> dict[str, Any]:
        """Record a payment against the open check or one part; paid in full, it closes."""
        action_id = check_action_id(action_id)
        table = self._table(table_id)
        if method not in METHODS:
            raise InvalidInput(f"method is one of {', '.join(METHODS)}", field="method")
        if amount_cents <= 0:
            raise InvalidInput("the amount must be more than 0", field="amount_cents")
        if tip_cents < 0:
            raise InvalidInput("the tip cannot be negative", field="tip_cents")
        op = f"pay:{table.id}"

        async def unit(tx: Tx) -> tuple[int, bool]:
            done, first = await store_checks.done_action(tx, action_id, op)
            if done:
                return int(first[0]), bool(first[1])
            check_id = await store_checks.tx_open_check(tx, table.id)
            if check_id is None:
                raise Conflict(f"{table.name} has no open check", field="table")
            view = await self._view_in_tx(tx, table, check_id)
            due = view["due_cents"]
            if part is not None:
                found = [p for p in view["parts"] if p.part == part]
                if not found:
                    raise InvalidInput(f"no part {part} of this check", field="part")
                due = min(due, found[0].due_cents)
            if amount_cents > due:
                raise InvalidInput(f"only {due} cents are due", field="amount_cents")
            payment = {
                "id": action_id, "check_id": check_id, "table_id": table.id, "part": part,
                "method": method, "amount_cents": amount_cents, "tip_cents": tip_cents,
                "by": actor.label, "at": tx.now,
            }  # fmt: skip
            await store_checks.insert_payment(tx, payment)
            closed = view["paid_cents"] + amount_cents >= view["total_cents"]
            if closed:
                await store_checks.close_check_id(tx, check_id)
                await repos.set_table_open(tx, table.id, None, False)
                tx.emit(TableClosed(table=TableState(table.id, False)))
            tx.emit(
                PaymentRecorded(
                    id=action_id, table=table.id, amount_cents=amount_cents, method=method,
                    check_id=check_id, part=part, tip_cents=tip_cents, by=actor.label,
                    at=tx.now, closed=closed,
                )
            )  # fmt: skip
            await store_checks.save_action(tx, action_id, op, [check_id, closed])
            return check_id, closed

        check_id, closed = await self._store.write(unit)
        if closed:
            self._catalog.mark_open(table.id, False, None)
            log.info("check %d of %s paid in full: closed", check_id, table.id)
        check = await self.view_of(check_id, table)
        payment = next(p for p in check["payments"] if p["id"] == action_id)
        return {"payment": payment, "check": check | {"closed": closed}}

    async def _view_in_tx(self, tx: Tx, table: Table, check_id: int) -> dict[str, Any]:
        rows = await store_checks.tx_order_rows_of_check(tx, check_id)
        orders = [repos.order_from_row(r) for r in rows]
        split = await store_checks.tx_split(tx, check_id)
        payments = await store_checks.tx_payments(tx, check_id)
        return self._view(table, check_id, orders, split, payments)

    async def print_bills(self, table_id: str, part: int | None) -> dict[str, Any]:
        """A bill per part of the open check (or the one part; or the whole check)."""
        table = self._table(table_id)
        view = await self.view(table.id)
        if view["check_id"] is None or not view["orders"]:
            raise Conflict("the table has no open check", field="table")
        split = await store_checks.read_split(self._store, int(view["check_id"]))
        return await print_part_bills(
            self._store, self._printing, table, view, split, self._taxes, part
        )


async def _retable(tx: Tx, order_ids: list[int], table: TableRef) -> None:
    """Write the table into orders and their tickets; the screens get the changed ones."""
    for order_id in order_ids:
        ticket_ids = await store_checks.retable_order(tx, order_id, table)
        order = await repos.tx_order(tx, order_id)
        assert order is not None
        tx.emit(OrderCorrected(order=order))
        for ticket_id in ticket_ids:
            ticket = await repos.tx_ticket(tx, ticket_id)
            assert ticket is not None
            if ticket.status != "bumped":  # a held one reaches the expo only
                tx.emit(TicketUpdated(ticket=ticket))


def _resolve_parts(
    orders: list[Order], parts: list[list[dict[str, Any]]]
) -> list[list[dict[str, int]]]:
    """Each part's units of lines, checked against the check: a line of another check, no
    such line, or more units than are left unassigned is refused naming the entry."""
    lines = {(o.order_id, i): ln for o in orders for i, ln in enumerate(o.lines)}
    left = {k: remaining(ln) for k, ln in lines.items()}
    out = []
    for p, part in enumerate(parts):
        if not part:
            raise InvalidInput("a part holds at least one line", field=f"parts[{p}]")
        units = []
        for j, entry in enumerate(part):
            at = f"parts[{p}][{j}]"
            key = (int(entry["order_id"]), int(entry["line"]))
            if not any(o.order_id == key[0] for o in orders):
                raise InvalidInput("not an order of this check", field=f"{at}.order_id")
            if key not in lines:
                raise InvalidInput("no such line in the order", field=f"{at}.line")
            qty = entry.get("qty")
            qty = left[key] if qty is None else int(qty)
            if not 1 <= qty <= left[key]:
                raise InvalidInput(f"{left[key]} unit(s) of this line are left", field=f"{at}.qty")
            left[key] -= qty
            units.append({"order_id": key[0], "line": key[1], "qty": qty})
        out.append(units)
    return out
