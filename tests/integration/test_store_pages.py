"""Which b-trees a commit writes: every one it touches is at least one page more in the WAL,
and again in the file at the next checkpoint (on a Pi, an SD card's wear).

A commit's frames are read from the store's WAL (each frame's header names its page) and each
page is named by the b-tree it belongs to (SQLite's `dbstat`).
"""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path

from hub.store import booking as booking_rows
from hub.store import repos
from hub.store.db import Store, Tx

WAL_HEADER, FRAME_HEADER = 32, 24
OPEN_ORDERS = 400  # enough for orders_open to be a tree of several leaves


def clock() -> str:
    return "2026-12-07T12:00:00.000Z"


def wal_pages(db: Path) -> list[int]:
    """The page number of each frame in the store's WAL, in order."""
    data = Path(f"{db}-wal").read_bytes()
    if len(data) < WAL_HEADER:
        return []
    page_size = struct.unpack(">I", data[8:12])[0]
    step = FRAME_HEADER + page_size
    return [
        struct.unpack(">I", data[at : at + 4])[0]
        for at in range(WAL_HEADER, len(data) - step + 1, step)
    ]


def btrees(db: Path, pages: list[int]) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        owner = {int(p): str(n) for n, p in conn.execute("SELECT name, pageno FROM dbstat")}
    finally:
        conn.close()
    return {owner.get(p, f"page {p}") for p in pages}


async def written_by(store: Store, db: Path, status: str, order_id: int) -> set[str]:
    """The b-trees the commit of `set_order_status` wrote."""
    before = len(wal_pages(db))

    async def unit(tx: Tx) -> None:
        await repos.set_order_status(tx, order_id, status)

    await store.write(unit)
    pages = wal_pages(db)
    assert len(pages) > before, "the WAL was restarted by a checkpoint between the two reads"
    return btrees(db, pages[before:])


async def test_an_open_orders_status_change_leaves_the_open_index_alone(tmp_path: Path) -> None:
    """A bump that moves an order from received to preparing to ready rewrites its row, and
    not `orders_open`: that index changes only when an order is taken or served."""
    db = tmp_path / "hub.db"
    async with Store(db, clock=clock) as store:

        async def fill(tx: Tx) -> None:
            await tx.execute("INSERT INTO tables(id, name, position) VALUES ('T1', 'T1', 1)")
            await tx.execute(
                "INSERT INTO checks(id, table_id, opened_at) VALUES (1, 'T1', ?)", (tx.now,)
            )
            for n in range(1, OPEN_ORDERS + 1):
                await tx.execute(
                    "INSERT INTO orders(id, check_id, table_id, round, idempotency_key, "
                    "request_hash, status, total_cents, body, created_at, updated_at) "
                    "VALUES (?, 1, 'T1', ?, ?, 'h', 'received', 100, '{}', ?, ?)",
                    (n, n, f"key-{n:08d}", tx.now, tx.now),
                )

        await store.write(fill)
        middle = OPEN_ORDERS // 2
        preparing = await written_by(store, db, "preparing", middle)
        ready = await written_by(store, db, "ready", middle)
        assert "orders" in preparing
        assert "orders" in ready
        assert "orders_open" not in preparing | ready, (preparing, ready)
        served = await written_by(store, db, "served", middle)
        assert "orders_open" in served, served  # the method sees the index when it is written
        open_ids = [int(r["id"]) for r in await store.read_all(repos.OPEN_ORDERS_SQL)]
        assert middle not in open_ids
        assert len(open_ids) == OPEN_ORDERS - 1
        assert open_ids == sorted(open_ids)


async def test_pruning_writes_the_pages_it_changes_not_every_page_it_frees(tmp_path: Path) -> None:
    """Deleting old rows (outbox and history pruning) frees whole pages. The store writes the
    pages whose content changes (the b-tree's parents, the free list's trunk), not every freed
    page zeroed, as the secure_delete Debian builds SQLite with would."""
    db = tmp_path / "hub.db"
    async with Store(db, clock=clock, checkpoint_pages=1_000_000) as store:  # one WAL

        async def fill(tx: Tx) -> None:
            await tx.executemany(
                "INSERT INTO outbox(seq, stream, kind, key, body, created_at) "
                "VALUES (?, 'orders', 'order.created', ?, ?, ?)",
                [(n, str(n), "x" * 300, tx.now) for n in range(1, 3001)],
            )

        await store.write(fill)
        before = len(wal_pages(db))

        async def prune(tx: Tx) -> None:
            await tx.execute("DELETE FROM outbox WHERE seq <= 2000")

        await store.write(prune)
        written = len(wal_pages(db)) - before
        conn = sqlite3.connect(db)
        try:
            freed = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        finally:
            conn.close()
        assert freed > 500  # 2,000 rows of 300 bytes in 1 KB pages
        assert written < freed / 4, (written, freed)


async def test_a_forgotten_guests_long_notes_leave_no_trace_in_the_file(tmp_path: Path) -> None:
    """Forgetting blanks a guest's details; a body long enough to spill into overflow pages
    frees them, and the store (secure_delete FAST) would leave a freed page as it was. The
    forgetting zeroes them: after a checkpoint the file holds no byte of the notes."""
    db = tmp_path / "hub.db"
    marker = "QXZJ-allergic-to-everything-"
    notes = marker * 100  # 2.8 KB: overflow pages in 1 KB pages
    body = json.dumps({"name": "Ada Lovelace", "party": 2, "phone": "+1 555 0100", "notes": notes})
    async with Store(db, clock=clock) as store:

        async def book(tx: Tx) -> None:
            await tx.execute(
                "INSERT INTO reservations(id, day, at_ms, status, source, body, created_at, "
                "updated_at) VALUES ('r1', '2026-01-02', 1000, 'booked', 'stand', ?, ?, ?)",
                (body, tx.now, tx.now),
            )

        await store.write(book)

        async def forget(tx: Tx) -> int:
            return await booking_rows.forget_before(tx, 2000, 10)

        assert await store.write(forget) == 1
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    assert marker.encode() not in db.read_bytes()
