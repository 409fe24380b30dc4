"""The event catalogue: every fact the hub writes to its outbox, one frozen struct each.

Each event class declares its `stream` and `kind`, its `key`, and how it travels: the
WebSocket message type (`screen`) and audience of the live screens, and the MQTT topic, QoS
and retain flag it is published with (`mqtt`). Readers (screens, the MQTT relay, printing,
the cloud receiver) follow these declarations, so a new event is one class here, registered
with `@register`. The shapes the events carry (an order, a ticket, a call, a device, a print
job) are typed once here and shared through `hub.bus.contract`.

An event's body is its struct as JSON (the outbox's `body` column, unchanged from the
untyped days): `encode(event)` writes it once; `decode(kind, body)` reads a stored row back.
Decoding is lenient about what older rows held (unknown fields are ignored, fields added
since have defaults); `strictly_decodes` says whether a row is exactly what its class writes.

Pure: msgspec and the standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

Names = dict[str, str]  # language -> text
# what a device reports about itself (a printer's paper, a scale's port): free-form JSON
# values that the hub shows and a few of which it reads (printing's health)
Detail = Mapping[str, object]


class CatalogueError(ValueError):
    """A stored event whose kind is unknown or whose body does not fit its class."""


# ---------------------------------------------------------------- shared shapes


class TableRef(msgspec.Struct, frozen=True):
    id: str
    name: str = ""


class LineModifier(msgspec.Struct, frozen=True):
    id: str
    name: Names
    price_delta_cents: int = 0


class LineVoid(msgspec.Struct, frozen=True):
    """Units of a line taken off the check: a void (not yet made) or a comp (made and given
    away), with why, who and when."""

    qty: int
    reason: str
    comp: bool = False
    by: str = ""
    at: str = ""


class LineFields(msgspec.Struct, frozen=True):
    """What a change may touch on a line: its quantity, modifiers (option ids) and note."""

    qty: int
    modifiers: list[str] = []
    note: str | None = None


class LineChange(msgspec.Struct, frozen=True):
    """A change of a line before it was cooked: which fields, and their values before and
    after."""

    fields: list[str]
    before: LineFields
    after: LineFields
    by: str = ""
    at: str = ""


class OrderLine(msgspec.Struct, frozen=True):
    """A priced line of an order; lines sold by weight carry `per_grams` and, once weighed,
    `grams` (until then `weight_pending`). `void_qty` units are voided or comped and no
    longer charged: `line_cents` is the price of the other `qty - void_qty`."""

    item: str
    name: Names
    qty: int
    unit_cents: int
    line_cents: int
    modifiers: list[LineModifier] = []
    note: str | None = None
    per_grams: int | UnsetType = UNSET
    grams: int | UnsetType | None = UNSET
    weight_pending: bool | UnsetType = UNSET
    weighed_by: str | UnsetType = UNSET
    seat: int | None = None
    void_qty: int = 0
    voids: list[LineVoid] = []
    changes: list[LineChange] = []
    course: str | None = None  # the menu's course of the item (None: no course)


class Order(msgspec.Struct, frozen=True):
    """An order as the diner's page, the expo and the cloud see it."""

    table: TableRef
    lines: list[OrderLine]
    order_id: int
    number: int
    status: str
    total_cents: int
    round: int = 1
    created_at: str = ""
    entered_by: str | None = None  # the staff login that took it; None: the diner's phone
    check_id: int = 0


class TicketModifier(msgspec.Struct, frozen=True):
    id: str
    name: Names


class TicketLine(msgspec.Struct, frozen=True):
    """One line of a kitchen ticket; `idx` is its line in the order. `void_qty` of its `qty`
    are voided (shown struck through, VOID); `changed` names what a change touched."""

    idx: int
    item: str
    name: Names
    qty: int
    modifiers: list[TicketModifier] = []
    note: str | None = None
    allergens: list[str] = []
    per_grams: int | UnsetType = UNSET
    grams: int | UnsetType | None = UNSET
    bumped: bool = False
    seat: int | None = None
    void_qty: int = 0
    void_reason: str | None = None
    changed: list[str] = []
    course: str | None = None
    prep_s: int = 0  # what this line is expected to take (learnt, else the menu's)
    start_at_ms: int = 0  # paced: start it then so the course lands together (0: at once)


