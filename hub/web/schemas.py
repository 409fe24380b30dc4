"""Typed request bodies. Decoding happens once, here; a bad field becomes a 422 naming it."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

import msgspec

from hub.domain.corrections import MAX_PARTS, MAX_REASON
from hub.domain.orders import MAX_LINES, MAX_NOTE, MAX_QTY, MAX_SEAT
from hub.errors import InvalidInput
from hub.services.staff import PIN_DIGITS

# The rules the hub enforces, stated here so that decoding enforces them and the OpenAPI
# document (built from these types) states them: what the schema allows, the hub accepts.
Short = Annotated[str, msgspec.Meta(max_length=200)]
Note = Annotated[str, msgspec.Meta(max_length=MAX_NOTE)]
ActionId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Qty = Annotated[int, msgspec.Meta(ge=1, le=MAX_QTY)]
Seat = Annotated[int, msgspec.Meta(ge=1, le=MAX_SEAT)]
# Patterns read the same in Python (which decodes) and in ECMA-262 (which JSON Schema names):
# no `$` (Python lets it match before a final newline), no `\s` (the two disagree on it)
END = r"(?![\s\S])"  # the end of the text
SPACE = r"[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"  # isspace
# a menu item's or an option's id, as the menu file allows them (hub.domain.menu.ID_RE)
MENU_ID = rf"^[A-Za-z0-9][A-Za-z0-9_-]{{0,47}}{END}"
MenuId = Annotated[str, msgspec.Meta(min_length=1, max_length=48, pattern=MENU_ID)]
Modifiers = Annotated[list[MenuId], msgspec.Meta(max_length=50)]
RowId = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]  # a stored row's number
# an idempotency key or a correction's client action id: the same one again changes nothing
KEY = rf"^[A-Za-z0-9_-]{{8,64}}{END}"
Key = Annotated[str, msgspec.Meta(max_length=64, pattern=KEY)]
# a path on this hub (not another host's): a `/` not followed by another, no backslash or space
LOCAL_PATH = rf"^(?![\s\S]*(?:\\|{SPACE}))/(?!/)"
LocalPath = Annotated[str, msgspec.Meta(max_length=200, pattern=LOCAL_PATH)]
# a pairing PIN: its digits (spaces around them are ignored)
PIN = rf"^{SPACE}*[0-9]{{{PIN_DIGITS}}}{SPACE}*{END}"
Pin = Annotated[str, msgspec.Meta(max_length=12, pattern=PIN)]
# a void's reason: 1-140 characters, at least one of them a letter, digit or sign a printer
# prints (ASCII, Latin-1, Cyrillic, kana, CJK or Hangul), so it is never blank on the chit
VISIBLE = r"[!-~\u00c0-\u00ff\u0410-\u044f\u3041-\u3096\u30a1-\u30fa\u4e00-\u9fa5\uac00-\ud7a3]"
MAX_GRAMS = 100_000  # what a line weighs at most: 100 kg
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_REASON, pattern=VISIBLE)]


class OrderLineIn(msgspec.Struct, forbid_unknown_fields=False):
    item: MenuId
    qty: Qty
    modifiers: Modifiers = []
    note: Note = ""


class OrderIn(msgspec.Struct, forbid_unknown_fields=False):
    table: Short
    idempotency_key: Key
    lines: Annotated[list[OrderLineIn], msgspec.Meta(min_length=1, max_length=MAX_LINES)]
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


Count = Annotated[int, msgspec.Meta(ge=0, le=100_000)]


class StockIn(msgspec.Struct, forbid_unknown_fields=False):
    """An item's count of portions left (null: no longer counted) and the level at which the
    kitchen is warned."""

    count: Count | None
    low_at: Count | None = None
    id: ActionId | None = None


CorrectionId = Key


class DishInBody(msgspec.Struct, forbid_unknown_fields=False):
    item: MenuId
    qty: Qty = 1
    modifiers: Modifiers = []
    note: Annotated[str, msgspec.Meta(max_length=140)] = ""


class ReservationIn(msgspec.Struct, forbid_unknown_fields=False):
    """A booking (or, with the same id while still booked, its edit). `at` is local time in
    the store's zone, 2026-12-24T19:30. `override`: book even though the table is taken."""

    id: CorrectionId
    name: Annotated[str, msgspec.Meta(max_length=200)]
    party: Annotated[int, msgspec.Meta(ge=1, le=40)]
    at: Annotated[str, msgspec.Meta(max_length=40)]
    phone: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    notes: Note = ""
    table: Short | None = None
    area: Annotated[str, msgspec.Meta(max_length=40)] = ""
    dishes: Annotated[list[DishInBody], msgspec.Meta(max_length=30)] = []
    override: bool = False


class CloudBookingIn(ReservationIn, forbid_unknown_fields=False):
    """A booking from the chain's booking site, as the bridge hands it over."""

    status: Literal["booked", "cancelled"] = "booked"


class SeatIn(msgspec.Struct, forbid_unknown_fields=False):
    table: Short
    id: CorrectionId


