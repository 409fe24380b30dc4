"""The store's side of reservations, the waitlist and seatings: rows in, rows out."""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec

from hub.domain.events import DishIn
from hub.store.db import Store, Tx


class ResBody(msgspec.Struct, frozen=True):
    """A reservation's JSON body. The personal data (name, phone, notes) is blanked when the
    store forgets the guest (`forgotten`)."""

    name: str
    party: int
    phone: str | None = None
    notes: str = ""
    area: str = ""
    dishes: list[DishIn] = []
    by: str = ""
    conflict: str = ""
    forgotten: bool = False
    fired_order: int | None = None  # the order the pre-ordered dishes became


class WaitBody(msgspec.Struct, frozen=True):
    name: str
    phone: str | None = None
    message: str = ""
    forgotten: bool = False


_enc = msgspec.json.Encoder()
_res_dec = msgspec.json.Decoder(ResBody)
_wait_dec = msgspec.json.Decoder(WaitBody)

RES_COLS = "id, day, at_ms, table_id, status, source, check_id, body, created_at, updated_at"
WAIT_COLS = "id, token, status, party, created_ms, quoted_wait_s, table_id, body, updated_at"


def res_body(row: sqlite3.Row) -> ResBody:
    return _res_dec.decode(row["body"])


def wait_body(row: sqlite3.Row) -> WaitBody:
    return _wait_dec.decode(row["body"])


# ---------------------------------------------------------------- reservations


async def tx_reservation(tx: Tx, res_id: str) -> sqlite3.Row | None:
    return await tx.one(f"SELECT {RES_COLS} FROM reservations WHERE id=?", (res_id,))


async def put_reservation(
    tx: Tx,
    *,
    res_id: str,
    day: str,
    at_ms: int,
    table_id: str | None,
    status: str,
    source: str,
    check_id: int | None,
    body: ResBody,
) -> None:
    await tx.execute(
        f"INSERT INTO reservations({RES_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET day=excluded.day, at_ms=excluded.at_ms, "
        "table_id=excluded.table_id, status=excluded.status, source=excluded.source, "
        "check_id=excluded.check_id, body=excluded.body, updated_at=excluded.updated_at",
        (
            res_id, day, at_ms, table_id, status, source, check_id,
            _enc.encode(body).decode(), tx.now, tx.now,
        ),
    )  # fmt: skip


async def tx_active_near(tx: Tx, lo_ms: int, hi_ms: int) -> list[sqlite3.Row]:
    """Booked or seated reservations with a table, starting between lo and hi."""
    return await tx.all(
        f"SELECT {RES_COLS} FROM reservations WHERE at_ms >= ? AND at_ms < ? "
        "AND status IN ('booked', 'seated') AND table_id IS NOT NULL",
        (lo_ms, hi_ms),
    )


async def read_day(store: Store, day: str) -> list[sqlite3.Row]:
    return await store.read_all(
        f"SELECT {RES_COLS} FROM reservations WHERE day=? ORDER BY at_ms, id", (day,)
    )


async def read_reservation(store: Store, res_id: str) -> sqlite3.Row | None:
    return await store.read_one(f"SELECT {RES_COLS} FROM reservations WHERE id=?", (res_id,))


async def read_due(store: Store, lo_ms: int, hi_ms: int) -> list[sqlite3.Row]:
    """Booked reservations starting between lo and hi (pre-orders to fire)."""
    return await store.read_all(
        f"SELECT {RES_COLS} FROM reservations WHERE status='booked' AND at_ms >= ? AND at_ms < ?",
        (lo_ms, hi_ms),
    )


# ---------------------------------------------------------------- the waitlist


async def insert_wait(
    tx: Tx,
    *,
    wait_id: str,
    token: str,
    party: int,
    created_ms: int,
    quoted_wait_s: int,
    body: WaitBody,
) -> None:
    await tx.execute(
        f"INSERT INTO waitlist({WAIT_COLS}) VALUES (?, ?, 'waiting', ?, ?, ?, NULL, ?, ?)",
        (wait_id, token, party, created_ms, quoted_wait_s, _enc.encode(body).decode(), tx.now),
    )


