"""A store made by an earlier hub is brought up to this schema on open, with a backup of it
as it was, and keeps every row."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from bench.upgrade import V7_PENDING, as_version_6
from hub.domain.events import OrderPlaced
from hub.services.actions import once, once_on
from hub.store import backup, repos
from hub.store import checks as store_checks
from hub.store.db import SCHEMA_VERSION, Store, Tx
from tests.samples import order


def clock() -> str:
    return "2026-12-05T12:00:00Z"


async def test_a_version_1_store_is_brought_up_with_a_backup(tmp_path: Path) -> None:
    """Version 2 added tickets_bumped_seq (the next bumped_seq was read as MAX + 1), version 5
    took it away again (bumped_seq is the bump event's seq): a version 1 store comes up to this
    schema with its rows, its bumps in their order, and a backup of it as it was."""
    db = tmp_path / "hub.db"
    async with Store(db, clock=clock) as store:

        async def unit(tx: Tx) -> None:
            tx.emit(OrderPlaced(order=order(1)))

        await store.write(unit)
    conn = sqlite3.connect(db)
    conn.execute("DROP INDEX IF EXISTS tickets_bumped_seq")
    conn.execute("PRAGMA user_version=1")
    conn.close()

    async with Store(db, clock=clock) as store:
        assert len(await store.events_after(0)) == 1

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "tickets_bumped" in names
        assert "tickets_bumped_seq" not in names
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
        "corrections", "check_splits", "payments",
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
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
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


V3_OUTBOX = """CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    stream     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
)"""


V5_QUOTES = """CREATE TABLE quotes (
    order_id    INTEGER PRIMARY KEY REFERENCES orders(id),
    table_id    TEXT NOT NULL,
    quoted_ms   INTEGER NOT NULL,
    ready_by_ms INTEGER NOT NULL,
    tickets     TEXT NOT NULL,
    ready_ms    INTEGER
)"""


def _as_version_3(db: Path, sequence: int) -> None:
    """The store as a version 3 hub left it: 2 KB pages, the outbox numbered by AUTOINCREMENT
    (its counter at `sequence`, past the newest row as a pruned store can have it)."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for name, sql in (("outbox", V3_OUTBOX),):
            conn.execute(f"ALTER TABLE {name} RENAME TO {name}_now")
            conn.execute(sql)
            conn.execute(f"INSERT INTO {name} SELECT * FROM {name}_now")
            conn.execute(f"DROP TABLE {name}_now")
        conn.execute("UPDATE sqlite_sequence SET seq=? WHERE name='outbox'", (sequence,))
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA page_size=2048")
        conn.execute("VACUUM")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA user_version=3")
    finally:
        conn.close()


async def test_a_version_3_store_is_rebuilt_for_fewer_pages_per_commit(tmp_path: Path) -> None:
    """Version 4: the outbox without AUTOINCREMENT (no sqlite_sequence page in every commit)
    and never giving a seq twice, the file in 1 KB pages;
    every row kept, a backup of the store as it was."""
    db = tmp_path / "hub.db"
    async with Store(db, clock=clock) as store:

        async def unit(tx: Tx) -> None:
            tx.emit(OrderPlaced(order=order(1)))
            tx.emit(OrderPlaced(order=order(2)))
            await tx.execute("INSERT INTO actions(id, result, at) VALUES ('a1', '{}', 'now')")

        await store.write(unit)
    _as_version_3(db, sequence=7)  # seqs 3..7 were given out and pruned
    check = sqlite3.connect(db)
    assert check.execute("PRAGMA page_size").fetchone()[0] == 2048
    check.close()

    async with Store(db, clock=clock) as store:
        assert [e.seq for e in await store.events_after(0)] == [1, 2]

        async def more(tx: Tx) -> None:
            tx.emit(OrderPlaced(order=order(3)))

        await store.write(more)
        assert [e.seq for e in await store.events_after(0)] == [1, 2, 8]

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 1024
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        sql = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type='table'"))
        assert "AUTOINCREMENT" not in sql["outbox"].upper()
        assert "WITHOUT ROWID" in sql["actions"].upper()
        assert conn.execute("SELECT id FROM actions").fetchall() == [("a1",)]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"tickets_bumped", "tickets_open", "orders_open"} <= indexes
        assert "tickets_bumped_seq" not in indexes
    finally:
        conn.close()
    kept = list(backup.backups_dir(tmp_path).iterdir())
    assert len(kept) == 1
    old = sqlite3.connect(kept[0])
    try:
        assert old.execute("PRAGMA user_version").fetchone()[0] == 3
        assert old.execute("SELECT seq FROM sqlite_sequence WHERE name='outbox'").fetchone() == (7,)
    finally:
        old.close()


