"""SQL of the floor's corrections and checks: the corrections record, how a check is split,
the payments recorded against it, and moving orders between checks and tables."""

from __future__ import annotations

import sqlite3
from typing import Any

from hub.domain.events import Correction, TableRef
from hub.errors import Conflict
from hub.store import repos
from hub.store.db import Store, Tx
from hub.store.repos import JOBS_OF_TICKET

# ---------------------------------------------------------------- actions done once


async def done_action(tx: Tx, action_id: str, op: str) -> tuple[bool, Any]:
    """(True, the first answer) when the action id was used for this same `op` before;
    (False, None) when it is new; `Conflict` when it was used for another action."""
    found = await repos.get_action(tx, action_id)
    if found is None:
        return False, None
    if not isinstance(found, dict) or found.get("op") != op:
        raise Conflict("this action id was used for another action", field="id")
    return True, found.get("result")


async def save_action(tx: Tx, action_id: str, op: str, result: Any) -> None:
    await repos.put_action(tx, action_id, {"op": op, "result": result})


# ---------------------------------------------------------------- corrections


async def insert_correction(tx: Tx, c: Correction, day: str) -> None:
    await tx.execute(
        "INSERT INTO corrections(id, kind, day, order_id, line, table_id, qty, cents, reason, "
        "comp, by, at, before, after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            c.id,
            c.kind,
            day,
            c.order_id,
            c.line,
            c.table,
            c.qty,
            c.cents,
            c.reason,
            int(c.comp),
            c.by,
            c.at,
            repos.dumps(c.before),
            repos.dumps(c.after),
        ),
    )


async def read_corrections(store: Store, day: str) -> list[sqlite3.Row]:
    return await store.read_all(
        "SELECT id, kind, order_id, line, table_id, qty, cents, reason, comp, by, at, before, "
        "after FROM corrections WHERE day=? ORDER BY at, id",
        (day,),
    )


# ---------------------------------------------------------------- checks


async def tx_open_check(tx: Tx, table_id: str) -> int | None:
    row = await tx.one("SELECT id FROM checks WHERE table_id=? AND closed_at IS NULL", (table_id,))
    return None if row is None else int(row[0])


async def tx_check_of_order(tx: Tx, order_id: int) -> sqlite3.Row | None:
    return await tx.one(
        "SELECT c.id, c.table_id, c.closed_at FROM checks c JOIN orders o ON o.check_id=c.id "
        "WHERE o.id=?",
        (order_id,),
    )


async def tx_order_rows_of_check(tx: Tx, check_id: int) -> list[sqlite3.Row]:
    return await tx.all(
        f"SELECT {repos.ORDER_COLS} FROM orders WHERE check_id=? ORDER BY id", (check_id,)
    )


async def read_order_rows_of_check(store: Store, check_id: int) -> list[sqlite3.Row]:
    return await store.read_all(
        f"SELECT {repos.ORDER_COLS} FROM orders WHERE check_id=? ORDER BY id", (check_id,)
    )


