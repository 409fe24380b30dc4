"""SQL for each kind of record. Functions take a `Tx` (inside a write unit) or the `Store`
(for reads) and speak the catalogue's shapes (`Order`, `Ticket`, `Call`, `Device`: built from
a row here and nowhere else), plain dicts and domain values; nothing else in the hub writes
SQL."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec

from hub.domain.events import (
    Call,
    Detail,
    Device,
    Order,
    OrderLine,
    TableRef,
    Ticket,
    TicketLine,
)
from hub.domain.printdoc import PrintDoc
from hub.domain.tickets import TicketItem, TicketState
from hub.store.db import Store, Tx
from plumbing.clock import ms_from_iso
from plumbing.packed import pack, unpack

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


class OrderBody(msgspec.Struct, frozen=True):
    """What the `orders.body` column holds."""

    table: TableRef
    lines: list[OrderLine]
    entered_by: str | None = None  # the staff login that took it (None: a diner's phone)
    all_together: bool = False  # the diner asked for every course at once
    served: dict[str, int] = {}  # course ('' for none) -> when expo served it (ms)


class TicketBody(msgspec.Struct, frozen=True):
    """What the `tickets.body` column holds (the bumped flags live in `tickets.items`)."""

    table: TableRef
    number: int
    items: list[TicketLine]
    round: int = 1
    printed_on: str | msgspec.UnsetType = msgspec.UNSET
    course: str | None = None
    fired_ms: int = 0
    start_at_ms: int = 0
    due_ms: int = 0
    expected_s: int = 0
    held_visible: bool = False
    started_ms: int = 0  # when a cook started it (0: not said)


class _Flag(msgspec.Struct, frozen=True):
    idx: int
    bumped: bool = False


_order_body = msgspec.json.Decoder(OrderBody)
_ticket_body = msgspec.json.Decoder(TicketBody)
_flags = msgspec.json.Decoder(list[_Flag])
_detail = msgspec.json.Decoder(Detail)
_print_doc = msgspec.json.Decoder(PrintDoc)


def dumps(value: Any) -> str:
    """Compact JSON text (UTF-8 kept as is), as stored in the JSON columns."""
    try:
        return _encoder.encode(value).decode()
    except (TypeError, OverflowError):  # integers past 64 bits: the standard library's way
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    return _decoder.decode(unpack(text))


def packs(value: Any) -> bytes | str:
    """A large JSON column's stored form (orders' and tickets' bodies, print documents,
    actions' answers): packed (`plumbing.packed`: a quarter of the bytes on the card), or the
    text itself when short. Read back with `loads` or `unpack`."""
    return pack(dumps(value).encode())


# ---------------------------------------------------------------- meta, menu, tables


async def get_meta(store: Store, key: str) -> str | None:
    row = await store.read_one("SELECT value FROM meta WHERE key=?", (key,))
    return None if row is None else str(row[0])


async def set_meta(tx: Tx, key: str, value: str) -> None:
    await tx.execute(
        "INSERT INTO meta(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
        (key, value),
    )


async def load_menu(store: Store) -> tuple[int, dict[str, Any]] | None:
    row = await store.read_one("SELECT version, body FROM menu WHERE id=1")
    return None if row is None else (int(row[0]), loads(row[1]))


async def load_availability(store: Store) -> dict[str, bool]:
    rows = await store.read_all("SELECT item, available FROM availability")
    return {r[0]: bool(r[1]) for r in rows}


async def save_menu(tx: Tx, doc: dict[str, Any]) -> int:
    row = await tx.one("SELECT version FROM menu WHERE id=1")
    version = 1 if row is None else int(row[0]) + 1
    await tx.execute(
        "INSERT INTO menu(id, version, body, updated_at) VALUES (1, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET version=excluded.version, "
        "body=excluded.body, updated_at=excluded.updated_at",
        (version, dumps(doc), tx.now),
    )
    # the document's own availability is the truth after an import
    await tx.execute("DELETE FROM availability")
    return version


async def set_availability(tx: Tx, item: str, available: bool) -> None:
    await tx.execute(
        "INSERT INTO availability(item, available, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(item) DO UPDATE SET available=excluded.available, "
        "updated_at=excluded.updated_at",
        (item, int(available), tx.now),
    )


# ---------------------------------------------------------------- stock counts


async def load_stock(store: Store) -> dict[str, tuple[int, int | None]]:
    rows = await store.read_all("SELECT item, left_count, low_at FROM stock")
    return {r[0]: (int(r[1]), None if r[2] is None else int(r[2])) for r in rows}


async def tx_stock(tx: Tx, items: Sequence[str]) -> dict[str, tuple[int, int | None]]:
    """The counts of those of `items` that are counted."""
    if not items:
        return {}
    marks = ",".join("?" * len(items))
    rows = await tx.all(
        f"SELECT item, left_count, low_at FROM stock WHERE item IN ({marks})", tuple(items)
    )
    return {r[0]: (int(r[1]), None if r[2] is None else int(r[2])) for r in rows}


async def set_stock(tx: Tx, item: str, left: int, low_at: int | None) -> None:
    await tx.execute(
        "INSERT INTO stock(item, left_count, low_at, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(item) DO UPDATE SET left_count=excluded.left_count, "
        "low_at=excluded.low_at, updated_at=excluded.updated_at",
        (item, left, low_at, tx.now),
    )


async def delete_stock(tx: Tx, item: str) -> None:
    await tx.execute("DELETE FROM stock WHERE item=?", (item,))


async def list_tables(store: Store) -> list[sqlite3.Row]:
    return await store.read_all(
        "SELECT id, name, token_version, opened_at, pin FROM tables ORDER BY position"
    )


async def set_table_open(tx: Tx, table_id: str, pin: str | None, is_open: bool) -> bool:
    cur = await tx.execute(
        "UPDATE tables SET opened_at=?, pin=? WHERE id=?",
        (tx.now if is_open else None, pin if is_open else None, table_id),
    )
    return bool(cur.rowcount)


async def upsert_table(tx: Tx, table_id: str, name: str, position: int) -> None:
    await tx.execute(
        "INSERT INTO tables(id, name, position) VALUES (?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET name=excluded.name, "
        "position=excluded.position",
        (table_id, name, position),
    )


async def provision_table(tx: Tx, table_id: str, name: str, version: int, position: int) -> None:
    """A table as provisioning printed it: a token version is raised to `version`, never
    lowered (a lower one would bring back QR codes that were rotated away)."""
    await tx.execute(
        "INSERT INTO tables(id, name, position, token_version) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET name=excluded.name, "
        "token_version=MAX(token_version, excluded.token_version)",
        (table_id, name, position, version),
    )


async def rotate_table(tx: Tx, table_id: str) -> int | None:
    await tx.execute("UPDATE tables SET token_version = token_version + 1 WHERE id=?", (table_id,))
    row = await tx.one("SELECT token_version FROM tables WHERE id=?", (table_id,))
    return None if row is None else int(row[0])


# ---------------------------------------------------------------- checks and orders


async def open_check(tx: Tx, table_id: str) -> tuple[int, int]:
    """(check id, next round) of the table's open check, opening one if needed."""
    row = await tx.one("SELECT id FROM checks WHERE table_id=? AND closed_at IS NULL", (table_id,))
    if row is None:
        cur = await tx.execute(
            "INSERT INTO checks(table_id, opened_at) VALUES (?, ?)", (table_id, tx.now)
        )
        check_id = int(cur.lastrowid or 0)
        return check_id, 1
    check_id = int(row[0])
    n = await tx.one("SELECT COUNT(*) FROM orders WHERE check_id=?", (check_id,))
    return check_id, (int(n[0]) if n else 0) + 1