async def tx_wait(tx: Tx, wait_id: str) -> sqlite3.Row | None:
    return await tx.one(f"SELECT {WAIT_COLS} FROM waitlist WHERE id=?", (wait_id,))


async def set_wait(tx: Tx, wait_id: str, status: str, table_id: str | None, body: WaitBody) -> None:
    await tx.execute(
        "UPDATE waitlist SET status=?, table_id=?, body=?, updated_at=? WHERE id=?",
        (status, table_id, _enc.encode(body).decode(), tx.now, wait_id),
    )


async def read_waiting(store: Store) -> list[sqlite3.Row]:
    return await store.read_all(
        f"SELECT {WAIT_COLS} FROM waitlist WHERE status='waiting' ORDER BY created_ms, id"
    )


async def tx_waiting(tx: Tx) -> list[sqlite3.Row]:
    return await tx.all(
        f"SELECT {WAIT_COLS} FROM waitlist WHERE status='waiting' ORDER BY created_ms, id"
    )


async def read_wait_by_token(store: Store, token: str) -> sqlite3.Row | None:
    return await store.read_one(f"SELECT {WAIT_COLS} FROM waitlist WHERE token=?", (token,))


# ---------------------------------------------------------------- seatings and turn times


async def insert_seating(tx: Tx, check_id: int, party: int, source: str) -> None:
    await tx.execute(
        "INSERT INTO seatings(check_id, party, source, at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(check_id) DO UPDATE SET party=excluded.party, source=excluded.source",
        (check_id, party, source, tx.now),
    )


async def read_turns(store: Store, limit: int) -> list[sqlite3.Row]:
    """The latest closed checks: when they opened and closed, and their party if known."""
    return await store.read_all(
        "SELECT c.opened_at, c.closed_at, s.party FROM checks c "
        "LEFT JOIN seatings s ON s.check_id = c.id WHERE c.closed_at IS NOT NULL "
        "ORDER BY c.id DESC LIMIT ?",
        (limit,),
    )


async def read_open_checks(store: Store) -> list[sqlite3.Row]:
    """Each table's open check: when it opened and its party if known."""
    return await store.read_all(
        "SELECT c.table_id, c.opened_at, s.party FROM checks c "
        "LEFT JOIN seatings s ON s.check_id = c.id WHERE c.closed_at IS NULL"
    )


# ---------------------------------------------------------------- forgetting guests


async def forget_before(tx: Tx, before_ms: int, limit: int) -> int:
    """Blank the personal data of reservations and walk-ins older than `before_ms`; returns
    how many rows were changed (at most `limit` of each). Pages a long body leaves free are
    zeroed too (secure_delete on for these statements: the store runs with FAST, which
    leaves freed pages as they were)."""
    await tx.execute("PRAGMA secure_delete=ON")
    try:
        return await _forget_before(tx, before_ms, limit)
    finally:
        await tx.execute("PRAGMA secure_delete=FAST")


async def _forget_before(tx: Tx, before_ms: int, limit: int) -> int:
    changed = 0
    rows = await tx.all(
        "SELECT id, body FROM reservations WHERE at_ms < ? "
        "AND body NOT LIKE '%\"forgotten\":true%' LIMIT ?",
        (before_ms, limit),
    )
    for row in rows:
        body = _res_dec.decode(row["body"])
        blank = msgspec.structs.replace(body, name="", phone=None, notes="", forgotten=True)
        await tx.execute(
            "UPDATE reservations SET body=? WHERE id=?", (_enc.encode(blank).decode(), row["id"])
        )
        changed += 1
    rows = await tx.all(
        "SELECT id, body FROM waitlist WHERE created_ms < ? "
        "AND body NOT LIKE '%\"forgotten\":true%' LIMIT ?",
        (before_ms, limit),
    )
    for row in rows:
        blank_w = WaitBody(name="", phone=None, message="", forgotten=True)
        await tx.execute(
            "UPDATE waitlist SET body=? WHERE id=?", (_enc.encode(blank_w).decode(), row["id"])
        )
        changed += 1
    return changed


def row_dict(row: sqlite3.Row) -> dict[str, Any]:
    return {k: row[k] for k in row.keys()}  # noqa: SIM118 (sqlite3.Row has no __iter__ of keys)
