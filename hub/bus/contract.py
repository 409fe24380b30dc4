"""The MQTT topic contract, pure: topic builders and parsers and one payload type per topic.

Every topic is ``tablehub/v1/{store}/...``. This is the one hub module that `devices/`,
`cloud_bridge/` and the ESPHome configs are checked against. Decoding never raises anything
but `ContractError`, whose message says what was wrong (logged once with the device).

| topic                         | direction       | QoS | retained |
|-------------------------------|-----------------|-----|----------|
| hub/status                    | hub -> all      | 1   | yes (LWT offline) |
| devices/{device}/status       | device -> hub   | 1   | yes (LWT) |
| tables/{table}/call           | button -> hub   | 1   | no  |
| tables/{table}/call/state     | hub -> button   | 1   | yes |
| kds/{station}/events          | hub -> KDS      | 1   | no  |
| kds/{station}/bump            | bump bar -> hub | 1   | no  |
| printers/{printer}/jobs       | hub -> agent    | 1   | no  |
| printers/{printer}/acks       | agent -> hub    | 1   | no  |
| scales/{scale}/weight         | scale -> hub    | 0   | yes |
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

# the payloads of hub events and the shapes they carry are typed once, in the event catalogue
# (pure like this module); devices reach them through here
from hub.domain.events import (
    Call,
    CallState,
    Detail,
    Device,
    KdsEvent,
    Order,
    Ticket,
    TicketLine,
)
from hub.domain.printdoc import BillDoc, BillLine, Item, KitchenDoc, PrintDoc, TaxLine, TestDoc

__all__ = [
    "BillDoc",
    "BillLine",
    "Call",
    "CallState",
    "Device",
    "Item",
    "KdsEvent",
    "KitchenDoc",
    "Order",
    "PrintDoc",
    "TaxLine",
    "TestDoc",
    "Ticket",
    "TicketLine",
]

PREFIX = "tablehub/v1"
SEGMENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")
MAX_PAYLOAD = 16 * 1024


class ContractError(ValueError):
    """A topic or payload that breaks the contract."""


# ---------------------------------------------------------------- topics


def base(store: str) -> str:
    _segment(store, "store")
    return f"{PREFIX}/{store}"


def _segment(value: str, what: str) -> str:
    if not isinstance(value, str) or not SEGMENT_RE.fullmatch(value):
        raise ContractError(f"{what} '{value[:60]}' is not a valid topic segment")
    return value


def hub_status(store: str) -> str:
    return f"{base(store)}/hub/status"


def device_status(store: str, device: str) -> str:
    return f"{base(store)}/devices/{_segment(device, 'device')}/status"


def table_call(store: str, table: str) -> str:
    return f"{base(store)}/tables/{_segment(table, 'table')}/call"


def table_call_state(store: str, table: str) -> str:
    return f"{table_call(store, table)}/state"


def kds_events(store: str, station: str) -> str:
    return f"{base(store)}/kds/{_segment(station, 'station')}/events"


def kds_bump(store: str, station: str) -> str:
    return f"{base(store)}/kds/{_segment(station, 'station')}/bump"


def printer_jobs(store: str, printer: str) -> str:
    return f"{base(store)}/printers/{_segment(printer, 'printer')}/jobs"


def printer_acks(store: str, printer: str) -> str:
    return f"{base(store)}/printers/{_segment(printer, 'printer')}/acks"


def scale_weight(store: str, scale: str) -> str:
    return f"{base(store)}/scales/{_segment(scale, 'scale')}/weight"


_NAME_RE = re.compile(r"\{(\w+)\}")


def topic(store: str, template: str, names: Mapping[str, str]) -> str:
    """A topic from a template under the store's prefix (`kds/{station}/events`), each
    `{name}` filled from `names` and checked as a topic segment."""
    return f"{base(store)}/" + _NAME_RE.sub(lambda m: _segment(names[m[1]], m[1]), template)


# Subscriptions the hub makes.
def hub_subscriptions(store: str) -> list[str]:
    b = base(store)
    return [
        f"{b}/kds/+/bump",
        f"{b}/devices/+/status",
        f"{b}/tables/+/call",
        f"{b}/printers/+/acks",
        f"{b}/scales/+/weight",
    ]


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed topic: kind (e.g. 'kds.bump') and the id of the thing it is about."""

    kind: str
    store: str
    subject: str


_PATTERNS = {
    ("devices", "status"): "device.status",
    ("tables", "call"): "table.call",
    ("tables", "call/state"): "table.call_state",
    ("kds", "events"): "kds.events",
    ("kds", "bump"): "kds.bump",
    ("printers", "jobs"): "printer.jobs",
    ("printers", "acks"): "printer.acks",
    ("scales", "weight"): "scale.weight",
}


