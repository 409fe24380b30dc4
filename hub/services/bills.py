"""Bills of a split check: one per part (its units of lines and its share of the taxes; an
even part's one line is its share), queued on the bill printer in one write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from msgspec.structs import replace

from hub.bus.contract import BillDoc, BillLine, TaxLine
from hub.config import PrinterConfig
from hub.domain import checks as money
from hub.errors import Conflict, InvalidInput
from hub.services.catalog import Table
from hub.services.printing import Printing
from hub.store.db import Store, Tx


def _name(names: dict[str, str], lang: str) -> str:
    return names.get(lang) or names.get("en") or next(iter(names.values()), "")


async def print_part_bills(
    store: Store,
    printing: Printing,
    table: Table,
    view: dict[str, Any],
    split: Any,
    taxes: Sequence[tuple[str, int]],
    part: int | None,
) -> dict[str, Any]:
    """A bill per part of the check in `view` (or the one `part`; or the whole check when
    it is not split)."""
    printer = next((p for p in printing.printers.values() if p.bills), None)
    if printer is None:
        raise Conflict("no printer is set up for bills", field="printer")
    orders, check_id = view["orders"], int(view["check_id"])
    m = money.money(orders, taxes)
    priced = money.parts(orders, split, m)
    if part is not None:
        priced = [p for p in priced if p.part == part]
        if not priced:
            raise InvalidInput(f"no part {part} of this check", field="part")
    if not priced:
        return await printing.print_bill(table.id)
    lines = {(o.order_id, i): ln for o in orders for i, ln in enumerate(o.lines)}
    docs = [(pm, _part_bill(printing, table, check_id, pm, lines, printer)) for pm in priced]

    async def unit(tx: Tx) -> list[str]:
        made = []
        for pm, doc in docs:
            n = 1
            while not await printing.queue_in_tx(
                tx, f"bill-{check_id}-p{pm.part}-{n}", printer.id, "bill",
                replace(doc, copy="ORIGINAL" if n == 1 else "REPRINT"),
            ):  # fmt: skip
                n += 1
            made.append(f"bill-{check_id}-p{pm.part}-{n}")
        return made

    jobs = await store.write(unit)
    return {"jobs": jobs, "printer": printer.id, "parts": [pm.part for pm in priced]}


def _part_bill(
    printing: Printing,
    table: Table,
    check_id: int,
    pm: money.PartMoney,
    lines: dict[tuple[int, int], Any],
    printer: PrinterConfig,
) -> BillDoc:
    """One part's bill: its units of lines (an even part: its share) and its taxes."""
    lang = printer.lang
    bill_lines = [
        BillLine(
            qty=units,
            name=_name(lines[key].name, lang),
            modifiers=[_name(mo.name, lang) for mo in lines[key].modifiers],
            line_cents=cents,
        )
        for key, units, cents in pm.lines
    ] or [BillLine(qty=1, name=f"Share {pm.label}", line_cents=pm.subtotal_cents)]
    doc = printing.bill_doc(table.as_dict(), [], printer)
    return replace(
        doc,
        banner=pm.label,
        number=check_id,
        lines=bill_lines,
        subtotal_cents=pm.subtotal_cents,
        tax_lines=[TaxLine(name=name, cents=c) for name, c in pm.taxes],
        total_cents=pm.total_cents,
    )