async def close_check(tx: Tx, table_id: str) -> int | None:
    row = await tx.one("SELECT id FROM checks WHERE table_id=? AND closed_at IS NULL", (table_id,))
    if row is None:
        return None
    await tx.execute("UPDATE checks SET closed_at=? WHERE id=?", (tx.now, row[0]))
    return int(row[0])


# an order named by the idempotency keys kept in memory (hub/services/ordering.py), checked
# against its row: the keys have no index, which every order's commit would write at random
ORDER_BY_KEY = "SELECT id, request_hash FROM orders WHERE id=? AND table_id=? AND idempotency_key=?"


async def find_order_by_key(tx: Tx, order_id: int, table_id: str, key: str) -> sqlite3.Row | None:
    return await tx.one(ORDER_BY_KEY, (order_id, table_id, key))


async def read_recent_keys(
    store: Store, since_iso: str, at_least: int
) -> list[tuple[str, str, int, str]]:
    """(table, idempotency key, order id, created_at) of the orders taken since `since_iso`
    and of the last `at_least` orders whenever taken (a clock set back at boot must not hide
    the newest), oldest first."""
    first = await first_id_since(store, "orders", "created_at", since_iso)
    top = await store.read_one("SELECT MAX(id) FROM orders")
    if top is not None and top[0] is not None:
        first = min(first, int(top[0]) - at_least + 1)
    rows = await store.read_all(
        "SELECT table_id, idempotency_key, id, created_at FROM orders WHERE id >= ? ORDER BY id",
        (first,),
    )
    return [(str(r[0]), str(r[1]), int(r[2]), str(r[3])) for r in rows]


async def insert_order(
    tx: Tx,
    *,
    check_id: int,
    table_id: str,
    round_no: int,
    key: str,
    request_hash: str,
    total_cents: int,
    body: OrderBody,
) -> int:
    cur = await tx.execute(
        "INSERT INTO orders(check_id, table_id, round, idempotency_key, request_hash, status, "
        "total_cents, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'received', ?, ?, ?, ?)",
        (check_id, table_id, round_no, key, request_hash, total_cents, packs(body), tx.now, tx.now),
    )
    return int(cur.lastrowid or 0)


async def insert_ticket(
    tx: Tx,
    *,
    order_id: int,
    station: str,
    items: list[TicketItem],
    body: TicketBody,
    created_ms: int,
    status: str = "open",
) -> int:
    cur = await tx.execute(
        "INSERT INTO tickets(order_id, station, status, items, body, created_at, created_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            order_id,
            station,
            status,
            dumps([{"idx": i.idx, "bumped": i.bumped} for i in items]),
            packs(body),
            tx.now,
            created_ms,
        ),
    )
    return int(cur.lastrowid or 0)


