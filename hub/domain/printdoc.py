"""Print documents, pure: what the hub asks a printer to print (a kitchen chit, a bill, a test
page), typed once. The hub builds them (hub/services/printing.py), the contract carries them
in a `PrintJob` (hub/bus/contract.py re-exports them) and the printer agent renders them
(devices/printers/render.py). `kind` tells them apart on the wire.

`encoding` and `width` say what the hub's config expects of the printer; the agent prints
with its own settings and warns once when they differ.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from msgspec import UNSET, UnsetType

Copy = Literal["ORIGINAL", "REPRINT"]
# a chit that corrects one printed before: lines voided, or what changed on lines
Correction = Literal["VOID", "CHANGE"]


class Item(msgspec.Struct, frozen=True):
    """A line of a kitchen chit, in the printer's language."""

    qty: int
    name: str
    modifiers: list[str] = []
    note: str | None = None
    allergens: list[str] = []
    grams: int | UnsetType = UNSET  # sold by weight, once weighed
    void_qty: int = 0  # of `qty`, voided (a later chit shows them struck off)
    reason: str | None = None  # a VOID chit: why
    changes: list[str] = []  # a CHANGE chit: only what changed ("QTY 1 -> 2", "+ Extra")


class KitchenDoc(msgspec.Struct, frozen=True, tag="kitchen", tag_field="kind"):
    table: str
    number: int
    items: list[Item]
    copy: Copy = "ORIGINAL"
    banner: str | None = None
    correction: Correction | None = None
    store: str = ""
    station: str = ""
    round: int | None = None
    time: str | None = None
    lang: str = "en"
    encoding: str | None = None
    width: int | None = None


class BillLine(msgspec.Struct, frozen=True):
    qty: int
    name: str
    line_cents: int
    modifiers: list[str] = []
    grams: int | None = None


class TaxLine(msgspec.Struct, frozen=True):
    name: str
    cents: int


class BillDoc(msgspec.Struct, frozen=True, tag="bill", tag_field="kind"):
    table: str
    number: int
    lines: list[BillLine]
    subtotal_cents: int
    total_cents: int
    copy: Copy = "ORIGINAL"
    banner: str | None = None
    store: str = ""
    header: list[str] = []
    footer: list[str] = []
    time: str | None = None
    currency: str = "USD"
    tax_lines: list[TaxLine] = []
    qr: str | None = None
    lang: str = "en"
    encoding: str | None = None
    width: int | None = None


class TestDoc(msgspec.Struct, frozen=True, tag="test", tag_field="kind"):
    printer: str
    copy: Copy = "ORIGINAL"
    banner: str | None = None
    time: str | None = None
    lang: str = "en"
    encoding: str | None = None
    width: int | None = None


PrintDoc = KitchenDoc | BillDoc | TestDoc
