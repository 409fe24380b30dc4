"""Stock counts: how many portions of an item the kitchen has left tonight.

An item with a count is sold only while portions remain: every order takes from the count in
its own write, a void of a line not yet made puts its units back, and the item is sold out at
zero. Pure: what an order wants of each counted item, and the level after a change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MAX_COUNT = 100_000


@dataclass(frozen=True, slots=True)
class Level:
    """An item's count: `left` portions; a warning at `low_at` or fewer (None: no warning)."""

    left: int
    low_at: int | None = None

    @property
    def low(self) -> bool:
        return self.low_at is not None and 0 < self.left <= self.low_at

    def taken(self, qty: int) -> Level:
        return Level(max(0, self.left - qty), self.low_at)

    def returned(self, qty: int) -> Level:
        return Level(min(MAX_COUNT, self.left + qty), self.low_at)


@dataclass(frozen=True, slots=True)
class Want:
    """What an order wants of one counted item: units, and the first line that asks (the
    field a refusal names)."""

    item: str
    qty: int
    first_line: int


def wanted(lines: Iterable[tuple[str, int]]) -> list[Want]:
    """The units each item is asked for across an order's (item, qty) lines, in the order
    the items first appear."""
    out: dict[str, Want] = {}
    for idx, (item, qty) in enumerate(lines):
        seen = out.get(item)
        out[item] = (
            Want(item, qty, idx) if seen is None else Want(item, seen.qty + qty, seen.first_line)
        )
    return list(out.values())


def short_message(name: str, left: int) -> str:
    if left == 0:
        return f"{name} is sold out"
    return f"only {left} {name} left"