ORDER_COLS = "id, check_id, table_id, round, status, total_cents, body, created_at"
# the orders not yet served, oldest first: orders_open, not every order ever taken
OPEN_ORDERS_SQL = f"SELECT {ORDER_COLS} FROM orders WHERE served_ms IS NULL ORDER BY id"
TICKET_COLS = "id, order_id, station, status, items, body, created_at, created_ms, bumped_at"
T_TICKET_COLS = ", ".join(f"t.{c}" for c in TICKET_COLS.split(", "))
# an order's tickets (`o`), through the range of their ids it keeps (`t`); order_id too: the
# range of an order made before schema 7 is from its lowest ticket id to its highest
JOIN_TICKETS = (
    "CROSS JOIN tickets t ON t.id BETWEEN o.tickets_from AND o.tickets_to AND t.order_id = o.id"
)


def order_from_row(row: sqlite3.Row) -> Order:
    body = _order_body.decode(unpack(row["body"]))
    return make_order(
        body,
        row["id"],
        row["status"],
        row["total_cents"],
        row["round"],
        row["created_at"],
        check_id=row["check_id"],
    )


def make_order(
    body: OrderBody,
    order_id: int,
    status: str,
    total_cents: int,
    round_no: int,
    created_at: str,
    *,
    check_id: int = 0,
) -> Order:
    """The one shape of an order (what the diner, the expo and the cloud see)."""
    return Order(
        table=body.table,
        lines=body.lines,
        order_id=order_id,
        number=order_id,
        status=status,
        total_cents=total_cents,
        round=round_no,
        created_at=created_at,
        entered_by=body.entered_by,
        check_id=check_id,
    )


def make_ticket(
    body: TicketBody,
    *,
    ticket_id: int,
    order_id: int,
    station: str,
    status: str,
    created_at: str,
    created_ms: int,
    bumped_at: str | None,
) -> Ticket:
    """The one shape of a ticket (what screens, KDS devices, printers and the cloud see)."""
    return Ticket(
        table=body.table,
        number=body.number,
        items=body.items,
        id=ticket_id,
        order_id=order_id,
        station=station,
        status=status,
        round=body.round,
        created_at=created_at,
        created_ms=created_ms,
        bumped_at=bumped_at,
        printed_on=body.printed_on,
        course=body.course,
        fired_ms=body.fired_ms,
        start_at_ms=body.start_at_ms,
        due_ms=body.due_ms,
        expected_s=body.expected_s,
        held_visible=body.held_visible,
        started_ms=body.started_ms,
    )


def ticket_from_row(row: sqlite3.Row) -> Ticket:
    body = _ticket_body.decode(unpack(row["body"]))
    flags = {f.idx: f.bumped for f in _flags.decode(row["items"])}
    items = [
        it
        if it.bumped == flags.get(it.idx, False)
        else msgspec.structs.replace(it, bumped=not it.bumped)
        for it in body.items
    ]
    return make_ticket(
        msgspec.structs.replace(body, items=items),
        ticket_id=row["id"],
        order_id=row["order_id"],
        station=row["station"],
        status=row["status"],
        created_at=row["created_at"],
        created_ms=row["created_ms"],
        bumped_at=row["bumped_at"],
    )


def ticket_state(row: sqlite3.Row) -> TicketState:
    items = tuple(TicketItem(f.idx, f.bumped) for f in _flags.decode(row["items"]))
    return TicketState(row["status"], items, row["bumped_at"])


async def tx_order(tx: Tx, order_id: int) -> Order | None:
    row = await tx.one(f"SELECT {ORDER_COLS} FROM orders WHERE id=?", (order_id,))
    return None if row is None else order_from_row(row)


async def tx_ticket(tx: Tx, ticket_id: int) -> Ticket | None:
    row = await tx_ticket_row(tx, ticket_id)
    return None if row is None else ticket_from_row(row)


def ticket_body(row: sqlite3.Row) -> TicketBody:
    return _ticket_body.decode(unpack(row["body"]))


def order_body(row: sqlite3.Row) -> OrderBody:
    return _order_body.decode(unpack(row["body"]))


async def tx_ticket_row(tx: Tx, ticket_id: int) -> sqlite3.Row | None:
    return await tx.one(f"SELECT {TICKET_COLS} FROM tickets WHERE id=?", (ticket_id,))


async def tx_tickets_of_order(tx: Tx, order_id: int) -> list[sqlite3.Row]:
    return await tx.all(
        f"SELECT {T_TICKET_COLS} FROM orders o {JOIN_TICKETS} WHERE o.id=? ORDER BY t.id",
        (order_id,),
    )


async def set_order_tickets(tx: Tx, order_id: int, first: int, last: int) -> None:
    """Note the range of ids of the tickets just made for the order (in its commit)."""
    await tx.execute(
        "UPDATE orders SET tickets_from=?, tickets_to=? WHERE id=?", (first, last, order_id)
    )


async def save_ticket_state(tx: Tx, ticket_id: int, state: TicketState) -> None:
    """A ticket bumped gets the seq of the unit's next event as its `bumped_seq` (the order of
    the bumps: higher than any event before it), read from no index of every bump."""
    await tx.execute(
        "UPDATE tickets SET status=?, items=?, bumped_at=?, bumped_seq=? WHERE id=?",
        (
            state.status,
            dumps([{"idx": i.idx, "bumped": i.bumped} for i in state.items]),
            state.bumped_at,
            tx.next_seq if state.status == "bumped" else None,
            ticket_id,
        ),
    )


