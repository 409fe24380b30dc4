"""The printer agents' journal: what may be on paper, and which job ids were answered for.

A job is journalled when its run starts (``started``, with its document, in an fsync'd commit
before any paper moves), then ``printed``, or ``failed`` / ``cancelled`` without printing. A
job only queued is not written: the queue is in memory, and the hub sends again what it was
not answered for.

The agents of one process share one journal file (`SharedJournal`: the hub's own agents, one
per printer): their commits run on one thread, and the starts that come within `LINGER_S` of
each other share one commit and one fsync. An order's chits reach its printers within a few
milliseconds of each other; each printer's own file took an fsync for each, and as many
pages. An agent in a process of its own (``python -m devices.printers``) has a file of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from hub.bus import contract

log = logging.getLogger("tablehub.devices.printer")
T = TypeVar("T")

# how long a start waits for the other agents' starts, when agents share the journal: a few
# milliseconds before the paper moves, against an fsync and its pages for each printer
LINGER_S = 0.02


@dataclass(slots=True)
class QueuedJob:
    job_id: str
    doc: dict[str, Any]
    started: bool = False  # it may be on paper already: print again as REPRINT
    cancelled: bool = False  # cancelled while being written: drop it unless it printed


def stored_doc(doc: dict[str, Any]) -> bytes:
    """`doc` as the journal keeps it, as JSON: without the fields at their defaults (they come
    back when it is parsed) nor the hub's `encoding`/`width` (this agent prints with its own),
    so more rows share a page. It renders the same. A document that does not parse is kept as
    it came (it is given up when it is rendered)."""
    try:
        parsed = msgspec.convert(doc, type=contract.PrintDoc)
    except msgspec.ValidationError:
        return msgspec.json.encode(doc)
    return msgspec.json.encode(_without_defaults(parsed, drop=("encoding", "width")))


def _without_defaults(value: Any, drop: tuple[str, ...] = ()) -> Any:
    if isinstance(value, list):
        return [_without_defaults(v) for v in value]
    if not isinstance(value, msgspec.Struct):
        return value
    config = value.__struct_config__
    out: dict[str, Any] = {}
    if isinstance(config.tag_field, str):
        out[config.tag_field] = config.tag
    for f in msgspec.structs.fields(value):
        v = getattr(value, f.name)
        if f.name in drop or v is msgspec.UNSET:
            continue
        if f.default is not msgspec.NODEFAULT and v == f.default:
            continue
        if f.default_factory is not msgspec.NODEFAULT and v == f.default_factory():
            continue
        out[f.encode_name] = _without_defaults(v)
    return out


# a job as journalled when it starts: its id and its document
Job = tuple[str, dict[str, Any]]

JOURNAL_PAGE_SIZE = 1024  # a job's row is ~0.5 KB: a mark writes 1 KB pages, not 4 KB
AUTOCHECKPOINT_PAGES = 1000  # SQLite's default


class Journal:
    """The durable record of jobs that may be on paper: started -> printed | failed, and the
    job ids answered for (printed, failed, cancelled), so a job sent again is answered, not
    printed twice. A job only queued is not here: the queue is in memory, and the hub sends
    again what it was not answered for. Not thread-safe: the agent uses it from one worker
    thread only."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # a new journal only (an existing one keeps its size: WAL cannot change it)
        self._db.execute(f"PRAGMA page_size={JOURNAL_PAGE_SIZE}")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # every commit is fsync'd, but not
        # `printed` with nothing after it (see there)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS jobs ("
            # seq orders the jobs: a new job is numbered after every row still here (no
            # AUTOINCREMENT: its counter in sqlite_sequence is one page more written per job)
            " seq INTEGER PRIMARY KEY, job_id TEXT NOT NULL UNIQUE,"
            " doc BLOB NOT NULL, state TEXT NOT NULL"
            # `queued`: written by agents before jobs were kept in memory; read, never written
            " CHECK (state IN ('queued', 'started', 'printed', 'failed', 'cancelled')),"
            " error TEXT, updated REAL NOT NULL)"
        )
        # the agents' own files taken in (`adopt`), by key prefix: a file left behind (it
        # could not be deleted) is not taken in again once its rows were pruned
        self._db.execute("CREATE TABLE IF NOT EXISTS adopted (prefix TEXT PRIMARY KEY)")

    @contextlib.contextmanager
    def _unsynced(self) -> Iterator[None]:
        """Commits without an fsync, and without a checkpoint (one after an unsynced commit
        could let the WAL be reused before the file is on disk): the next fsync'd commit
        carries them and checkpoints."""
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        try:
            yield
        finally:
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")

    def tombstone(self, job_id: str, now: float) -> None:
        """Remember an unknown job_id as cancelled, so it is never printed if it comes late."""
        self._db.execute(
            "INSERT INTO jobs (job_id, doc, state, updated) VALUES (?, '{}', 'cancelled', ?)"
            " ON CONFLICT (job_id) DO NOTHING",
            (job_id, now),
        )

    def state(self, job_id: str) -> tuple[str, str | None] | None:
        row = self._db.execute("SELECT state, error FROM jobs WHERE job_id = ?", (job_id,))
        found = row.fetchone()
        return (found[0], found[1]) if found else None

    def pending(self, prefix: str = "") -> list[QueuedJob]:
        """The jobs that may be on paper, and those queued in a journal written before the
        queue was kept in memory, oldest first: of one agent, when its keys are `prefix` and
        the job_id (a shared journal), else all."""
        rows = self._db.execute(_PENDING_OF if prefix else _PENDING, _key_range(prefix))
        n = len(prefix)
        return [QueuedJob(j[n:], msgspec.json.decode(d), s == "started") for j, d, s in rows]

    def mark(self, job_id: str, state: str, now: float, error: str | None = None) -> None:
        """A job ends here without printing (failed, cancelled), queued or started; fsync'd."""
        self._db.execute(
            "INSERT INTO jobs (job_id, doc, state, error, updated) VALUES (?, '{}', ?, ?, ?)"
            " ON CONFLICT (job_id) DO UPDATE SET"
            " state = excluded.state, error = excluded.error, updated = excluded.updated",
            (job_id, state, error, now),
        )

    def start(self, jobs: Sequence[Job], now: float) -> None:
        """Journal a run about to be written, each job `started` with its document, all in
        one commit (one fsync), before any paper moves."""
        self.commit((), jobs, now)

    def printed(self, job_ids: Sequence[str], now: float, then_start: Sequence[Job] = ()) -> None:
        """Mark a run of jobs printed and, in the same commit (one fsync), the next run
        started. With no next run, the commit is not fsync'd: the paper is out already, and
        the mark is on disk with the next fsync (a mark lost to a power cut reprints the run
        as REPRINT)."""
        self.commit(job_ids, then_start, now)

    def commit(self, printed: Sequence[str], started: Sequence[Job], now: float) -> None:
        """Jobs marked printed and jobs started, in one commit: fsync'd when any is started
        (before its paper moves), else not (see `printed`)."""

        def both() -> None:
            self._db.executemany(
                "UPDATE jobs SET state = 'printed', error = NULL, updated = ? WHERE job_id = ?",
                [(now, j) for j in printed],
            )
            self._start(started, now)

        if started:
            self._commit(both)
        else:
            with self._unsynced():
                self._commit(both)

    def _start(self, jobs: Sequence[Job], now: float) -> None:
        # a job still `queued` in a journal written before the queue was kept in memory has
        # its row: it becomes started; a job printed, failed or cancelled stays so
        self._db.executemany(
            "INSERT INTO jobs (job_id, doc, state, updated) VALUES (?, ?, 'started', ?)"
            " ON CONFLICT (job_id) DO UPDATE SET state = 'started', updated = excluded.updated"
            " WHERE state = 'queued'",
            [(job_id, stored_doc(doc), now) for job_id, doc in jobs],
        )

    def _commit(self, work: Callable[[], None]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            work()
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def prune(self, before: float) -> int:
        """Forget the jobs finished (printed, failed, cancelled) before `before`, of every
        agent of the file."""
        cur = self._db.execute(_PRUNE, (before,))
        return cur.rowcount

    def adopt(self, own: Path, prefix: str) -> int:
        """Take in the journal an agent kept in a file of its own (`own`), its keys given
        `prefix`, and delete that file: what it printed is still answered for, what it
        started still prints again as REPRINT. Taking it in twice (a crash before the file
        was deleted) changes nothing, and a file taken in once is not taken in again. The
        rows taken in. `sqlite3.Error` if `own` cannot be read (nothing is taken in)."""
        if self._db.execute("SELECT 1 FROM adopted WHERE prefix = ?", (prefix,)).fetchone():
            taken = 0
        else:
            self._db.execute("ATTACH DATABASE ? AS own", (str(own),))
            try:
                before = self._db.total_changes

                def take() -> None:
                    self._db.execute(
                        "INSERT INTO jobs (job_id, doc, state, error, updated)"
                        " SELECT ? || job_id, doc, state, error, updated FROM own.jobs"
                        " WHERE true ORDER BY seq ON CONFLICT (job_id) DO NOTHING",
                        (prefix,),
                    )
                    self._db.execute("INSERT INTO adopted (prefix) VALUES (?)", (prefix,))

                self._commit(take)
                taken = self._db.total_changes - before - 1
            finally:
                self._db.execute("DETACH DATABASE own")
        for suffix in ("-wal", "-shm", ""):
            try:
                Path(f"{own}{suffix}").unlink(missing_ok=True)
            except OSError as exc:  # taken in already: the file is only clutter now
                log.warning(
                    "cannot delete %s%s, taken into the shared journal: %s", own, suffix, exc
                )
        return taken

    def close(self) -> None:
        self._db.close()


_PENDING = "SELECT job_id, doc, state FROM jobs WHERE state IN ('queued', 'started') ORDER BY seq"
_PRUNE = "DELETE FROM jobs WHERE state IN ('printed', 'failed', 'cancelled') AND updated < ?"
# the same, of one agent's keys in a shared journal: a range the job_id index finds
_PENDING_OF = (
    "SELECT job_id, doc, state FROM jobs WHERE state IN ('queued', 'started')"
    " AND job_id >= ? AND job_id < ? ORDER BY seq"
)


def _key_range(prefix: str) -> tuple[str, ...]:
    """The bounds of the keys that start with `prefix` (none if it is empty: every key)."""
    if not prefix:
        return ()
    return (prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1))


