"""Keeping the card from filling: a store's closed business leaves the hub once it is older
than `keep_days` and the cloud has it.

Every order, ticket, print job, payment and call stays in the store until deleted, and
nothing deleted them: a busy store's file grew by megabytes a day for as long as the box ran,
and every scheduled backup copied all of it to the same card (systemd/README.md, "History on
the hub"). What goes, and when:

- **a closed check and everything of it** (its orders, their tickets, its payments, split and
  seating) once it closed before the *horizon*: `keep_days` ago, and never later than the
  oldest outbox event the cloud has not acknowledged (`plumbing.outbox.acked_upto`), so the
  hub deletes nothing the cloud does not have. A check stays while an order of it is not
  served (the expo shows it) or a ticket of it is open or held (a station's screen does);
- print jobs printed, failed or cancelled before the horizon, once their ticket is gone;
  closed table calls; corrections of business days before it; walk-ins seated or gone;
  reservations of past days;
- staff action ids (`actions`, a repeat's memo) after `ACTIONS_KEEP_DAYS`, with or without a
  cloud: they are no record of the business.

"Before" counts from the store's newest event, not from the clock alone: a clock set years
ahead (a Pi has no battery clock) deletes nothing. The newest check, order, ticket, print job
and call always stay: SQLite numbers a new row after the highest id there is, and an id given
twice would be taken by the cloud for the old row (and a print job's rowid for one the low
mark has passed).

With no cloud bridge on the box (or its state unreadable) the business stays: the store is
then its only copy. Deletes go through `Store.write` in chunks, so an order never waits behind
a long delete; freed pages are reused by new rows, so the file stops growing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from hub.errors import StoreUnavailable
from hub.store.db import Store, Tx, Unit
from plumbing.clock import iso_from_ms, ms_from_iso
from plumbing.outbox import StateUnreadable, acked_upto
from plumbing.tasks import every

log = logging.getLogger("tablehub.history")

DAY_MS = 86_400_000
ACTIONS_KEEP_DAYS = 7  # a bump bar's or a phone's repeat comes within seconds, not a week
CHUNK_CHECKS = 100  # checks deleted per write: a few hundred rows, milliseconds of work
CHUNK_ROWS = 1000  # rows of the other tables per write


@dataclass(frozen=True, slots=True)
class HistoryResult:
    checks: int = 0
    orders: int = 0
    tickets: int = 0
    payments: int = 0
    print_jobs: int = 0
    calls: int = 0
    corrections: int = 0
    reservations: int = 0
    waitlist: int = 0
    actions: int = 0
    kept_open: int = 0  # closed checks past the horizon kept: still live on a screen
    writes: int = 0

    def __add__(self, other: HistoryResult) -> HistoryResult:
        return HistoryResult(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @property
    def rows(self) -> int:
        total: int = sum(getattr(self, f.name) for f in fields(self))
        return total - self.kept_open - self.writes


@dataclass(frozen=True, slots=True)
class Horizon:
    """Business closed before `before` (ISO, UTC) may go; `why` says what set it."""

    before: str
    why: str


class HistoryPruner:
    """`await pruner.prune_once()`, or `pruner.run()` for the hub's life (every `every_s`).

    `state_db` is the cloud bridge's state (None: no bridge on this box, business kept);
    `keep_days` 0 keeps the business for ever (action ids still go)."""

    def __init__(
        self,
        store: Store,
        state_db: Path | None,
        *,
        now_ms: Callable[[], int],
        keep_days: float = 35.0,
        every_s: float = 6 * 3600.0,
        first_after_s: float = 900.0,
        chunk_checks: int = CHUNK_CHECKS,
        chunk_rows: int = CHUNK_ROWS,
        health: dict[str, Any] | None = None,
    ) -> None:
        self._store = store
        self.state_db = state_db
        self._now_ms = now_ms
        self.keep_days = keep_days
        self.every_s = every_s
        self.first_after_s = first_after_s
        self.chunk_checks = max(1, chunk_checks)
        self.chunk_rows = max(1, chunk_rows)
        self._said: str | None = None
        self.total = HistoryResult()
        self.health = health if health is not None else {}
        self.health["history"] = self.status()

    def __repr__(self) -> str:
        return f"<HistoryPruner keep_days={self.keep_days} deleted={self.total.rows}>"

    async def run(self) -> None:
        await every(
            self.prune_once,
            every_s=self.every_s,
            first_after_s=self.first_after_s,
            log=log,
            what="history pruning",
        )

    def status(self, found: Horizon | None = None, at_ms: int | None = None) -> dict[str, Any]:
        """For /healthz: how long closed business stays, before when the last round let it
        go (or why it kept it), when that round ran and what the rounds deleted."""
        return {
            "keep_days": self.keep_days,
            "cloud": self.state_db is not None,  # a bridge on the box: business may go
            "before": found.before if found else None,
            "kept_because": None if found else self._said,
            "last_round_ms": at_ms,
            "deleted_rows": self.total.rows,
        }

    async def horizon(self) -> Horizon | None:
        """Before when closed business may go, or None (kept for ever, no cloud has it)."""
        if self.keep_days <= 0:
            self._kept("history kept for ever ([history] keep_days = 0)")
            return None
        if self.state_db is None:
            self._kept("history kept: no cloud bridge on this box has a copy of it")
            return None
        try:
            upto = await asyncio.to_thread(acked_upto, self.state_db)
        except StateUnreadable as exc:
            self._kept(f"history kept: {exc.message}")
            return None
        now = await self._store_now_ms()
        keep = Horizon(iso_from_ms(int(now - self.keep_days * DAY_MS)), "keep_days")
        row = await self._store.read_one(
            "SELECT created_at FROM outbox WHERE seq > ? ORDER BY seq LIMIT 1", (upto,)
        )
        self._said = None
        if row is not None and str(row[0]) < keep.before:
            return Horizon(str(row[0]), f"the cloud has events up to seq {upto} only")
        return keep

    async def _store_now_ms(self) -> int:
        """Now, and never later than the store's newest event: a clock set years ahead (a Pi
        has no battery clock) must not make today's business look years old."""
        now = self._now_ms()
        row = await self._store.read_one("SELECT created_at FROM outbox ORDER BY seq DESC LIMIT 1")
        if row is None:
            return now
        return min(now, ms_from_iso(str(row[0])))

    def _kept(self, why: str) -> None:
        """Say once why the business is kept (again only after the reason changed)."""
        if self._said != why:
            log.info("%s", why)
            self._said = why

    async def prune_once(self) -> HistoryResult:
        """One round: every chunk past the horizon, then the old action ids."""
        result = HistoryResult()
        found = await self.horizon()
        if found is not None:
            before = found.before
            after = 0
            while True:
                try:
                    part, after = await self._store.write(
                        _checks_chunk(before, after, self.chunk_checks)
                    )
                except (sqlite3.Error, StoreUnavailable) as exc:
                    # the other tables and the action ids still go; this is tried next round
                    log.error("history pruning stopped at the checks after id %d: %s", after, exc)
                    break
                result += part
                if after == 0:
                    break
            params: dict[str, object] = {"before": before, "day": before[:10]}
            # print jobs are the big rows: their scan stops where the recent ones begin
            params["jobs_below"] = await self._first_rowid_from("print_jobs", "created_at", before)
            for sql, name in _OTHERS:
                result += await self._chunks(sql, name, params)
        actions_before = iso_from_ms(await self._store_now_ms() - ACTIONS_KEEP_DAYS * DAY_MS)
        result += await self._chunks(_ACTIONS_SQL, "actions", {"before": actions_before})
        self.total += result
        self.health["history"] = self.status(found, self._now_ms())
        if result.rows:
            log.info(
                "history pruned (closed before %s): %d checks, %d orders, %d tickets, "
                "%d print jobs, %d calls, %d action ids, %d rows in all, in %d writes",
                found.before if found else "-",
                result.checks,
                result.orders,
                result.tickets,
                result.print_jobs,
                result.calls,
                result.actions,
                result.rows,
                result.writes,
            )
        if result.kept_open:
            log.warning(
                "%d checks closed before the horizon kept: an order of theirs is not served "
                "or a ticket is still on a kitchen screen",
                result.kept_open,
            )
        return result

    async def _first_rowid_from(self, table: str, column: str, before: str) -> int:
        """The first rowid of `table` whose `column` is `before` or later (rowids ascend with
        time; one past the last if none is), found by halves: a few reads, not a scan."""
        row = await self._store.read_one(f"SELECT MIN(rowid), MAX(rowid) FROM {table}")  # noqa: S608
        if row is None or row[0] is None:
            return 0
        lo, hi = int(row[0]), int(row[1]) + 1
        while lo < hi:
            mid = (lo + hi) // 2
            found = await self._store.read_one(
                f"SELECT rowid, {column} FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT 1",  # noqa: S608
                (mid,),
            )
            if found is None or str(found[1]) >= before:
                hi = mid
            else:
                lo = int(found[0]) + 1
        return lo

    async def _chunks(self, sql: str, name: str, params: dict[str, object]) -> HistoryResult:
        out = HistoryResult()
        while True:
            n = await self._store.write(_delete_rows(sql, params | {"n": self.chunk_rows}))
            out += HistoryResult(writes=1, **{name: n})
            if n < self.chunk_rows:
                return out


