"""The bridge's own state, in its own small SQLite file: lane cursors, parked batches, shed
telemetry, and what the status page shows (last success, last error, backlog).

Why lane cursors over one gap-free seq
--------------------------------------
The hub numbers every outbox row with one gap-free seq per store, and the cloud keys events
by (store, seq). When catching up, orders must go before telemetry, so the bridge keeps one
cursor per lane (see `cloud_bridge.tail`): "every row of this lane with seq <= cursor is
acknowledged (or shed, or parked)". Both lanes are read in seq order, so within a lane the
cloud receives events in order; across lanes the cloud may briefly see telemetry gaps, which
its `contiguous_seq` and gap list make visible, and which close when telemetry catches up.
Two cursors are all the state this needs: no per-event ack table, one row write per batch.
A cursor moves only in the same transaction that records the cloud's acknowledgement; a lane
drained in a batch jumps to the snapshot's highest seq, so a quiet lane (no telemetry for an
hour) never holds `acked_upto` back.

Alternatives weighed: two separately numbered streams would need the hub to number per
stream (the hub owns numbering and the bridge may not write there); a single cursor plus a
set of acked seqs ahead of it grows with the telemetry backlog; both were worse.

What the hub may delete
-----------------------
`acked_upto(path)` is the highest seq at or below which every outbox row is acknowledged by
the cloud or shed; it stops just below the first parked seq, so a hub that prunes by it
alone never deletes a row that may still have to be sent. `prune_plan(path)` gives the finer
picture (parked rows to keep, shed ranges to drop at once) for `PRUNE_SQL`. Those views and
the SQL live in `plumbing.outbox`, which the hub reads too; here they raise `StateError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import aiosqlite

from cloud_bridge.errors import StateError
from plumbing import outbox
from plumbing.clock import iso_from_ms, ms_from_iso
from plumbing.outbox import (
    LANES,
    PRIORITY,
    PRUNE_ACKED_SQL,
    PRUNE_SHED_SQL,
    PRUNE_SQL,
    TELEMETRY,
    PrunePlan,
)

log = logging.getLogger("tablehub.bridge.cursor")
T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS lanes (
    lane TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL
);
-- batches (or single events) the cloud said were bad; their rows stay in the hub
CREATE TABLE IF NOT EXISTS parked (
    id          INTEGER PRIMARY KEY,
    first_seq   INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    status      TEXT NOT NULL DEFAULT 'parked',   -- parked | retry
    http_status INTEGER,
    error       TEXT NOT NULL,
    message     TEXT NOT NULL,
    tries       INTEGER NOT NULL DEFAULT 1,
    parked_at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS parked_seqs (
    seq       INTEGER PRIMARY KEY,
    parked_id INTEGER NOT NULL REFERENCES parked(id) ON DELETE CASCADE
);
-- telemetry given up to stay in the disk budget: every telemetry row with lo <= seq <= hi
CREATE TABLE IF NOT EXISTS shed (
    lo          INTEGER PRIMARY KEY,
    hi          INTEGER NOT NULL,
    count       INTEGER NOT NULL,
    bytes       INTEGER NOT NULL,
    ranges      TEXT NOT NULL,      -- [[first, last], ...] runs of consecutive shed seqs
    shed_at     TEXT NOT NULL,
    reported_at TEXT                -- when the cloud acknowledged the notice
);
CREATE TABLE IF NOT EXISTS state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL             -- JSON
);
"""

# Each acknowledged batch commits two small leaves (its lane's cursor, the counters of the
# status page). In SQLite's default 4 KB pages a commit wrote 8 KB of WAL, and each 4 KB frame
# straddles two of the disk's pages: ~12 KB a batch, one batch an order at a store's pace.
STATE_PAGE_SIZE = 1024


async def _small_pages(conn: aiosqlite.Connection, path: Path) -> None:
    """A new state file gets `STATE_PAGE_SIZE` pages; an older one in other pages is
    rewritten in them (VACUUM: a file of a few KB to a few MB, once). If it cannot be done
    now (the hub reading the file at that moment), the file is used as it is and rewritten
    at the next start."""
    async with conn.execute("PRAGMA page_size") as cur:
        row = await cur.fetchone()
    if row is None or int(row[0]) == STATE_PAGE_SIZE:
        return
    async with conn.execute("SELECT count(*) FROM sqlite_master") as cur:
        row = await cur.fetchone()
    fresh = row is not None and int(row[0]) == 0
    try:
        if not fresh:
            await conn.execute("PRAGMA journal_mode=DELETE")  # WAL keeps the page size
        await conn.execute(f"PRAGMA page_size={STATE_PAGE_SIZE}")
        if not fresh:
            await conn.execute("VACUUM")
    except sqlite3.OperationalError as exc:
        log.warning("%s stays in its pages for now: %s", path, exc)


