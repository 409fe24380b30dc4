"""The store's connections and its single writer with group commit.

All writes go through `Store.write(unit)`: a unit is an async function that gets a `Tx`, runs
its statements and records outbox events with `tx.emit(...)`. One writer task takes every unit
waiting in a bounded queue, runs each inside its own SAVEPOINT of one transaction and commits
them together (WAL, synchronous=FULL): many orders, one fsync. A unit's caller is answered only
after that commit, so a 201 always means "on disk". A unit that raises is rolled back alone;
a commit that fails (disk full, I/O error) fails every unit of the batch with
`StoreUnavailable` and writes nothing.

Reads use their own read-only connection, so they never see a batch that is not committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from hub import backup
from hub.errors import HubError, StoreUnavailable

log = logging.getLogger("tablehub.store")

T = TypeVar("T")
SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Event:
    """One committed outbox row."""

    seq: int
    stream: str
    kind: str
    key: str
    body: dict[str, Any]
    created_at: str


class Tx:
    """What a write unit sees: the writer connection and an outbox to emit events into."""

    def __init__(self, conn: aiosqlite.Connection, now: str) -> None:
        self.conn = conn
        self.now = now
        self.events: list[tuple[str, str, str, dict[str, Any]]] = []

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Cursor:
        return await self.conn.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self.conn.executemany(sql, rows)

    async def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        async with self.conn.execute(sql, params) as cur:
            row: sqlite3.Row | None = await cur.fetchone()
            return row

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        async with self.conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

    def emit(self, stream: str, kind: str, key: str, body: dict[str, Any]) -> None:
        self.events.append((stream, kind, key, body))


Unit = Callable[[Tx], Awaitable[T]]
CommitListener = Callable[[list[Event]], None]


def _is_fatal(exc: BaseException) -> bool:
    """SQLite errors that spoil the whole transaction, not just one unit."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    text = str(exc).lower()
    return any(w in text for w in ("full", "disk i/o", "readonly", "malformed", "locked"))


