"""A store made by an earlier hub is brought up to this schema on open, with a backup of it
as it was, and keeps every row."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hub.domain.events import OrderPlaced
from hub.store import backup
from hub.store.db import SCHEMA_VERSION, Store, Tx
from tests.samples import order


def clock() -> str:
    return "2026-12-05T12:00:00Z"


async def test_a_version_1_store_gets_the_bumped_seq_index_and_a_backup(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    async with Store(db, clock=clock) as store:

        async def unit(tx: Tx) -> None:
            tx.emit(OrderPlaced(order=order(1)))

        await store.write(unit)
    # as schema version 1 left it: no index for the next bumped_seq
    conn = sqlite3.connect(db)
    conn.execute("DROP INDEX tickets_bumped_seq")
    conn.execute("PRAGMA user_version=1")
    conn.close()

    async with Store(db, clock=clock) as store:
        assert len(await store.events_after(0)) == 1

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "tickets_bumped_seq" in names
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT COALESCE(MAX(bumped_seq), 0) + 1 FROM tickets "
            "WHERE bumped_seq IS NOT NULL"
        ).fetchall()
        assert "tickets_bumped_seq" in str(plan)
    finally:
        conn.close()
    kept = list(backup.backups_dir(tmp_path).iterdir())
    assert len(kept) == 1
    old = sqlite3.connect(kept[0])
    try:
        assert old.execute("PRAGMA user_version").fetchone()[0] == 1
        assert old.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 1
    finally:
        old.close()


async def test_a_version_2_store_gets_the_shift_tables_and_keeps_its_orders(tmp_path: Path) -> None:
    """Version 3 added the corrections record, check splits, payments, pacing's quotes, stock
    counts and the host stand's book: a store made before them gets them on open, with its
    rows kept and a backup of it as it was."""
    db = tmp_path / "hub.db"
    async with Store(db, clock=clock) as store:

        async def unit(tx: Tx) -> None:
            tx.emit(OrderPlaced(order=order(1)))

        await store.write(unit)
    conn = sqlite3.connect(db)
    shift_tables = (
        "corrections", "check_splits", "payments", "quotes",
        "stock", "reservations", "waitlist", "seatings",
    )  # fmt: skip
    for name in shift_tables:
        conn.execute(f"DROP TABLE {name}")
    conn.execute("DROP INDEX tickets_held")
    conn.execute("PRAGMA user_version=2")
    conn.commit()
    conn.close()

    async with Store(db, clock=clock) as store:
        assert len(await store.events_after(0)) == 1

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 3
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert set(shift_tables) <= tables
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"tickets_held", "reservations_by_day", "waitlist_waiting"} <= indexes
    finally:
        conn.close()
    kept = list(backup.backups_dir(tmp_path).iterdir())
    assert len(kept) == 1
    old = sqlite3.connect(kept[0])
    try:
        assert old.execute("PRAGMA user_version").fetchone()[0] == 2
        assert old.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 1
    finally:
        old.close()
