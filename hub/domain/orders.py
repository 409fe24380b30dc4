"""Orders: checking a diner's lines against the menu, pricing them, routing them to stations.

Everything here is a pure function of the menu and the request. Prices always come from the
menu; whatever price a phone might send is never read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from hub.domain.menu import Item, Menu, Option
from hub.errors import InvalidInput, OrderRejected, SoldOut

MAX_LINES = 50
MAX_QTY = 99
MAX_NOTE = 140
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

STATUSES = ("received", "preparing", "ready", "served")


@dataclass(frozen=True, slots=True)
class LineRequest:
    item: str
    qty: int
    modifiers: tuple[str, ...] = ()
    note: str = ""
    seat: int | None = None  # staff orders: which guest it is for


@dataclass(frozen=True, slots=True)
class PricedLine:
    item: Item
    qty: int
    options: tuple[Option, ...]
    note: str
    seat: int | None = None

    @property
    def unit_cents(self) -> int:
        return self.item.price_cents + sum(o.price_delta_cents for o in self.options)

    @property
    def weighed(self) -> bool:
        return self.item.price_per_grams is not None

    @property
    def line_cents(self) -> int:
        """The line's price; a line sold by weight counts only its modifiers until weighed."""
        if self.weighed:
            return self.qty * sum(o.price_delta_cents for o in self.options)
        return self.unit_cents * self.qty


def weighed_line_cents(
    price_cents: int, per_grams: int, grams: int, qty: int, deltas_cents: int
) -> int:
    """Price of a line sold by weight: the weight at the menu's rate (rounded half up to a
    cent) plus each piece's modifier deltas."""
    if grams <= 0:
        raise InvalidInput("the weight must be more than 0 g", field="grams")
    return (grams * price_cents * 2 + per_grams) // (per_grams * 2) + qty * deltas_cents


def clean_note(note: str) -> str:
    """Notes are one line of printable text: control characters become spaces."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in note).split())


def check_key(key: str) -> str:
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise OrderRejected(
            "must be 8-64 characters of letters, digits, '-' or '_'", field="idempotency_key"
        )
    return key


MAX_SEAT = 99


def _at(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def price_line(menu: Menu, line: LineRequest, path: str = "") -> PricedLine:
    """One line checked against the menu and priced; errors name `path`'s fields."""
    return _price_line(menu, line, path)


def _price_line(menu: Menu, line: LineRequest, path: str) -> PricedLine:
    if line.seat is not None and not 1 <= line.seat <= MAX_SEAT:
        raise OrderRejected(f"seat must be between 1 and {MAX_SEAT}", field=_at(path, "seat"))
    item = menu.items.get(line.item)
    if item is None:
        raise OrderRejected(f"unknown item '{line.item}'", field=_at(path, "item"))
    if not item.available:
        raise SoldOut(f"{item.name.get('en', item.id)} is sold out", field=_at(path, "item"))
    if not 1 <= line.qty <= MAX_QTY:
        raise OrderRejected(f"quantity must be between 1 and {MAX_QTY}", field=_at(path, "qty"))
    note = clean_note(line.note)
    if len(note) > MAX_NOTE:
        raise OrderRejected(f"note must be at most {MAX_NOTE} characters", field=_at(path, "note"))
    chosen: dict[str, list[Option]] = {}
    seen: set[str] = set()
    for k, opt_id in enumerate(line.modifiers):
        found = item.option(opt_id)
        if found is None:
            raise OrderRejected(
                f"'{opt_id}' is not an option of {item.id}", field=_at(path, f"modifiers[{k}]")
            )
        if opt_id in seen:
            raise OrderRejected(
                f"option '{opt_id}' chosen twice", field=_at(path, f"modifiers[{k}]")
            )
        seen.add(opt_id)
        chosen.setdefault(found[0].id, []).append(found[1])
    options: list[Option] = []
    for group in item.modifier_groups:
        picked = chosen.get(group.id, [])
        if not group.min <= len(picked) <= group.max:
            want = (
                f"exactly {group.min}"
                if group.min == group.max
                else f"between {group.min} and {group.max}"
            )
            raise OrderRejected(
                f"choose {want} of {group.name.get('en', group.id)}", field=_at(path, "modifiers")
            )
        options.extend(picked)
    return PricedLine(item, line.qty, tuple(options), note, line.seat)


def price_order(menu: Menu, lines: Sequence[LineRequest]) -> tuple[list[PricedLine], int]:
    """Check every line against the menu and price it; raise naming the first bad field."""
    if not 1 <= len(lines) <= MAX_LINES:
        raise OrderRejected(f"an order has 1 to {MAX_LINES} lines", field="lines")
    priced = [_price_line(menu, line, f"lines[{i}]") for i, line in enumerate(lines)]
    return priced, sum(p.line_cents for p in priced)


def route(lines: Sequence[PricedLine]) -> dict[str, list[int]]:
    """Station -> indexes of the order lines it prepares, stations in first-seen order."""
    out: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        out.setdefault(line.item.station, []).append(i)
    return out


def order_status(ticket_statuses: Sequence[str], any_progress: bool, served: bool) -> str:
    """An order is ready when every ticket is bumped; preparing once the kitchen touched it."""
    if served:
        return "served"
    if ticket_statuses and all(s == "bumped" for s in ticket_statuses):
        return "ready"
    if any_progress:
        return "preparing"
    return "received"