@dataclass(eq=False)
class _Batch:
    """Marks and starts of several agents gathered into one commit."""

    now: float
    printed: list[str] = field(default_factory=list)
    started: list[Job] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)
    taken: bool = False  # its commit has begun


class SharedJournal:
    """One `Journal` file for the printer agents of one process, used on one thread. Each
    agent keys its jobs by a prefix of its own (its device id and a slash). Starts and printed
    marks wait up to `linger_s` for those of the other agents and share their commit; reads
    and the other writes go in turn on the same thread."""

    def __init__(self, path: Path, *, linger_s: float = LINGER_S) -> None:
        self.path = path
        self.linger_s = linger_s
        self._journal: Journal | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._users = 0
        self._lock = asyncio.Lock()
        self._batch: _Batch | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` on the journal's thread."""
        assert self._pool is not None, "journal not open"
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    async def attach(self) -> Journal:
        """Open the file for one more user (the first opens it)."""
        async with self._lock:
            if self._journal is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="printer-journal")
                try:
                    self._journal = await self.call(Journal, self.path)
                except BaseException:
                    self._pool.shutdown(wait=False)
                    self._pool = None
                    raise
            self._users += 1
            return self._journal

    async def detach(self) -> None:
        """One user less; the last one commits what is still gathered (an agent stopped
        while its printed mark waited for company: the paper is out) and closes the file."""
        async with self._lock:
            self._users -= 1
            if self._users > 0 or self._journal is None:
                return
            if self._batch is not None:
                with contextlib.suppress(Exception):
                    await self._flush(self._batch)
            if self._flushing:
                await asyncio.gather(*self._flushing, return_exceptions=True)
            journal, self._journal = self._journal, None
            pool, self._pool = self._pool, None
            assert pool is not None
            try:
                with contextlib.suppress(Exception):
                    await asyncio.get_running_loop().run_in_executor(pool, journal.close)
            finally:
                pool.shutdown(wait=False)

    async def commit(self, printed: Sequence[str], started: Sequence[Job], now: float) -> None:
        """Mark `printed` and start `started` (keys already prefixed) in the next commit,
        which waits `linger_s` for the other agents' when others use the journal; return
        once it is done (fsync'd when anything in it is started)."""
        loop = asyncio.get_running_loop()
        batch = self._batch
        if batch is None:
            batch = self._batch = _Batch(now)
            wait = self.linger_s if self._users > 1 else 0.0
            loop.call_later(wait, self._start_flush, batch)
        batch.printed.extend(printed)
        batch.started.extend(started)
        done: asyncio.Future[None] = loop.create_future()
        batch.waiters.append(done)
        await done

    def _start_flush(self, batch: _Batch) -> None:
        if batch.taken:  # committed already, by the last agent leaving
            return
        if self._batch is batch:  # new marks and starts gather for the next commit now
            self._batch = None
        task = asyncio.get_running_loop().create_task(self._flush(batch))
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _flush(self, batch: _Batch) -> None:
        if batch.taken:  # the last agent leaving committed it before this task ran
            return
        batch.taken = True
        if self._batch is batch:
            self._batch = None
        try:
            if self._journal is None:
                raise sqlite3.ProgrammingError("the printer journal is closed")
            await self.call(self._journal.commit, batch.printed, batch.started, batch.now)
        except BaseException as exc:
            for w in batch.waiters:
                if not w.done():
                    w.set_exception(exc if isinstance(exc, Exception) else RuntimeError(exc))
            if not isinstance(exc, Exception):
                raise
        else:
            for w in batch.waiters:
                if not w.done():
                    w.set_result(None)
