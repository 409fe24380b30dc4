"""Stock counts as the kitchen keeps them: set a count ("12 tonight"), take from it inside an
order's own write, put back what a void takes off a line not yet made.

At zero the item is sold out (86'd) in the same write that took the last portion, so every
screen and phone hears of it from the same commit; portions put back on an item sold out by
its count put it on sale again. Each change is a `StockChanged` event on the menu stream,
which the cloud receives with the rest of the menu's facts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from hub.domain.events import ItemAvailability, StockChanged
from hub.domain.menu import Menu
from hub.domain.stock import MAX_COUNT, Level, short_message, wanted
from hub.errors import InvalidInput, NotEnoughLeft, NotFound
from hub.services.actions import check_action_id as _check_action_id
from hub.services.catalog import Catalog
from hub.store import repos
from hub.store.checks import done_action, save_action
from hub.store.db import Store, Tx

log = logging.getLogger("tablehub.stock")


def _name(menu: Menu | None, item: str) -> str:
    found = menu.items.get(item) if menu is not None else None
    return found.name.get("en", item) if found is not None else item


async def _save(
    tx: Tx,
    item: str,
    before: Level | None,
    after: Level,
    reason: str,
    by: str,
    *,
    sold_out: bool = False,
) -> None:
    """Write a new level with its event; the last portion sells the item out, the first
    portion back (after a sell-out by count, or any sell-out when the kitchen sets a count:
    `sold_out`) puts it on sale again."""
    await repos.set_stock(tx, item, after.left, after.low_at)
    tx.emit(
        StockChanged(
            item=item, left=after.left, low_at=after.low_at, low=after.low, reason=reason, by=by
        )
    )
    was_out = sold_out or (before is not None and before.left == 0)
    if after.left == 0 and not was_out:
        await repos.set_availability(tx, item, False)
        tx.emit(ItemAvailability(item=item, available=False))
    elif after.left > 0 and was_out:
        await repos.set_availability(tx, item, True)
        tx.emit(ItemAvailability(item=item, available=True))


async def take(
    tx: Tx,
    menu: Menu | None,
    lines: Sequence[tuple[str, int]],
    *,
    reason: str = "order",
    field: str | None = None,
) -> None:
    """Take an order's units from the counted items it names, inside the order's write, or
    refuse the whole order (`NotEnoughLeft` naming the first line of the item short)."""
    wants = wanted(lines)
    levels = await repos.tx_stock(tx, [w.item for w in wants])
    counted = [(w, Level(*levels[w.item])) for w in wants if w.item in levels]
    for w, level in counted:
        if w.qty > level.left:
            raise NotEnoughLeft(
                short_message(_name(menu, w.item), level.left),
                level.left,
                field=field or f"lines[{w.first_line}].qty",
            )
    for w, level in counted:
        await _save(tx, w.item, level, level.taken(w.qty), reason, "")


async def put_back(tx: Tx, item: str, qty: int, *, reason: str = "void", by: str = "") -> None:
    """Units of a line not yet made, back on a counted item's count (none if not counted)."""
    if qty <= 0:
        return
    levels = await repos.tx_stock(tx, [item])
    if item not in levels:
        return
    level = Level(*levels[item])
    await _save(tx, item, level, level.returned(qty), reason, by)


def _check_count(count: Any, low_at: Any) -> None:
    if count is not None and (
        not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_COUNT
    ):
        raise InvalidInput(f"count must be a whole number from 0 to {MAX_COUNT}", field="count")
    if low_at is not None and (
        not isinstance(low_at, int) or isinstance(low_at, bool) or not 0 <= low_at <= MAX_COUNT
    ):
        raise InvalidInput(f"low_at must be a whole number from 0 to {MAX_COUNT}", field="low_at")


class Stock:
    """The kitchen's counts: set one, read them back."""

    def __init__(self, store: Store, catalog: Catalog) -> None:
        self._store = store
        self._catalog = catalog

    async def set_count(
        self, item: str, count: int | None, low_at: int | None, *, action_id: str | None, by: str
    ) -> dict[str, Any]:
        """Count an item (`count` portions left, a warning at `low_at`), or stop counting it
        (`count` None). A positive count puts the item on sale; zero sells it out. Repeated
        with the same action id, it answers the first result and changes nothing; an action id
        used for another kind of action is a `Conflict`."""
        menu = self._catalog.menu
        if menu is None or item not in menu.items:
            raise NotFound(f"no item '{item[:40]}'", field="item")
        _check_count(count, low_at)
        action_id = _check_action_id(action_id)

        async def unit(tx: Tx) -> dict[str, Any]:
            if action_id is not None:
                done, first = await done_action(tx, action_id, "stock")
                if done:
                    return dict(first)
            before = (await repos.tx_stock(tx, [item])).get(item)
            if count is None:
                await repos.delete_stock(tx, item)
                tx.emit(StockChanged(item=item, left=None, reason="set", by=by))
            else:
                level = None if before is None else Level(*before)
                now = self._catalog.menu  # as the writes before this one left it
                sold_out = now is not None and not now.items[item].available
                await _save(tx, item, level, Level(count, low_at), "set", by, sold_out=sold_out)
            result = {
                "item": item,
                "stock_left": count,
                "low_at": None if count is None else low_at,
            }
            if action_id is not None:
                await save_action(tx, action_id, "stock", result)
            return result

        result = await self._store.write(unit)
        log.info("stock of %s set to %s by %s", item, "uncounted" if count is None else count, by)
        return self._catalog.staff_item(item) if result else {}