async def set_order_status(tx: Tx, order_id: int, status: str) -> None:
    if status == "served":  # it leaves orders_open
        await tx.execute(
            "UPDATE orders SET status=?, updated_at=?, served_ms=? WHERE id=?",
            (status, tx.now, ms_from_iso(tx.now), order_id),
        )
    else:  # served_ms not set: orders_open's entry is left as it is
        await tx.execute(
            "UPDATE orders SET status=?, updated_at=? WHERE id=?", (status, tx.now, order_id)
        )


# Every station's newest bumps, without an index of all of them (one more b-tree for every
# bump to write): the stations that have bumped tickets, skipped through tickets_bumped
# (station, bumped_seq) one station at a time, then each station's newest from that index.
_BUMPED_STATIONS = (
    "WITH RECURSIVE s(station) AS ("
    "SELECT MIN(station) FROM tickets WHERE status='bumped' "
    "UNION ALL SELECT (SELECT MIN(station) FROM tickets WHERE status='bumped' "
    "AND station > s.station) FROM s WHERE s.station IS NOT NULL) "
    "SELECT station FROM s WHERE station IS NOT NULL"
)
NEWEST_FIRST = "ORDER BY bumped_seq DESC, id DESC"
STATIONS_A_READ = 100


def _newest_bumped_sql(cols: str, stations: int) -> str:
    one = (
        f"SELECT * FROM (SELECT {cols}, bumped_seq FROM tickets "
        f"WHERE station=? AND status='bumped' {NEWEST_FIRST} LIMIT ?)"
    )
    return " UNION ALL ".join([one] * stations) + f" {NEWEST_FIRST} LIMIT ?"


async def _newest_bumped(
    read: Callable[[str, Sequence[Any]], Awaitable[list[sqlite3.Row]]], cols: str, limit: int
) -> list[sqlite3.Row]:
    """The `limit` tickets bumped last at any station, newest first (`read`: a unit's
    `tx.all` or the store's `read_all`)."""
    stations = [str(r[0]) for r in await read(_BUMPED_STATIONS, ())]
    rows: list[sqlite3.Row] = []
    # SQLite takes at most 500 terms in one compound SELECT: stations a hundred at a time
    for i in range(0, len(stations), STATIONS_A_READ):
        part = stations[i : i + STATIONS_A_READ]
        params: list[Any] = [p for st in part for p in (st, limit)]
        rows += await read(_newest_bumped_sql(cols, len(part)), [*params, limit])
    if len(stations) > STATIONS_A_READ:
        rows.sort(key=lambda r: (r["bumped_seq"], r["id"]), reverse=True)
    return rows[:limit]


async def last_bumped(tx: Tx, station: str | None) -> int | None:
    if station is None:
        rows = await _newest_bumped(tx.all, "id", 1)
        row = rows[0] if rows else None
    else:
        row = await tx.one(
            f"SELECT id FROM tickets WHERE station=? AND status='bumped' {NEWEST_FIRST} LIMIT 1",
            (station,),
        )
    return None if row is None else int(row[0])


async def get_action(tx: Tx, action_id: str) -> Any:
    row = await tx.one("SELECT result FROM actions WHERE id=?", (action_id,))
    return None if row is None else loads(row[0])


async def put_action(tx: Tx, action_id: str, result: Any) -> None:
    await tx.execute(
        "INSERT INTO actions(id, result, at) VALUES (?, ?, ?)", (action_id, packs(result), tx.now)
    )


# ---------------------------------------------------------------- reads


async def read_order(store: Store, order_id: int) -> Order | None:
    row = await store.read_one(f"SELECT {ORDER_COLS} FROM orders WHERE id=?", (order_id,))
    return None if row is None else order_from_row(row)


async def read_order_row(store: Store, order_id: int) -> sqlite3.Row | None:
    return await store.read_one(f"SELECT {ORDER_COLS} FROM orders WHERE id=?", (order_id,))


async def read_order_by_key(
    store: Store, order_id: int, table_id: str, key: str
) -> sqlite3.Row | None:
    """The id and request hash of the order, if it is the table's under this key."""
    return await store.read_one(ORDER_BY_KEY, (order_id, table_id, key))


async def read_open_check_orders(store: Store, table_id: str) -> list[Order]:
    rows = await store.read_all(
        f"SELECT {ORDER_COLS} FROM orders WHERE check_id = (SELECT id FROM checks WHERE "
        "table_id=? AND closed_at IS NULL) ORDER BY id",
        (table_id,),
    )
    return [order_from_row(r) for r in rows]


async def read_open_orders(store: Store) -> list[Order]:
    rows = await store.read_all(OPEN_ORDERS_SQL)
    return [order_from_row(r) for r in rows]


async def read_open_tickets(store: Store, station: str | None) -> list[Ticket]:
    if station is None:
        rows = await store.read_all(
            # +id: through tickets_open, not every ticket in id order
            f"SELECT {TICKET_COLS} FROM tickets WHERE status='open' ORDER BY +id"
        )
    else:
        rows = await store.read_all(
            f"SELECT {TICKET_COLS} FROM tickets WHERE station=? AND status='open' ORDER BY id",
            (station,),
        )
    return [ticket_from_row(r) for r in rows]


async def read_recent_bumped(store: Store, station: str | None, limit: int = 10) -> list[Ticket]:
    """A station's last bumped tickets, newest first; every station's with None (the expo)."""
    if station is None:
        rows = await _newest_bumped(store.read_all, TICKET_COLS, limit)
    else:
        rows = await store.read_all(
            f"SELECT {TICKET_COLS} FROM tickets WHERE status='bumped' AND station=? "
            f"{NEWEST_FIRST} LIMIT ?",
            (station, limit),
        )
    return [ticket_from_row(r) for r in rows]


