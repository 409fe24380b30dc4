"""What a version's schema changes need beyond schema.sql's additive `IF NOT EXISTS` lines:
tables rebuilt in a new form, and the page size. Each runs on the writer's connection inside
`Store._migrate`, after the backup of the store as it was.

Version 4 is about the SD card: every page an order or a bump touches is written to the WAL
and again to the file at a checkpoint. It takes one page off every commit that writes an
event (the outbox's AUTOINCREMENT kept its counter in `sqlite_sequence`, a page of its own)
and moves the store to 1 KB pages (a commit writes whole pages: an order's rows and index
entries fill a few hundred bytes of each). The staff actions stay a rowid table: as one
`WITHOUT ROWID` b-tree they measured no fewer pages per bump (3.0 either way: a ~0.7 KB
answer fills a 1 KB page of its own).

Version 5 keeps a kitchen action's answer as a reference (hub/services/actions.py): a few dozen
bytes a row, so the actions are one `WITHOUT ROWID` b-tree keyed by the action id, where a
bump wrote a leaf of the table and a leaf of its id's index. It also drops `quotes_by_time`:
quotes are read by time through their order id (`repos.read_quotes`), and every order's
commit wrote a leaf of that index. And `tickets_bumped_seq`: a bump's `bumped_seq` is now the
seq of its event (no MAX to read), and every station's newest bumps are read station by
station from `tickets_bumped`; every bump wrote a leaf of it.

Version 6 adds `acts` to tickets and orders: the action ids of a screen's taps (which name
their ticket or order) are kept on that row, which the action rewrites anyway, not in the
actions b-tree, where each id went to a random leaf (action ids are random) and split it
every few inserts: about 2 frames a bump. Bump bars' and station-wide actions stay there.
And it moves each quoted wait into its order's row: the quote is written in the order's
commit and settled in the commit that makes the order ready, both of which write that row
anyway, where `quotes` was one more b-tree in each.

Version 7 gives orders `served_ms`, and `orders_open` lists the orders without it, by id. It
listed them by status, so every change of an open order's status (received, preparing,
ready) moved its entry from one part of the index to another: two more leaves in most bumps'
commits. Now only taking an order and serving it write that index. And an order keeps the
range of its tickets' ids (they are all made in its commit, one after another): its tickets
are read by that range of their own key, and `tickets_by_order`, one more b-tree in every
order's commit, goes. Likewise a ticket keeps the rowids of its print jobs (`tickets.jobs`,
written in the commit that makes the job, which writes the ticket too when it is its chit),
and `print_jobs_by_ticket` goes. And orders lose UNIQUE (table_id, idempotency_key): the keys
are random, so its index took a leaf at random in every order's commit (about two pages of
the card an order); the ordering service keeps the last day's keys in memory instead
(hub/services/ordering.py: RecentKeys), so `orders` is rebuilt once, with foreign keys off.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
from collections.abc import Iterator
from importlib import resources

log = logging.getLogger("tablehub.store")

OUTBOX_HIGH = "outbox_high"  # meta: the highest seq ever given out, kept by a rebuild

_OUTBOX_V4 = """
CREATE TABLE outbox_v4 (
    seq        INTEGER PRIMARY KEY,
    stream     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    key        TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
INSERT INTO outbox_v4(seq, stream, kind, key, body, created_at)
    SELECT seq, stream, kind, key, body, created_at FROM outbox ORDER BY seq;
DROP TABLE outbox;
ALTER TABLE outbox_v4 RENAME TO outbox;
"""


_ACTIONS_V5 = """
CREATE TABLE actions_v5 (
    id     TEXT PRIMARY KEY,
    result TEXT NOT NULL,
    at     TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO actions_v5(id, result, at) SELECT id, result, at FROM actions;
DROP TABLE actions;
ALTER TABLE actions_v5 RENAME TO actions;
"""


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction: committed when the block ends, rolled back if it raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _drop_index(conn: sqlite3.Connection, name: str, done: list[str]) -> None:
    """Drop the index `name` if the store has it, noting so in `done`."""
    if conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='index' AND name=?", (name,)
    ).fetchone():
        conn.execute(f"DROP INDEX {name}")
        done.append(f"{name} (dropped)")


def _table_sql(conn: sqlite3.Connection, name: str) -> str | None:
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name=?", (name,))
    got = row.fetchone()
    return None if got is None else str(got[0])


def to_v4(conn: sqlite3.Connection) -> list[str]:
    """Rebuild the outbox without AUTOINCREMENT (its high mark kept in meta), in one
    transaction; returns what was rebuilt. An outbox already in the new form (a new store, or
    a rebuild finished before a crash) is left alone."""
    done: list[str] = []
    with _transaction(conn):
        outbox = _table_sql(conn, "outbox")
        if outbox is not None and "AUTOINCREMENT" in outbox.upper():
            high = conn.execute("SELECT seq FROM sqlite_sequence WHERE name='outbox'").fetchone()
            top = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()[0]
            mark = max(int(high[0]) if high else 0, int(top))
            conn.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (OUTBOX_HIGH, str(mark))
            )
            _script(conn, _OUTBOX_V4)
            done.append("outbox")
    return done


def to_v5(conn: sqlite3.Connection) -> list[str]:
    """Rebuild the actions as one `WITHOUT ROWID` b-tree, every row kept, and drop
    `quotes_by_time` and `tickets_bumped_seq`, in one transaction; returns what was changed
    (nothing when it already was: a new store, or a rebuild finished before a crash)."""
    done: list[str] = []
    with _transaction(conn):
        actions = _table_sql(conn, "actions")
        if actions is not None and "WITHOUT ROWID" not in actions.upper():
            _script(conn, _ACTIONS_V5)
            done.append("actions")
        for index in ("quotes_by_time", "tickets_bumped_seq"):
            _drop_index(conn, index, done)
    return done


_V6_COLUMNS = (
    ("tickets", "acts", "TEXT"),
    ("orders", "acts", "TEXT"),
    ("orders", "quoted_ms", "INTEGER"),
    ("orders", "ready_by_ms", "INTEGER"),
    ("orders", "quote_tickets", "TEXT"),
    ("orders", "ready_ms", "INTEGER"),
)
_QUOTES_INTO_ORDERS = """
UPDATE orders SET quoted_ms = q.quoted_ms, ready_by_ms = q.ready_by_ms,
    quote_tickets = q.tickets, ready_ms = q.ready_ms
FROM quotes AS q WHERE q.order_id = orders.id
"""


def to_v6(conn: sqlite3.Connection) -> list[str]:
    """Add `acts` to tickets and orders (a screen's last action ids on each; NULL on the rows
    before: none) and the quote's columns to orders, move every quote into its order and drop
    `quotes`, in one transaction; returns what was changed (nothing when it already was)."""
    done: list[str] = []
    with _transaction(conn):
        for table, column, kind in _V6_COLUMNS:
            cols = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            if cols and column not in cols:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                done.append(f"{table}.{column}")
        if _table_sql(conn, "quotes") is not None:
            moved = conn.execute(_QUOTES_INTO_ORDERS).rowcount
            conn.execute("DROP TABLE quotes")
            done.append(f"quotes ({moved} moved into their orders)")
    return done


# a served order's time, from when its row was last changed (serving was its last change)
_SERVED_MS = """
UPDATE orders SET served_ms = CAST(round((julianday(updated_at) - 2440587.5) * 86400000) AS INTEGER)
WHERE status = 'served' AND served_ms IS NULL
"""


# each order's tickets, by the index about to go: all were made in its commit, so the range
# holds its tickets alone (the reads check order_id as well, whatever an older hub did)
_TICKET_RANGES = """
UPDATE orders SET tickets_from = r.lo, tickets_to = r.hi
FROM (SELECT order_id, MIN(id) AS lo, MAX(id) AS hi FROM tickets GROUP BY order_id) AS r
WHERE r.order_id = orders.id
"""


# each ticket's print jobs, oldest first, by the index about to go
_TICKET_JOBS = """
UPDATE tickets SET jobs = j.ids
FROM (
    SELECT ticket_id, json_group_array(rowid) AS ids
    FROM (SELECT ticket_id, rowid FROM print_jobs WHERE ticket_id IS NOT NULL ORDER BY rowid)
    GROUP BY ticket_id
) AS j
WHERE j.ticket_id = tickets.id
"""


def _orders_without_key_index(conn: sqlite3.Connection) -> bool:
    """Rebuild `orders` as schema.sql has it now, without UNIQUE (table_id, idempotency_key)
    (SQLite cannot drop the index of a UNIQUE constraint); every row and column kept. Inside
    the caller's transaction, with foreign keys off (tickets name orders). False when there
    is no such constraint (a new store, or a rebuild finished before a crash)."""
    names = [r[0] for r in conn.execute("PRAGMA index_list(orders)") if r[3] == "u"]
    if not names:
        return False
    schema = resources.files("hub.store").joinpath("schema.sql").read_text("utf-8")
    found = re.search(r"CREATE TABLE IF NOT EXISTS orders \(.*?\n\);", schema, re.DOTALL)
    assert found is not None, "schema.sql defines orders"
    create = found.group(0).replace("IF NOT EXISTS orders (", "orders_v7 (", 1)
    conn.execute(create)
    new_cols = [r[1] for r in conn.execute("PRAGMA table_info(orders_v7)")]
    old_cols = {r[1] for r in conn.execute("PRAGMA table_info(orders)")}
    cols = ", ".join(c for c in new_cols if c in old_cols)
    # the column names are those the two tables declare
    conn.execute(f"INSERT INTO orders_v7({cols}) SELECT {cols} FROM orders ORDER BY id")  # noqa: S608
    before = conn.execute("SELECT COUNT(*), COALESCE(SUM(id), 0) FROM orders").fetchone()
    after = conn.execute("SELECT COUNT(*), COALESCE(SUM(id), 0) FROM orders_v7").fetchone()
    if tuple(before) != tuple(after):  # the caller rolls back; the hub does not start
        raise sqlite3.IntegrityError(f"orders rebuilt with {tuple(after)} of {tuple(before)}")
    conn.execute("DROP TABLE orders")
    conn.execute("ALTER TABLE orders_v7 RENAME TO orders")
    return True


def to_v7(conn: sqlite3.Connection) -> list[str]:
    """`_to_v7` with foreign keys off (a table that tickets name is rebuilt, keeping every
    id: each ticket still names its order)."""
    conn.execute("PRAGMA foreign_keys=OFF")
    try:
        return _to_v7(conn)
    finally:
        conn.execute("PRAGMA foreign_keys=ON")


def _to_v7(conn: sqlite3.Connection) -> list[str]:
    """Add `served_ms` to orders (a served order's from its `updated_at`) and the range of
    its tickets' ids, and `jobs` to tickets (their print jobs' rowids); drop the `orders_open`
    keyed by status (schema.sql makes it again, keyed by id and read through `served_ms`),
    `tickets_by_order` and `print_jobs_by_ticket`, in one transaction; returns what was
    changed."""
    done: list[str] = []
    with _transaction(conn):
        cols = {r[1] for r in conn.execute("PRAGMA table_info(orders)")}
        if cols and "served_ms" not in cols:
            conn.execute("ALTER TABLE orders ADD COLUMN served_ms INTEGER")
            served = conn.execute(_SERVED_MS).rowcount
            done.append(f"orders.served_ms ({served} served orders)")
        if cols and "tickets_from" not in cols:
            conn.execute("ALTER TABLE orders ADD COLUMN tickets_from INTEGER")
            conn.execute("ALTER TABLE orders ADD COLUMN tickets_to INTEGER")
            ranged = conn.execute(_TICKET_RANGES).rowcount
            done.append(f"orders.tickets_from, tickets_to ({ranged} orders with tickets)")
        _drop_index(conn, "tickets_by_order", done)
        tcols = {r[1] for r in conn.execute("PRAGMA table_info(tickets)")}
        if tcols and "jobs" not in tcols:
            conn.execute("ALTER TABLE tickets ADD COLUMN jobs TEXT")
            noted = conn.execute(_TICKET_JOBS).rowcount
            done.append(f"tickets.jobs ({noted} tickets with print jobs)")
        _drop_index(conn, "print_jobs_by_ticket", done)
        if cols and _orders_without_key_index(conn):
            done.append("orders (rebuilt without the index of idempotency keys)")
        row = conn.execute("SELECT sql FROM sqlite_master WHERE name='orders_open'").fetchone()
        if row is not None and "served_ms" not in row[0]:
            conn.execute("DROP INDEX orders_open")
            done.append("orders_open (made again by served_ms)")
    return done


def _script(conn: sqlite3.Connection, sql: str) -> None:
    """Statements one by one (executescript would commit the open transaction first)."""
    for stmt in sql.split(";"):
        if stmt.strip():
            conn.execute(stmt)


def to_v8(conn: sqlite3.Connection) -> list[str]:
    """Drop `print_jobs_pending`: the pending jobs are found from a low mark in meta
    (`repos.PRINT_LOW`), which a store without it starts at 0 (its first start reads every
    job once, and sets it)."""
    done: list[str] = []
    with _transaction(conn):
        _drop_index(conn, "print_jobs_pending", done)
    return done


def page_size(conn: sqlite3.Connection, size: int) -> bool:
    """Rewrite the store in `size`-byte pages (VACUUM, which a WAL store can do only out of WAL
    mode); False when it already has them. Runs once, at the upgrade that asks for it: the
    whole file is written once so that every commit after it writes less."""
    current = int(conn.execute("PRAGMA page_size").fetchone()[0])
    if current == size:
        return False
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    log.info(
        "store: rewriting %.1f MB in %d-byte pages (once; about a minute per 500 MB on an SD card)",
        pages * current / 1e6,
        size,
    )
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode=DELETE")
    try:
        conn.execute(f"PRAGMA page_size={int(size)}")
        conn.execute("VACUUM")
    finally:
        conn.execute("PRAGMA journal_mode=WAL")
    log.info("store rewritten in %d-byte pages (was %d)", size, current)
    return True
