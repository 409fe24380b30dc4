"""Typed request bodies. Decoding happens once, here; a bad field becomes a 422 naming it."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from hub.errors import InvalidInput

Short = Annotated[str, msgspec.Meta(max_length=200)]
Note = Annotated[str, msgspec.Meta(max_length=1000)]
ActionId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class OrderLineIn(msgspec.Struct, forbid_unknown_fields=False):
    item: Short
    qty: int
    modifiers: Annotated[list[Short], msgspec.Meta(max_length=50)] = []
    note: Note = ""


class OrderIn(msgspec.Struct, forbid_unknown_fields=False):
    table: Short
    idempotency_key: Short
    lines: Annotated[list[OrderLineIn], msgspec.Meta(max_length=200)]
    pin: Annotated[str, msgspec.Meta(max_length=12)] | None = None
    all_together: bool = False  # every course at once: nothing held


class BumpIn(msgspec.Struct, forbid_unknown_fields=False):
    item: int | None = None
    id: ActionId | None = None


class ActionIn(msgspec.Struct, forbid_unknown_fields=False):
    id: ActionId | None = None


class AvailabilityIn(msgspec.Struct, forbid_unknown_fields=False):
    available: bool
    id: ActionId | None = None


Reason = Annotated[str, msgspec.Meta(max_length=1000)]
# a correction's client action id: the same id again changes nothing
CorrectionId = Annotated[
    str, msgspec.Meta(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
]
Qty = Annotated[int, msgspec.Meta(ge=1, le=99)]


class VoidIn(msgspec.Struct, forbid_unknown_fields=False):
    """Void (or comp, once made) `qty` units of a line; no qty: all that are left."""

    reason: Reason
    id: CorrectionId
    qty: Qty | None = None
    pin: Annotated[str, msgspec.Meta(max_length=12)] | None = None


class OrderVoidIn(msgspec.Struct, forbid_unknown_fields=False):
    """Void every line of an order still charged (made ones are comps)."""

    reason: Reason
    id: CorrectionId
    pin: Annotated[str, msgspec.Meta(max_length=12)] | None = None


class ChangeIn(msgspec.Struct, forbid_unknown_fields=False):
    """Change a line not yet bumped: any of its quantity, modifiers (option ids), note."""

    id: CorrectionId
    qty: Qty | None = None
    modifiers: Annotated[list[Short], msgspec.Meta(max_length=50)] | None = None
    note: Note | None = None


class StaffLineIn(msgspec.Struct, forbid_unknown_fields=False):
    item: Short
    qty: int
    modifiers: Annotated[list[Short], msgspec.Meta(max_length=50)] = []
    note: Note = ""
    seat: int | None = None


class StaffOrderIn(msgspec.Struct, forbid_unknown_fields=False):
    """An order taken by staff for a table (its id, not its QR code)."""

    table: Short
    idempotency_key: Short
    lines: Annotated[list[StaffLineIn], msgspec.Meta(max_length=200)]
    all_together: bool = False


class FireIn(msgspec.Struct, forbid_unknown_fields=False):
    """Fire a table's held course (None: the next one held), once per action id."""

    id: ActionId
    course: Short | None = None


class MoveIn(msgspec.Struct, forbid_unknown_fields=False):
    to: Short
    id: CorrectionId


class MergeIn(msgspec.Struct, forbid_unknown_fields=False):
    from_: Short = msgspec.field(name="from")
    id: CorrectionId


class PartLineIn(msgspec.Struct, forbid_unknown_fields=False):
    order_id: int
    line: int
    qty: Qty | None = None


class SplitIn(msgspec.Struct, forbid_unknown_fields=False):
    """mode items: `parts` (lists of order lines, units left over make a last part);
    seats: one part per seat; even: `n` equal parts (odd cents to the first ones)."""

    mode: Literal["items", "seats", "even"]
    id: CorrectionId
    parts: (
        Annotated[
            list[Annotated[list[PartLineIn], msgspec.Meta(max_length=200)]],
            msgspec.Meta(max_length=20),
        ]
        | None
    ) = None
    n: int | None = None


class PaymentIn(msgspec.Struct, forbid_unknown_fields=False):
    method: Literal["cash", "card", "other"]
    amount_cents: Annotated[int, msgspec.Meta(gt=0, le=100_000_000)]
    id: CorrectionId
    part: int | None = None
    tip_cents: Annotated[int, msgspec.Meta(ge=0, le=100_000_000)] = 0


class BillsIn(msgspec.Struct, forbid_unknown_fields=False):
    part: int | None = None


T = TypeVar("T")
_PATH_RE = re.compile(r" - at `\$\.?(.*)`$")
_MISSING_RE = re.compile(r"missing required field `([^`]+)`")


def decode(body: bytes, typ: type[T]) -> T:
    if not body:
        raise InvalidInput("a JSON object body is required", field=None)
    try:
        return msgspec.json.decode(body, type=typ)
    except msgspec.ValidationError as exc:
        raise _invalid(str(exc)) from exc
    except msgspec.DecodeError as exc:
        err = InvalidInput(f"the body is not valid JSON: {exc}", field=None)
        err.code = "bad_json"
        raise err from exc


def _invalid(text: str) -> InvalidInput:
    path_m = _PATH_RE.search(text)
    path = path_m.group(1) if path_m else ""
    message = _PATH_RE.sub("", text)
    missing = _MISSING_RE.search(message)
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
    return InvalidInput(message, field=path or None)


def schema_components() -> tuple[Any, dict[str, Any]]:
    return msgspec.json.schema_components(
        [
            OrderIn,
            BumpIn,
            ActionIn,
            AvailabilityIn,
            CallIn,
            WeightIn,
            TokenIn,
            PairingIn,
            PinPairingIn,
            VoidIn,
            OrderVoidIn,
            ChangeIn,
            StaffOrderIn,
            MoveIn,
            MergeIn,
            SplitIn,
            PaymentIn,
            BillsIn,
            FireIn,
        ],
        ref_template="#/components/schemas/{name}",
    )


class WeightIn(msgspec.Struct, forbid_unknown_fields=False):
    """Either a scale id (its current stable reading is used) or grams typed by staff."""

    scale: Short | None = None
    grams: int | None = None


class CallIn(msgspec.Struct, forbid_unknown_fields=False):
    table: Short
    kind: Short


class TokenIn(msgspec.Struct, forbid_unknown_fields=False):
    role: Literal["kitchen", "floor", "admin"]
    label: Annotated[str, msgspec.Meta(max_length=60)] = ""


class PairingIn(msgspec.Struct, forbid_unknown_fields=False):
    """A live staff token and the page the paired screen opens (a local path)."""

    token: Short
    next: Annotated[str, msgspec.Meta(max_length=200)] = "/admin"


class PinPairingIn(msgspec.Struct, forbid_unknown_fields=False):
    """A one-time pairing PIN an admin made, and the page the paired device opens."""

    pin: Annotated[str, msgspec.Meta(max_length=12)]
    next: Annotated[str, msgspec.Meta(max_length=200)] = "/admin"