async def read_tickets_of_orders(store: Store, order_ids: list[int]) -> list[Ticket]:
    if not order_ids:
        return []
    # one JSON parameter, not one per order: SQLite allows at most 32,766 parameters
    rows = await store.read_all(
        f"SELECT {T_TICKET_COLS} FROM json_each(?) j CROSS JOIN orders o ON o.id = j.value "
        f"{JOIN_TICKETS} ORDER BY t.id",
        (dumps(order_ids),),
    )
    return [ticket_from_row(r) for r in rows]


# ---------------------------------------------------------------- staff tokens


async def insert_staff_token(tx: Tx, token_id: str, token_hash: str, role: str, label: str) -> None:
    await tx.execute(
        "INSERT INTO staff_tokens(id, hash, role, label, created_at) VALUES (?, ?, ?, ?, ?)",
        (token_id, token_hash, role, label, tx.now),
    )


async def revoke_staff_token(tx: Tx, token_id: str) -> bool:
    cur = await tx.execute(
        "UPDATE staff_tokens SET revoked_at=? WHERE id=? AND revoked_at IS NULL", (tx.now, token_id)
    )
    return bool(cur.rowcount)


async def find_staff_token(store: Store, token_hash: str) -> sqlite3.Row | None:
    return await store.read_one(
        "SELECT id, role, label, revoked_at FROM staff_tokens WHERE hash=?", (token_hash,)
    )


async def list_staff_tokens(store: Store) -> list[sqlite3.Row]:
    return await store.read_all(
        "SELECT id, role, label, created_at, revoked_at FROM staff_tokens ORDER BY created_at"
    )


async def get_cursor(store: Store, name: str) -> int:
    row = await store.read_one("SELECT seq FROM cursors WHERE name=?", (name,))
    return 0 if row is None else int(row[0])


async def set_cursor(tx: Tx, name: str, seq: int) -> None:
    await tx.execute(
        "INSERT INTO cursors(name, seq) VALUES (?, ?) ON CONFLICT(name) "
        "DO UPDATE SET seq=MAX(seq, excluded.seq)",
        (name, seq),
    )


# ---------------------------------------------------------------- calls and devices

CALL_COLS = (
    "id, table_id, kind, source, state, escalated, opened_at, opened_ms, acked_at, closed_at"
)


def call_from_row(row: sqlite3.Row) -> Call:
    return Call(
        id=row["id"],
        table=row["table_id"],
        kind=row["kind"],
        source=row["source"],
        state=row["state"],
        escalated=bool(row["escalated"]),
        opened_at=row["opened_at"],
        opened_ms=row["opened_ms"],
        acked_at=row["acked_at"],
        closed_at=row["closed_at"],
    )


async def tx_open_call(tx: Tx, table_id: str, kind: str) -> sqlite3.Row | None:
    return await tx.one(
        f"SELECT {CALL_COLS} FROM calls WHERE table_id=? AND kind=? AND state != 'closed'",
        (table_id, kind),
    )


async def tx_call(tx: Tx, call_id: int) -> sqlite3.Row | None:
    return await tx.one(f"SELECT {CALL_COLS} FROM calls WHERE id=?", (call_id,))


async def insert_call(tx: Tx, table_id: str, kind: str, source: str, opened_ms: int) -> int:
    cur = await tx.execute(
        "INSERT INTO calls(table_id, kind, source, state, opened_at, "
        "opened_ms) VALUES (?, ?, ?, 'open', ?, ?)",
        (table_id, kind, source, tx.now, opened_ms),
    )
    return int(cur.lastrowid or 0)


async def update_call(tx: Tx, call_id: int, state: str, escalated: bool) -> None:
    col = {"acked": "acked_at", "closed": "closed_at"}.get(state)
    stamp = f", {col}=?" if col else ""
    params: tuple[Any, ...] = (state, int(escalated), *((tx.now,) if col else ()), call_id)
    await tx.execute(f"UPDATE calls SET state=?, escalated=?{stamp} WHERE id=?", params)


async def tx_table_has_open_call(tx: Tx, table_id: str) -> bool:
    # state != 'closed' lets calls_one_open (the live calls) answer it
    row = await tx.one(
        "SELECT 1 FROM calls WHERE table_id=? AND state != 'closed' AND state='open' LIMIT 1",
        (table_id,),
    )
    return row is not None


async def read_active_calls(store: Store) -> list[Call]:
    rows = await store.read_all(
        f"SELECT {CALL_COLS} FROM calls WHERE state != 'closed' ORDER BY opened_ms"
    )
    return [call_from_row(r) for r in rows]


def device_from_row(row: sqlite3.Row) -> Device:
    return Device(
        id=row["id"],
        kind=row["kind"],
        state=row["state"],
        detail=_detail.decode(row["detail"]),
        changed_at=row["changed_at"],
        seen_at=row["seen_at"],
    )


async def tx_device(tx: Tx, device_id: str) -> sqlite3.Row | None:
    return await tx.one(
        "SELECT id, kind, state, detail, changed_at, seen_at FROM devices WHERE id=?", (device_id,)
    )