async def test_a_new_store_has_no_sequence_page_and_numbers_after_its_newest_row(
    tmp_path: Path,
) -> None:
    db = tmp_path / "hub.db"
    async with Store(db, clock=clock) as store:

        async def unit(tx: Tx) -> None:
            tx.emit(OrderPlaced(order=order(1)))

        await store.write(unit)
    conn = sqlite3.connect(db)
    try:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "sqlite_sequence" not in names
        assert conn.execute("PRAGMA page_size").fetchone()[0] == 1024
    finally:
        conn.close()
    async with Store(db, clock=clock) as store:

        async def again(tx: Tx) -> None:
            tx.emit(OrderPlaced(order=order(2)))

        await store.write(again)
        assert [e.seq for e in await store.events_after(0)] == [1, 2]


V4_ACTIONS = """CREATE TABLE actions (
    id     TEXT PRIMARY KEY,
    result TEXT NOT NULL,
    at     TEXT NOT NULL
)"""


async def test_a_version_4_store_keeps_its_actions_in_one_b_tree_and_answers_their_repeats(
    tmp_path: Path,
) -> None:
    """Version 5: the actions become one `WITHOUT ROWID` b-tree (no second b-tree for the id's
    index in every bump's commit) and the quotes lose their time index; every row is kept,
    and an action done by the old hub (its whole answer stored) is still answered with that
    answer, never done again."""
    db = tmp_path / "hub.db"
    first = {"op": "bump", "result": {"id": 41, "status": "bumped", "station": "grill"}}
    async with Store(db, clock=clock) as store:

        async def unit(tx: Tx) -> None:
            tx.emit(OrderPlaced(order=order(1)))

        await store.write(unit)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TABLE actions")
    conn.execute(V4_ACTIONS)
    conn.execute(V5_QUOTES)
    conn.execute("CREATE INDEX quotes_by_time ON quotes(quoted_ms)")
    conn.execute(
        "CREATE INDEX tickets_bumped_seq ON tickets(bumped_seq) WHERE bumped_seq IS NOT NULL"
    )
    conn.execute(
        "INSERT INTO actions(id, result, at) VALUES ('bar-1-bump-9', ?, 'then')",
        (json.dumps(first),),
    )
    conn.execute("PRAGMA user_version=4")
    conn.close()

    async with Store(db, clock=clock) as store:

        async def again(tx: Tx) -> Any:
            async def body() -> Any:
                raise AssertionError("an action done before is not done again")

            return await once(tx, "bar-1-bump-9", "bump", body)

        assert await store.write(again) == first["result"]

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        sql = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type='table'"))
        assert "WITHOUT ROWID" in sql["actions"].upper()
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "sqlite_autoindex_actions_1" not in indexes
        assert not {"quotes_by_time", "tickets_bumped_seq"} & indexes
        assert conn.execute("SELECT id, at FROM actions").fetchall() == [("bar-1-bump-9", "then")]
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    (kept,) = backup.backups_dir(tmp_path).iterdir()
    old = sqlite3.connect(kept)
    try:
        assert old.execute("PRAGMA user_version").fetchone()[0] == 4
    finally:
        old.close()


