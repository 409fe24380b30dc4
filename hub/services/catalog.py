"""The menu, tables and their QR tokens as the hub serves them, kept in memory and in the store.

The store holds the truth; `Catalog` keeps the parsed menu, the table list and the per-version
JSON the phones download, and changes them only after the store has committed the change.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hub.domain import tokens
from hub.domain.events import (
    ItemAvailability,
    MenuUpdated,
    StockChanged,
    TableClosed,
    TableOpened,
    TableState,
)
from hub.domain.menu import Menu, TableSpec, item_doc, menu_to_doc, parse_menu, station_doc
from hub.domain.stock import Level
from hub.errors import BadTableToken, NotFound
from hub.store import repos
from hub.store.db import Event, Store, Tx

log = logging.getLogger("tablehub.catalog")


@dataclass(frozen=True, slots=True)
class Table:
    id: str
    name: str
    version: int
    is_open: bool = False
    pin: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name}


class Catalog:
    def __init__(self, store: Store, secret: bytes, *, base_url: str = "") -> None:
        self._store = store
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self.menu: Menu | None = None
        self.menu_version = 0
        self.tables: dict[str, Table] = {}
        self.stock: dict[str, Level] = {}  # counted items: portions left, as last committed
        self._public_cache: tuple[int, dict[str, Any]] | None = None
        # a write that sells out or counts an item (an order, a void) is seen here, in commit
        # order, before its caller hears back
        store.on_commit(self.on_commit)

    # ------------------------------------------------------------ loading

    async def load(self, seed: dict[str, Any] | None = None) -> None:
        """Load menu and tables from the store; on first run seed them from `seed`."""
        stored = await repos.load_menu(self._store)
        if stored is None:
            if seed is None:
                raise NotFound("the store has no menu yet; give a menu file", field="menu")
            await self.import_menu(seed)
            return
        await self._refresh(stored[0], parse_menu(stored[1]))

    async def apply_provisioned(self, path: Path) -> list[str]:
        """Apply the table token versions `tablehub provision` left for a store that did not
        exist yet (`table-versions.json`), so the QR codes it printed work from the first
        start, then remove the file. Versions only go up. Returns the tables changed."""
        try:
            doc = json.loads(await asyncio.to_thread(path.read_text, "utf-8"))
            pending = [
                (str(t), str(v.get("name") or t), max(1, int(v.get("token_version", 1))))
                for t, v in doc["tables"].items()
            ]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.error("ignoring %s: not a table versions file (%s)", path, exc)
            return []
        changed = [t for t, _, v in pending if t not in self.tables or v > self.tables[t].version]

        async def unit(tx: Tx) -> None:
            for position, (table_id, name, version) in enumerate(pending, len(self.tables)):
                await repos.provision_table(tx, table_id, name, version, position)

        await self._store.write(unit)
        if self.menu is not None:
            await self._refresh(self.menu_version, self.menu)
        await asyncio.to_thread(path.unlink, missing_ok=True)
        log.info("applied provisioned table versions from %s: %s", path.name, changed or "none")
        return changed

    async def _refresh(self, version: int, menu: Menu) -> None:
        for item_id, available in (await repos.load_availability(self._store)).items():
            if item_id in menu.items:
                menu = menu.with_availability(item_id, available)
        self.menu, self.menu_version = menu, version
        self.stock = {
            item: Level(left, low_at)
            for item, (left, low_at) in (await repos.load_stock(self._store)).items()
        }
        self._public_cache = None
        self.tables = {
            r[0]: Table(r[0], r[1], int(r[2]), r[3] is not None, r[4])
            for r in await repos.list_tables(self._store)
        }

    async def import_menu(self, doc: dict[str, Any]) -> int:
        """Validate and save a whole menu document (first run, admin edit, cloud update)."""
        menu = parse_menu(doc)
        clean = menu_to_doc(menu)
        tables = menu.tables

        async def unit(tx: Tx) -> int:
            version = await repos.save_menu(tx, clean)
            await _save_tables(tx, tables)
            tx.emit(MenuUpdated(version=version))
            return version

        version = await self._store.write(unit)
        await self._refresh(version, menu)
        log.info(
            "menu version %d loaded: %d items, %d stations, %d tables",
            version,
            len(menu.items),
            len(menu.stations),
            len(self.tables),
        )
        return version

    # ------------------------------------------------------------ tables and tokens

    def token_for(self, table_id: str) -> str:
        table = self.tables.get(table_id)
        if table is None:
            raise NotFound(f"no table '{table_id}'", field="table")
        return tokens.sign_table(self._secret, table.id, table.version)

    def url_for(self, table_id: str) -> str:
        return f"{self.base_url}/t/{self.token_for(table_id)}"

    def table_from_token(self, token: str) -> Table:
        table_id, version = tokens.read_table(self._secret, token)
        table = self.tables.get(table_id)
        if table is None or table.version != version:
            raise BadTableToken(
                "this table's QR code is no longer valid; ask the staff", field="table"
            )
        return table

    async def rotate(self, table_id: str) -> str:
        async def unit(tx: Tx) -> int | None:
            return await repos.rotate_table(tx, table_id)

        version = await self._store.write(unit)
        if version is None:
            raise NotFound(f"no table '{table_id}'", field="table")
        old = self.tables[table_id]
        self.tables[table_id] = replace(old, version=version)
        return self.token_for(table_id)

    async def set_open(self, table_id: str, is_open: bool, pin: str | None) -> Table:
        """Open a table for ordering (with the PIN shown to the party) or close it, which
        also closes its check."""
        if table_id not in self.tables:
            raise NotFound(f"no table '{table_id}'", field="table")

        async def unit(tx: Tx) -> None:
            await repos.set_table_open(tx, table_id, pin, is_open)
            if not is_open:
                await repos.close_check(tx, table_id)
            event = TableOpened if is_open else TableClosed
            tx.emit(event(table=TableState(table_id, is_open)))

        await self._store.write(unit)
        self.tables[table_id] = replace(
            self.tables[table_id], is_open=is_open, pin=pin if is_open else None
        )
        log.info("table %s %s", table_id, "opened" if is_open else "closed")
        return self.tables[table_id]

    def mark_open(self, table_id: str, is_open: bool, pin: str | None) -> None:
        """What a write just saved about a table's open state (a move, a merge, a check paid
        in full), kept in memory for the orders' checks."""
        table = self.tables.get(table_id)
        if table is not None:
            self.tables[table_id] = replace(table, is_open=is_open, pin=pin if is_open else None)

    # ------------------------------------------------------------ availability (86)

    async def set_availability(self, item_id: str, available: bool) -> dict[str, Any]:
        menu = self._menu()
        if item_id not in menu.items:
            raise NotFound(f"no item '{item_id}'", field="item")

        async def unit(tx: Tx) -> None:
            await repos.set_availability(tx, item_id, available)
            tx.emit(ItemAvailability(item=item_id, available=available))

        await self._store.write(unit)
        self.menu = self._menu().with_availability(item_id, available)
        self._public_cache = None
        log.info("item %s is %s", item_id, "available" if available else "sold out")
        return self.staff_item(item_id)

    def on_commit(self, events: Sequence[Event]) -> None:
        """Keep the sold-out state and the counts in memory as the store commits them."""
        for ev in events:
            e = ev.event
            if isinstance(e, StockChanged):
                if e.left is None:
                    self.stock.pop(e.item, None)
                else:
                    self.stock[e.item] = Level(e.left, e.low_at)
                self._public_cache = None
            elif isinstance(e, ItemAvailability) and self.menu is not None:
                item = self.menu.items.get(e.item)
                if item is not None and item.available != e.available:
                    self.menu = self.menu.with_availability(e.item, e.available)
                    self._public_cache = None

    # ------------------------------------------------------------ views

    def _menu(self) -> Menu:
        if self.menu is None:
            raise NotFound("no menu loaded")
        return self.menu

    def public_menu(self) -> dict[str, Any]:
        """The menu document phones download (no stations, no internals); cached per change."""
        if self._public_cache is not None and self._public_cache[0] == self.menu_version:
            return self._public_cache[1]
        menu = self._menu()
        items = []
        for i in menu.items.values():
            doc = item_doc(i)
            del doc["station"]
            level = self.stock.get(i.id)
            if level is not None:
                doc["stock_left"] = level.left
            course = menu.course_of(i) if menu.courses else None
            if course is not None:
                doc["course"] = course  # its own or its category's: the cart's "all together"
            items.append(doc)
        view = {
            "store": {"name": menu.store.name, "currency": menu.store.currency},
            "languages": list(menu.store.languages),
            "categories": [{"id": c.id, "name": dict(c.name)} for c in menu.categories],
            "items": items,
            "labels": {k: {lk: dict(lv) for lk, lv in v.items()} for k, v in menu.labels.items()},
            "courses": [{"id": c.id, "name": dict(c.name), "hold": c.hold} for c in menu.courses],
        }
        self._public_cache = (self.menu_version, view)
        return view

    def menu_document(self) -> dict[str, Any]:
        """The whole menu as an editable document, with the current sold-out state."""
        doc = menu_to_doc(self._menu())
        doc["tables"] = [{"id": t.id, "name": t.name} for t in self.tables.values()]
        return doc

    def staff_items(self) -> list[dict[str, Any]]:
        return [self._staff_doc(item_doc(i)) for i in self._menu().items.values()]

    def staff_item(self, item_id: str) -> dict[str, Any]:
        return self._staff_doc(item_doc(self._menu().items[item_id]))

    def _staff_doc(self, doc: dict[str, Any]) -> dict[str, Any]:
        """An item as staff see it: with its count, warning level and whether it is low."""
        level = self.stock.get(doc["id"])
        if level is not None:
            doc.update(stock_left=level.left, low_at=level.low_at, stock_low=level.low)
        return doc

    def stations(self) -> list[dict[str, Any]]:
        return [station_doc(s) for s in self._menu().stations]

    def station(self, station_id: str) -> dict[str, Any]:
        if station_id == "expo":
            return {
                "id": "expo",
                "name": {"en": "Expo", "zh-Hans": "出餐口", "zh-Hant": "出餐口"},
                "warn_seconds": max((s.warn_seconds for s in self._menu().stations), default=300),
                "late_seconds": max((s.late_seconds for s in self._menu().stations), default=600),
            }
        s = self._menu().station(station_id)
        if s is None:
            raise NotFound(f"no station '{station_id}'", field="station")
        return station_doc(s)


async def _save_tables(tx: Tx, tables: tuple[TableSpec, ...]) -> None:
    for pos, t in enumerate(tables):
        await repos.upsert_table(tx, t.id, t.name, pos)