async def upsert_device(
    tx: Tx, device_id: str, kind: str | None, state: str, detail: Detail, changed: bool
) -> None:
    await tx.execute(
        "INSERT INTO devices(id, kind, state, detail, changed_at, seen_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
        "kind=COALESCE(excluded.kind, devices.kind), state=excluded.state, "
        "detail=excluded.detail, seen_at=excluded.seen_at, "
        "changed_at=CASE WHEN ? THEN excluded.changed_at ELSE devices.changed_at END",
        (device_id, kind, state, dumps(detail), tx.now, tx.now, int(changed)),
    )


async def read_device(store: Store, device_id: str) -> Device | None:
    row = await store.read_one(
        "SELECT id, kind, state, detail, changed_at, seen_at FROM devices WHERE id=?",
        (device_id,),
    )
    return None if row is None else device_from_row(row)


async def delete_device(tx: Tx, device_id: str) -> None:
    await tx.execute("DELETE FROM devices WHERE id=?", (device_id,))


async def read_devices(store: Store) -> list[Device]:
    rows = await store.read_all(
        "SELECT id, kind, state, detail, changed_at, seen_at FROM devices ORDER BY id"
    )
    return [device_from_row(r) for r in rows]


async def tx_order_row(tx: Tx, order_id: int) -> sqlite3.Row | None:
    return await tx.one(f"SELECT {ORDER_COLS} FROM orders WHERE id=?", (order_id,))


async def update_order_body(tx: Tx, order_id: int, body: OrderBody, total: int) -> None:
    await tx.execute(
        "UPDATE orders SET body=?, total_cents=?, updated_at=? WHERE id=?",
        (packs(body), total, tx.now, order_id),
    )


async def update_ticket_body(tx: Tx, ticket_id: int, body: TicketBody) -> None:
    await tx.execute("UPDATE tickets SET body=? WHERE id=?", (packs(body), ticket_id))


# ---------------------------------------------------------------- print jobs

JOB_COLS = (
    "rowid, id, printer, origin, kind, copy, doc, state, reason, attempts, ticket_id, sent_ms, "
    "created_at, updated_at"
)