async def test_a_version_5_store_gets_acts_keeps_its_quotes_and_answers_its_actions(
    tmp_path: Path,
) -> None:
    """Version 6: tickets and orders get `acts` (a screen's action ids on what they act on);
    the rows before have none, and an action id the actions table kept for a screen's tap is
    still answered from there, never done again. Each quote moves into its order's row, and
    `quotes` goes."""
    db = tmp_path / "hub.db"
    first = {"op": "bump", "result": {"id": 41, "status": "bumped", "station": "grill"}}
    async with Store(db, clock=clock) as store:

        async def unit(tx: Tx) -> None:
            tx.emit(OrderPlaced(order=order(1)))

        await store.write(unit)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("ALTER TABLE tickets DROP COLUMN acts")
    for column in ("acts", "quoted_ms", "ready_by_ms", "quote_tickets", "ready_ms"):
        conn.execute(f"ALTER TABLE orders DROP COLUMN {column}")
    for order_id in (7, 8):
        conn.execute(
            "INSERT INTO orders(id, check_id, table_id, round, idempotency_key, request_hash, "
            "status, total_cents, body, created_at, updated_at) "
            "VALUES (?, 1, 't1', 1, ?, 'h', 'ready', 100, '{}', 'then', 'then')",
            (order_id, f"key-{order_id}"),
        )
    conn.execute(V5_QUOTES)
    conn.execute(
        "INSERT INTO quotes VALUES (7, 't1', 1000, 601000, '[3, 4]', 700000), "
        "(8, 't1', 2000, 602000, '[5]', NULL)"
    )
    conn.execute(
        "INSERT INTO actions(id, result, at) VALUES ('kds-tap-0007', ?, 'then')",
        (json.dumps(first),),
    )
    conn.execute("PRAGMA user_version=5")
    conn.close()

    async with Store(db, clock=clock) as store:

        async def again(tx: Tx) -> Any:
            async def body() -> Any:
                raise AssertionError("an action done before is not done again")

            return await once_on(tx, "kds-tap-0007", "bump", "tickets", 41, body)

        assert await store.write(again) == first["result"]

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
        for table in ("tickets", "orders"):
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            assert cols.count("acts") == 1, table
        assert conn.execute(
            "SELECT id, quoted_ms, ready_by_ms, quote_tickets, ready_ms FROM orders ORDER BY id"
        ).fetchall() == [(7, 1000, 601000, "[3, 4]", 700000), (8, 2000, 602000, "[5]", None)]
        assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name='quotes'").fetchall()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    (kept,) = backup.backups_dir(tmp_path).iterdir()
    old = sqlite3.connect(kept)
    try:
        assert old.execute("PRAGMA user_version").fetchone()[0] == 5
        assert "acts" not in [r[1] for r in old.execute("PRAGMA table_info(tickets)")]
    finally:
        old.close()


