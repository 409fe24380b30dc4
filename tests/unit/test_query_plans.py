"""The statements the hub and the cloud bridge run per order, bump, screen connect or poll
reach rows through an index, never by reading a table that grows with history.

Each statement is planned (`EXPLAIN QUERY PLAN`, no ANALYZE: the hub never runs it, so the
plans here are the plans a store gets) on a store made from hub/store/schema.sql. A plan step
on a growing table is a full read when it is

- `SCAN <table>` (the whole table),
- `SCAN <table> USING INDEX <i>` unless `<i>` is a partial index over live rows only
  (`LIVE_INDEXES`: open tickets, open orders, open calls, open checks); a
  partial index such as tickets_bumped still holds every ticket ever bumped,
- `SEARCH <table>` with no index: SQLite's MIN/MAX shortcut, O(log n) only on the
  INTEGER PRIMARY KEY (the outbox's seq) and a full read on any other column,
- an automatic index (built from the whole table on each run).

SQL comes from the code where it is a module-level constant; any other statement is copied
exactly from the function named in its comment (hub/store/repos.py unless said otherwise).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import Any

import pytest

from cloud_bridge.cursor import PRUNE_ACKED_SQL, PRUNE_SHED_SQL
from cloud_bridge.tail import _COLS as TAIL_COLS
from cloud_bridge.tail import _LANE_SQL as TAIL_LANE_SQL
from cloud_bridge.tail import LANES
from hub.consumers.bridge_health import _LANE_SQL as HEALTH_LANE_SQL
from hub.consumers.bridge_health import _PRIORITY_SQL as HEALTH_PRIORITY_SQL
from hub.services.kitchen import READY_SQL
from hub.store.repos import (
    _BUMPED_STATIONS,
    CALL_COLS,
    JOB_COLS,
    JOBS_OF_TICKET,
    JOIN_TICKETS,
    NEWEST_FIRST,
    OPEN_ORDERS_SQL,
    ORDER_BY_KEY,
    ORDER_COLS,
    PENDING_COUNTS_SQL,
    PENDING_LOW_SQL,
    PENDING_SINCE,
    T_TICKET_COLS,
    TICKET_COLS,
    _newest_bumped_sql,
)

GROWING = frozenset({"orders", "tickets", "outbox", "print_jobs", "calls", "actions", "checks"})
# partial indexes whose rows leave them (served, bumped, closed, printed): reading one whole is
# O(what is live now), not O(history)
LIVE_INDEXES = frozenset({"tickets_open", "orders_open", "calls_one_open", "checks_one_open"})


NOW = "2026-06-01T12:00:00.000Z"
KEEP = "[17, 18]"  # parked seqs, as the bridge passes them
PRUNE = {"lo": 1, "upto": 5000, "cutoff": "2026-05-25T12:00:00.000Z", "keep": KEEP}

_STEP = re.compile(
    r"^(?P<op>SCAN|SEARCH) (?:TABLE )?(?P<table>\w+)(?: AS (?P<alias>\w+))?"
    r"(?P<using> USING (?:(?:COVERING |AUTOMATIC (?:PARTIAL )?(?:COVERING )?)?INDEX "
    r"(?P<index>\w+)|INTEGER PRIMARY KEY|PRIMARY KEY))?"  # PRIMARY KEY: WITHOUT ROWID
)


class Case:
    def __init__(
        self,
        sql: str,
        params: Sequence[Any] | dict[str, Any] = (),
        *,
        aliases: dict[str, str] | None = None,
        rowid_minmax: frozenset[str] = frozenset(),
    ) -> None:
        self.sql = sql
        self.params = params
        self.aliases = aliases or {}
        self.rowid_minmax = rowid_minmax  # tables read by MIN/MAX of their INTEGER PRIMARY KEY


OUTBOX_MINMAX = frozenset({"outbox"})

CASES: dict[str, Case] = {
    # ------------------------------------------------ placing an order (services/ordering.py)
    # open_check
    "open_check.find": Case(
        "SELECT id FROM checks WHERE table_id=? AND closed_at IS NULL", ("t5",)
    ),
    # open_check
    "open_check.round": Case("SELECT COUNT(*) FROM orders WHERE check_id=?", (7,)),
    # close_check
    "close_check.update": Case("UPDATE checks SET closed_at=? WHERE id=?", (NOW, 7)),
    # find_order_by_key
    "find_order_by_key": Case(ORDER_BY_KEY, (42, "t5", "k1")),
    # tx_order, tx_order_row, read_order
    "order_by_id": Case(f"SELECT {ORDER_COLS} FROM orders WHERE id=?", (42,)),
    # tx_ticket_row
    "ticket_by_id": Case(f"SELECT {TICKET_COLS} FROM tickets WHERE id=?", (42,)),
    # tx_tickets_of_order
    "tx_tickets_of_order": Case(
        f"SELECT {T_TICKET_COLS} FROM orders o {JOIN_TICKETS} WHERE o.id=? ORDER BY t.id",
        (42,),
        aliases={"o": "orders", "t": "tickets"},
    ),
    # tx_tickets_of_table (a move, a merge, firing a table's course)
    "tx_tickets_of_table": Case(
        f"SELECT {T_TICKET_COLS} FROM checks c JOIN orders o ON o.check_id = c.id "
        f"{JOIN_TICKETS} WHERE c.table_id=? AND c.closed_at IS NULL ORDER BY t.id",
        ("t5",),
        aliases={"c": "checks", "o": "orders", "t": "tickets"},
    ),
    # update_order_body
    "update_order_body": Case(
        "UPDATE orders SET body=?, total_cents=?, updated_at=? WHERE id=?", ("{}", 100, NOW, 42)
    ),
    # update_ticket_body, mark_ticket_printed
    "update_ticket_body": Case("UPDATE tickets SET body=? WHERE id=?", ("{}", 42)),
    # ------------------------------------------------ bump, recall, serve (services/kitchen.py)
    # save_ticket_state (bumped_seq: the bump event's seq, or NULL)
    "save_ticket_state": Case(
        "UPDATE tickets SET status=?, items=?, bumped_at=?, bumped_seq=? WHERE id=?",
        ("bumped", "[]", NOW, 4242, 42),
    ),
    # set_order_status
    "set_order_status": Case(
        "UPDATE orders SET status=?, updated_at=? WHERE id=?", ("ready", NOW, 42)
    ),
    # last_bumped, a station's recall
    "last_bumped.station": Case(
        f"SELECT id FROM tickets WHERE station=? AND status='bumped' {NEWEST_FIRST} LIMIT 1",
        ("grill",),
    ),
    # _newest_bumped: last_bumped(None) (an expo recall), read_recent_bumped(None) (every expo
    # snapshot), read_last_bumped (what prep times are learnt from): the stations with bumps,
    # skipped through tickets_bumped, then each one's newest
    "newest_bumped.stations": Case(_BUMPED_STATIONS),
    "newest_bumped.each": Case(
        _newest_bumped_sql(TICKET_COLS, 3), ("grill", 10, "wok", 10, "cold", 10, 10)
    ),
    # get_action (every staff action's idempotency check)
    "get_action": Case("SELECT result FROM actions WHERE id=?", ("a1",)),
    # ------------------------------------------------ screen snapshots (web/live.py, api.py)
    # read_open_tickets, a station's KDS
    "read_open_tickets.station": Case(
        f"SELECT {TICKET_COLS} FROM tickets WHERE station=? AND status='open' ORDER BY id",
        ("grill",),
    ),
    # read_recent_bumped, a station's KDS
    "read_recent_bumped.station": Case(
        f"SELECT {TICKET_COLS} FROM tickets WHERE status='bumped' AND station=? "
        f"{NEWEST_FIRST} LIMIT ?",
        ("grill", 10),
    ),
    # read_open_check_orders, the diner's table page
    "read_open_check_orders": Case(
        f"SELECT {ORDER_COLS} FROM orders WHERE check_id = (SELECT id FROM checks WHERE "
        "table_id=? AND closed_at IS NULL) ORDER BY id",
        ("t5",),
    ),
    # read_tickets_of_orders, the expo's tickets of open orders
    "read_tickets_of_orders": Case(
        f"SELECT {T_TICKET_COLS} FROM json_each(?) j CROSS JOIN orders o ON o.id = j.value "
        f"{JOIN_TICKETS} ORDER BY t.id",
        ("[40, 41, 42]",),
        aliases={"o": "orders", "t": "tickets"},
    ),
    # read_active_calls (floor, expo, table page, LED sync): the partial index calls_one_open
    "read_active_calls": Case(
        f"SELECT {CALL_COLS} FROM calls WHERE state != 'closed' ORDER BY opened_ms"
    ),
    # read_check (bill printing)
    "read_check.check": Case(
        "SELECT id FROM checks WHERE table_id=? AND closed_at IS NULL", ("t5",)
    ),
    # read_check (bill printing)
    "read_check.orders": Case(
        f"SELECT {ORDER_COLS} FROM orders WHERE check_id=? ORDER BY id", (7,)
    ),
    # ------------------------------------------------ calls (services/calls.py)
    # tx_open_call
    "tx_open_call": Case(
        f"SELECT {CALL_COLS} FROM calls WHERE table_id=? AND kind=? AND state != 'closed'",
        ("t5", "waiter"),
    ),
    # tx_call
    "tx_call": Case(f"SELECT {CALL_COLS} FROM calls WHERE id=?", (3,)),
    # update_call, acknowledging
    "update_call": Case(
        "UPDATE calls SET state=?, escalated=?, acked_at=? WHERE id=?", ("acked", 0, NOW, 3)
    ),
    # ------------------------------------------------ print queue (services/printing.py)
    # tx_job
    "tx_job": Case(f"SELECT {JOB_COLS} FROM print_jobs WHERE id=?", ("chit-42-p1",)),
    # update_job
    "update_job": Case(
        "UPDATE print_jobs SET state=?, reason=?, sent_ms=COALESCE(?, sent_ms), "
        "attempts=attempts + ?, printer=COALESCE(?, printer), doc=COALESCE(?, doc), "
        "updated_at=? WHERE id=?",
        ("sent", None, 1, 1, None, None, NOW, "chit-42-p1"),
    ),
    # count_jobs_for_ticket (reprint)
    "count_jobs_for_ticket": Case(
        "SELECT json_array_length(COALESCE(jobs, '[]')) FROM tickets WHERE id=?", (42,)
    ),
    # read_open_tickets_unprinted (fallback printing for a silent screen, every tick)
    "read_open_tickets_unprinted": Case(
        f"SELECT {TICKET_COLS} FROM tickets t WHERE station=? AND status='open' AND NOT EXISTS "
        "(SELECT 1 FROM json_each(t.jobs) AS k JOIN print_jobs j ON j.rowid = k.value "
        "WHERE j.kind='kitchen') ORDER BY id",
        ("grill",),
        aliases={"t": "tickets", "j": "print_jobs", "k": "json_each"},
    ),
    # tx_chit_printers, tx_pending_corrections (a void or change), read_chit_printed
    "jobs_of_ticket": Case(
        f"SELECT id, printer FROM print_jobs j WHERE {JOBS_OF_TICKET} AND kind='correction' "
        "AND state IN ('queued', 'sent') ORDER BY rowid",
        (42,),
        aliases={"j": "print_jobs"},
    ),
    # mark_ticket_printed
    "mark_ticket_printed": Case("SELECT body FROM tickets WHERE id=?", (42,)),
    # ------------------------------------------------ the outbox: hub/store/db.py
    # Store.events_after (MQTT relay catch-up, hub/consumers/relay.py)
    "store.events_after": Case(
        "SELECT seq, stream, kind, key, body, created_at FROM outbox WHERE seq > ? "
        "ORDER BY seq LIMIT ?",
        (1000, 500),
    ),
    # Store.open and Store._run_batch after a failed commit
    "store.max_seq": Case("SELECT COALESCE(MAX(seq), 0) FROM outbox", rowid_minmax=OUTBOX_MINMAX),
    # ------------------------------------------------ pruning: hub/consumers/outbox_prune.py
    # OutboxPruner._prune_acked
    "prune.bounds": Case(
        "SELECT (SELECT MIN(seq) FROM outbox), (SELECT MIN(seq) FROM cursors)",
        rowid_minmax=OUTBOX_MINMAX,
    ),
    "prune.acked": Case(PRUNE_ACKED_SQL, PRUNE),
    # _delete_acked
    "prune.recent": Case(
        "SELECT 1 FROM outbox WHERE seq BETWEEN :lo AND :upto AND created_at >= :cutoff LIMIT 1",
        PRUNE,
    ),
    "prune.shed": Case(PRUNE_SHED_SQL, {"lo": 1, "hi": 5000}),
    # ------------------------------------------------ the bridge: cloud_bridge/tail.py
    # OutboxTail._high
    "tail.high": Case(
        "SELECT (SELECT COALESCE(MAX(seq), 0) FROM outbox), "
        "(SELECT COALESCE(MAX(CAST(value AS INTEGER)), 0) FROM meta WHERE key = 'outbox_high')",
        rowid_minmax=OUTBOX_MINMAX,
    ),
    # OutboxTail.rows (a parked batch retried)
    "tail.rows": Case(
        f"SELECT {TAIL_COLS} FROM outbox WHERE seq IN (SELECT value FROM json_each(?)) "
        "ORDER BY seq",
        (KEEP,),
    ),
    # OutboxTail.sizes (the backlog meter)
    "tail.sizes": Case(
        "SELECT seq, stream, LENGTH(CAST(body AS BLOB)) FROM outbox WHERE seq > ? "
        "ORDER BY seq LIMIT ?",
        (1000, 1000),
    ),
    # OutboxTail.telemetry_sizes (what may be shed)
    "tail.telemetry_sizes": Case(
        "SELECT seq, LENGTH(CAST(body AS BLOB)) FROM outbox WHERE seq > ? AND seq <= ? "
        "AND stream = 'telemetry' AND seq NOT IN (SELECT value FROM json_each(?)) "
        "ORDER BY seq LIMIT ?",
        (1000, 9000, KEEP, 1000),
    ),
    # ---------------------------------- statements that read whole tables until schema 2
    # read_open_tickets(None), every expo snapshot
    "read_open_tickets.all": Case(
        f"SELECT {TICKET_COLS} FROM tickets WHERE status='open' ORDER BY +id"
    ),
    # read_open_orders, every expo snapshot
    "read_open_orders": Case(OPEN_ORDERS_SQL),
    # Kitchen.serve_ready, once a minute: the ready orders among the open ones
    "serve_ready": Case(READY_SQL, (5000,)),
    # read_jobs_by_id, the print dispatcher's jobs due now
    "read_jobs_by_id": Case(
        f"SELECT {JOB_COLS} FROM print_jobs WHERE id IN (SELECT value FROM json_each(?)) "
        "ORDER BY rowid",
        ('["chit-42-p1", "chit-43-p1"]',),
    ),
    # read_pending_jobs, when the print dispatcher starts: from the low mark (no pending job
    # is below it), so the jobs of the last minute or so and any still pending
    "read_pending_jobs": Case(
        f"SELECT {JOB_COLS} FROM print_jobs WHERE {PENDING_SINCE} ORDER BY rowid", (1200,)
    ),
    # read_pending_low, at most once a minute as jobs print
    "read_pending_low": Case(PENDING_LOW_SQL, (1200,), rowid_minmax=frozenset({"print_jobs"})),
    # the metrics' print queue, on each scrape
    "pending_counts": Case(PENDING_COUNTS_SQL, (1200,)),
    # tx_table_has_open_call, every call opened, acknowledged or closed
    "tx_table_has_open_call": Case(
        "SELECT 1 FROM calls WHERE table_id=? AND state != 'closed' AND state='open' LIMIT 1",
        ("t5",),
    ),
    # read_order_times, the admin page's kitchen numbers
    "read_order_times": Case(
        "SELECT created_at FROM orders WHERE id >= ? AND created_at >= ?",
        (100, "2026-06-01T00:00:00.000Z"),
    ),
    # first_id_since, the bisection's probes
    "first_id_since.bounds": Case(
        "SELECT (SELECT MIN(id) FROM orders), (SELECT MAX(id) FROM orders)",
        rowid_minmax=frozenset({"orders"}),
    ),
    "first_id_since.probe": Case(
        "SELECT created_ms FROM tickets WHERE id >= ? AND created_ms IS NOT NULL "
        "ORDER BY id LIMIT 1",
        (100,),
    ),
    # read_quotes, the admin page's quoted-wait error: the window by order id, bisected
    "read_quotes": Case(
        "SELECT quoted_ms, ready_by_ms, ready_ms FROM orders WHERE id >= ? "
        "AND quoted_ms >= ? ORDER BY id",
        (100, 1_000),
    ),
    "first_id_since.quotes.probe": Case(
        "SELECT quoted_ms FROM orders WHERE id >= ? AND quoted_ms IS NOT NULL ORDER BY id LIMIT 1",
        (100,),
    ),
    # read_ticket_times, the admin page's kitchen numbers
    "read_ticket_times": Case(
        "SELECT station, created_ms, CASE WHEN status='bumped' THEN bumped_at END "
        "FROM tickets WHERE id >= ? AND created_ms >= ? "
        "UNION ALL SELECT station, created_ms, NULL FROM tickets "
        "WHERE status='open' AND (id < ? OR created_ms < ?)",
        (100, 1_000, 100, 1_000),
    ),
}
for _lane in LANES:
    # OutboxTail.read, every poll
    CASES[f"tail.read.{_lane}"] = Case(
        f"SELECT {TAIL_COLS} FROM outbox WHERE seq > ? AND {TAIL_LANE_SQL[_lane]} "
        "AND seq NOT IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?",
        (1000, KEEP, 500),
    )
    # OutboxTail.first_unsent, every budget check
    CASES[f"tail.first_unsent.{_lane}"] = Case(
        f"SELECT seq, created_at FROM outbox WHERE seq > ? AND {TAIL_LANE_SQL[_lane]} "
        "AND seq NOT IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT 1",
        (1000, KEEP),
    )
    # hub/consumers/bridge_health.py BridgeHealth._oldest_unsent, every 5 s
    CASES[f"bridge_health.oldest_unsent.{_lane}"] = Case(
        "SELECT seq, created_at FROM outbox WHERE seq > ? AND "
        f"{HEALTH_LANE_SQL.get(_lane, HEALTH_PRIORITY_SQL)} "
        "AND seq NOT IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT 1",
        (1000, KEEP),
    )


@pytest.fixture(scope="module")
def conn() -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(":memory:")
    db.executescript(resources.files("hub.store").joinpath("schema.sql").read_text("utf-8"))
    yield db
    db.close()


def plan(db: sqlite3.Connection, case: Case) -> list[str]:
    return [str(r[3]) for r in db.execute(f"EXPLAIN QUERY PLAN {case.sql}", case.params)]


def full_reads(db: sqlite3.Connection, case: Case) -> list[str]:
    """The plan steps that read a growing table whole."""
    bad = []
    for step in plan(db, case):
        if "AUTOMATIC" in step:
            bad.append(step)
            continue
        m = _STEP.match(step)
        if m is None:
            continue
        name = m["alias"] or m["table"]
        table = case.aliases.get(name, name)
        if table not in GROWING:
            continue
        whole_scan = m["op"] == "SCAN" and m["index"] not in LIVE_INDEXES  # None: no index
        minmax_scan = m["op"] == "SEARCH" and not m["using"] and table not in case.rowid_minmax
        if whole_scan or minmax_scan:
            bad.append(step)
    return bad


@pytest.mark.parametrize("name", sorted(CASES))
def test_hot_statement_reads_through_an_index(conn: sqlite3.Connection, name: str) -> None:
    case = CASES[name]
    assert full_reads(conn, case) == [], f"{name}: {plan(conn, case)}"


def test_live_indexes_are_partial(conn: sqlite3.Connection) -> None:
    partial = {str(r[1]) for t in GROWING for r in conn.execute(f"PRAGMA index_list({t})") if r[4]}
    assert partial >= LIVE_INDEXES


def test_every_stations_newest_bumps_need_no_sort_of_every_bump(conn: sqlite3.Connection) -> None:
    """The expo's newest bumps come from each station's end of tickets_bumped: no plan step
    sorts (a temp b-tree over every ticket ever bumped) but the final merge of a few rows."""
    sql = _newest_bumped_sql(TICKET_COLS, 2)
    rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", ("grill", 10, "wok", 10, 10)).fetchall()
    stations = {r[0] for r in rows if str(r[3]).startswith("CO-ROUTINE")}
    assert len(stations) == 2, rows
    # each station's rows come in index order, unsorted; only the merge sorts its 2 x 10
    assert not [r for r in rows if "TEMP B-TREE" in str(r[3]) and r[1] in stations], rows
    searches = [str(r[3]) for r in rows if r[1] in stations]
    assert searches == ["SEARCH tickets USING INDEX tickets_bumped (station=?)"] * 2, rows


@pytest.mark.parametrize(
    "sql",
    [
        # the form save_ticket_state had: MAX over a column no usable index orders
        "SELECT COALESCE(MAX(bumped_seq), 0) + 1 FROM tickets",
        # a whole table
        "SELECT id FROM orders WHERE body = 'x'",
        # a whole, non-partial index
        "SELECT order_id FROM tickets ORDER BY order_id",
        # a whole partial index that keeps every ticket ever bumped
        "SELECT id FROM tickets WHERE status='bumped' ORDER BY created_ms LIMIT 1",
    ],
)
def test_the_check_finds_full_reads(conn: sqlite3.Connection, sql: str) -> None:
    assert full_reads(conn, Case(sql)) != []