def job_from_row(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "printer": row["printer"],
        "origin": row["origin"],
        "kind": row["kind"],
        "copy": row["copy"],
        "doc": _print_doc.decode(unpack(row["doc"])),
        "state": row["state"],
        "reason": row["reason"],
        "attempts": row["attempts"],
        "ticket_id": row["ticket_id"],
        "sent_ms": row["sent_ms"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


async def insert_job(
    tx: Tx,
    job_id: str,
    printer: str,
    kind: str,
    copy: str,
    doc: PrintDoc,
    ticket_id: int | None,
) -> bool:
    """Queue a job; False when a job with this id exists already (it is never made twice).
    A ticket's job is noted on the ticket (`tickets.jobs`), which finds it again."""
    cur = await tx.execute(
        "INSERT OR IGNORE INTO print_jobs(id, printer, origin, kind, copy, doc, state, "
        "ticket_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)",
        (job_id, printer, printer, kind, copy, packs(doc), ticket_id, tx.now, tx.now),
    )
    if not cur.rowcount:
        return False
    if ticket_id is not None:
        await tx.execute(
            "UPDATE tickets SET jobs = json_insert(COALESCE(jobs, '[]'), '$[#]', ?) WHERE id=?",
            (cur.lastrowid, ticket_id),
        )
    return True


# a ticket's print jobs (`j`), through the rowids the ticket keeps (the ticket's id is `?`)
JOBS_OF_TICKET = "j.rowid IN (SELECT value FROM json_each((SELECT jobs FROM tickets WHERE id=?)))"


async def tx_job(tx: Tx, job_id: str) -> sqlite3.Row | None:
    return await tx.one(f"SELECT {JOB_COLS} FROM print_jobs WHERE id=?", (job_id,))


async def update_job(
    tx: Tx,
    job_id: str,
    *,
    state: str,
    reason: str | None = None,
    sent_ms: int | None = None,
    attempt: bool = False,
    printer: str | None = None,
    doc: PrintDoc | None = None,
) -> None:
    await tx.execute(
        "UPDATE print_jobs SET state=?, reason=?, sent_ms=COALESCE(?, sent_ms), "
        "attempts=attempts + ?, printer=COALESCE(?, printer), doc=COALESCE(?, doc), "
        "updated_at=? WHERE id=?",
        (
            state,
            reason,
            sent_ms,
            int(attempt),
            printer,
            None if doc is None else packs(doc),
            tx.now,
            job_id,
        ),
    )


# meta key: a rowid of print_jobs that no pending (queued or sent) job is below. A job never
# becomes pending again once printed, failed or cancelled, and a new job's rowid is above
# every job's there, so a mark once true stays true; the pending jobs are read from it.
PRINT_LOW = "print_jobs_low"
PENDING_SINCE = "rowid >= ? AND state IN ('queued', 'sent')"
# the low mark now, read from an older one: the first pending job's rowid, or past the last
# job when none is pending
PENDING_LOW_SQL = (
    f"SELECT COALESCE((SELECT MIN(rowid) FROM print_jobs WHERE {PENDING_SINCE}), "
    "(SELECT COALESCE(MAX(rowid), 0) + 1 FROM print_jobs))"
)

# the pending jobs by printer and state (the metrics), from the low mark
PENDING_COUNTS_SQL = (
    f"SELECT printer, state, COUNT(*) FROM print_jobs WHERE {PENDING_SINCE} GROUP BY printer, state"
)


async def read_pending_jobs(store: Store, low: int) -> tuple[list[dict[str, Any]], int]:
    """The pending jobs, oldest first, from the low mark `low` on; and the mark they give
    (the first one's rowid, or past the last job when none is pending). The last job is read
    first: a job made between the two reads is then either among the pending or above it."""
    top = await store.read_one("SELECT COALESCE(MAX(rowid), 0) + 1 FROM print_jobs")
    assert top is not None
    rows = await store.read_all(
        f"SELECT {JOB_COLS} FROM print_jobs WHERE {PENDING_SINCE} ORDER BY rowid", (low,)
    )
    if rows:
        return [job_from_row(r) for r in rows], int(rows[0]["rowid"])
    return [], max(low, int(top[0]))


async def read_print_low(store: Store) -> int:
    """The low mark kept (0: none yet, every job is looked at)."""
    got = await get_meta(store, PRINT_LOW)
    return int(got) if got else 0


async def read_pending_low(store: Store, low: int) -> int:
    """The low mark as the jobs are now, looked for from the mark `low` on."""
    row = await store.read_one(PENDING_LOW_SQL, (low,))
    assert row is not None
    return int(row[0])


async def read_jobs_by_id(store: Store, job_ids: list[str]) -> list[dict[str, Any]]:
    """These jobs, in the order they were made."""
    rows = await store.read_all(
        f"SELECT {JOB_COLS} FROM print_jobs WHERE id IN (SELECT value FROM json_each(?)) "
        "ORDER BY rowid",
        (dumps(job_ids),),
    )
    return [job_from_row(r) for r in rows]


async def read_jobs(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    rows = await store.read_all(
        f"SELECT {JOB_COLS} FROM print_jobs ORDER BY rowid DESC LIMIT ?", (limit,)
    )
    return [job_from_row(r) for r in rows]


async def count_jobs_for_ticket(tx: Tx, ticket_id: int) -> int:
    row = await tx.one(
        "SELECT json_array_length(COALESCE(jobs, '[]')) FROM tickets WHERE id=?", (ticket_id,)
    )
    return int(row[0]) if row else 0


async def read_open_tickets_unprinted(store: Store, station: str) -> list[Ticket]:
    rows = await store.read_all(
        f"SELECT {TICKET_COLS} FROM tickets t WHERE station=? AND status='open' AND NOT EXISTS "
        "(SELECT 1 FROM json_each(t.jobs) AS k JOIN print_jobs j ON j.rowid = k.value "
        "WHERE j.kind='kitchen') ORDER BY id",
        (station,),
    )
    return [ticket_from_row(r) for r in rows]


async def read_check(store: Store, table_id: str) -> tuple[int, list[Order]] | None:
    row = await store.read_one(
        "SELECT id FROM checks WHERE table_id=? AND closed_at IS NULL", (table_id,)
    )
    if row is None:
        return None
    rows = await store.read_all(
        f"SELECT {ORDER_COLS} FROM orders WHERE check_id=? ORDER BY id", (row[0],)
    )
    return int(row[0]), [order_from_row(r) for r in rows]


async def mark_ticket_printed(tx: Tx, ticket_id: int, printer: str) -> None:
    row = await tx.one("SELECT body FROM tickets WHERE id=?", (ticket_id,))
    if row is None:
        return
    body = msgspec.structs.replace(_ticket_body.decode(unpack(row[0])), printed_on=printer)
    await tx.execute("UPDATE tickets SET body=? WHERE id=?", (packs(body), ticket_id))


# ---------------------------------------------------------------- kitchen numbers


async def first_id_since(
    store: Store, table: str, column: str, value: Any, *, key: str = "id"
) -> int:
    """The lowest id of `table` whose `column` is >= `value`, found by bisecting the ids:
    orders and tickets are appended with ever later times, so a window of the kitchen's
    numbers is read from there on by primary key, without an index that every order would
    write to (or a read of every row ever made). A clock set back makes the found id too high
    by the rows made in the "future"; the numbers then leave those out."""
    row = await store.read_one(
        f"SELECT (SELECT MIN({key}) FROM {table}), (SELECT MAX({key}) FROM {table})"
    )
    if row is None or row[0] is None:
        return 0
    lo, hi = int(row[0]), int(row[1]) + 1
    while lo < hi:
        mid = (lo + hi) // 2
        found = await store.read_one(  # rows without the column (an order not quoted) skipped
            f"SELECT {column} FROM {table} WHERE {key} >= ? AND {column} IS NOT NULL "
            f"ORDER BY {key} LIMIT 1",
            (mid,),
        )
        if found is None or found[0] >= value:
            hi = mid
        else:
            lo = mid + 1
    return lo


async def read_order_times(store: Store, since_iso: str) -> list[str]:
    """Creation times of the orders placed since `since_iso` (ISO strings sort by time)."""
    first = await first_id_since(store, "orders", "created_at", since_iso)
    rows = await store.read_all(
        "SELECT created_at FROM orders WHERE id >= ? AND created_at >= ?", (first, since_iso)
    )
    return [str(r[0]) for r in rows]


async def read_ticket_times(store: Store, since_ms: int) -> list[tuple[str, int, str | None]]:
    """(station, created_ms, bumped_at) of tickets made since `since_ms`, and of every ticket
    still open; `bumped_at` is None for an open ticket."""
    first = await first_id_since(store, "tickets", "created_ms", since_ms)
    rows = await store.read_all(
        # the window by primary key, then the open tickets before it through tickets_open
        "SELECT station, created_ms, CASE WHEN status='bumped' THEN bumped_at END "
        "FROM tickets WHERE id >= ? AND created_ms >= ? "
        "UNION ALL SELECT station, created_ms, NULL FROM tickets "
        "WHERE status='open' AND (id < ? OR created_ms < ?)",
        (first, since_ms, first, since_ms),
    )
    return [(str(r[0]), int(r[1]), None if r[2] is None else str(r[2])) for r in rows]


# ---------------------------------------------------------------- pacing


async def tx_held_tickets_of_table(tx: Tx, table_id: str) -> list[sqlite3.Row]:
    """The held tickets of the table's open check, oldest first."""
    return await tx.all(
        f"SELECT {TICKET_COLS} FROM tickets WHERE status='held' AND order_id IN "
        "(SELECT o.id FROM orders o JOIN checks c ON c.id = o.check_id "
        "WHERE c.table_id=? AND c.closed_at IS NULL) ORDER BY id",
        (table_id,),
    )


async def tx_tickets_of_table(tx: Tx, table_id: str) -> list[sqlite3.Row]:
    """Every ticket of the table's open check."""
    return await tx.all(
        f"SELECT {T_TICKET_COLS} FROM checks c JOIN orders o ON o.check_id = c.id "
        f"{JOIN_TICKETS} WHERE c.table_id=? AND c.closed_at IS NULL ORDER BY t.id",
        (table_id,),
    )


async def fire_ticket(tx: Tx, ticket_id: int, body: TicketBody) -> None:
    """A held ticket goes to its station: open, with its fired and paced times."""
    await tx.execute(
        "UPDATE tickets SET status='open', body=? WHERE id=? AND status='held'",
        (packs(body), ticket_id),
    )


async def read_active_tickets(store: Store) -> list[Ticket]:
    """Every open or held ticket: what the kitchen still has to make."""
    rows = await store.read_all(
        f"SELECT {TICKET_COLS} FROM tickets WHERE status='open' "
        f"UNION ALL SELECT {TICKET_COLS} FROM tickets WHERE status='held' ORDER BY id"
    )
    return [ticket_from_row(r) for r in rows]


async def read_held_tickets(store: Store) -> list[Ticket]:
    rows = await store.read_all(
        f"SELECT {TICKET_COLS} FROM tickets WHERE status='held' ORDER BY id"
    )
    return [ticket_from_row(r) for r in rows]


async def read_last_bumped(store: Store, limit: int) -> list[Ticket]:
    """The last `limit` tickets bumped, oldest first (what the prep times are learnt from)."""
    rows = await _newest_bumped(store.read_all, TICKET_COLS, limit)
    return [ticket_from_row(r) for r in reversed(rows)]


async def has_column(store: Store, table: str, column: str) -> bool:
    rows = await store.read_all("SELECT name FROM pragma_table_info(?)", (table,))
    return any(r[0] == column for r in rows)


async def insert_quote(
    tx: Tx, *, order_id: int, table_id: str, quoted_ms: int, ready_by_ms: int, tickets: list[int]
) -> None:
    """The wait quoted for an order, kept on its row (written in this commit anyway); once.
    `table_id` is the order's own."""
    await tx.execute(
        "UPDATE orders SET quoted_ms=?, ready_by_ms=?, quote_tickets=? "
        "WHERE id=? AND quoted_ms IS NULL",
        (quoted_ms, ready_by_ms, dumps(tickets), order_id),
    )


async def tx_open_quote(tx: Tx, order_id: int) -> sqlite3.Row | None:
    return await tx.one(
        "SELECT id AS order_id, quote_tickets AS tickets, quoted_ms, ready_by_ms FROM orders "
        "WHERE id=? AND quoted_ms IS NOT NULL AND ready_ms IS NULL",
        (order_id,),
    )


async def resolve_quote(tx: Tx, order_id: int, ready_ms: int) -> None:
    await tx.execute(
        "UPDATE orders SET ready_ms=? WHERE id=? AND quoted_ms IS NOT NULL AND ready_ms IS NULL",
        (ready_ms, order_id),
    )


async def tx_ticket_statuses(tx: Tx, ticket_ids: list[int]) -> list[str]:
    rows = await tx.all(
        "SELECT status FROM tickets WHERE id IN (SELECT value FROM json_each(?))",
        (dumps(ticket_ids),),
    )
    return [str(r[0]) for r in rows]


async def read_quotes(store: Store, since_ms: int) -> list[tuple[int, int, int | None]]:
    """(quoted_ms, ready_by_ms, ready_ms) of the quotes given since `since_ms`, in the order
    they were given. A quote is kept on its order, given as it is placed: the window is found
    by bisecting the order ids (no index on the time for every order to write to)."""
    first = await first_id_since(store, "orders", "quoted_ms", since_ms)
    rows = await store.read_all(
        "SELECT quoted_ms, ready_by_ms, ready_ms FROM orders WHERE id >= ? "
        "AND quoted_ms >= ? ORDER BY id",
        (first, since_ms),
    )
    return [(int(r[0]), int(r[1]), None if r[2] is None else int(r[2])) for r in rows]