class Ticket(msgspec.Struct, frozen=True):
    """A station's part of an order (of one course), as the kitchen screens and KDS devices
    see it. `status` is `held` (a later course, not yet fired: only the expo sees it, and
    the station too when `held_visible`), `open` or `bumped`. Once fired, `fired_ms` is when,
    `start_at_ms` when the station should start it (paced), `due_ms` when it should be done
    and `expected_s` what it should take; `started_ms` when a cook said they started it (0: not
    said)."""

    table: TableRef
    number: int
    items: list[TicketLine]
    id: int
    order_id: int
    station: str
    status: str = "open"
    round: int = 1
    created_at: str = ""
    created_ms: int = 0
    bumped_at: str | None = None
    printed_on: str | UnsetType = UNSET  # the fallback printer it went to, if any
    course: str | None = None
    fired_ms: int = 0
    start_at_ms: int = 0
    due_ms: int = 0
    expected_s: int = 0
    held_visible: bool = False
    started_ms: int = 0


class Call(msgspec.Struct, frozen=True):
    id: int
    table: str
    kind: str
    state: str
    source: str = ""
    escalated: bool = False
    opened_at: str = ""
    opened_ms: int = 0
    acked_at: str | None = None
    closed_at: str | None = None


class Device(msgspec.Struct, frozen=True):
    id: str
    state: str
    kind: str | None = None
    detail: Detail = {}
    changed_at: str | None = None
    seen_at: str | None = None


class JobInfo(msgspec.Struct, frozen=True):
    """A print job's new state, as the admin page and expo see it (not its document)."""

    id: str
    state: str
    printer: str = ""
    kind: str = ""
    copy: str | UnsetType = UNSET
    reason: str | UnsetType | None = UNSET
    ticket_id: int | UnsetType | None = UNSET
    origin: str | UnsetType = UNSET


class TableState(msgspec.Struct, frozen=True):
    id: str
    open: bool


# ---------------------------------------------------------------- MQTT payloads of events


class KdsEvent(msgspec.Struct, frozen=True):
    """kds/{station}/events: a ticket created or changed, with the outbox sequence number."""

    seq: int
    kind: str
    ticket: Ticket


class CallState(msgspec.Struct, frozen=True):
    """tables/{table}/call/state (retained): drives the button's LED."""

    open: bool
    kind: str | None = None
    call_id: str | None = None


# ---------------------------------------------------------------- routing declarations


@dataclass(frozen=True, slots=True)
class Audience:
    """Which live screens see an event: all, every staff screen, or these stations and the
    phones of this table."""

    everyone: bool = False
    staff: bool = False
    stations: tuple[str, ...] = ()
    table: str | None = None
    tables: tuple[str, ...] = ()  # more tables' phones (a party moved: both tables)


NOBODY = Audience()
EVERYONE = Audience(everyone=True)
STAFF = Audience(staff=True)


class MqttRoute(NamedTuple):
    """How an event is published: a topic under the store's prefix whose `{names}` the event
    fills in (`mqtt_message`), its QoS and whether the broker keeps it."""

    topic: str
    qos: int = 1
    retain: bool = False


# ---------------------------------------------------------------- the base and registry


class HubEvent(msgspec.Struct, frozen=True, kw_only=True):
    """What every event declares. Subclasses set the class variables and `key`, and, when
    they reach screens or MQTT, `audience` and `mqtt_message`."""

    stream: ClassVar[str]
    kind: ClassVar[str]
    screen: ClassVar[str | None] = None  # the WebSocket message type, None: no screen
    mqtt: ClassVar[MqttRoute | None] = None

    @property
    def key(self) -> str:
        raise NotImplementedError

    def audience(self) -> Audience:
        return NOBODY

    def mqtt_message(
        self, seq: int, body: bytes
    ) -> tuple[Mapping[str, str], msgspec.Struct | bytes] | None:
        """The topic's `{names}` and the payload of this event (with `mqtt` set): a struct, or
        its JSON made from `body` (the event as stored) when that saves encoding it again."""
        return None