async def read_open_checks(store: Store) -> dict[str, tuple[int, int, int]]:
    """table id -> (check id, orders, their total cents) of every open check."""
    rows = await store.read_all(
        "SELECT c.table_id, c.id, COUNT(o.id), COALESCE(SUM(o.total_cents), 0) FROM checks c "
        "LEFT JOIN orders o ON o.check_id=c.id WHERE c.closed_at IS NULL GROUP BY c.id"
    )
    return {str(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in rows}


async def read_paid_by_check(store: Store) -> dict[int, int]:
    """check id -> cents paid, of every open check."""
    rows = await store.read_all(
        "SELECT p.check_id, SUM(p.amount_cents) FROM payments p JOIN checks c "
        "ON c.id=p.check_id WHERE c.closed_at IS NULL GROUP BY p.check_id"
    )
    return {int(r[0]): int(r[1]) for r in rows}


async def read_open_check_id(store: Store, table_id: str) -> int | None:
    row = await store.read_one(
        "SELECT id FROM checks WHERE table_id=? AND closed_at IS NULL", (table_id,)
    )
    return None if row is None else int(row[0])


async def move_check(tx: Tx, check_id: int, to_table: str) -> None:
    await tx.execute("UPDATE checks SET table_id=? WHERE id=?", (to_table, check_id))


async def move_orders(tx: Tx, from_check: int, to_check: int) -> None:
    await tx.execute("UPDATE orders SET check_id=? WHERE check_id=?", (to_check, from_check))


async def close_check_id(tx: Tx, check_id: int) -> None:
    await tx.execute("UPDATE checks SET closed_at=? WHERE id=?", (tx.now, check_id))


async def retable_order(tx: Tx, order_id: int, table: TableRef) -> list[int]:
    """Write `table` into an order and its tickets; the ids of its tickets."""
    row = await repos.tx_order_row(tx, order_id)
    if row is None:
        return []
    body = repos.order_body(row)
    body = repos.OrderBody(table, body.lines, body.entered_by)
    await tx.execute(
        "UPDATE orders SET body=?, updated_at=? WHERE id=?", (repos.packs(body), tx.now, order_id)
    )
    ids = []
    for trow in await repos.tx_tickets_of_order(tx, order_id):
        tbody = repos.ticket_body(trow)
        tbody = repos.TicketBody(table, tbody.number, tbody.items, tbody.round, tbody.printed_on)
        await repos.update_ticket_body(tx, int(trow["id"]), tbody)
        ids.append(int(trow["id"]))
    return ids


# ---------------------------------------------------------------- splits and payments


async def tx_split(tx: Tx, check_id: int) -> Any:
    row = await tx.one("SELECT body FROM check_splits WHERE check_id=?", (check_id,))
    return None if row is None else repos.loads(row[0])


async def read_split(store: Store, check_id: int) -> Any:
    row = await store.read_one("SELECT body FROM check_splits WHERE check_id=?", (check_id,))
    return None if row is None else repos.loads(row[0])


async def save_split(tx: Tx, check_id: int, body: dict[str, Any]) -> None:
    await tx.execute(
        "INSERT INTO check_splits(check_id, body, at) VALUES (?, ?, ?) ON CONFLICT(check_id) "
        "DO UPDATE SET body=excluded.body, at=excluded.at",
        (check_id, repos.dumps(body), tx.now),
    )


async def delete_split(tx: Tx, check_id: int) -> None:
    await tx.execute("DELETE FROM check_splits WHERE check_id=?", (check_id,))


PAYMENT_COLS = "id, check_id, table_id, part, method, amount_cents, tip_cents, by, at"


async def insert_payment(tx: Tx, p: dict[str, Any]) -> None:
    await tx.execute(
        f"INSERT INTO payments({PAYMENT_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            p["id"],
            p["check_id"],
            p["table_id"],
            p["part"],
            p["method"],
            p["amount_cents"],
            p["tip_cents"],
            p["by"],
            p["at"],
        ),
    )


def _payment(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "part": row["part"],
        "method": row["method"],
        "amount_cents": row["amount_cents"],
        "tip_cents": row["tip_cents"],
        "by": row["by"],
        "at": row["at"],
    }


async def tx_payments(tx: Tx, check_id: int) -> list[dict[str, Any]]:
    rows = await tx.all(
        f"SELECT {PAYMENT_COLS} FROM payments WHERE check_id=? ORDER BY at, id", (check_id,)
    )
    return [_payment(r) for r in rows]


async def read_payments(store: Store, check_id: int) -> list[dict[str, Any]]:
    rows = await store.read_all(
        f"SELECT {PAYMENT_COLS} FROM payments WHERE check_id=? ORDER BY at, id", (check_id,)
    )
    return [_payment(r) for r in rows]


# ---------------------------------------------------------------- chits


async def tx_chit_printers(tx: Tx, ticket_id: int) -> list[str]:
    """The printers a ticket's own chit printed on or is still to print on, in order (not
    one whose job failed or was cancelled: that chit never reaches the kitchen)."""
    rows = await tx.all(
        f"SELECT printer FROM print_jobs j WHERE {JOBS_OF_TICKET} AND kind='kitchen' "
        "AND copy='ORIGINAL' AND state IN ('queued', 'sent', 'printed') ORDER BY rowid",
        (ticket_id,),
    )
    out: list[str] = []
    for r in rows:
        if r[0] not in out:
            out.append(str(r[0]))
    return out


async def tx_pending_corrections(tx: Tx, ticket_id: int) -> list[tuple[str, str]]:
    """(job id, printer) of a ticket's VOID and CHANGE chits still to print."""
    rows = await tx.all(
        f"SELECT id, printer FROM print_jobs j WHERE {JOBS_OF_TICKET} AND kind='correction' "
        "AND state IN ('queued', 'sent') ORDER BY rowid",
        (ticket_id,),
    )
    return [(str(r[0]), str(r[1])) for r in rows]


async def read_chit_printed(store: Store, ticket_id: int, printer: str) -> bool:
    """Whether a ticket's own chit is printed on `printer`."""
    row = await store.read_one(
        f"SELECT 1 FROM print_jobs j WHERE {JOBS_OF_TICKET} AND printer=? AND kind='kitchen' "
        "AND copy='ORIGINAL' AND state='printed' LIMIT 1",
        (ticket_id, printer),
    )
    return row is not None
