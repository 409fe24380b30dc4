"""A table's check as money: its subtotal, taxes and total, how it is split into parts, and
what is paid and due on each. Pure: integer cents, computed from the orders as they are now.

A split keeps only the assignment (which units of which lines go to which part, or the
number of even parts); the cents are worked out each time, so a line voided or ordered
after the split changes the parts and they still add up to the check: units of no part go
to a last part ("Rest"), lines without a seat to a "Shared" part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.domain.corrections import allocate, remaining, split_even
from hub.domain.events import Order, OrderLine, PartLine, SplitPart

LineKey = tuple[int, int]  # (order id, line index)


@dataclass(frozen=True, slots=True)
class Money:
    subtotal_cents: int
    taxes: list[tuple[str, int]]  # (name, cents)

    @property
    def tax_cents(self) -> int:
        return sum(c for _, c in self.taxes)

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents + self.tax_cents


@dataclass(frozen=True, slots=True)
class PartMoney:
    """A part's lines (units and their cents), subtotal, taxes and total."""

    part: int
    label: str
    lines: list[tuple[LineKey, int, int]] = field(default_factory=list)  # key, units, cents
    subtotal_cents: int = 0
    taxes: list[tuple[str, int]] = field(default_factory=list)

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents + sum(c for _, c in self.taxes)


def money(orders: Sequence[Order], taxes_ppm: Sequence[tuple[str, int]]) -> Money:
    """The check's subtotal and each tax on it (rounded half up to a cent, as on the bill)."""
    subtotal = sum(o.total_cents for o in orders)
    return Money(subtotal, [(n, (subtotal * ppm + 500_000) // 1_000_000) for n, ppm in taxes_ppm])


def _lines(orders: Sequence[Order]) -> dict[LineKey, OrderLine]:
    return {(o.order_id, i): ln for o in orders for i, ln in enumerate(o.lines)}


def _items_parts(
    lines: Mapping[LineKey, OrderLine], assigned: Sequence[Sequence[Mapping[str, int]]]
) -> list[tuple[str, list[tuple[LineKey, int]]]]:
    """Units of each line per part, clamped to what is charged now; the rest in a last part."""
    left = {k: remaining(ln) for k, ln in lines.items()}
    parts: list[tuple[str, list[tuple[LineKey, int]]]] = []
    for n, part in enumerate(assigned, start=1):
        units = []
        for entry in part:
            key = (int(entry["order_id"]), int(entry["line"]))
            take = min(int(entry["qty"]), left.get(key, 0))
            if take > 0:
                left[key] -= take
                units.append((key, take))
        parts.append((f"Part {n}", units))
    rest = [(k, u) for k, u in left.items() if u > 0]
    if rest:
        parts.append(("Rest", rest))
    return parts


def _seat_parts(lines: Mapping[LineKey, OrderLine]) -> list[tuple[str, list[tuple[LineKey, int]]]]:
    seats: dict[int | None, list[tuple[LineKey, int]]] = {}
    for key, ln in lines.items():
        if remaining(ln) > 0:
            seats.setdefault(ln.seat, []).append((key, remaining(ln)))
    out = [(f"Seat {s}", seats[s]) for s in sorted(s for s in seats if s is not None)]
    if None in seats:
        out.append(("Shared", seats[None]))
    return out


def parts(orders: Sequence[Order], split: Mapping[str, Any] | None, m: Money) -> list[PartMoney]:
    """The parts of a split check with their money; [] when it is not split."""
    if not split:
        return []
    mode = split.get("mode")
    if mode == "even":
        n = int(split["n"])
        subs = split_even(m.subtotal_cents, n)
        totals = split_even(m.total_cents, n)
        taxes = [(name, split_even(c, n)) for name, c in m.taxes]
        out = []
        for k in range(n):
            shares = [(name, cs[k]) for name, cs in taxes]
            if shares:  # the last tax takes what rounding leaves, so the part is its share
                name, _ = shares[-1]
                shares[-1] = (name, totals[k] - subs[k] - sum(c for _, c in shares[:-1]))
            out.append(PartMoney(k + 1, f"{k + 1}/{n}", [], subs[k], shares))
        return out
    lines = _lines(orders)
    units = _items_parts(lines, split.get("parts", [])) if mode == "items" else _seat_parts(lines)
    return _priced_parts(lines, units, m)


def _priced_parts(
    lines: Mapping[LineKey, OrderLine],
    units: list[tuple[str, list[tuple[LineKey, int]]]],
    m: Money,
) -> list[PartMoney]:
    """Each line's cents shared among the parts holding its units (on the running sum, so a
    line's shares add up to it), then each tax in proportion to the parts' subtotals."""
    holders: dict[LineKey, list[tuple[int, int]]] = {}  # line -> (part index, units)
    for p, (_, got) in enumerate(units):
        for key, u in got:
            holders.setdefault(key, []).append((p, u))
    cents: dict[tuple[int, LineKey], int] = {}
    for key, held in holders.items():
        ln = lines[key]
        shares = allocate(ln.line_cents, [u for _, u in held])
        for (p, _), c in zip(held, shares, strict=True):
            cents[(p, key)] = cents.get((p, key), 0) + c
    subs = [sum(cents[(p, k)] for k, _ in got) for p, (_, got) in enumerate(units)]
    taxes = [(name, allocate(c, subs)) for name, c in m.taxes]
    return [
        PartMoney(
            p + 1,
            label,
            [(k, u, cents[(p, k)]) for k, u in got],
            subs[p],
            [(name, cs[p]) for name, cs in taxes],
        )
        for p, (label, got) in enumerate(units)
    ]


def part_views(priced: Sequence[PartMoney], paid_by_part: Mapping[int, int]) -> list[SplitPart]:
    out = []
    for pm in priced:
        paid = paid_by_part.get(pm.part, 0)
        out.append(
            SplitPart(
                part=pm.part,
                label=pm.label,
                lines=[PartLine(order_id=k[0], line=k[1], qty=u) for k, u, _ in pm.lines],
                total_cents=pm.total_cents,
                paid_cents=paid,
                due_cents=max(0, pm.total_cents - paid),
            )
        )
    return out