E = TypeVar("E", bound=type[HubEvent])
_BY_KIND: dict[str, type[HubEvent]] = {}
_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {}
_encoder = msgspec.json.Encoder()


def register(cls: E) -> E:
    """Add an event class to the catalogue (a class decorator). A kind is registered once."""
    for attr in ("stream", "kind"):
        if not isinstance(getattr(cls, attr, None), str):
            raise TypeError(f"{cls.__name__} must declare its {attr}")
    if cls.key is HubEvent.key:  # refused here, not when the first one is emitted
        raise TypeError(f"{cls.__name__} must declare its key")
    known = _BY_KIND.get(cls.kind)
    if known is not None and known is not cls:
        raise ValueError(f"kind '{cls.kind}' is already {known.__name__}")
    _BY_KIND[cls.kind] = cls
    _DECODERS[cls.kind] = msgspec.json.Decoder(cls)
    return cls


def unregister(cls: type[HubEvent]) -> None:
    """Take a class out again (tests that add an event of their own)."""
    if _BY_KIND.get(cls.kind) is cls:
        del _BY_KIND[cls.kind]
        del _DECODERS[cls.kind]


def classes() -> list[type[HubEvent]]:
    return list(_BY_KIND.values())


def event_class(kind: str) -> type[HubEvent] | None:
    return _BY_KIND.get(kind)


def streams() -> frozenset[str]:
    """Every stream the hub writes: what the cloud accepts."""
    return frozenset(c.stream for c in _BY_KIND.values())


def encode(event: HubEvent) -> bytes:
    """The event's body as stored in the outbox (the struct's fields as a JSON object)."""
    return _encoder.encode(event)


def decode(kind: str, body: bytes | str) -> HubEvent:
    """A stored body back into its class; `CatalogueError` for an unknown kind or a body
    that does not fit."""
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise CatalogueError(f"unknown event kind '{kind[:60]}'")
    try:
        event: HubEvent = decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise CatalogueError(f"{kind}: {exc}") from exc
    return event


def strictly_decodes(kind: str, body: bytes | str) -> str | None:
    """None when the body decodes and its class writes it back the same (no field unknown
    to the class, none missing); else what is wrong."""
    try:
        event = decode(kind, body)
    except CatalogueError as exc:
        return str(exc)
    if json.loads(encode(event)) != json.loads(body):
        return f"{kind}: the body holds fields its class does not know or lacks some"
    return None


# ---------------------------------------------------------------- orders


class OrderEvent(HubEvent, frozen=True, kw_only=True):
    stream: ClassVar[str] = "orders"
    screen: ClassVar[str | None] = "order"
    order: Order

    @property
    def key(self) -> str:
        return str(self.order.order_id)

    def audience(self) -> Audience:
        return Audience(stations=("expo", "floor"), table=self.order.table.id)


@register
class OrderPlaced(OrderEvent, frozen=True, kw_only=True):
    kind: ClassVar[str] = "order.created"


@register
class OrderStatusChanged(OrderEvent, frozen=True, kw_only=True):
    kind: ClassVar[str] = "order.status"


@register
class OrderWeighed(OrderEvent, frozen=True, kw_only=True):
    kind: ClassVar[str] = "order.weighed"


class Correction(msgspec.Struct, frozen=True):
    """One correction as kept in the record: a void, a comp, a change, a move or a merge;
    `id` is the client's action id. `qty` and `cents` are what left the check (voids and
    comps); `before` and `after` the line's fields (change) or the tables (move, merge)."""

    id: str
    kind: str  # void | comp | change | move | merge
    by: str
    at: str
    table: str
    order_id: int | None = None
    line: int | None = None
    qty: int = 0
    cents: int = 0
    reason: str = ""
    comp: bool = False
    before: Detail = {}
    after: Detail = {}


@register
class OrderCorrected(OrderEvent, frozen=True, kw_only=True):
    """A line voided, comped or changed, or an order moved to another table: the order as it
    is now, and the correction as recorded."""

    kind: ClassVar[str] = "order.corrected"
    correction: Correction | None = None