KINDS = ("hub.status", *_PATTERNS.values())


def parse_topic(topic: str) -> Topic:
    parts = topic.split("/")
    if len(parts) < 4 or "/".join(parts[:2]) != PREFIX:
        raise ContractError(f"topic '{topic[:100]}' is not under {PREFIX}/")
    store = _segment(parts[2], "store")
    rest = parts[3:]
    if rest == ["hub", "status"]:
        return Topic("hub.status", store, "hub")
    if len(rest) >= 3:
        family, subject, tail = rest[0], rest[1], "/".join(rest[2:])
        kind = _PATTERNS.get((family, tail))
        if kind is not None:
            return Topic(kind, store, _segment(subject, family.rstrip("s")))
    raise ContractError(f"topic '{topic[:100]}' is not in the contract")


# ---------------------------------------------------------------- payloads


class BumpMessage(msgspec.Struct, forbid_unknown_fields=False, frozen=True):
    """kds/{station}/bump: a bump bar or button action; `id` makes repeats harmless.
    `fire` (from any station, or `expo`): fire `table`'s held `course` (None: the next).
    `start`: a cook starts `ticket` (None: the first on the station's screen not started)."""

    action: Literal["bump", "recall", "next", "prev", "fire", "start"]
    id: str
    ticket: int | None = None
    item: int | None = None
    table: str | None = None
    course: str | None = None


class CallMessage(msgspec.Struct, frozen=True):
    """tables/{table}/call: a call button press."""

    kind: Literal["waiter", "bill", "water"]
    id: str


class DeviceStatus(msgspec.Struct, frozen=True):
    """devices/{device}/status (retained, with a last will of state=offline)."""

    state: Literal["online", "offline"]
    kind: str | None = None
    detail: Detail | None = None


class WeightMessage(msgspec.Struct, frozen=True):
    """scales/{scale}/weight (retained, QoS 0): integer grams."""

    grams: int
    stable: bool


class PrintJob(msgspec.Struct, frozen=True):
    """printers/{printer}/jobs: a document for the printer agent to render and print."""

    job_id: str
    doc: PrintDoc


class PrintCancel(msgspec.Struct, frozen=True):
    """printers/{printer}/jobs: withdraw a job that went to a backup printer. An agent that
    has not printed it (queued, or started and waiting to retry after a failure) drops it and
    acks `{"ok": false, "error": "cancelled"}`; the backup prints it in full."""

    job_id: str
    cancel: bool = True


class PrintAck(msgspec.Struct, frozen=True):
    """printers/{printer}/acks: the agent's answer for one job id."""

    job_id: str
    ok: bool
    error: str | None = None
    status: Detail | None = None  # the printer's state as its status message reports it


_ID_MAX = 64


def _decode(payload: bytes, typ: type[Any]) -> Any:
    if len(payload) > MAX_PAYLOAD:
        raise ContractError(f"payload of {len(payload)} bytes is over {MAX_PAYLOAD}")
    try:
        msg = msgspec.json.decode(payload, type=typ)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ContractError(str(exc)) from exc
    except RecursionError as exc:
        raise ContractError("payload nested too deeply") from exc
    msg_id = getattr(msg, "id", None)
    if msg_id is None:
        msg_id = getattr(msg, "job_id", None)
    if msg_id is not None and not 0 < len(msg_id) <= _ID_MAX:
        raise ContractError(f"id must be 1-{_ID_MAX} characters")
    return msg


def decode_bump(payload: bytes) -> BumpMessage:
    msg: BumpMessage = _decode(payload, BumpMessage)
    return msg


def decode_call(payload: bytes) -> CallMessage:
    msg: CallMessage = _decode(payload, CallMessage)
    return msg


def decode_call_state(payload: bytes) -> CallState:
    """The LED state a call button follows; an empty (cleared) retained payload is 'off'."""
    if not payload:
        return CallState(open=False)
    msg: CallState = _decode(payload, CallState)
    return msg


def decode_device_status(payload: bytes) -> DeviceStatus:
    if payload in (b"online", b"offline"):  # plain ESPHome birth/will payloads
        return DeviceStatus(state=payload.decode())  # type: ignore[arg-type]
    msg: DeviceStatus = _decode(payload, DeviceStatus)
    return msg


def decode_weight(payload: bytes) -> WeightMessage:
    msg: WeightMessage = _decode(payload, WeightMessage)
    if not -1_000_000 <= msg.grams <= 10_000_000:
        raise ContractError("grams out of range")
    return msg


def decode_print_ack(payload: bytes) -> PrintAck:
    msg: PrintAck = _decode(payload, PrintAck)
    return msg


def encode(msg: msgspec.Struct) -> bytes:
    return msgspec.json.encode(msg)
