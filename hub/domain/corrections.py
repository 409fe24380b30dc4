"""Corrections of an order's lines, and how a check's money is shared: pure rules.

A void takes units of a line off the check (a comp when the kitchen had made them); a change
rewrites a line's quantity, modifiers or note before it is cooked. A check is split by items,
by seat or evenly; every share is integer cents, the odd cents go to the first parts, and the
parts always add up to what is shared.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from msgspec import UnsetType
from msgspec.structs import replace

from hub.domain.events import LineFields, LineVoid, OrderLine
from hub.domain.orders import MAX_NOTE, clean_note
from hub.errors import Conflict, InvalidInput

ACTION_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_REASON = 140
MAX_PARTS = 20


def check_action_id(action_id: object) -> str:
    """A client's action id: what makes a repeated correction a no-op."""
    if not isinstance(action_id, str) or not ACTION_RE.fullmatch(action_id):
        raise InvalidInput("must be 8-64 characters of letters, digits, '-' or '_'", field="id")
    return action_id


def check_reason(reason: object) -> str:
    """A reason is one line of 1-140 printable characters (a listed one or free text)."""
    text = clean_note(reason) if isinstance(reason, str) else ""
    if not 1 <= len(text) <= MAX_REASON:
        raise InvalidInput(f"give a reason of 1-{MAX_REASON} characters", field="reason")
    return text


def remaining(line: OrderLine) -> int:
    """Units of the line still charged."""
    return line.qty - line.void_qty


def weighed(line: OrderLine) -> bool:
    return not isinstance(line.per_grams, UnsetType)


def priced_for(line: OrderLine, units: int) -> int:
    """The line's price when `units` of it are charged (a weighed line: all or nothing)."""
    if units <= 0:
        return 0
    if weighed(line):
        return line.line_cents if units == remaining(line) else 0
    return line.unit_cents * units


def void_line(line: OrderLine, qty: int | None, void: LineVoid) -> OrderLine:
    """The line with `qty` more units voided (None: all that are left); its price is that
    of the units still charged. `void.qty` is replaced by the units taken off."""
    left = remaining(line)
    if left <= 0:
        raise Conflict("this line is voided already", field="line")
    n = left if qty is None else qty
    if n < 1:
        raise InvalidInput("quantity must be at least 1", field="qty")
    # what the line has now decides the rest: 409, not a bad body
    if n > left:
        raise Conflict(f"only {left} of this line are left to void", field="qty")
    if weighed(line) and n != left:
        raise Conflict("a line sold by weight is voided whole", field="qty")
    return replace(
        line,
        void_qty=line.void_qty + n,
        line_cents=priced_for(line, left - n),
        voids=[*line.voids, replace(void, qty=n)],
    )


def fields_of(line: OrderLine) -> LineFields:
    return LineFields(
        qty=line.qty, modifiers=[m.id for m in line.modifiers], note=line.note or None
    )


def changed_fields(before: LineFields, after: LineFields) -> list[str]:
    out = []
    if before.qty != after.qty:
        out.append("qty")
    if sorted(before.modifiers) != sorted(after.modifiers):
        out.append("modifiers")
    if (before.note or None) != (after.note or None):
        out.append("note")
    return out


def check_note(note: str) -> str | None:
    text = clean_note(note)
    if len(text) > MAX_NOTE:
        raise InvalidInput(f"note must be at most {MAX_NOTE} characters", field="note")
    return text or None


# ---------------------------------------------------------------- sharing money


def allocate(cents: int, weights: Sequence[int]) -> list[int]:
    """`cents` shared in proportion to `weights` (integers >= 0), rounding on the running
    sum so the shares add up to `cents` exactly; all weights 0: shared evenly."""
    if not weights:
        return []
    total = sum(weights)
    if total <= 0:
        return split_even(cents, len(weights))
    out, before, running = [], 0, 0
    for w in weights:
        running += w
        upto = cents * running // total
        out.append(upto - before)
        before = upto
    return out


def split_even(cents: int, n: int) -> list[int]:
    """`cents` in `n` parts that differ by at most one cent; the first parts take the odd
    cents, so the same check always splits the same way."""
    if not 1 <= n <= MAX_PARTS:
        raise InvalidInput(f"split into 2 to {MAX_PARTS} parts", field="n")
    base, odd = divmod(cents, n)
    return [base + (1 if k < odd else 0) for k in range(n)]
