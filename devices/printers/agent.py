"""The printer agent: print jobs from MQTT, once each, in order, and say what happened.

The hub publishes ``{"job_id", "doc"}`` on ``printers/{printer}/jobs`` (QoS 1) and resends the
same job_id until it sees an ack on ``printers/{printer}/acks``. For each job the agent:

1. keeps it in its queue, in memory, unless it knows the job_id: from the queue (already
   queued) or from its journal (SQLite in ``state_dir``, WAL): ``printed`` -> acked again, not
   printed; ``failed`` or ``cancelled`` -> that answer again. A queued job is not written down:
   it is a job the hub was not answered for, so the hub still has it and sends it again after
   a restart (at once when the agent comes back online);
2. renders it and asks the printer for status; paper out, cover open, offline, timeout or
   refused -> nothing is printed, the job stays at the head of the queue (order is kept) and is
   retried every ``retry_interval`` seconds, with one ``ok: false`` ack per job and cause;
3. takes a run: the head job and the new jobs already waiting right behind it, in queue order,
   up to ``max_run`` jobs and ``max_run_bytes`` rendered bytes. A run ends before a job that
   was started before (it prints alone, see below), a cancelled job or a test page; a job alone
   in the queue is never held back to wait for others;
4. journals the whole run ``started``, each job with its document (without the fields at their
   defaults, see `stored_doc`), in one commit (fsync'd: ``synchronous=FULL``), writes its
   bytes in one session (one connection), asks for status again, marks the run ``printed`` and
   acks each job ``ok: true`` in order. With more new jobs waiting, that commit also marks the
   next run ``started`` (one fsync, not two: the printer has just said it is ready). With none,
   the ``printed`` mark takes no fsync of its own: it is on disk with the next job's
   ``started`` fsync or the kernel's write-back, whichever comes first; it survives the agent
   being killed, and one lost to a power cut leaves its jobs ``started``, so they print again
   marked REPRINT (below), never silently twice. If the
   write or the status after it fails, every job of the run stays ``started`` (part of it may be
   on paper) and is answered ``ok: false`` with the cause. A job found ``started`` (the agent
   died or the connection dropped mid-run) is printed again, alone, with ``copy: "REPRINT"``
   so the kitchen can tell a possible duplicate from a new order.

Documents that cannot be rendered (`BadDocument`, `FontMissing`) are given up: journalled
``failed``, acked ``ok: false`` once, and the queue moves on. So is a test page (``kind:
"test"``) that cannot print: it is a probe, answered with the cause now, never printed later.

``{"job_id", "cancel": true}`` on the jobs topic (the hub moved the job to a backup printer)
drops a job that is not being written right now (queued, or started and waiting for its retry)
and acks ``{"ok": false, "error": "cancelled"}``; an unknown job_id is remembered as cancelled,
so the job is never printed if it arrives late. A job of the run being written when the cancel
arrives finishes: it is acked ``ok: true`` if the run printed, ``cancelled`` if it failed.

The printer is polled every ``poll_interval`` seconds even when idle, so a retained
``devices/printer-{id}/status`` shows paper out within seconds. All printer IO runs on this
printer's own worker thread (a one-thread executor); journal IO on another; the event loop
only schedules.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import sqlite3
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from devices.agent import DeviceLink, MqttSettings
from devices.errors import BadDocument, DeviceConfigError, PrinterError
from devices.printers.driver import UNREACHABLE, PrinterDriver, PrinterStatus
from devices.printers.journal import Journal, QueuedJob, SharedJournal
from devices.printers.render import EncodingMode, PaperProfile, parse_doc, render
from hub.bus import contract
from plumbing.clock import SYSTEM_CLOCK, Clock
from plumbing.logs import Transitions

log = logging.getLogger("tablehub.devices.printer")
T = TypeVar("T")

_CAUSES = {
    "offline": "offline",
    "paper_out": "paper out",
    "cover_open": "cover open",
    "timeout": "not answering",
    "refused": "connection refused",
}


@dataclass(frozen=True, slots=True)
class PrinterSettings:
    """Per-printer behaviour (from the config file)."""

    profile: PaperProfile = field(default_factory=PaperProfile)
    encoding_mode: EncodingMode = "codepage"
    poll_interval: float = 5.0
    retry_interval: float = 3.0
    max_queue: int = 500  # when full, new jobs are not taken (no ack): the hub resends them
    max_run: int = 8  # new jobs waiting together are written in one session, up to this many
    # and this many rendered bytes (a first job alone may be more): what a printer's receive
    # buffer and the socket's send buffer take at once, so the write does not wait for paper
    # to move (the driver's timeout covers the whole write); eight text chits fit
    max_run_bytes: int = 16 * 1024
    keep_done: float = 7 * 86400.0  # how long printed/failed job ids are remembered

    def __post_init__(self) -> None:
        if self.encoding_mode not in ("codepage", "raster"):
            raise DeviceConfigError(
                f"encoding_mode {self.encoding_mode!r} is not codepage or raster"
            )
        if not (self.poll_interval > 0 and self.retry_interval > 0 and self.max_queue > 0):
            raise DeviceConfigError("poll_interval, retry_interval and max_queue must be > 0")
        if not (self.max_run > 0 and self.max_run_bytes > 0):
            raise DeviceConfigError("max_run and max_run_bytes must be > 0")


@dataclass(frozen=True, slots=True)
class PrintOutcome:
    """What `test_print()` found: ok, or the real cause (an error code and its message)."""

    ok: bool
    error: str | None = None
    message: str | None = None
    status: dict[str, Any] | None = None


def _adopt_or_set_aside(journal: Journal, own: Path, prefix: str, shared: Path) -> int | str | None:
    """`journal.adopt(own, prefix)` if `own` is there (the rows taken in); None if it is not;
    if it cannot be read, what went wrong, and the file moved aside to `<own>.unreadable`."""
    if not own.exists() or own.resolve() == shared.resolve():
        return None
    try:
        return journal.adopt(own, prefix)
    except sqlite3.Error as exc:
        aside = own.with_name(own.name + ".unreadable")
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(f"{own}{suffix}").replace(f"{aside}{suffix}")
        return f"{own} ({exc}): moved to {aside}"


def _is_new(job: QueuedJob) -> bool:
    """May share a session with other jobs: never started, not cancelled, not a test page."""
    return not (job.started or job.cancelled or job.doc.get("kind") == "test")


def _as_printed(job: QueuedJob) -> dict[str, Any]:
    """The document as it goes to paper: a job that may be on paper already says REPRINT."""
    return {**job.doc, "copy": "REPRINT"} if job.started else job.doc


class JobMessage(msgspec.Struct, frozen=True):
    """A `contract.PrintJob` as received: its document is checked against the contract's
    types when it is rendered, so a bad one is answered `bad_document` by its job id."""

    job_id: str
    doc: dict[str, Any]


def decode_job_message(payload: bytes) -> JobMessage | contract.PrintCancel:
    """A jobs-topic payload -> a job or `PrintCancel`; `ContractError` says what is wrong."""
    if len(payload) > contract.MAX_PAYLOAD:
        raise contract.ContractError(f"payload of {len(payload)} bytes is over the limit")
    try:
        fields = msgspec.json.decode(payload, type=dict[str, Any])
        msg: JobMessage | contract.PrintCancel
        if "cancel" in fields:
            msg = msgspec.convert(fields, type=contract.PrintCancel)
        else:
            msg = msgspec.convert(fields, type=JobMessage)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise contract.ContractError(str(exc)) from exc
    if not 0 < len(msg.job_id) <= 64:
        raise contract.ContractError("job_id must be 1-64 characters")
    if isinstance(msg, contract.PrintCancel) and not msg.cancel:
        raise contract.ContractError("cancel must be true")
    return msg


class PrinterAgent:
    """One physical printer: its queue, journal, worker thread and MQTT session."""

    def __init__(
        self,
        printer_id: str,
        store_id: str,
        driver: PrinterDriver,
        mqtt: MqttSettings,
        state_dir: Path,
        clock: Clock = SYSTEM_CLOCK,
        *,
        settings: PrinterSettings | None = None,
        rng: random.Random | None = None,
        journal: SharedJournal | None = None,
    ) -> None:
        """`journal`: the journal this agent shares with the other agents of its process (its
        jobs keyed by its device id); without one, a file of its own in `state_dir`."""
        self.printer_id = printer_id
        self.device_id = f"printer-{printer_id}"
        self.settings = settings or PrinterSettings()
        self.jobs_topic = contract.printer_jobs(store_id, printer_id)
        self.acks_topic = contract.printer_acks(store_id, printer_id)
        self._driver = driver
        self._clock = clock
        own = Path(state_dir) / f"{self.device_id}.sqlite"
        # a journal of its own: taken into the shared one when this agent starts on it
        self._own_journal = own if journal is not None else None
        self._shared = journal if journal is not None else SharedJournal(own)
        self._prefix = f"{self.device_id}/" if journal is not None else ""
        self._journal: Journal | None = None
        self.link = DeviceLink(
            mqtt,
            store_id=store_id,
            device=self.device_id,
            kind="printer",
            subscriptions=[self.jobs_topic],
            on_message=self._on_message,
            max_pending=1000,
            rng=rng,
        )
        self._io_pool = ThreadPoolExecutor(1, thread_name_prefix=self.device_id)
        self._queue: deque[QueuedJob] = deque()
        self._printer_lock = asyncio.Lock()
        self._status: PrinterStatus | None = None
        self._trouble = Transitions(log, f"printer {printer_id}")
        self._error: PrinterError | None = None
        self._failure_acked: set[tuple[str, str]] = set()  # (job_id, cause) answered ok: false
        self._retry_at = 0.0
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._warned: set[str] = set()
        self._in_flight: list[QueuedJob] = []  # the run being printed
        self._premarked: set[str] = set()  # marked started with the run printed before them
        self._pruned_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.printed = 0

    def __repr__(self) -> str:
        cause = self._error.code if self._error else "ok"
        queued = len(self._queue)
        return f"<PrinterAgent {self.printer_id} {cause} queue={queued} printed={self.printed}>"

    # ------------------------------------------------------------------ lifecycle

    @property
    def queue_length(self) -> int:
        return len(self._queue)

    @property
    def status(self) -> PrinterStatus | None:
        return self._status

    async def run(self) -> None:
        """Load the journal, then print and talk MQTT until `stop()` (or cancellation)."""
        try:
            try:
                self._journal = journal = await self._shared.attach()
            except (OSError, sqlite3.Error) as exc:
                raise DeviceConfigError(f"journal {self._shared.path}: {exc}") from exc
            await self._adopt_own(journal)
            keep = self._clock.now_ms() / 1000 - self.settings.keep_done
            # all agents' old rows, in a shared journal: a printer taken out of the config
            # leaves rows no agent of its own would prune
            await self._db(journal.prune, keep)
            self._queue.extend(await self._db(journal.pending, self._prefix))
            self._publish_status()
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.link.run(), name=f"{self.device_id}-mqtt")
                tg.create_task(self._printer_loop(), name=f"{self.device_id}-loop")
        finally:
            await self._shutdown()

    async def _adopt_own(self, journal: Journal) -> None:
        """Take in the journal file of this agent's own, if there is one beside the shared
        one. One that cannot be read is put aside (`.unreadable`) with an error in the log:
        the printer goes on printing (what that file held may print again, unmarked)."""
        own = self._own_journal
        if own is None:
            return
        taken = await self._db(_adopt_or_set_aside, journal, own, self._prefix, self._shared.path)
        if isinstance(taken, int):
            log.info(
                "printer %s: %d job(s) of %s taken into %s",
                self.printer_id,
                taken,
                own,
                self._shared.path,
            )
        elif taken is not None:
            log.error("printer %s: cannot take in its old journal %s", self.printer_id, taken)

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self.link.stop()

    async def __aenter__(self) -> PrinterAgent:
        self._task = asyncio.create_task(self.run(), name=self.device_id)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()
        if self._task is not None:
            async with asyncio.timeout(15):
                await self._task

    async def close(self) -> None:
        """Release the worker threads and the printer connection (after `run()` or alone)."""
        await self._shutdown()

    async def _shutdown(self) -> None:
        journal, self._journal = self._journal, None
        if not self._closed:
            self._closed = True
            self._io_pool.submit(self._driver.close)  # after any IO still running on it
            self._io_pool.shutdown(wait=False)
        if journal is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._shared.detach())

    async def _io(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking printer IO on this printer's own thread."""
        return await asyncio.get_running_loop().run_in_executor(self._io_pool, fn, *args)

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a journal call on the journal's thread."""
        return await self._shared.call(fn, *args)

    def _key(self, job_id: str) -> str:
        """`job_id` as this agent's journal keys it."""
        return self._prefix + job_id

    # ------------------------------------------------------------------ jobs in

    async def _on_message(self, topic: str, payload: bytes) -> None:
        if topic != self.jobs_topic or self._journal is None:
            return
        try:
            msg = decode_job_message(payload)
        except contract.ContractError as exc:
            self._reject(str(exc))
            return
        if isinstance(msg, contract.PrintCancel):
            await self._on_cancel(msg.job_id)
        else:
            await self._on_job(msg)

    async def _on_job(self, job: JobMessage) -> None:
        journal = self._journal
        assert journal is not None
        if self._queued(job.job_id):
            log.debug("printer %s: job %s is already queued", self.printer_id, job.job_id)
            return
        known = await self._db(journal.state, self._key(job.job_id))
        if self._queued(job.job_id):  # the same job came twice while the journal was read
            return
        if known is not None:
            if known[0] in ("queued", "started"):  # in the queue since the journal opened
                log.debug("printer %s: job %s is already queued", self.printer_id, job.job_id)
            else:
                self._ack_known(job.job_id, *known)
            return
        if len(self._queue) >= self.settings.max_queue:
            self._reject(f"queue full ({self.settings.max_queue} jobs)")
            return
        self._check_doc_settings(job.doc)
        self._queue.append(QueuedJob(job.job_id, job.doc))
        self._publish_status()
        self._wake.set()

    def _queued(self, job_id: str) -> QueuedJob | None:
        return next((j for j in self._queue if j.job_id == job_id), None)

    def _ack_known(self, job_id: str, state: str, error: str | None) -> None:
        """Answer again for a job that is finished here: printed, failed or cancelled."""
        if state == "printed":
            self._ack(job_id, ok=True)
        else:
            self._ack(job_id, ok=False, error=error or state)

    async def _on_cancel(self, job_id: str) -> None:
        journal = self._journal
        assert journal is not None
        job = self._queued(job_id)
        if job is None:
            known = await self._db(journal.state, self._key(job_id))
            job = self._queued(job_id)  # it may have come while the journal was read
            if job is None:
                if known is None:
                    now = self._clock.now_ms() / 1000
                    await self._db(journal.tombstone, self._key(job_id), now)
                    self._ack(job_id, ok=False, error="cancelled")
                elif known[0] not in ("queued", "started"):
                    self._ack_known(job_id, *known)
                return
        if job.cancelled:
            return
        if any(j is job for j in self._in_flight):
            job.cancelled = True  # decided when the write is over
            return
        await self._drop_cancelled(job)

    async def _drop_cancelled(self, job: QueuedJob) -> None:
        log.info("printer %s: job %s cancelled (moved elsewhere)", self.printer_id, job.job_id)
        # out of the queue before the journal write: while it is awaited the printer loop must
        # not start this job (it would print a cancelled job and then drop the next one)
        job.cancelled = True
        self._unqueue(job)
        await self._db(self._journal_mark, job.job_id, "cancelled", "cancelled")
        self._forget_failures(job.job_id)
        self._publish_status()
        self._ack(job.job_id, ok=False, error="cancelled")
        self._wake.set()

    def _check_doc_settings(self, doc: dict[str, Any]) -> None:
        """The hub also writes width/encoding into documents; this agent's config decides,
        but a mismatch means one of the two configs is wrong: say so once."""
        s = self.settings
        width, mode = doc.get("width"), doc.get("encoding")
        if (width is not None and width != s.profile.width) or (
            mode is not None and mode != s.encoding_mode
        ):
            self._warn_once(
                f"the hub's config says width={width} encoding={mode}, this agent prints "
                f"width={s.profile.width} encoding={s.encoding_mode} (it uses its own)"
            )

    def _reject(self, reason: str) -> None:
        """Log a refused message once per reason (a device resending it must not flood)."""
        self._warn_once(f"rejected a job message: {reason}")

    def _warn_once(self, message: str) -> None:
        key = message.split(" - ")[0][:100]
        if key not in self._warned:
            self._warned.add(key)
            log.warning("printer %s: %s", self.printer_id, message)

    def _ack(self, job_id: str, *, ok: bool, error: str | None = None) -> None:
        ack = contract.PrintAck(job_id=job_id, ok=ok, error=error, status=self._detail())
        self.link.publish(self.acks_topic, contract.encode(ack))

    # ------------------------------------------------------------------ the printer loop

    async def _printer_loop(self) -> None:
        """Print the head of the queue when it is due, poll when idle, else sleep until
        the next of those (or a new job)."""
        s = self.settings
        next_poll = self._clock.monotonic_ms() / 1000
        while not self._stopping.is_set():
            now = self._clock.monotonic_ms() / 1000
            try:
                if self._queue and now >= self._retry_at:
                    await self._attempt()
                    next_poll = self._clock.monotonic_ms() / 1000 + s.poll_interval
                    continue
                if now >= next_poll:
                    await self._poll()
                    next_poll = self._clock.monotonic_ms() / 1000 + s.poll_interval
                    continue
            except Exception:  # e.g. the journal's disk failed: log, keep the job, try later
                log.exception("printer %s: unexpected error, retrying", self.printer_id)
                self._retry_at = next_poll = self._clock.monotonic_ms() / 1000 + s.retry_interval
                continue
            due = min(next_poll, self._retry_at) if self._queue else next_poll
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, due - now))
            self._wake.clear()

    async def _read_status(self) -> PrinterStatus:
        """Ask the printer; raise what stops it printing. Updates the published status."""
        try:
            status = await self._io(self._driver.status)
        except PrinterError:
            self._set_status(UNREACHABLE)
            raise
        self._set_status(status)
        problem = status.problem()
        if problem is not None:
            raise problem
        return status

    async def _poll(self) -> None:
        async with self._printer_lock:
            try:
                await self._read_status()
            except PrinterError as exc:
                self._set_trouble(exc)
            else:
                self._set_trouble(None)
                self._retry_at = 0.0  # a queued job waiting for its retry can go now
            finally:
                await self._io(self._driver.close)

    def _render(self, doc: dict[str, Any]) -> bytes:
        s = self.settings
        try:
            return render(parse_doc(doc), profile=s.profile, encoding_mode=s.encoding_mode)
        except PrinterError:
            raise
        except Exception as exc:  # a renderer bug must not block the queue forever
            log.exception("printer %s: could not render a document", self.printer_id)
            raise BadDocument(f"could not render: {type(exc).__name__}: {exc}") from exc

    async def _attempt(self) -> None:
        head = self._queue[0]
        self._in_flight = [head]
        try:
            await self._attempt_run(head)
        finally:
            self._in_flight = []

    async def _attempt_run(self, head: QueuedJob) -> None:
        """Print `head`, and the new jobs waiting right behind it in the same session."""
        async with self._printer_lock:
            try:
                data = await self._io(self._render, _as_printed(head))
            except PrinterError as exc:  # BadDocument / FontMissing: retrying cannot help
                await self._give_up(head, exc)
                return
            run = [head]
            try:
                await self._read_status()
                run, chunks = await self._gather_run(head, data)
                new = [j for j in run if not j.started and j.job_id not in self._premarked]
                if new:  # else the commit that printed the run before already did it
                    await self._journal_start(new)
                if any(j.cancelled for j in run):  # while its start was written: no paper yet
                    run, chunks = await self._drop_from_run(run, chunks)
                    if not run:
                        return
                for job in run:
                    job.started = True
                    self._premarked.discard(job.job_id)
                try:
                    await self._io(self._driver.write, b"".join(chunks))
                except PrinterError:
                    self._set_status(UNREACHABLE)
                    raise
                await self._read_status()
            except PrinterError as exc:
                await self._failed(run, exc)
                return
            finally:
                await self._io(self._driver.close)
        after = self._next_run(run)
        await self._journal_printed([j.job_id for j in run], after)
        self._premarked.update(j.job_id for j in after)
        await self._prune_now_and_then()
        for job in run:
            self._unqueue(job)
            self._forget_failures(job.job_id)
        self.printed += len(run)
        self._set_trouble(None)
        for job in run:
            self._ack(job.job_id, ok=True)

    async def _drop_from_run(
        self, run: list[QueuedJob], chunks: list[bytes]
    ) -> tuple[list[QueuedJob], list[bytes]]:
        """The run without the jobs cancelled before any of it was written (each dropped,
        journalled cancelled and answered so), and their bytes."""
        kept = [(j, c) for j, c in zip(run, chunks, strict=True) if not j.cancelled]
        self._in_flight = [j for j, _ in kept]
        for job in run:
            if job.cancelled:
                await self._drop_cancelled(job)
        return [j for j, _ in kept], [c for _, c in kept]

    async def _gather_run(
        self, head: QueuedJob, data: bytes
    ) -> tuple[list[QueuedJob], list[bytes]]:
        """`head` and the new jobs right behind it, up to the run's bounds, with their bytes.
        The printer has just said it is ready; every job of the run is in flight from here
        (a cancel for it is decided when the write is over)."""
        s = self.settings
        behind = self._new_jobs(self._after(head), s.max_run - 1) if _is_new(head) else []
        run, chunks = [head], [data]
        if behind:
            budget = s.max_run_bytes - len(data)
            rendered = await self._io(self._render_more, [j.doc for j in behind], budget)
            for job, chunk in zip(behind, rendered, strict=False):
                if job.cancelled:  # dropped while it was rendered: the run ends before it
                    break
                run.append(job)
                chunks.append(chunk)
        self._in_flight = run
        return run, chunks

    def _render_more(self, docs: list[dict[str, Any]], budget: int) -> list[bytes]:
        """The documents rendered, in order, while they fit in `budget` bytes; stops at one
        that cannot be rendered (it is given up when it is at the head of the queue)."""
        out: list[bytes] = []
        s = self.settings
        for doc in docs:
            try:
                data = render(parse_doc(doc), profile=s.profile, encoding_mode=s.encoding_mode)
            except Exception:  # said when it is at the head of the queue, alone
                break
            budget -= len(data)
            if budget < 0:
                break
            out.append(data)
        return out

    def _after(self, job: QueuedJob) -> list[QueuedJob]:
        """The jobs queued behind `job` (none if it is no longer queued)."""
        for i, queued in enumerate(self._queue):
            if queued is job:
                return list(itertools.islice(self._queue, i + 1, None))
        return []

    @staticmethod
    def _new_jobs(jobs: Iterable[QueuedJob], limit: int) -> list[QueuedJob]:
        """The leading jobs of `jobs` that may share a session: new (never started), not
        cancelled, not test pages; at most `limit`."""
        out: list[QueuedJob] = []
        for job in jobs:
            if len(out) >= limit or not _is_new(job):
                break
            out.append(job)
        return out

    def _next_run(self, run: list[QueuedJob]) -> list[QueuedJob]:
        """The jobs that will be written in the next session after `run`, if they wait
        already and are new."""
        in_run = {id(j) for j in run}
        return self._new_jobs(
            (j for j in self._queue if id(j) not in in_run), self.settings.max_run
        )

    async def _prune_now_and_then(self) -> None:
        now = self._clock.now_ms() / 1000
        if self._journal is not None and now - self._pruned_at > 3600:
            self._pruned_at = now
            await self._db(self._journal.prune, now - self.settings.keep_done)

    def _unqueue(self, job: QueuedJob) -> None:
        """Take `job` itself out of the queue (not whatever is at its head now: a cancel may
        have removed it while it was awaited)."""
        self._premarked.discard(job.job_id)
        if self._queue and self._queue[0] is job:
            self._queue.popleft()
            return
        for i, queued in enumerate(self._queue):
            if queued is job:
                del self._queue[i]
                return

    async def _journal_start(self, jobs: list[QueuedJob]) -> None:
        """Journal `jobs` started (fsync'd), before their paper moves."""
        if self._journal is not None:
            now = self._clock.now_ms() / 1000
            await self._shared.commit((), [(self._key(j.job_id), j.doc) for j in jobs], now)

    async def _journal_printed(self, job_ids: list[str], then_start: list[QueuedJob]) -> None:
        """Mark a run printed, and the next one started in the same commit."""
        if self._journal is not None:
            now = self._clock.now_ms() / 1000
            started = [(self._key(j.job_id), j.doc) for j in then_start]
            await self._shared.commit([self._key(j) for j in job_ids], started, now)

    def _journal_mark(self, job_id: str, state: str, error: str | None) -> None:
        if self._journal is not None:
            self._journal.mark(self._key(job_id), state, self._clock.now_ms() / 1000, error)

    async def _failed(self, run: list[QueuedJob], exc: PrinterError) -> None:
        """Nothing of `run` is known to be on paper: each job stays queued (as `started` if it
        was, so it prints again as REPRINT) and is answered `ok: false` once per cause."""
        self._retry_at = self._clock.monotonic_ms() / 1000 + self.settings.retry_interval
        self._set_trouble(exc)
        for job in run:
            if job.cancelled:
                await self._drop_cancelled(job)
            elif job.doc.get("kind") == "test":  # a probe: answer now, never print it later
                await self._give_up(job, exc)
            elif (job.job_id, exc.code) not in self._failure_acked:
                self._failure_acked.add((job.job_id, exc.code))
                self._ack(job.job_id, ok=False, error=exc.code)

    def _forget_failures(self, job_id: str) -> None:
        self._failure_acked = {f for f in self._failure_acked if f[0] != job_id}

    async def _give_up(self, job: QueuedJob, exc: PrinterError) -> None:
        log.warning("printer %s: gave up job %s: %s", self.printer_id, job.job_id, exc)
        await self._db(self._journal_mark, job.job_id, "failed", exc.code)
        self._unqueue(job)
        self._forget_failures(job.job_id)
        self._publish_status()
        self._ack(job.job_id, ok=False, error=exc.code)

    # ------------------------------------------------------------------ status out

    def _set_status(self, status: PrinterStatus) -> None:
        self._status = status
        self._publish_status()

    def _set_trouble(self, exc: PrinterError | None) -> None:
        if exc is None:
            self._trouble.ok()
        else:
            self._trouble.trouble(_CAUSES.get(exc.code, f"{exc.code}: {exc}"))
        self._error = exc
        self._publish_status()

    def _detail(self) -> dict[str, Any]:
        if self._status is None:  # not asked yet: unknown, not "offline"
            known: dict[str, Any] = dict.fromkeys(UNREACHABLE.as_dict()) | {"paper": "unknown"}
        else:
            known = self._status.as_dict()
        return {
            **known,
            "queue": len(self._queue),
            "error": self._error.code if self._error else None,
        }

    def _publish_status(self) -> None:
        self.link.set_status("online", self._detail())

    # ------------------------------------------------------------------ test page

    async def test_print(self) -> PrintOutcome:
        """Print a test page now (not queued, not journalled); the real cause on failure."""
        when = datetime.fromtimestamp(self._clock.now_ms() / 1000, UTC).isoformat()
        doc = {"kind": "test", "printer": self.printer_id, "time": when}
        async with self._printer_lock:
            try:
                data = await self._io(self._render, doc)
                await self._read_status()
                await self._io(self._driver.write, data)
                await self._read_status()
            except PrinterError as exc:
                return PrintOutcome(False, exc.code, str(exc), self._detail())
            finally:
                await self._io(self._driver.close)
        return PrintOutcome(True, None, None, self._detail())
