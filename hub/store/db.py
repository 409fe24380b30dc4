"""The store's connections and its single writer with group commit.

All writes go through `Store.write(unit)`: a unit is an async function that gets a `Tx`, runs
its statements and records outbox events with `tx.emit(...)`. One writer task takes every unit
waiting in a bounded queue, runs each inside its own SAVEPOINT of one transaction and commits
them together (WAL, synchronous=FULL): many orders, one fsync. A unit's caller is answered only
after that commit, so a 201 always means "on disk". A unit that raises is rolled back alone;
a commit that fails (disk full, I/O error) fails every unit of the batch with
`StoreUnavailable` and writes nothing.

The writer's statements run on the event loop's thread itself (a statement inside a
transaction costs microseconds; a hop to a worker thread per statement cost ~30 µs and
serialised the writer); only what waits on the disk goes to the writer's own thread:
opening, migrations, COMMIT (the fsync) and the checkpoint at close. Reads use their own
read-only connection (aiosqlite, one trip to its thread per query), so they never see a
batch that is not committed.

Checkpoints (copying the WAL's pages into the file) run on a connection and a thread of their
own, never inside a COMMIT: the writer goes on committing while the pages are copied (on an SD
card a checkpoint of a rush's WAL can take seconds of random writes). After each commit the
writer reads how many frames wait to be copied from the WAL index's header (`-shm`, the layout
SQLite documents in "walformat") and starts a PASSIVE checkpoint once they pass
`CHECKPOINT_PAGES`. When it is done, the writer itself copies the few frames committed
meanwhile, between two batches, so that the WAL is all in the file and the next commit starts
it again from its beginning (with commits going on during a checkpoint it never would, and its
file would grow through a rush). Where that header cannot be read, SQLite's own autocheckpoint
does it inside the COMMIT, as before.

Opening never replaces a store: only a missing file makes a new one (built beside it and
renamed into place); an existing file that is empty, not SQLite or (as the hub starts) fails
its check is refused with `StoreDamaged`, one line naming the newest backup, and not written.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from hub.domain import events
from hub.domain.events import HubEvent
from hub.errors import HubError, StoreUnavailable
from hub.store import backup, migrations
from plumbing.packed import pack, unpack

log = logging.getLogger("tablehub.store")

T = TypeVar("T")
SCHEMA_VERSION = 8  # schema.sql brings any store up; hub/store/migrations.py what it cannot
PAGE_SIZE = 1024  # new stores, and older ones at the upgrade to version 4
# SQLite's page cache of the store's reader and checkpointer, in KiB (negative: KiB, SQLite's
# convention). Their default, 2 MiB each, filled through a rush and stayed: memory for pages
# the kernel caches anyway. The writer keeps the default: history pruning's deletes, a few
# hundred pages each, took five times as long in 512 KiB, holding the orders behind them
CACHE_KIB = -512
# A checkpoint copies every page changed since the last one into the file; the pages a rush
# changes are mostly the same few (the tables' and indexes' newest leaves), so checkpointing
# after 16 MB of WAL instead of SQLite's 1,000 pages writes each of them far less often (a
# store day: the file's share 15.3 -> 8.7 KB per order from 4,000 pages; the WAL's file stays
# at ~17 MB on the card). The copying runs beside the writer, so its size never holds an order.
CHECKPOINT_PAGES = 16000
# the WAL index's header (native byte order): mxFrame, the last valid frame, at 16 of the
# first copy; nBackfill, the frames already copied into the file, at 96 (the checkpoint info
# after the header's two 48-byte copies)
_SHM_MX_FRAME = 16
_SHM_BACKFILL = 96
CHECKPOINT_RETRY_S = 5.0  # after a checkpoint failed (disk full, I/O error), the next try


@dataclass(frozen=True, slots=True)
class Event:
    """One committed outbox row: its catalogue event (None for a row no class of the
    catalogue reads; it is kept and uploaded, but nothing in the hub acts on it) and its
    body as stored, encoded once."""

    seq: int
    stream: str
    kind: str
    key: str
    event: HubEvent | None
    body: bytes
    created_at: str


class Cursor:
    """A finished statement: `lastrowid`, `rowcount` and its rows (awaitable, as in aiosqlite)."""

    __slots__ = ("_cur",)

    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur

    @property
    def lastrowid(self) -> int | None:
        return self._cur.lastrowid

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    async def fetchone(self) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._cur.fetchone()
        return row

    async def fetchall(self) -> list[sqlite3.Row]:
        return list(self._cur.fetchall())

    async def close(self) -> None:
        self._cur.close()

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cur.close()


class Tx:
    """What a write unit sees: the writer connection and an outbox to emit events into.

    Statements run at once on the loop's thread (see the module docstring); the methods stay
    coroutines, so a unit reads the same whichever thread runs its statements."""

    def __init__(self, conn: sqlite3.Connection, now: str) -> None:
        self._db = conn
        self.conn = self  # units written against a connection: `await tx.conn.execute(...)`
        self.now = now
        self.events: list[HubEvent] = []
        self.first_seq = 0  # the seq this unit's first event gets (set by the writer)

    @property
    def next_seq(self) -> int:
        """The seq the next event this unit emits will be written with: never given before,
        higher than any event committed before this unit (a ticket's bump order, for one)."""
        return self.first_seq + len(self.events)

    async def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Cursor:
        return Cursor(self._db.execute(sql, params))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)

    async def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute(sql, params).fetchone()
        return row

    async def all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return list(self._db.execute(sql, params).fetchall())

    def emit(self, event: HubEvent) -> None:
        """Record an event of the catalogue; it is written with the unit's changes."""
        self.events.append(event)


