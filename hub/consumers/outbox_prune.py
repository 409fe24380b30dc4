"""Pruning the outbox once the cloud has it: the hub is the only writer of its store, so it,
not the bridge, deletes what the bridge's own state says is safe to delete.

What may go (see `plumbing.outbox.prune_plan` and docs/cloud-protocol.md):

- rows the cloud acknowledged (at or below the bridge's lane cursors), once older than the
  retention period, unless an in-hub consumer (table `cursors`) has not delivered them or
  the bridge parked them (`PRUNE_ACKED_SQL`);
- telemetry the bridge shed, at once (`PRUNE_SHED_SQL`).

Deletes go through `Store.write` in chunks of at most `chunk_rows` seqs, so a large backlog
is pruned in many small group commits and an order never waits behind one long delete. The
newest outbox row is always kept: the store numbers new events from the highest seq it has.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.store.db import Store, Tx, Unit
from plumbing.clock import iso_from_ms
from plumbing.outbox import (
    PRUNE_ACKED_SQL,
    PRUNE_SHED_SQL,
    PrunePlan,
    StateUnreadable,
    prune_plan,
)
from plumbing.tasks import every

log = logging.getLogger("tablehub.prune")


@dataclass(frozen=True, slots=True)
class PruneResult:
    acked: int = 0  # acknowledged rows deleted
    shed: int = 0  # shed telemetry rows deleted
    writes: int = 0  # store writes (chunks) it took


class OutboxPruner:
    """`await pruner.prune_once()`, or `pruner.run()` as a long-lived task (every `every_s`).

    `retention_hours=None` keeps acknowledged rows as long as the bridge's own
    `retention_hours` (which it records in its state)."""

    def __init__(
        self,
        store: Store,
        state_db: Path,
        *,
        now_ms: Callable[[], int],
        retention_hours: float | None = None,
        every_s: float = 3600.0,
        chunk_rows: int = 5000,
        first_after_s: float = 60.0,
    ) -> None:
        self._store = store
        self.state_db = Path(state_db)
        self._now_ms = now_ms
        self.retention_hours = retention_hours
        self.every_s = every_s
        self.chunk_rows = max(1, chunk_rows)
        self.first_after_s = first_after_s
        self._shed_done: set[tuple[int, int]] = set()
        self._unreadable: str | None = None
        self.total = PruneResult()

    def __repr__(self) -> str:
        return f"<OutboxPruner {self.state_db} acked={self.total.acked} shed={self.total.shed}>"

    async def run(self) -> None:
        await every(
            self.prune_once,
            every_s=self.every_s,
            first_after_s=self.first_after_s,
            log=log,
            what="outbox pruning",
        )

    async def prune_once(self) -> PruneResult:
        """One round: read the bridge's plan, delete in chunks. Nothing happens while the
        bridge has no state yet (it has not run) or it cannot be read."""
        try:
            plan = await asyncio.to_thread(prune_plan, self.state_db)
        except StateUnreadable as exc:
            if self._unreadable != exc.message:
                log.info("outbox not pruned: %s", exc.message)
                self._unreadable = exc.message
            return PruneResult()
        self._unreadable = None
        shed, shed_writes = await self._prune_shed(plan)
        acked, acked_writes = await self._prune_acked(plan)
        result = PruneResult(acked, shed, shed_writes + acked_writes)
        self.total = PruneResult(
            self.total.acked + acked, self.total.shed + shed, self.total.writes + result.writes
        )
        if acked or shed:
            log.info(
                "outbox pruned: %d acknowledged and %d shed rows in %d writes",
                acked,
                shed,
                result.writes,
            )
        return result

    def _cutoff(self, plan: PrunePlan) -> str:
        hours = plan.retention_hours if self.retention_hours is None else self.retention_hours
        return iso_from_ms(int(self._now_ms() - hours * 3_600_000))

    async def _prune_acked(self, plan: PrunePlan) -> tuple[int, int]:
        row = await self._store.read_one(
            "SELECT (SELECT MIN(seq) FROM outbox), (SELECT MIN(seq) FROM cursors)"
        )
        if row is None or row[0] is None:
            return 0, 0
        # keep the newest row: new events are numbered from the highest seq in the outbox;
        # never past what an in-hub consumer has delivered (the statement checks it too)
        upto = min(plan.upto, self._store.committed_seq - 1)
        if row[1] is not None:
            upto = min(upto, int(row[1]))
        cutoff, keep = self._cutoff(plan), plan.keep_json
        deleted = writes = 0
        lo = int(row[0])
        while lo <= upto:
            hi = min(upto, lo + self.chunk_rows - 1)
            params = {"upto": hi, "cutoff": cutoff, "keep": keep, "lo": lo}
            n, reached_recent = await self._store.write(_delete_acked(params))
            deleted, writes = deleted + n, writes + 1
            if reached_recent:
                break  # rows from here on are within the retention period
            lo = hi + 1
        return deleted, writes

    async def _prune_shed(self, plan: PrunePlan) -> tuple[int, int]:
        deleted = writes = 0
        top = self._store.committed_seq - 1  # the newest row stays here too
        for lo, hi in plan.shed:
            if (lo, hi) in self._shed_done:
                continue
            start = lo
            while start <= min(hi, top):
                end = min(hi, top, start + self.chunk_rows - 1)
                deleted += await self._store.write(_delete_shed(start, end))
                writes += 1
                start = end + 1
            if hi <= top:  # a range ending at the newest row is looked at again later
                self._shed_done.add((lo, hi))
        # the bridge forgets old shed records: so does this memo
        self._shed_done &= set(plan.shed)
        return deleted, writes


def _delete_acked(params: dict[str, object]) -> Unit[tuple[int, bool]]:
    """Delete one chunk; also say whether the chunk holds a row within the retention period
    (the outbox is in time order, so the rows after it are too)."""

    async def unit(tx: Tx) -> tuple[int, bool]:
        cur = await tx.conn.execute(PRUNE_ACKED_SQL, params)
        recent = await tx.conn.execute(
            "SELECT 1 FROM outbox WHERE seq BETWEEN :lo AND :upto AND created_at >= :cutoff "
            "LIMIT 1",
            params,
        )
        return int(cur.rowcount), await recent.fetchone() is not None

    return unit


def _delete_shed(lo: int, hi: int) -> Unit[int]:
    async def unit(tx: Tx) -> int:
        cur = await tx.conn.execute(PRUNE_SHED_SQL, {"lo": lo, "hi": hi})
        return int(cur.rowcount)

    return unit