# ---------------------------------------------------------------- tickets


class TicketEvent(HubEvent, frozen=True, kw_only=True):
    stream: ClassVar[str] = "tickets"
    screen: ClassVar[str | None] = "ticket"
    mqtt: ClassVar[MqttRoute | None] = MqttRoute("kds/{station}/events", qos=1, retain=False)
    ticket: Ticket

    @property
    def key(self) -> str:
        return str(self.ticket.id)

    def audience(self) -> Audience:
        if self.ticket.status == "held" and not self.ticket.held_visible:
            return Audience(stations=("expo",))  # the station gets it when it is fired
        return Audience(stations=("expo", self.ticket.station))

    def mqtt_message(self, seq: int, body: bytes) -> tuple[Mapping[str, str], bytes] | None:
        if self.ticket.status == "held":
            return None  # KDS devices get a held course when it is fired
        # a KdsEvent(seq, kind, ticket), spliced from the stored `{"ticket": ...}`: a ticket
        # is encoded once per event, not once more for MQTT
        head = b'{"seq":%d,"kind":"%s",' % (seq, self.kind.encode())
        return {"station": self.ticket.station}, head + body[1:]


@register
class TicketCreated(TicketEvent, frozen=True, kw_only=True):
    kind: ClassVar[str] = "ticket.created"


@register
class TicketUpdated(TicketEvent, frozen=True, kw_only=True):
    """A ticket bumped, recalled, weighed, printed on a fallback printer, corrected (a line
    voided or changed) or moved to another table."""

    kind: ClassVar[str] = "ticket.updated"


@register
class TicketFired(TicketEvent, frozen=True, kw_only=True):
    """A held ticket fired: its station sees it (and its chit prints) from now on; `by` says
    who fired it (a login, a bump bar, or `auto`)."""

    kind: ClassVar[str] = "ticket.fired"
    by: str = ""


@register
class TicketStarted(TicketEvent, frozen=True, kw_only=True):
    """A cook started a ticket (a tap on the KDS or a bump-bar key): `ticket.started_ms` is
    when; `by` says where from (`kds`, a bump bar)."""

    kind: ClassVar[str] = "ticket.started"
    by: str = ""


# ---------------------------------------------------------------- calls


class CallEvent(HubEvent, frozen=True, kw_only=True):
    stream: ClassVar[str] = "calls"
    screen: ClassVar[str | None] = "call"
    # the table's button LED, lit while any call of the table is open
    mqtt: ClassVar[MqttRoute | None] = MqttRoute("tables/{table}/call/state", qos=1, retain=True)
    call: Call
    table_open: bool

    @property
    def key(self) -> str:
        return str(self.call.id)

    def audience(self) -> Audience:
        return Audience(stations=("expo", "floor"), table=self.call.table)

    def mqtt_message(self, seq: int, body: bytes) -> tuple[Mapping[str, str], msgspec.Struct]:
        lit = self.table_open
        state = CallState(open=lit, kind=self.call.kind if lit else None, call_id=str(self.call.id))
        return {"table": self.call.table}, state


@register
class CallOpened(CallEvent, frozen=True, kw_only=True):
    kind: ClassVar[str] = "call.opened"


@register
class CallUpdated(CallEvent, frozen=True, kw_only=True):
    kind: ClassVar[str] = "call.updated"


@register
class CallEscalated(CallEvent, frozen=True, kw_only=True):
    kind: ClassVar[str] = "call.escalated"


# ---------------------------------------------------------------- devices and telemetry


@register
class DeviceStatusChanged(HubEvent, frozen=True, kw_only=True):
    stream: ClassVar[str] = "devices"
    kind: ClassVar[str] = "device.status"
    screen: ClassVar[str | None] = "device"
    device: Device

    @property
    def key(self) -> str:
        return self.device.id

    def audience(self) -> Audience:
        return STAFF