class ActionOnlyIn(msgspec.Struct, forbid_unknown_fields=False):
    id: CorrectionId


class WaitIn(msgspec.Struct, forbid_unknown_fields=False):
    id: CorrectionId
    name: Annotated[str, msgspec.Meta(max_length=200)]
    party: Annotated[int, msgspec.Meta(ge=1, le=40)]
    phone: Annotated[str, msgspec.Meta(max_length=40)] | None = None


class GuestMessageIn(msgspec.Struct, forbid_unknown_fields=False):
    text: Annotated[str, msgspec.Meta(max_length=200)]
    id: CorrectionId


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
    modifiers: Modifiers | None = None
    note: Note | None = None


class StaffLineIn(msgspec.Struct, forbid_unknown_fields=False):
    item: MenuId
    qty: Qty
    modifiers: Modifiers = []
    note: Note = ""
    seat: Seat | None = None


class StaffOrderIn(msgspec.Struct, forbid_unknown_fields=False):
    """An order taken by staff for a table (its id, not its QR code)."""

    table: Short
    idempotency_key: Key
    lines: Annotated[list[StaffLineIn], msgspec.Meta(min_length=1, max_length=MAX_LINES)]
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
    order_id: RowId
    line: Annotated[int, msgspec.Meta(ge=0, le=999)]  # the order's line, counted from 0
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
    n: Annotated[int, msgspec.Meta(ge=2, le=MAX_PARTS)] | None = None


class PaymentIn(msgspec.Struct, forbid_unknown_fields=False):
    method: Literal["cash", "card", "other"]
    amount_cents: Annotated[int, msgspec.Meta(gt=0, le=100_000_000)]
    id: CorrectionId
    part: RowId | None = None
    tip_cents: Annotated[int, msgspec.Meta(ge=0, le=100_000_000)] = 0


class BillsIn(msgspec.Struct, forbid_unknown_fields=False):
    part: RowId | None = None


T = TypeVar("T")
_PATH_RE = re.compile(r" - at `\$\.?(.*)`$")
_MISSING_RE = re.compile(r"missing required field `([^`]+)`")


def _number(text: str) -> int | float:
    """A JSON number with a fraction or exponent: a whole one is an integer (JSON Schema's
    `integer` is the value, `2.0` is 2), any other stays a float."""
    value = float(text)
    if value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


_DECODER = msgspec.json.Decoder(float_hook=_number)


def decode(body: bytes, typ: type[T]) -> T:
    if not body:
        raise InvalidInput("a JSON object body is required", field=None)
    try:
        return msgspec.convert(_DECODER.decode(body), type=typ)
    except msgspec.ValidationError as exc:
        raise _invalid(str(exc)) from exc
    except msgspec.DecodeError as exc:
        err = InvalidInput(f"the body is not valid JSON: {exc}", field=None)
        err.code = "bad_json"
        raise err from exc


# What each pattern asks for, in words: msgspec's own message quotes the regular expression
PATTERN_WORDS = {
    MENU_ID: "an id from the menu: 1-48 letters, digits, '-' or '_', the first a letter or digit",
    KEY: "8-64 letters, digits, '-' or '_'",
    LOCAL_PATH: "a path on this hub, starting with a single '/', without spaces or '\\'",
    PIN: f"the {PIN_DIGITS} digits of the pairing PIN",
    VISIBLE: "at least one letter, digit or sign a printer prints",
}
_PATTERN_RE = re.compile(r"^Expected `str` matching regex (.*)$", re.DOTALL)


def _invalid(text: str) -> InvalidInput:
    path_m = _PATH_RE.search(text)
    path = path_m.group(1) if path_m else ""
    message = _PATH_RE.sub("", text)
    pattern_m = _PATTERN_RE.match(message)
    if pattern_m:
        quoted = pattern_m.group(1)
        words = next((w for p, w in PATTERN_WORDS.items() if repr(p) == quoted), None)
        message = (
            f"Expected {words}" if words else "Expected a `str` in the form the API document gives"
        )
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
            StockIn,
            ReservationIn,
            CloudBookingIn,
            SeatIn,
            ActionOnlyIn,
            WaitIn,
            GuestMessageIn,
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
    grams: Annotated[int, msgspec.Meta(ge=1, le=MAX_GRAMS)] | None = None


class CallIn(msgspec.Struct, forbid_unknown_fields=False):
    table: Short
    kind: Literal["waiter", "bill", "water"]  # hub.domain.calls.KINDS


class TokenIn(msgspec.Struct, forbid_unknown_fields=False):
    role: Literal["kitchen", "floor", "admin"]
    label: Annotated[str, msgspec.Meta(max_length=60)] = ""


class PairingIn(msgspec.Struct, forbid_unknown_fields=False):
    """A live staff token and the page the paired screen opens (a local path)."""

    token: Short
    next: LocalPath = "/admin"


class PinPairingIn(msgspec.Struct, forbid_unknown_fields=False):
    """A one-time pairing PIN an admin made, and the page the paired device opens."""

    pin: Pin
    next: Annotated[str, msgspec.Meta(max_length=200)] = "/admin"  # not local: /admin
