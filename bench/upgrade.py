"""How long the upgrade to schema 7 takes on a store with history:
`python -m bench.upgrade [--orders 100000] [--tmp /var/tmp]`.

Schema 7 rebuilds `orders` (its UNIQUE (table, idempotency key) cannot be dropped otherwise)
and fills the orders' ticket ranges and the tickets' print jobs from the indexes it then drops.
This makes a store of N orders (two tickets and two print jobs each, bodies of a store's
size), puts it in schema 6's form, and times the hub's open of it: the backup of the store as
it was, then the upgrade. Printed: seconds for each, and the file's size.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from hub.store import backup
from hub.store.db import Store

V6_ORDERS = """CREATE TABLE orders (
    id INTEGER PRIMARY KEY, check_id INTEGER NOT NULL REFERENCES checks(id),
    table_id TEXT NOT NULL, round INTEGER NOT NULL, idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL, status TEXT NOT NULL, total_cents INTEGER NOT NULL,
    body TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, acts TEXT,
    quoted_ms INTEGER, ready_by_ms INTEGER, quote_tickets TEXT, ready_ms INTEGER,
    UNIQUE (table_id, idempotency_key)
)"""
BODY = "x" * 200  # a packed order, ticket or print document is 100-250 bytes


# the index of pending print jobs that schemas up to 7 had
V7_PENDING = (
    "CREATE INDEX print_jobs_pending ON print_jobs(printer) WHERE state IN ('queued', 'sent')"
)


def as_version_6(conn: sqlite3.Connection) -> None:
    """Put a new, empty store's tables in the form schema 6 gave them (the rows, none yet,
    are the caller's; `PRAGMA user_version` too)."""
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("DROP TABLE orders")
    conn.execute(V6_ORDERS)
    conn.execute("CREATE INDEX orders_by_check ON orders(check_id)")
    conn.execute("CREATE INDEX orders_open ON orders(status) WHERE status != 'served'")
    conn.execute("ALTER TABLE tickets DROP COLUMN jobs")
    conn.execute("CREATE INDEX tickets_by_order ON tickets(order_id)")
    conn.execute("CREATE INDEX print_jobs_by_ticket ON print_jobs(ticket_id)")
    conn.execute(V7_PENDING)


def _clock() -> str:
    return "2026-12-07T12:00:00.000Z"


async def _make(db: Path, orders: int) -> None:
    async with Store(db, clock=_clock):
        pass
    conn = sqlite3.connect(db, isolation_level=None)
    as_version_6(conn)
    conn.execute("BEGIN")
    conn.execute("INSERT INTO tables(id, name, position) VALUES ('T1', 'T1', 1)")
    conn.execute("INSERT INTO checks(id, table_id, opened_at) VALUES (1, 'T1', 'then')")
    for n in range(1, orders + 1):
        conn.execute(
            "INSERT INTO orders(id, check_id, table_id, round, idempotency_key, request_hash, "
            "status, total_cents, body, created_at, updated_at) VALUES (?, 1, ?, 1, ?, 'h', "
            "'served', 100, ?, '2026-12-01T12:00:00.000Z', '2026-12-01T12:30:00.000Z')",
            (n, f"T{n % 40}", os.urandom(8).hex(), BODY),
        )
        for k in (0, 1):
            t = 2 * n + k
            conn.execute(
                "INSERT INTO tickets(id, order_id, station, status, items, body, created_at, "
                "created_ms) VALUES (?, ?, 'grill', 'bumped', '[]', ?, 'then', 0)",
                (t, n, BODY),
            )
            conn.execute(
                "INSERT INTO print_jobs(id, printer, origin, kind, copy, doc, state, ticket_id, "
                "created_at, updated_at) VALUES (?, 'p', 'p', 'kitchen', 'ORIGINAL', ?, "
                "'printed', ?, 'then', 'then')",
                (f"chit-{t}-p", BODY, t),
            )
    conn.execute("PRAGMA user_version=6")
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


async def run(orders: int, tmp: str) -> None:
    with tempfile.TemporaryDirectory(dir=tmp) as d:
        db = Path(d) / "tablehub.db"
        await _make(db, orders)
        size = db.stat().st_size
        t0 = time.perf_counter()
        async with Store(db, clock=_clock):
            opened = time.perf_counter() - t0
        backups = list(backup.backups_dir(Path(d)).iterdir())
        print(
            f"{orders} orders, store {size / 1e6:.1f} MB: opened with the upgrade (backup "
            f"included) in {opened:.2f} s; backups kept: {len(backups)}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=100_000)
    p.add_argument("--tmp", default="/var/tmp")
    a = p.parse_args()
    asyncio.run(run(a.orders, a.tmp))


if __name__ == "__main__":
    main()