@register
class ScaleReading(HubEvent, frozen=True, kw_only=True):
    """A stable scale weight worth recording (telemetry for the cloud only)."""

    stream: ClassVar[str] = "telemetry"
    kind: ClassVar[str] = "scale.reading"
    scale: str
    grams: int
    stable: bool = True

    @property
    def key(self) -> str:
        return self.scale


# ---------------------------------------------------------------- menu and tables


@register
class MenuUpdated(HubEvent, frozen=True, kw_only=True):
    stream: ClassVar[str] = "menu"
    kind: ClassVar[str] = "menu.updated"
    screen: ClassVar[str | None] = "menu"
    version: int

    @property
    def key(self) -> str:
        return str(self.version)

    def audience(self) -> Audience:
        return EVERYONE


@register
class ItemAvailability(HubEvent, frozen=True, kw_only=True):
    """An item sold out (86) or back."""

    stream: ClassVar[str] = "menu"
    kind: ClassVar[str] = "item.availability"
    screen: ClassVar[str | None] = "availability"
    item: str
    available: bool

    @property
    def key(self) -> str:
        return self.item

    def audience(self) -> Audience:
        return EVERYONE


@register
class StockChanged(HubEvent, frozen=True, kw_only=True):
    """An item's count changed: set by the kitchen, taken by an order, put back by a void.
    `left` None: the item is no longer counted. `low`: at or under the warning level."""

    stream: ClassVar[str] = "menu"
    kind: ClassVar[str] = "item.stock"
    screen: ClassVar[str | None] = "stock"
    item: str
    left: int | None
    low_at: int | None = None
    low: bool = False
    reason: str = ""  # set, order, void, change, preorder
    by: str = ""

    @property
    def key(self) -> str:
        return self.item

    def audience(self) -> Audience:
        return STAFF


class DishIn(msgspec.Struct, frozen=True):
    """A dish ordered ahead with a reservation."""

    item: str
    qty: int = 1
    modifiers: list[str] = []
    note: str = ""


class ReservationInfo(msgspec.Struct, frozen=True):
    """A reservation as the floor and the cloud see it: the phone only masked."""

    id: str
    at: str  # local time, 2026-12-24T19:30
    at_ms: int
    day: str
    name: str
    party: int
    status: str
    source: str = "stand"
    table: str | None = None
    area: str = ""
    notes: str = ""
    phone: str | None = None  # masked
    dishes: list[DishIn] = []
    check_id: int | None = None
    turn_s: int = 0
    conflict: str = ""  # why the host must look at it (a clash while the internet was down)


@register
class ReservationChanged(HubEvent, frozen=True, kw_only=True):
    """A reservation booked, edited, seated, cancelled or marked no-show (`change`)."""

    stream: ClassVar[str] = "reservations"
    kind: ClassVar[str] = "reservation.changed"
    screen: ClassVar[str | None] = "reservation"
    reservation: ReservationInfo
    change: str
    by: str = ""

    @property
    def key(self) -> str:
        return self.reservation.id

    def audience(self) -> Audience:
        return Audience(stations=("floor",))


@register
class WaitlistChanged(HubEvent, frozen=True, kw_only=True):
    """A walk-in joined, was seated, left or was sent a message: no personal data."""

    stream: ClassVar[str] = "waitlist"
    kind: ClassVar[str] = "waitlist.changed"
    screen: ClassVar[str | None] = "waitlist"
    id: str
    status: str
    party: int
    quoted_wait_s: int = 0
    table: str | None = None
    change: str = ""

    @property
    def key(self) -> str:
        return self.id

    def audience(self) -> Audience:
        return Audience(stations=("floor",))


class TableEvent(HubEvent, frozen=True, kw_only=True):
    stream: ClassVar[str] = "tables"
    screen: ClassVar[str | None] = "table"
    table: TableState

    @property
    def key(self) -> str:
        return self.table.id

    def audience(self) -> Audience:
        return Audience(stations=("floor",), table=self.table.id)


@register
class TableOpened(TableEvent, frozen=True, kw_only=True):
    kind: ClassVar[str] = "table.opened"


@register
class TableClosed(TableEvent, frozen=True, kw_only=True):
    kind: ClassVar[str] = "table.closed"