# ---------------------------------------------------------------- pure cursor logic


@dataclass(frozen=True, slots=True)
class LanePlan:
    """One lane's part of a batch: its seqs in order, and where the lane's cursor may jump
    once all of them are acknowledged (`complete_upto`, or None: only to the last one)."""

    seqs: tuple[int, ...]
    complete_upto: int | None


def advance(
    cursors: Mapping[str, int], plans: Mapping[str, LanePlan], acked: Iterable[int]
) -> dict[str, int]:
    """New lane cursors after an acknowledgement. A lane moves over its acknowledged prefix;
    a lane fully acknowledged and complete jumps to `complete_upto`. Never moves back."""
    got = set(acked)
    out = dict(cursors)
    for lane, plan in plans.items():
        c = cursors[lane]
        whole = True
        for seq in plan.seqs:
            if seq not in got:
                whole = False
                break
            c = max(c, seq)
        if whole and plan.complete_upto is not None:
            c = max(c, plan.complete_upto)
        out[lane] = c
    return out


def to_ranges(seqs: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted seqs as runs: [3, 4, 5, 9] -> [(3, 5), (9, 9)]."""
    runs: list[tuple[int, int]] = []
    for seq in seqs:
        if runs and seq == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], seq)
        else:
            runs.append((seq, seq))
    return runs


def pick_shed(rows: Sequence[tuple[int, int]], need_bytes: int) -> tuple[list[int], int]:
    """The oldest telemetry rows (seq, bytes) that free at least `need_bytes`."""
    seqs: list[int] = []
    freed = 0
    for seq, size in rows:
        if freed >= need_bytes:
            break
        seqs.append(seq)
        freed += size
    return seqs, freed


@dataclass(frozen=True, slots=True)
class ShedNotice:
    lo: int
    hi: int
    count: int
    bytes: int
    ranges: tuple[tuple[int, int], ...]
    at: str

    def wire(self) -> dict[str, Any]:
        return {
            "lo": self.lo,
            "hi": self.hi,
            "count": self.count,
            "bytes": self.bytes,
            "ranges": [list(r) for r in self.ranges],
            "at": self.at,
        }


@dataclass(frozen=True, slots=True)
class Parked:
    id: int
    first_seq: int
    last_seq: int
    count: int
    status: str
    http_status: int | None
    error: str
    message: str
    tries: int
    parked_at: str
    seqs: tuple[int, ...] = ()


# ---------------------------------------------------------------- the state database


class BridgeState:
    """`async with BridgeState(path, store_id=..., now_ms=...) as state: ...`.

    Keeps the lane cursors and parked seqs in memory too (they are read for every batch)."""

    def __init__(
        self,
        path: Path,
        *,
        store_id: str,
        now_ms: Callable[[], int],
        retention_hours: float = 168.0,
    ) -> None:
        self.path = Path(path)
        self.store_id = store_id
        self._now_ms = now_ms
        self._retention_hours = retention_hours
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self.cursors: dict[str, int] = dict.fromkeys(LANES, 0)
        self.parked_seqs: frozenset[int] = frozenset()

    def __repr__(self) -> str:
        return (
            f"<BridgeState {self.store_id} cursors={self.cursors} parked={len(self.parked_seqs)}>"
        )

    async def __aenter__(self) -> BridgeState:
        await self.open()
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def now_iso(self) -> str:
        return iso_from_ms(int(self._now_ms()))

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = await aiosqlite.connect(self.path, isolation_level=None)
            await _small_pages(conn, self.path)
            # WAL + NORMAL: a crash of the process loses nothing committed; a power cut may
            # lose the last acks, which only means the cloud sees those batches again.
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                await conn.execute(f"PRAGMA {pragma}")
            await conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StateError(f"cannot open the bridge's state {self.path}: {exc}") from exc
        self._conn = conn
        owner = await self.get("store_id")
        if owner is None:
            await self.put_many({"store_id": self.store_id})
        elif owner != self.store_id:
            await self.close()
            raise StateError(
                f"{self.path} belongs to store '{owner}', not '{self.store_id}': "
                "give each store its own state_db"
            )
        await self.put_many({"retention_hours": self._retention_hours})
        await self._load()

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    def _c(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise StateError("the bridge's state is closed")
        return self._conn

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            async with self._c().execute(sql, params) as cur:
                return list(await cur.fetchall())
        except sqlite3.Error as exc:
            raise StateError(f"cannot read the bridge's state {self.path}: {exc}") from exc

    async def _load(self) -> None:
        rows = await self._all("SELECT lane, seq FROM lanes")
        self.cursors = dict.fromkeys(LANES, 0) | {str(r[0]): int(r[1]) for r in rows}
        self.parked_seqs = frozenset(
            int(r[0]) for r in await self._all("SELECT seq FROM parked_seqs")
        )

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction at a time: the uploader and the menu sync share this
        connection."""
        async with self._lock:
            conn = self._c()
            try:
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        await conn.execute("ROLLBACK")
                    raise
                await conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StateError(f"cannot write the bridge's state {self.path}: {exc}") from exc

    # ------------------------------------------------------------ key/value state

    async def get(self, key: str, default: Any = None) -> Any:
        rows = await self._all("SELECT value FROM state WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    async def put_many(
        self, values: Mapping[str, Any], conn: aiosqlite.Connection | None = None
    ) -> None:
        sql = (
            "INSERT INTO state(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
        )
        params = [(k, json.dumps(v)) for k, v in values.items()]
        if conn is not None:
            await conn.executemany(sql, params)
            return
        async with self._tx() as c:
            await c.executemany(sql, params)

    # ------------------------------------------------------------ cursors

    async def _write_cursors(self, conn: aiosqlite.Connection, cursors: Mapping[str, int]) -> None:
        await conn.executemany(
            "INSERT INTO lanes(lane, seq) VALUES (?, ?) "
            "ON CONFLICT(lane) DO UPDATE SET seq = MAX(seq, excluded.seq)",
            list(cursors.items()),
        )

    async def commit_ack(
        self,
        cursors: Mapping[str, int],
        *,
        shed_reported: Iterable[int] = (),
        events: int = 0,
        contiguous_seq: int | None = None,
    ) -> None:
        """Record one acknowledged batch: cursors, shed notices, success, in one commit."""
        now = self.now_iso()
        sent = int(await self.get("sent_events", 0)) + events
        batches = int(await self.get("sent_batches", 0)) + 1
        values: dict[str, Any] = {
            "last_success_at": now,
            "sent_events": sent,
            "sent_batches": batches,
        }
        if contiguous_seq is not None:
            values["cloud_contiguous_seq"] = contiguous_seq
        async with self._tx() as conn:
            await self._write_cursors(conn, cursors)
            await conn.executemany(
                "UPDATE shed SET reported_at = ? WHERE lo = ? AND reported_at IS NULL",
                [(now, lo) for lo in shed_reported],
            )
            await self.put_many(values, conn)
        self.cursors = {k: max(v, cursors.get(k, v)) for k, v in self.cursors.items()}

    async def move_cursors(self, cursors: Mapping[str, int]) -> None:
        """Move cursors with no upload (a lane that has nothing left but parked rows)."""
        if all(cursors.get(k, v) <= v for k, v in self.cursors.items()):
            return
        async with self._tx() as conn:
            await self._write_cursors(conn, cursors)
        self.cursors = {k: max(v, cursors.get(k, v)) for k, v in self.cursors.items()}

    async def record_error(self, message: str) -> None:
        await self.put_many({"last_error": message, "last_error_at": self.now_iso()})

    # ------------------------------------------------------------ parking

    async def park(
        self, seqs: Sequence[int], *, http_status: int | None, error: str, message: str
    ) -> int:
        seqs = sorted(set(seqs))
        async with self._tx() as conn:
            cur = await conn.execute(
                "INSERT INTO parked(first_seq, last_seq, count, http_status, error, message, "
                "parked_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seqs[0], seqs[-1], len(seqs), http_status, error, message[:500], self.now_iso()),
            )
            parked_id = int(cur.lastrowid or 0)
            await conn.executemany(
                "INSERT OR REPLACE INTO parked_seqs(seq, parked_id) VALUES (?, ?)",
                [(s, parked_id) for s in seqs],
            )
        self.parked_seqs = self.parked_seqs | frozenset(seqs)
        return parked_id

    async def parked(self, status: str | None = None) -> list[Parked]:
        rows = await self._all(
            "SELECT id, first_seq, last_seq, count, status, http_status, error, message, tries, "
            "parked_at FROM parked WHERE ? IS NULL OR status = ? ORDER BY id",
            (status, status),
        )
        out = []
        for r in rows:
            seqs = await self._all(
                "SELECT seq FROM parked_seqs WHERE parked_id = ? ORDER BY seq", (r[0],)
            )
            out.append(
                Parked(
                    int(r[0]),
                    int(r[1]),
                    int(r[2]),
                    int(r[3]),
                    str(r[4]),
                    r[5],
                    str(r[6]),
                    str(r[7]),
                    int(r[8]),
                    str(r[9]),
                    tuple(int(s[0]) for s in seqs),
                )
            )
        return out

    async def release(self, parked_id: int | None = None) -> int:
        """Mark parked batches for another try (all when `parked_id` is None)."""
        async with self._tx() as conn:
            cur = await conn.execute(
                "UPDATE parked SET status = 'retry' "
                "WHERE status = 'parked' AND (? IS NULL OR id = ?)",
                (parked_id, parked_id),
            )
            return int(cur.rowcount)

    async def unpark_done(self, parked_id: int) -> None:
        """A retried parked batch was acknowledged: forget it."""
        async with self._tx() as conn:
            await conn.execute("DELETE FROM parked_seqs WHERE parked_id = ?", (parked_id,))
            await conn.execute("DELETE FROM parked WHERE id = ?", (parked_id,))
        await self._load()

    async def repark(self, parked_id: int, *, error: str, message: str) -> None:
        async with self._tx() as conn:
            await conn.execute(
                "UPDATE parked SET status = 'parked', tries = tries + 1, error = ?, message = ? "
                "WHERE id = ?",
                (error, message[:500], parked_id),
            )

    # ------------------------------------------------------------ shedding

    async def shed(self, seqs: Sequence[int], nbytes: int) -> ShedNotice:
        """Give up the oldest unsent telemetry `seqs` (sorted, starting right after the
        telemetry cursor): the cursor moves past them and a notice waits to be sent."""
        ranges = tuple(to_ranges(seqs))
        notice = ShedNotice(seqs[0], seqs[-1], len(seqs), nbytes, ranges, self.now_iso())
        total = int(await self.get("shed_events_total", 0)) + notice.count
        total_bytes = int(await self.get("shed_bytes_total", 0)) + nbytes
        async with self._tx() as conn:
            await conn.execute(
                "INSERT INTO shed(lo, hi, count, bytes, ranges, shed_at) VALUES (?, ?, ?, ?, ?, ?)",
                (notice.lo, notice.hi, notice.count, nbytes, json.dumps(ranges), notice.at),
            )
            await self._write_cursors(conn, {TELEMETRY: notice.hi})
            await self.put_many({"shed_events_total": total, "shed_bytes_total": total_bytes}, conn)
        self.cursors[TELEMETRY] = max(self.cursors[TELEMETRY], notice.hi)
        return notice

    async def unreported_shed(self, limit: int = 20) -> list[ShedNotice]:
        rows = await self._all(
            "SELECT lo, hi, count, bytes, ranges, shed_at FROM shed WHERE reported_at IS NULL "
            "ORDER BY lo LIMIT ?",
            (limit,),
        )
        return [
            ShedNotice(r[0], r[1], r[2], r[3], tuple(tuple(x) for x in json.loads(r[4])), r[5])
            for r in rows
        ]

    async def forget_old(self) -> None:
        """Drop reported shed records that the hub no longer needs (below acked_upto and
        older than the retention period)."""
        cutoff = iso_from_ms(int(self._now_ms() - self._retention_hours * 3_600_000))
        upto = min(self.cursors.values())
        async with self._tx() as conn:
            await conn.execute(
                "DELETE FROM shed WHERE reported_at IS NOT NULL AND hi <= ? AND shed_at < ?",
                (upto, cutoff),
            )


# ---------------------------------------------------------------- read-only views (sync)


def _state(read: Callable[[Path], T], bridge_db: Path) -> T:
    try:
        return read(bridge_db)
    except outbox.StateUnreadable as exc:
        raise StateError(exc.message) from exc


def prune_plan(bridge_db: Path) -> PrunePlan:
    """What the hub may delete from its outbox (`plumbing.outbox.prune_plan`)."""
    return _state(outbox.prune_plan, bridge_db)


def acked_upto(bridge_db: Path) -> int:
    """Safe to prune up to, alone (`plumbing.outbox.acked_upto`)."""
    return _state(outbox.acked_upto, bridge_db)


def read_state(bridge_db: Path) -> dict[str, Any]:
    """Everything the bridge keeps, for `tablehub bridge status` (`plumbing.outbox.read_state`)."""
    return _state(outbox.read_state, bridge_db)


__all__ = [
    "PRIORITY",
    "PRUNE_ACKED_SQL",
    "PRUNE_SHED_SQL",
    "PRUNE_SQL",
    "TELEMETRY",
    "BridgeState",
    "LanePlan",
    "Parked",
    "PrunePlan",
    "ShedNotice",
    "acked_upto",
    "advance",
    "iso_from_ms",
    "ms_from_iso",
    "pick_shed",
    "prune_plan",
    "read_state",
    "to_ranges",
]