# Each deletes at most :n rows; rowids ascend with time, so each walks from the oldest.
_OTHERS: Sequence[tuple[str, str]] = (
    (
        # a chit goes with its ticket (one kept, on a screen still, keeps its chits: a
        # silent screen's station reprints a ticket it finds no chit of)
        "DELETE FROM print_jobs WHERE rowid IN (SELECT rowid FROM print_jobs WHERE rowid < "
        ":jobs_below AND rowid < (SELECT MAX(rowid) FROM print_jobs) "
        "AND state IN ('printed', 'failed', 'cancelled') AND updated_at < :before "
        "AND (ticket_id IS NULL OR NOT EXISTS (SELECT 1 FROM tickets t "
        "WHERE t.id = print_jobs.ticket_id)) ORDER BY rowid LIMIT :n)",
        "print_jobs",
    ),
    (
        "DELETE FROM calls WHERE id IN (SELECT id FROM calls WHERE state = 'closed' "
        "AND closed_at < :before AND id < (SELECT MAX(id) FROM calls) ORDER BY id LIMIT :n)",
        "calls",
    ),
    (
        "DELETE FROM corrections WHERE rowid IN (SELECT rowid FROM corrections "
        "WHERE day < :day LIMIT :n)",
        "corrections",
    ),
    (
        "DELETE FROM reservations WHERE rowid IN (SELECT rowid FROM reservations "
        "WHERE day < :day LIMIT :n)",
        "reservations",
    ),
    (
        "DELETE FROM waitlist WHERE rowid IN (SELECT rowid FROM waitlist WHERE status != "
        "'waiting' AND updated_at < :before LIMIT :n)",
        "waitlist",
    ),
)
# a check's own rows, children first (foreign keys)
_OF_CHECKS: Sequence[tuple[str, str]] = (
    ("DELETE FROM orders WHERE check_id IN (SELECT value FROM json_each(?))", "orders"),
    ("DELETE FROM payments WHERE check_id IN (SELECT value FROM json_each(?))", "payments"),
    ("DELETE FROM check_splits WHERE check_id IN (SELECT value FROM json_each(?))", ""),
    ("DELETE FROM seatings WHERE check_id IN (SELECT value FROM json_each(?))", ""),
    ("DELETE FROM checks WHERE id IN (SELECT value FROM json_each(?))", "checks"),
)
_ACTIONS_SQL = (
    "DELETE FROM actions WHERE id IN (SELECT id FROM actions WHERE at < :before LIMIT :n)"
)