class CheckEvent(HubEvent, frozen=True, kw_only=True):
    """A table's check moved, merged or split: the floor, the expo and the phones of every
    table named see it (phones at a table the check left drop it)."""

    stream: ClassVar[str] = "checks"
    screen: ClassVar[str | None] = "check"
    check_id: int
    table: TableRef
    by: str = ""
    correction: Correction | None = None  # a move or a merge, as recorded

    @property
    def key(self) -> str:
        return str(self.check_id)

    def audience(self) -> Audience:
        return Audience(stations=("floor", "expo"), table=self.table.id, tables=self.tables())

    def tables(self) -> tuple[str, ...]:
        return ()


@register
class TableMoved(CheckEvent, frozen=True, kw_only=True):
    """A party moved to a free table: the check is now `table`'s, `from_table` is free."""

    kind: ClassVar[str] = "check.moved"
    screen: ClassVar[str | None] = "check.moved"
    from_table: TableRef

    def tables(self) -> tuple[str, ...]:
        return (self.from_table.id,)


@register
class ChecksMerged(CheckEvent, frozen=True, kw_only=True):
    """`from_table`'s check (`from_check`) joined `table`'s; `from_table` is free."""

    kind: ClassVar[str] = "check.merged"
    screen: ClassVar[str | None] = "check.merged"
    from_table: TableRef
    from_check: int

    def tables(self) -> tuple[str, ...]:
        return (self.from_table.id,)


class PartLine(msgspec.Struct, frozen=True):
    """Units of one order line in a part of a split check."""

    order_id: int
    line: int
    qty: int


class SplitPart(msgspec.Struct, frozen=True):
    """One part of a split check: its lines (units of order lines; none for an even split)
    and what it comes to."""

    part: int
    label: str
    lines: list[PartLine] = []
    total_cents: int = 0
    paid_cents: int = 0
    due_cents: int = 0


@register
class CheckSplit(CheckEvent, frozen=True, kw_only=True):
    kind: ClassVar[str] = "check.split"
    screen: ClassVar[str | None] = "check.split"
    mode: str
    parts: list[SplitPart] = []


# ---------------------------------------------------------------- payments


@register
class PaymentRecorded(HubEvent, frozen=True, kw_only=True):
    """A payment recorded against a table's check (or one part of it): recorded only, no
    money moves through the hub. `closed`: it paid the check in full, which closed it."""

    stream: ClassVar[str] = "payments"
    kind: ClassVar[str] = "payment.recorded"
    screen: ClassVar[str | None] = "payment"
    id: str
    table: str
    amount_cents: int
    method: str = ""
    check_id: int = 0
    part: int | None = None
    tip_cents: int = 0
    by: str = ""
    at: str = ""
    closed: bool = False

    @property
    def key(self) -> str:
        return self.id

    def audience(self) -> Audience:
        return Audience(stations=("floor",))


# ---------------------------------------------------------------- printing


class PrintEvent(HubEvent, frozen=True, kw_only=True):
    stream: ClassVar[str] = "print"
    screen: ClassVar[str | None] = "print"
    job: JobInfo

    @property
    def key(self) -> str:
        return self.job.id

    def audience(self) -> Audience:
        return Audience(stations=("admin", "expo"))


@register
class PrintQueued(PrintEvent, frozen=True, kw_only=True):
    kind: ClassVar[str] = "print.queued"


@register
class PrintPrinted(PrintEvent, frozen=True, kw_only=True):
    kind: ClassVar[str] = "print.printed"


@register
class PrintFailed(PrintEvent, frozen=True, kw_only=True):
    kind: ClassVar[str] = "print.failed"


@register
class PrintCancelled(PrintEvent, frozen=True, kw_only=True):
    kind: ClassVar[str] = "print.cancelled"


@register
class PrintMoved(PrintEvent, frozen=True, kw_only=True):
    """A job handed to the backup of a printer that stayed unavailable."""

    kind: ClassVar[str] = "print.moved"


PRINT_FINISHED: dict[str, type[PrintEvent]] = {
    "printed": PrintPrinted,
    "failed": PrintFailed,
    "cancelled": PrintCancelled,
}