class Store:
    """The hub's SQLite store. `async with Store(path, clock=...) as store: ...`."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], str],
        max_batch: int = 512,
        queue_size: int = 2048,
        check_on_open: bool = False,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Unit[Any], asyncio.Future[Any]]] = asyncio.Queue(
            queue_size
        )
        self._listeners: list[CommitListener] = []
        self._w: aiosqlite.Connection | None = None
        self._r: aiosqlite.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._next_seq = 1
        self.committed_seq = 0
        self.commits = 0
        self.units = 0
        self.check_on_open = check_on_open
        self.quarantined: Path | None = None

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.check_on_open:
            await asyncio.to_thread(self._quarantine_if_corrupt)
        self._w = await aiosqlite.connect(self.path, isolation_level=None)
        self._w.row_factory = sqlite3.Row
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            "busy_timeout=5000",
            "wal_autocheckpoint=1000",
        ):
            await self._w.execute(f"PRAGMA {pragma}")
        await self._migrate()
        self._r = await aiosqlite.connect(
            f"file:{self.path}?mode=ro", uri=True, isolation_level=None
        )
        self._r.row_factory = sqlite3.Row
        await self._r.execute("PRAGMA busy_timeout=5000")
        row = await self._one_w("SELECT COALESCE(MAX(seq), 0) FROM outbox")
        seq_row = await self._one_w("SELECT seq FROM sqlite_sequence WHERE name='outbox'")
        self._next_seq = max(row[0] if row else 0, seq_row[0] if seq_row else 0) + 1
        self.committed_seq = self._next_seq - 1
        self._task = asyncio.create_task(self._writer(), name="store-writer")

    async def close(self) -> None:
        if self._task is not None:
            # let queued units finish, then stop the writer
            await self._queue.join()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._r is not None:
            await self._r.close()
        if self._w is not None:
            # a clean stop copies the WAL into the file (without waiting on readers), so copies,
            # backups and a technician's sqlite3 see everything; SQLite drops the WAL once the
            # last connection closes
            try:
                await self._w.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:
                log.warning("store %s: checkpoint at close failed: %s", self.path, exc)
            await self._w.close()
        self._r = self._w = None

    def _quarantine_if_corrupt(self) -> None:
        """Never refuse to start: a store that fails `PRAGMA quick_check` (power cut on a bad
        SD card) is moved aside as `*.corrupt-<time>` with its WAL, kept for recovery, and the
        hub starts on an empty store; `self.quarantined` says so (health, logs, admin)."""
        if not self.path.exists():
            return
        reason = None
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
            try:
                rows = conn.execute("PRAGMA quick_check").fetchall()
                if rows != [("ok",)]:
                    reason = "; ".join(str(r[0]) for r in rows[:3])
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            reason = str(exc)
        if reason is None:
            return
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            part = Path(f"{self.path}{suffix}")
            if part.exists():
                part.rename(Path(f"{target}{suffix}"))
        self.quarantined = target
        log.critical(
            "store %s is damaged (%s): moved to %s; starting on an empty store. "
            "Restore the last backup (tablehub restore).",
            self.path,
            reason,
            target,
        )

    async def _one_w(self, sql: str) -> sqlite3.Row | None:
        assert self._w is not None
        async with self._w.execute(sql) as cur:
            row: sqlite3.Row | None = await cur.fetchone()
            return row

    async def _migrate(self) -> None:
        assert self._w is not None
        row = await self._one_w("PRAGMA user_version")
        version = row[0] if row else 0
        if version > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"store schema {version} is newer than this hub "
                f"({SCHEMA_VERSION}); upgrade tablehub"
            )
        if version < SCHEMA_VERSION:
            # an upgrade keeps a copy of the store as it was (none for a new store)
            await asyncio.to_thread(backup.before_migration, self.path, version, SCHEMA_VERSION)
            sql = resources.files("hub.store").joinpath("schema.sql").read_text("utf-8")
            await self._w.executescript(sql)
            await self._w.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # ------------------------------------------------------------ API

    def on_commit(self, listener: CommitListener) -> None:
        """`listener(events)` runs on the loop right after each commit, in commit order."""
        self._listeners.append(listener)

    async def write(self, unit: Unit[T]) -> T:
        """Run `unit` in the next group commit; return its result once it is on disk."""
        if self._task is None:
            raise StoreUnavailable("the store is closed")
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._queue.put((unit, fut))
        return await fut

    async def read_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        assert self._r is not None
        async with self._r.execute(sql, params) as cur:
            row: sqlite3.Row | None = await cur.fetchone()
            return row

    async def read_all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        assert self._r is not None
        async with self._r.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def events_after(self, seq: int, limit: int = 500) -> list[Event]:
        rows = await self.read_all(
            "SELECT seq, stream, kind, key, body, created_at FROM outbox WHERE seq > ? "
            "ORDER BY seq LIMIT ?",
            (seq, limit),
        )
        return [Event(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5]) for r in rows]

    # ------------------------------------------------------------ the writer

    async def _writer(self) -> None:
        while True:
            first = await self._queue.get()
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._run_batch(batch)
            except Exception:  # the writer must survive anything one batch does
                log.exception("store writer: batch failed")
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(StoreUnavailable("the store could not save this"))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _run_batch(self, batch: list[tuple[Unit[Any], asyncio.Future[Any]]]) -> None:
        conn = self._w
        assert conn is not None
        tx = Tx(conn, self._clock())
        results: list[tuple[asyncio.Future[Any], bool, Any]] = []
        pending: list[tuple[str, str, str, dict[str, Any]]] = []
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for unit, fut in batch:
                if fut.cancelled():
                    continue
                tx.events = []
                await conn.execute("SAVEPOINT unit")
                try:
                    value = await unit(tx)
                except Exception as exc:
                    await conn.execute("ROLLBACK TO unit")
                    await conn.execute("RELEASE unit")
                    if _is_fatal(exc):
                        raise
                    if not isinstance(exc, HubError):
                        log.exception("store: write unit failed")
                    results.append((fut, False, exc))
                    continue
                await conn.execute("RELEASE unit")
                pending.extend(tx.events)
                results.append((fut, True, value))
            events = self._number(pending, tx.now)
            if events:
                await conn.executemany(
                    "INSERT INTO outbox(seq, stream, kind, key, body, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (
                            e.seq,
                            e.stream,
                            e.kind,
                            e.key,
                            json.dumps(e.body, ensure_ascii=False, separators=(",", ":")),
                            e.created_at,
                        )
                        for e in events
                    ],
                )
            await conn.execute("COMMIT")
        except Exception as exc:
            with contextlib.suppress(sqlite3.Error):
                await conn.execute("ROLLBACK")
            row = await self._one_w("SELECT COALESCE(MAX(seq), 0) FROM outbox")
            self._next_seq = (row[0] if row else 0) + 1
            log.error("store: commit failed, nothing of this batch was saved: %s", exc)
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(
                        StoreUnavailable(
                            "the store cannot save right now; please try again shortly"
                        )
                    )
            return
        self.commits += 1
        self.units += len(results)
        if events:
            self.committed_seq = events[-1].seq
        for fut, ok, value in results:
            if fut.done():
                continue
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)
        if events:
            for listener in self._listeners:
                try:
                    listener(events)
                except Exception:
                    log.exception("store: commit listener failed")

    def _number(self, pending: list[tuple[str, str, str, dict[str, Any]]], now: str) -> list[Event]:
        events = []
        for stream, kind, key, body in pending:
            events.append(Event(self._next_seq, stream, kind, key, body, now))
            self._next_seq += 1
        return events