def _delete_rows(sql: str, params: dict[str, object]) -> Unit[int]:
    async def unit(tx: Tx) -> int:
        cur = await tx.execute(sql, params)
        return int(cur.rowcount)

    return unit


async def _still_live(tx: Tx, order: Any) -> bool:
    """Whether an order (id, check, tickets from, to, served) keeps its check: not served
    (on the expo and floor screens), or a ticket open or held (on a station's)."""
    if order[4] is None:
        return True
    if order[2] is None:
        return False
    live = await tx.one(
        "SELECT 1 FROM tickets WHERE id BETWEEN ? AND ? AND order_id = ? "
        "AND status IN ('open', 'held') LIMIT 1",
        (order[2], order[3], order[0]),
    )
    return live is not None


def _checks_chunk(before: str, after: int, n: int) -> Unit[tuple[HistoryResult, int]]:
    """Delete up to `n` closed checks with ids above `after`, closed before `before`, and
    everything of theirs; return what went and the last id looked at (0: none left)."""

    async def unit(tx: Tx) -> tuple[HistoryResult, int]:
        rows = await tx.all(
            "SELECT id FROM checks WHERE id > ? AND closed_at IS NOT NULL AND closed_at < ? "
            "ORDER BY id LIMIT ?",
            (after, before, n),
        )
        if not rows:
            return HistoryResult(writes=1), 0
        last = int(rows[-1][0])
        ids = json.dumps([int(r[0]) for r in rows])
        orders = await tx.all(
            "SELECT id, check_id, tickets_from, tickets_to, served_ms FROM orders "
            "WHERE check_id IN (SELECT value FROM json_each(?))",
            (ids,),
        )
        # kept: a check whose order is still open (on the expo and floor screens) or whose
        # ticket is (on a station's), and whichever holds a table's highest id: SQLite gives
        # a new row the highest id there is plus one, and ids must never come back (the cloud
        # keys orders, tickets and checks by them; print jobs are found from a low mark)
        highest = await tx.one(
            "SELECT (SELECT MAX(id) FROM checks), (SELECT MAX(id) FROM orders), "
            "(SELECT MAX(id) FROM tickets)"
        )
        assert highest is not None
        newest = {int(r[0]) for r in rows if r[0] == highest[0]}
        busy: set[int] = set()
        for o in orders:
            if o[0] == highest[1] or (o[3] is not None and o[3] == highest[2]):
                newest.add(int(o[1]))
            elif await _still_live(tx, o):
                busy.add(int(o[1]))
        kept = busy | newest
        tickets = 0
        for o in orders:
            if int(o[1]) not in kept and o[2] is not None:
                # all its tickets lie in its range (hub/store/schema.sql)
                cur = await tx.execute(
                    "DELETE FROM tickets WHERE id BETWEEN ? AND ? AND order_id = ?",
                    (o[2], o[3], o[0]),
                )
                tickets += int(cur.rowcount)
        gone = json.dumps([int(r[0]) for r in rows if int(r[0]) not in kept])
        counts = {"tickets": tickets}
        for sql, name in _OF_CHECKS:
            cur = await tx.execute(sql, (gone,))
            if name:
                counts[name] = int(cur.rowcount)
        return HistoryResult(kept_open=len(busy), writes=1, **counts), last

    return unit