_unreadable_logged: set[str] = set()


def _read_back(seq: int, stream: str, kind: str, key: str, body: bytes, at: str) -> Event:
    """A stored row as a committed event, decoded through the catalogue by its kind."""
    try:
        event: HubEvent | None = events.decode(kind, body)
    except events.CatalogueError as exc:
        if kind not in _unreadable_logged:  # once per kind, not once per row
            _unreadable_logged.add(kind)
            log.warning("outbox seq %d: no event of the catalogue reads it (%s)", seq, exc)
        event = None
    return Event(seq, stream, kind, key, event, body, at)


Unit = Callable[[Tx], Awaitable[T]]
CommitListener = Callable[[list[Event]], None]


BUSY_WAIT_S = 5.0  # how long a BEGIN waits for another process's write lock


def _begin_waiting(conn: sqlite3.Connection, limit_s: float) -> None:
    """BEGIN IMMEDIATE, retrying while another process writes (on the writer's thread)."""
    until = time.monotonic() + limit_s
    delay = 0.001
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > until:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def _connect_checkpointer(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA synchronous=FULL")  # the WAL on disk before the file is written
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute(f"PRAGMA cache_size={CACHE_KIB}")
    return conn


def checkpoint_passive(conn: sqlite3.Connection) -> tuple[int, int, int]:
    """Copy what the WAL holds into the file without waiting on the writer or the readers;
    (busy, frames in the WAL, frames copied)."""
    row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return (int(row[0]), int(row[1]), int(row[2]))


class _DiskThread:
    """The writer's own thread: runs one call at a time, in order, and settles an asyncio
    future with the outcome (lighter per call than an executor)."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def call(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, fut, fn, args))
        return fut

    def stop(self) -> None:
        self._jobs.put(None)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            loop, fut, fn, args = job
            try:
                result = fn(*args)
            except Exception as exc:
                loop.call_soon_threadsafe(_settle, fut, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, fut, result, None)


def _settle(fut: asyncio.Future[Any], result: Any, exc: Exception | None) -> None:
    if fut.cancelled():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


def _is_fatal(exc: BaseException) -> bool:
    """SQLite errors that spoil the whole transaction, not just one unit."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    text = str(exc).lower()
    return any(w in text for w in ("full", "disk i/o", "readonly", "malformed", "locked"))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_empty(path: Path) -> None:
    """A new, empty store in WAL mode, made whole or not at all: built as a temp file beside
    it, fsync'd and renamed into place, so a crash never leaves an empty `tablehub.db` (which
    the next start would refuse as damaged)."""
    tmp = path.with_name(f"{path.name}.new")
    tmp.unlink(missing_ok=True)  # a leftover of a crash while making one
    conn = sqlite3.connect(tmp, isolation_level=None)
    try:
        # fewer bytes per page written (an order touches the same number of pages); a store
        # made with another size keeps it. Switching to WAL writes the header page.
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()
    _fsync(tmp)
    os.replace(tmp, path)
    _fsync(path.parent)  # the rename


SQLITE_MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file


class StoreDamaged(HubError):
    """An existing store file that cannot be used as it is: empty, not an SQLite database, or
    failing its check. The hub never starts over it (a new store would lose the orders and
    staff tokens and bring rotated tables' old QR codes back) and never writes to it; the
    message is one line naming the file, the newest backup and the command restoring it."""

    code = "store_damaged"

    def __init__(self, path: Path, problem: str, *, config: str = "<hub.toml>") -> None:
        self.path, self.problem = path, problem
        newest = next(iter(backup.list_backups(backup.backups_dir(path.parent))), None)
        if newest is not None:
            fix = (
                f"newest backup {newest}; stop the hub and restore it with "
                f"`tablehub restore --config {config} {newest}`"
            )
        else:
            fix = (
                f"no backup in {backup.backups_dir(path.parent)}; only if nothing can be "
                "recovered, move the file away and the hub starts an empty store"
            )
        super().__init__(f"store {path} {problem}; left untouched; {fix}")

    def with_config(self, config: str) -> StoreDamaged:
        """The same refusal, its restore command naming the config file actually used."""
        return StoreDamaged(self.path, self.problem, config=config)


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
        checkpoint_pages: int = CHECKPOINT_PAGES,
        checkpoint_retry_s: float = CHECKPOINT_RETRY_S,
    ) -> None:
        self.path = Path(path)
        self.checkpoint_pages = checkpoint_pages
        self.checkpoint_retry_s = checkpoint_retry_s
        self._clock = clock
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Unit[Any], asyncio.Future[Any]]] = asyncio.Queue(
            queue_size
        )
        # units that may wait for company: unit -> the monotonic time it must be committed by
        self._linger: dict[int, float] = {}
        self._hurry = asyncio.Event()  # closing: nobody lingers any more
        self._listeners: list[CommitListener] = []
        self._since: collections.deque[float] = collections.deque()  # enqueue times, queue order
        self._w: sqlite3.Connection | None = None
        # the writer's own thread: connecting, migrations, COMMIT (fsync), checkpoints
        self._disk: _DiskThread | None = None
        self._r: aiosqlite.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        # checkpoints: their own connection and thread; the WAL index read after each commit
        self._ckpt: sqlite3.Connection | None = None
        self._ckpt_disk: _DiskThread | None = None
        self._ckpt_task: asyncio.Task[None] | None = None
        self._shm: int | None = None
        self._finish_checkpoint = False  # the writer copies what came during the last one
        self._ckpt_retry_at = 0.0  # no new try before (monotonic), after a failed one
        self.checkpoints = 0
        self.checkpoint_failing: str | None = None
        self._next_seq = 1
        self.committed_seq = 0
        self.commits = 0
        self.units = 0
        self.failed_commits = 0
        self.failing: str | None = None  # why commits fail now (disk full, I/O error)
        self.check_on_open = check_on_open

    # ------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self._refuse_if_damaged)
        self._disk = _DiskThread(f"store-writer {self.path.name}")
        try:
            self._w = await self._on_disk(self._connect_writer)
            await self._migrate()
        except sqlite3.DatabaseError as exc:
            self._abandon_open()
            if type(exc) is sqlite3.DatabaseError:  # not a database / malformed, not a lock
                raise StoreDamaged(self.path, f"cannot be read ({exc})") from None
            raise
        except BaseException:
            self._abandon_open()
            raise
        # from here on the writer never waits inside SQLite on the loop's thread: a BEGIN
        # that finds another process writing retries on the writer's thread (`_begin`)
        self._w.execute("PRAGMA busy_timeout=0")
        self._r = await aiosqlite.connect(
            f"file:{self.path}?mode=ro", uri=True, isolation_level=None
        )
        self._r.row_factory = sqlite3.Row
        await self._r.execute("PRAGMA busy_timeout=5000")
        await self._r.execute(f"PRAGMA cache_size={CACHE_KIB}")
        row = self._one_w("SELECT COALESCE(MAX(seq), 0) FROM outbox")
        high = self._one_w("SELECT CAST(value AS INTEGER) FROM meta WHERE key='outbox_high'")
        self._next_seq = max(row[0] if row else 0, high[0] if high else 0) + 1
        self.committed_seq = self._next_seq - 1
        await self._open_checkpointer()
        self._task = asyncio.create_task(self._writer(), name="store-writer")

    def _abandon_open(self) -> None:
        if self._w is not None:
            self._w.close()
            self._w = None
        if self._disk is not None:
            self._disk.stop()
            self._disk = None

    def _connect_writer(self) -> sqlite3.Connection:
        if not self.path.exists():  # only a missing file makes a new store
            _create_empty(self.path)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",
            "foreign_keys=ON",
            "busy_timeout=5000",
            # Debian's SQLite (Raspberry Pi OS's too) is built with secure_delete on: every
            # page freed by a delete (outbox and history pruning) is zeroed and written to the
            # WAL, then to the file. FAST zeroes deleted rows only in pages written anyway:
            # pruning writes half as much (docs/benchmarks.md, "History on the hub")
            "secure_delete=FAST",
            # until the checkpointer takes over (`_open_checkpointer`)
            f"wal_autocheckpoint={self.checkpoint_pages}",
        ):
            conn.execute(f"PRAGMA {pragma}")
        return conn

    async def _on_disk(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on the writer's own thread (what may wait on the disk)."""
        assert self._disk is not None
        return await self._disk.call(fn, *args)

    async def _begin(self, conn: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE on the loop's thread (it takes no I/O), or, if another process
        holds the write lock (the CLI adding a token), wait for it on the writer's thread."""
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            await self._on_disk(_begin_waiting, conn, BUSY_WAIT_S)

    async def close(self) -> None:
        if self._task is not None:
            # let queued units finish (those that may linger, now), then stop the writer
            self._hurry.set()
            await self._queue.join()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close_checkpointer()
        if self._r is not None:
            await self._r.close()
        if self._w is not None:
            # a clean stop copies the WAL into the file (without waiting on readers), so copies,
            # backups and a technician's sqlite3 see everything; SQLite drops the WAL once the
            # last connection closes
            try:
                await self._on_disk(self._w.execute, "PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:
                log.warning("store %s: checkpoint at close failed: %s", self.path, exc)
            await self._on_disk(self._w.close)
        self._r = self._w = None
        if self._disk is not None:
            self._disk.stop()
            self._disk = None

    # ------------------------------------------------------------ checkpoints

    async def _open_checkpointer(self) -> None:
        """Checkpoints off the writer: their own connection on their own thread, and the WAL
        index open for reading; if either fails, the writer's autocheckpoint stays on."""
        assert self._w is not None
        try:
            shm = os.open(f"{self.path}-shm", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            log.info("store %s: checkpoints stay in the commit (%s)", self.path, exc)
            return
        disk = _DiskThread(f"store-checkpoint {self.path.name}")
        try:
            conn = await disk.call(_connect_checkpointer, self.path)
        except sqlite3.Error as exc:
            disk.stop()
            os.close(shm)
            log.info("store %s: checkpoints stay in the commit (%s)", self.path, exc)
            return
        self._shm, self._ckpt_disk, self._ckpt = shm, disk, conn
        self._w.execute("PRAGMA wal_autocheckpoint=0")

    def wal_frames_waiting(self) -> int | None:
        """Frames in the WAL not yet copied into the file (None: the index cannot be read)."""
        if self._shm is None:
            return None
        try:
            head = os.pread(self._shm, _SHM_BACKFILL + 4, 0)
        except OSError:
            return None
        if len(head) < _SHM_BACKFILL + 4:
            return None
        mx_frame = int.from_bytes(head[_SHM_MX_FRAME : _SHM_MX_FRAME + 4], sys.byteorder)
        backfill = int.from_bytes(head[_SHM_BACKFILL : _SHM_BACKFILL + 4], sys.byteorder)
        return max(0, mx_frame - backfill)

    def _maybe_checkpoint(self) -> None:
        """After a commit: start a checkpoint once enough frames wait (one at a time)."""
        if self._ckpt is None or (self._ckpt_task is not None and not self._ckpt_task.done()):
            return
        if self._ckpt_retry_at and time.monotonic() < self._ckpt_retry_at:
            return  # not one try per commit while the disk is full
        waiting = self.wal_frames_waiting()
        if waiting is not None and waiting >= self.checkpoint_pages:
            self._ckpt_task = asyncio.create_task(self._checkpoint(), name="store-checkpoint")

    async def _checkpoint(self) -> None:
        assert self._ckpt_disk is not None
        assert self._ckpt is not None
        try:
            await self._ckpt_disk.call(checkpoint_passive, self._ckpt)
        except Exception as exc:  # the disk full, or anything else: logged once, tried again
            if self.checkpoint_failing is None:
                log.warning(
                    "store %s: checkpoint failed: %s",
                    self.path,
                    exc,
                    exc_info=not isinstance(exc, sqlite3.Error),
                )
            self.checkpoint_failing = str(exc) or type(exc).__name__
            self._ckpt_retry_at = time.monotonic() + self.checkpoint_retry_s
            return
        self._ckpt_retry_at = 0.0
        self.checkpoints += 1
        self._finish_checkpoint = True
        if self.checkpoint_failing is not None:
            log.info("store %s: checkpoints work again", self.path)
            self.checkpoint_failing = None

    async def _finish(self) -> None:
        """On the writer, between batches: copy the frames committed while the checkpointer
        worked (nobody appends now, so the WAL ends all copied and starts again)."""
        self._finish_checkpoint = False
        assert self._w is not None
        try:
            await self._on_disk(checkpoint_passive, self._w)
        except sqlite3.Error as exc:
            log.warning("store %s: checkpoint failed: %s", self.path, exc)

    async def _close_checkpointer(self) -> None:
        if self._ckpt_task is not None:
            with contextlib.suppress(Exception):
                await self._ckpt_task
            self._ckpt_task = None
        if self._ckpt_disk is not None:
            if self._ckpt is not None:
                with contextlib.suppress(sqlite3.Error):
                    await self._ckpt_disk.call(self._ckpt.close)
            self._ckpt_disk.stop()
        if self._shm is not None:
            os.close(self._shm)
        self._ckpt = self._ckpt_disk = self._shm = None

    def _refuse_if_damaged(self) -> None:
        """Raise `StoreDamaged` for an existing store that is empty or not an SQLite file, or
        (with `check_on_open`, as the hub opens it) fails `PRAGMA quick_check`. Reads only: a
        damaged store stays byte for byte as it was, for a restore or a recovery."""
        try:
            with self.path.open("rb") as fh:
                head = fh.read(len(SQLITE_MAGIC))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreDamaged(self.path, f"cannot be read ({exc.strerror or exc})") from None
        if not head:
            raise StoreDamaged(self.path, "is empty (0 bytes)")
        if head != SQLITE_MAGIC:
            raise StoreDamaged(self.path, "is not an SQLite database (its header is garbled)")
        if self.check_on_open:
            problem = backup.quick_check(self.path)
            if problem != "ok":
                raise StoreDamaged(self.path, f"fails its check ({problem})")

    def _one_w(self, sql: str) -> sqlite3.Row | None:
        assert self._w is not None
        row: sqlite3.Row | None = self._w.execute(sql).fetchone()
        return row

    async def _migrate(self) -> None:
        assert self._w is not None
        row = self._one_w("PRAGMA user_version")
        version = row[0] if row else 0
        if version > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"store schema {version} is newer than this hub "
                f"({SCHEMA_VERSION}); upgrade tablehub"
            )
        if version < SCHEMA_VERSION:
            # an upgrade keeps a copy of the store as it was (none for a new store)
            await asyncio.to_thread(backup.before_migration, self.path, version, SCHEMA_VERSION)
            if 0 < version < 4:
                rebuilt = await self._on_disk(migrations.to_v4, self._w)
                if rebuilt:
                    log.info("store %s: rebuilt for schema 4: %s", self.path, ", ".join(rebuilt))
            if 0 < version < 5:
                rebuilt = await self._on_disk(migrations.to_v5, self._w)
                if rebuilt:
                    log.info("store %s: rebuilt for schema 5: %s", self.path, ", ".join(rebuilt))
            if 0 < version < 6:
                added = await self._on_disk(migrations.to_v6, self._w)
                if added:
                    log.info("store %s: added for schema 6: %s", self.path, ", ".join(added))
            if 0 < version < 7:
                added = await self._on_disk(migrations.to_v7, self._w)
                if added:
                    log.info("store %s: changed for schema 7: %s", self.path, ", ".join(added))
            if 0 < version < 8:
                added = await self._on_disk(migrations.to_v8, self._w)
                if added:
                    log.info("store %s: changed for schema 8: %s", self.path, ", ".join(added))
            sql = resources.files("hub.store").joinpath("schema.sql").read_text("utf-8")
            await self._on_disk(self._w.executescript, sql)
            await self._on_disk(self._w.execute, f"PRAGMA user_version={SCHEMA_VERSION}")
        if self._one_w("PRAGMA page_size")[0] != PAGE_SIZE:  # type: ignore[index]
            # an older store (or one whose rewrite found another process in it): once
            try:
                await self._on_disk(migrations.page_size, self._w, PAGE_SIZE)
            except sqlite3.OperationalError as exc:
                log.warning(
                    "store %s: not rewritten in %d-byte pages now: %s", self.path, PAGE_SIZE, exc
                )

    # ------------------------------------------------------------ API

    def on_commit(self, listener: CommitListener) -> None:
        """`listener(events)` runs on the loop right after each commit, in commit order."""
        self._listeners.append(listener)

    async def write(self, unit: Unit[T], *, linger_s: float = 0.0) -> T:
        """Run `unit` in the next group commit; return its result once it is on disk.

        `linger_s` > 0: the unit may wait that long for other units to share its commit (one
        fsync for all of them), for a change nobody waits on the disk for (a print job sent
        or printed, a device's status): it is committed with the next unit that cannot wait,
        or when its time is up, whichever comes first. Its caller is still answered only
        after that commit."""
        if self._task is None:
            raise StoreUnavailable("the store is closed")
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        since = time.monotonic()
        if linger_s > 0:
            self._linger[id(fut)] = since + linger_s
        try:
            await self._queue.put((unit, fut))
        except BaseException:
            self._linger.pop(id(fut), None)
            raise
        self._since.append(since)  # in step with the queue: no await between the two
        return await fut

    def submit(self, unit: Unit[T], *, linger_s: float = 0.0) -> asyncio.Future[T]:
        """Queue `unit` now, in the order of the calls, and return the future of its result
        (set once it is on disk) without waiting for it: for a change nobody waits on, kept
        in order with the writes queued after it. `StoreUnavailable` when the store is closed
        or its queue is full (what `write` would wait for)."""
        if self._task is None:
            raise StoreUnavailable("the store is closed")
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        since = time.monotonic()
        try:
            self._queue.put_nowait((unit, fut))
        except asyncio.QueueFull:
            raise StoreUnavailable("the store's queue is full") from None
        if linger_s > 0:
            self._linger[id(fut)] = since + linger_s
        self._since.append(since)
        return fut

    def backlog_s(self) -> float:
        """How long the oldest unit still waiting for the writer has waited (0 if none)."""
        return time.monotonic() - self._since[0] if self._since else 0.0

    async def read_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self.read_all(sql, params)
        return rows[0] if rows else None

    async def read_all(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        assert self._r is not None
        return list(await self._r.execute_fetchall(sql, params))  # one trip to its thread

    async def events_after(self, seq: int, limit: int = 500) -> list[Event]:
        rows = await self.read_all(
            "SELECT seq, stream, kind, key, body, created_at FROM outbox WHERE seq > ? "
            "ORDER BY seq LIMIT ?",
            (seq, limit),
        )
        return [_read_back(r[0], r[1], r[2], r[3], unpack(r[4]), r[5]) for r in rows]

    # ------------------------------------------------------------ the writer

    def _take_waiting(self, batch: list[tuple[Unit[Any], asyncio.Future[Any]]]) -> None:
        while len(batch) < self._max_batch and not self._queue.empty():
            batch.append(self._queue.get_nowait())
            self._since.popleft()

    async def _gather(self) -> list[tuple[Unit[Any], asyncio.Future[Any]]]:
        """The next batch: every unit waiting; if all of them may linger, more units until
        one that cannot wait comes, the batch is full, or the first lingerer's time is up."""
        first = await self._queue.get()
        self._since.popleft()
        batch = [first]
        self._take_waiting(batch)
        linger = self._linger
        while len(batch) < self._max_batch:
            due = [linger.get(id(fut)) for _, fut in batch]
            if any(d is None for d in due):
                break  # someone waits on the disk now
            wait = min(d for d in due if d is not None) - time.monotonic()
            if wait <= 0 or self._hurry.is_set():
                break
            item = await self._next_within(wait)
            if item is None:
                break
            self._since.popleft()
            batch.append(item)
            self._take_waiting(batch)
        for _, fut in batch:
            linger.pop(id(fut), None)
        return batch

    async def _next_within(self, wait: float) -> tuple[Unit[Any], asyncio.Future[Any]] | None:
        """The next unit queued within `wait` seconds; None at the end of it or on `close()`.
        A unit the cancelled get was about to take stays in the queue (asyncio.Queue)."""
        get = asyncio.ensure_future(self._queue.get())
        hurry = asyncio.ensure_future(self._hurry.wait())
        try:
            await asyncio.wait({get, hurry}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hurry.cancel()
            if not get.done():
                get.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await get
        if get.cancelled():
            return None
        return get.result()

    async def _writer(self) -> None:
        while True:
            batch = await self._gather()
            try:
                await self._run_batch(batch)
                if self._finish_checkpoint:
                    await self._finish()
            except Exception:  # the writer must survive anything one batch does
                log.exception("store writer: batch failed")
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(StoreUnavailable("the store could not save this"))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _run_batch(self, batch: list[tuple[Unit[Any], asyncio.Future[Any]]]) -> None:
        """One transaction for the whole batch, one COMMIT (one fsync); callers are answered
        only after it, and a failed COMMIT fails every one of them."""
        conn = self._w
        assert conn is not None
        tx = Tx(conn, self._clock())
        await self._begin(conn)
        try:
            results, pending = await self._run_units(conn, tx, batch)
            committed = self._number(pending, tx.now)
            self._insert_outbox(conn, committed)
            await self._on_disk(conn.execute, "COMMIT")
        except Exception as exc:
            await self._commit_failed(conn, batch, exc)
            return
        self._committed(results, committed)
        self._maybe_checkpoint()

    async def _run_units(
        self, conn: sqlite3.Connection, tx: Tx, batch: list[tuple[Unit[Any], asyncio.Future[Any]]]
    ) -> tuple[list[tuple[asyncio.Future[Any], bool, Any]], list[HubEvent]]:
        """Each unit in its own SAVEPOINT: one that raises is rolled back alone. Returns each
        caller's outcome and the events of the units that succeeded."""
        results: list[tuple[asyncio.Future[Any], bool, Any]] = []
        pending: list[HubEvent] = []
        for unit, fut in batch:
            if fut.cancelled():
                continue
            tx.events = []
            tx.first_seq = self._next_seq + len(pending)
            conn.execute("SAVEPOINT unit")
            try:
                value = await unit(tx)
            except Exception as exc:
                conn.execute("ROLLBACK TO unit")
                conn.execute("RELEASE unit")
                if _is_fatal(exc):
                    raise
                if not isinstance(exc, HubError):
                    log.exception("store: write unit failed")
                results.append((fut, False, exc))
                continue
            conn.execute("RELEASE unit")
            pending.extend(tx.events)
            results.append((fut, True, value))
        return results, pending

    @staticmethod
    def _insert_outbox(conn: sqlite3.Connection, committed: list[Event]) -> None:
        if not committed:
            return
        conn.executemany(
            "INSERT INTO outbox(seq, stream, kind, key, body, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(e.seq, e.stream, e.kind, e.key, pack(e.body), e.created_at) for e in committed],
        )

    async def _commit_failed(
        self,
        conn: sqlite3.Connection,
        batch: list[tuple[Unit[Any], asyncio.Future[Any]]],
        exc: Exception,
    ) -> None:
        """Nothing of the batch was saved: roll back, renumber from what is on disk, and fail
        every caller with `StoreUnavailable` (logged once per outage, not once per batch)."""
        with contextlib.suppress(sqlite3.Error):
            await self._on_disk(conn.execute, "ROLLBACK")
        row = self._one_w("SELECT COALESCE(MAX(seq), 0) FROM outbox")
        self._next_seq = (row[0] if row else 0) + 1
        self.failed_commits += 1
        if self.failing is None:
            log.error("store unavailable: commit failed, nothing was saved: %s", exc)
        self.failing = str(exc)
        for _, fut in batch:
            if not fut.done():
                fut.set_exception(
                    StoreUnavailable("the store cannot save right now; please try again shortly")
                )

    def _committed(
        self, results: list[tuple[asyncio.Future[Any], bool, Any]], committed: list[Event]
    ) -> None:
        """The batch is on disk: answer its callers, then hand its events to the listeners."""
        self.commits += 1
        self.units += len(results)
        if self.failing is not None:
            log.warning(
                "store recovered: saving again (%d commits failed: %s)",
                self.failed_commits,
                self.failing,
            )
            self.failing = None
        if committed:
            self.committed_seq = committed[-1].seq
        for fut, ok, value in results:
            if fut.done():
                continue
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)
        if committed:
            for listener in self._listeners:
                try:
                    listener(committed)
                except Exception:
                    log.exception("store: commit listener failed")

    def _number(self, pending: list[HubEvent], now: str) -> list[Event]:
        numbered = []
        encode = events.encode
        for ev in pending:
            numbered.append(Event(self._next_seq, ev.stream, ev.kind, ev.key, ev, encode(ev), now))
            self._next_seq += 1
        return numbered