async def test_a_version_6_store_gets_served_times_and_its_tickets_ranges(
    tmp_path: Path,
) -> None:
    """Version 7: orders get `served_ms` (a served order's from when its row last changed)
    and `orders_open` lists the orders without one, by id; each order gets the range of its
    tickets' ids and `tickets_by_order` goes; each ticket gets its print jobs' rowids and
    `print_jobs_by_ticket` goes. Open orders, an order's tickets and a ticket's chits read as
    before."""
    db = tmp_path / "hub.db"
    async with Store(db, clock=clock) as store:

        async def unit(tx: Tx) -> None:
            tx.emit(OrderPlaced(order=order(1)))

        await store.write(unit)
    conn = sqlite3.connect(db, isolation_level=None)
    as_version_6(conn)
    for order_id, status in ((7, "served"), (8, "ready"), (9, "received")):
        conn.execute(
            "INSERT INTO orders(id, check_id, table_id, round, idempotency_key, request_hash, "
            "status, total_cents, body, created_at, updated_at) "
            "VALUES (?, 1, 't1', 1, ?, 'h', ?, 100, '{}', 'then', '2026-12-05T12:34:56.789Z')",
            (order_id, f"key-{order_id}", status),
        )
    for ticket_id, order_id in ((20, 7), (21, 7), (22, 9)):  # order 8 has none
        conn.execute(
            "INSERT INTO tickets(id, order_id, station, status, items, body, created_at, "
            "created_ms) VALUES (?, ?, 'grill', 'open', '[]', '{}', 'then', 0)",
            (ticket_id, order_id),
        )
    for rowid, job_id, ticket_id, kind, state in (
        (5, "chit-20-grill", 20, "kitchen", "printed"),
        (6, "chit-22-grill", 22, "kitchen", "queued"),
        (7, "bill-7", None, "bill", "printed"),
        (8, "void-a1-grill", 20, "correction", "queued"),
    ):
        conn.execute(
            "INSERT INTO print_jobs(rowid, id, printer, origin, kind, copy, doc, state, "
            "ticket_id, created_at, updated_at) "
            "VALUES (?, ?, 'grill', 'grill', ?, 'ORIGINAL', '{}', ?, ?, 'then', 'then')",
            (rowid, job_id, kind, state, ticket_id),
        )
    conn.execute("PRAGMA user_version=6")
    conn.close()

    async with Store(db, clock=clock) as store:
        assert [r["id"] for r in await store.read_all(repos.OPEN_ORDERS_SQL)] == [8, 9]
        assert await store_checks.read_chit_printed(store, 20, "grill")
        assert not await store_checks.read_chit_printed(store, 22, "grill")

        async def chits(tx: Tx) -> Any:
            return (
                await store_checks.tx_chit_printers(tx, 22),
                await store_checks.tx_pending_corrections(tx, 20),
                await repos.count_jobs_for_ticket(tx, 20),
                await repos.count_jobs_for_ticket(tx, 21),
            )

        assert await store.write(chits) == (["grill"], [("void-a1-grill", "grill")], 2, 0)

        async def tickets(tx: Tx) -> dict[int, list[int]]:
            return {o: [r["id"] for r in await repos.tx_tickets_of_order(tx, o)] for o in (7, 8, 9)}

        assert await store.write(tickets) == {7: [20, 21], 8: [], 9: [22]}

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
        assert conn.execute(
            "SELECT id, served_ms, tickets_from, tickets_to FROM orders ORDER BY id"
        ).fetchall() == [(7, 1796474096789, 20, 21), (8, None, None, None), (9, None, 22, 22)]
        assert conn.execute("SELECT id, jobs FROM tickets ORDER BY id").fetchall() == [
            (20, "[5,8]"),
            (21, None),
            (22, "[6]"),
        ]
        for gone in ("tickets_by_order", "print_jobs_by_ticket", "sqlite_autoindex_orders_1"):
            assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name=?", (gone,)).fetchall()
        assert conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 3
        assert {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name='orders'")
        } == {"orders", "orders_by_check", "orders_open"}
        (index,) = conn.execute("SELECT sql FROM sqlite_master WHERE name='orders_open'").fetchone()
        assert "served_ms IS NULL" in index
        assert "status" not in index
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    (kept,) = backup.backups_dir(tmp_path).iterdir()
    old = sqlite3.connect(kept)
    try:
        assert old.execute("PRAGMA user_version").fetchone()[0] == 6
    finally:
        old.close()


async def test_a_version_7_store_loses_its_pending_jobs_index_and_finds_them_from_a_mark(
    tmp_path: Path,
) -> None:
    """Version 8: `print_jobs_pending` goes. A store without the low mark reads its pending
    jobs from the first job on, once, and the mark is then the first pending job's rowid."""
    db = tmp_path / "hub.db"
    async with Store(db, clock=clock):
        pass
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(V7_PENDING)
    for rowid, state in ((3, "printed"), (4, "sent"), (5, "failed"), (6, "queued")):
        conn.execute(
            "INSERT INTO print_jobs(rowid, id, printer, origin, kind, copy, doc, state, "
            "created_at, updated_at) VALUES (?, ?, 'grill', 'grill', 'test', 'ORIGINAL', ?, ?, "
            "'then', 'then')",
            (rowid, f"chit-{rowid}-grill", '{"kind":"test","printer":"grill"}', state),
        )
    conn.execute("PRAGMA user_version=7")
    conn.close()

    async with Store(db, clock=clock) as store:
        low = await repos.read_print_low(store)
        assert low == 0  # none kept yet
        pending, mark = await repos.read_pending_jobs(store, low)
        assert [j["id"] for j in pending] == ["chit-4-grill", "chit-6-grill"]
        assert mark == await repos.read_pending_low(store, low) == 4
        # from a mark, only the jobs from it on; with none pending, past the last job
        pending, mark = await repos.read_pending_jobs(store, 5)
        assert ([j["id"] for j in pending], mark) == (["chit-6-grill"], 6)
        await store.write(
            lambda tx: tx.execute("UPDATE print_jobs SET state='printed' WHERE rowid IN (4, 6)")
        )
        assert await repos.read_pending_low(store, 4) == 7
        assert await repos.read_pending_jobs(store, 4) == ([], 7)

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
        assert not conn.execute(
            "SELECT 1 FROM sqlite_master WHERE name='print_jobs_pending'"
        ).fetchall()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
