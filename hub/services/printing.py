"""Printing: kitchen chits, bills and test pages through a durable queue in the store.

Jobs are rows in `print_jobs`, created in the same transaction as what they print (an
order's tickets) or by a person (reprint, bill, test). The dispatcher publishes pending jobs
in order on `printers/{printer}/jobs` and sends a job again, with the same id, until its agent
acks it; agents drop ids they already printed. While an agent says nothing at all, its resends
come less and less often (each wait twice the last, up to `RESEND_CAP_MS`), and all go again
as soon as it is heard: a persistent session keeps every copy for an agent that is away, and
the broker rewrites its queue in each autosave. Printer health comes from the agents' retained
status and from failure acks: a printer unavailable for its `backup_after_s` hands its waiting
jobs to its backup, with a "BACKUP FOR <printer>" banner. A station whose screen has been
silent for `kds_silent_after_s` gets its open tickets printed on its fallback printer, each
ticket once (job ids are derived from the ticket, so a ticket can never be queued twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from msgspec import UNSET
from msgspec.structs import replace

from hub.bus import contract
from hub.bus.contract import BillDoc, BillLine, Item, KitchenDoc, PrintDoc, TaxLine, TestDoc
from hub.config import BillConfig, PrinterConfig
from hub.consumers.live import LiveHub
from hub.domain.events import (
    PRINT_FINISHED,
    Detail,
    JobInfo,
    LineChange,
    Order,
    PrintEvent,
    PrintMoved,
    PrintQueued,
    Ticket,
    TicketCreated,
    TicketUpdated,
)
from hub.domain.ports import Clock
from hub.domain.printdoc import Copy
from hub.errors import Conflict, Forbidden, NotFound, StoreUnavailable
from hub.services.catalog import Catalog
from hub.store import checks as store_checks
from hub.store import repos
from hub.store.db import Event, Store, Tx
from plumbing.tasks import cancel_all

log = logging.getLogger("tablehub.printing")

Publisher = Callable[[str, bytes, int, bool], Awaitable[None]]
RETRY_MS = 500  # after a publish or a store write failed
SCREEN_CHECK_MS = 1000  # how often a station with a fallback printer is checked for a screen
# how often, at most, the low mark of the pending jobs (`repos.PRINT_LOW`) is moved up: one
# row written a minute, where an index of the pending jobs took a page in every job's commits
LOW_EVERY_MS = 60_000
# the longest wait between two sends of a job to an agent that has said nothing since the
# last send. The wait starts at the ack timeout and doubles at each resend; an ack or an
# `online` from the agent sets it back and makes its unacknowledged jobs due at once. No
# wait at all depends on the agent's status being right: a stale or spoofed `offline`
# holds nothing, a spoofed `online` costs one round of resends
RESEND_CAP_MS = 300_000
UNAVAILABLE = ("offline", "refused", "timeout", "paper_out", "cover_open", "agent_offline")
FINAL = ("bad_document", "font_missing", "cancelled")  # the agent dropped the job for good
# a job's "sent" and "printed" marks wait this long for company in a group commit: nobody
# waits on them (a mark lost to a power cut only makes the job go out again, same id, and
# the agent acks it without printing it twice). In a rush at a store's pace an order or a
# bump comes every few seconds: a mark that waited a quarter of a second had a commit of its
# own, with its pages and fsync; one that waits five seconds mostly rides with the next
# order's or bump's (the admin page's job list, read from the store, may show a job "sent"
# that long after it printed). The dispatcher stops resending a job when its ack comes, not
# when its mark is saved
MARK_LINGER_S = 5.0
MAX_SETTLING = 1024  # acks being saved in the background; past it the next waits its turn


# a printer found down within this many seconds of the hub's start is warned about only if it
# is still down then: the agents' retained `offline` from the last stop is read before their
# new `online`, at every restart
START_GRACE_S = 20.0


@dataclass
class Health:
    down_since_ms: int | None = None
    reason: str | None = None

    @property
    def up(self) -> bool:
        return self.down_since_ms is None


def _name(names: dict[str, str], lang: str) -> str:
    return names.get(lang) or names.get("en") or next(iter(names.values()), "")


class Printing:
    def __init__(
        self,
        store: Store,
        catalog: Catalog,
        clock: Clock,
        live: LiveHub,
        *,
        printers: tuple[PrinterConfig, ...],
        bill: BillConfig,
        store_id: str,
        silent_after_s: int = 30,
        ack_timeout_s: float = 10.0,
        publish: Publisher | None = None,
        connected: asyncio.Event | None = None,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._clock = clock
        self._live = live
        self.printers = {p.id: p for p in printers}
        self._bill = bill
        self._store_id = store_id
        self.silent_after_s = silent_after_s
        self.ack_timeout_s = ack_timeout_s
        self.health = {p.id: Health() for p in printers}
        # stations whose tickets a printer prints while their screen is silent
        self._fallback_stations = frozenset(
            s for p in printers if p.chits == "fallback" for s in p.stations
        )
        self.stopping = False  # the hub is stopping: its own agents going offline is expected
        self._publish = publish
        self._connected = connected
        self._wake = asyncio.Event()
        # the pending jobs: id -> (printer, kind, when due in wall ms; 0: now). Kept from the
        # committed print events, so the dispatcher reads only the jobs it sends
        self._due: dict[str, tuple[str, str, int]] = {}
        self._retry_at_ms = 0  # after a publish failed
        # printer -> its agent's current wait between resends (ms), while it is quiet; when
        # the dispatcher last sent to it and last heard from it (monotonic ms)
        self._resend_wait: dict[str, int] = {}
        self._sent_mono: dict[str, int] = {}
        self._heard_mono: dict[str, int] = {}
        self._new_tickets: set[str] = set()  # stations with tickets since the last look
        self._silent: set[str] = set()  # stations whose silence was looked at
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._screen_seen_ms: dict[str, int] = {}
        self.started_ms = clock.monotonic_ms()  # durations here are monotonic
        self.sent = 0
        # printers found down while the hub starts (the status its own agents left retained
        # as it stopped, until they say `online` again): warned about only if still down
        # once the start is over
        self.start_grace_s = START_GRACE_S
        self._unwarned: dict[str, asyncio.TimerHandle] = {}
        self._settling: set[asyncio.Task[None]] = set()  # acks and marks being saved
        # what is known of a job and not saved yet (its mark waits to share a commit), so the
        # job lists say it at once: job id -> (state, reason, only while the job is this
        # printer's), and job id -> when it was sent
        self._unsaved: dict[str, tuple[str, str | None, str | None]] = {}
        self._unsaved_sent: dict[str, int] = {}
        # no pending job has a rowid below this (`repos.PRINT_LOW`); jobs settled since it
        # was last moved (it may move up), and when it may move next (monotonic ms)
        self.low = 0
        self._low_stale = False
        self._low_next_ms = 0

    def __repr__(self) -> str:
        down = [p for p, h in self.health.items() if not h.up]
        return f"<Printing printers={len(self.printers)} down={down}>"

    name = "print-dispatch"

    def on_commit(self, events: Sequence[Event]) -> None:
        """Keep the pending jobs from the committed print events; wake for new work."""
        wake = False
        for e in events:
            ev = e.event
            if isinstance(ev, (PrintQueued, PrintMoved)):
                self._due[ev.job.id] = (ev.job.printer, ev.job.kind, 0)
                wake = True
            elif isinstance(ev, PrintEvent):
                self._due.pop(ev.job.id, None)
                self._low_stale = True
            elif isinstance(ev, TicketCreated) and ev.ticket.station in self._fallback_stations:
                self._new_tickets.add(ev.ticket.station)
                wake = True
        if wake:
            self._wake.set()

    async def stop(self) -> bool:
        return False  # cancelled: a job half sent is sent again (same id) after a restart

    # ------------------------------------------------------------ documents

    def _station_printers(self, station: str, mode: str) -> list[PrinterConfig]:
        return [p for p in self.printers.values() if station in p.stations and p.chits == mode]

    def chit_doc(
        self,
        ticket: Ticket,
        printer: PrinterConfig,
        copy: Copy = "ORIGINAL",
        banner: str | None = None,
    ) -> KitchenDoc:
        lang = printer.lang
        menu = self._catalog.menu
        labels = menu.labels.get("allergens", {}) if menu else {}
        station = self._catalog.station(ticket.station)
        items = [
            Item(
                qty=it.qty,
                name=_name(it.name, lang),
                modifiers=[_name(m.name, lang) for m in it.modifiers],
                note=it.note,
                allergens=[_name(dict(labels.get(a, {"en": a})), lang) for a in it.allergens],
                grams=it.grams if isinstance(it.grams, int) and it.grams else UNSET,
                void_qty=it.void_qty,
            )
            for it in ticket.items
        ]
        return KitchenDoc(
            copy=copy,
            banner=banner,
            store=menu.store.name if menu else "",
            station=_name(station["name"], lang),
            table=ticket.table.name,
            number=ticket.number,
            round=ticket.round,
            time=ticket.created_at,
            items=items,
            lang=lang,
            encoding=printer.encoding,
            width=printer.width,
        )

    def bill_doc(
        self, table: dict[str, str], orders: list[Order], printer: PrinterConfig
    ) -> BillDoc:
        lang = printer.lang
        lines = [
            BillLine(
                qty=ln.qty,
                name=_name(ln.name, lang),
                modifiers=[_name(m.name, lang) for m in ln.modifiers],
                line_cents=ln.line_cents,
                grams=ln.grams if isinstance(ln.grams, int) else None,
            )
            for o in orders
            for ln in o.lines
        ]
        subtotal = sum(o.total_cents for o in orders)
        taxes = [
            TaxLine(name=name, cents=(subtotal * ppm + 500_000) // 1_000_000)
            for name, ppm in self._bill.taxes
        ]
        menu = self._catalog.menu
        return BillDoc(
            store=menu.store.name if menu else "",
            header=list(self._bill.header),
            footer=list(self._bill.footer),
            table=table["name"],
            number=orders[-1].order_id if orders else 0,
            time=self._clock.now_iso(),
            currency=menu.store.currency if menu else "USD",
            lines=lines,
            subtotal_cents=subtotal,
            tax_lines=taxes,
            total_cents=subtotal + sum(t.cents for t in taxes),
            qr=self._catalog.url_for(table["id"]) if table["id"] in self._catalog.tables else None,
            lang=lang,
            encoding=printer.encoding,
            width=printer.width,
        )

    # ------------------------------------------------------------ making jobs

    async def chits_in_tx(self, tx: Tx, tickets: list[Ticket]) -> None:
        """Inside an order's write: queue its chits on every 'always' printer of a station."""
        for ticket in tickets:
            for printer in self._station_printers(ticket.station, "always"):
                await self._queue(
                    tx,
                    f"chit-{ticket.id}-{printer.id}",
                    printer.id,
                    "kitchen",
                    "ORIGINAL",
                    self.chit_doc(ticket, printer),
                    ticket.id,
                )

    async def correction_chits_in_tx(
        self,
        tx: Tx,
        ticket: Ticket,
        action_id: str,
        *,
        voids: Sequence[tuple[int, int, str]] = (),
        change: tuple[int, LineChange] | None = None,
    ) -> list[str]:
        """Inside a correction's write: a VOID chit (`voids`: line, units, reason) or a
        CHANGE chit (line, and only what changed) on each printer the ticket's own chit
        printed on or is still to print on (the dispatcher holds it until that chit is on
        paper); none when the ticket's chit never printed. The job id is derived from the
        action id: never queued twice."""
        lines = {it.idx: it for it in ticket.items}
        made = []
        for printer_id in await store_checks.tx_chit_printers(tx, ticket.id):
            printer = self.printers.get(printer_id)
            if printer is None:
                continue
            lang = printer.lang
            kind: Literal["VOID", "CHANGE"] = "VOID" if voids else "CHANGE"
            if voids:
                items = [
                    Item(qty=qty, name=_name(lines[idx].name, lang), reason=reason)
                    for idx, qty, reason in voids
                    if idx in lines
                ]
            elif change is not None and change[0] in lines:
                line = lines[change[0]]
                changes = self._change_lines(line.item, change[1], lang)
                items = [Item(qty=line.qty, name=_name(line.name, lang), changes=changes)]
            else:
                items = []
            if not items:
                continue
            doc = replace(self.chit_doc(ticket, printer), correction=kind, items=items, time=tx.now)
            job_id = f"{kind.lower()}-{action_id}-{printer_id}"
            if await self._queue(tx, job_id, printer_id, "correction", "ORIGINAL", doc, ticket.id):
                made.append(job_id)
        return made

    def _change_lines(self, item_id: str, change: LineChange, lang: str) -> list[str]:
        """What a CHANGE chit says: only the fields that changed, old and new."""
        menu = self._catalog.menu
        item = menu.items.get(item_id) if menu else None

        def option(opt_id: str) -> str:
            found = item.option(opt_id) if item else None
            return _name(dict(found[1].name), lang) if found else opt_id

        out = []
        before, after = change.before, change.after
        if "qty" in change.fields:
            out.append(f"QTY {before.qty} -> {after.qty}")
        if "modifiers" in change.fields:
            out += [f"+ {option(m)}" for m in after.modifiers if m not in before.modifiers]
            out += [f"- {option(m)}" for m in before.modifiers if m not in after.modifiers]
        if "note" in change.fields:
            out.append(f"NOTE: {after.note}" if after.note else "NOTE REMOVED")
        return out

    async def queue_in_tx(
        self, tx: Tx, job_id: str, printer: str, kind: str, doc: PrintDoc
    ) -> bool:
        """Inside a write: queue a job made elsewhere (a part's bill); False when a job of
        this id exists already."""
        return await self._queue(tx, job_id, printer, kind, doc.copy, doc, None)

    async def _queue(
        self,
        tx: Tx,
        job_id: str,
        printer: str,
        kind: str,
        copy: str,
        doc: PrintDoc,
        ticket_id: int | None,
    ) -> bool:
        made = await repos.insert_job(tx, job_id, printer, kind, copy, doc, ticket_id)
        if made:
            info = JobInfo(job_id, "queued", printer, kind, copy=copy, ticket_id=ticket_id)
            tx.emit(PrintQueued(job=info))
        return made

    async def reprint(self, ticket_id: int, printer_id: str | None = None) -> dict[str, Any]:
        """A reprint asked for by a person: a new job, marked REPRINT."""

        async def unit(tx: Tx) -> dict[str, Any]:
            ticket = await repos.tx_ticket(tx, ticket_id)
            if ticket is None:
                raise NotFound(f"no ticket {ticket_id}", field="ticket")
            printers = (
                [self._printer(printer_id)]
                if printer_id
                else [p for p in self.printers.values() if ticket.station in p.stations]
            )
            if not printers:
                raise Conflict(f"no printer serves station {ticket.station}", field="printer")
            n = await repos.count_jobs_for_ticket(tx, ticket_id)
            job_id = f"reprint-{ticket_id}-{n + 1}"
            await self._queue(
                tx,
                job_id,
                printers[0].id,
                "kitchen",
                "REPRINT",
                self.chit_doc(ticket, printers[0], "REPRINT"),
                ticket_id,
            )
            return {"job_id": job_id, "printer": printers[0].id}

        return await self._store.write(unit)

    async def print_bill(self, table_id: str) -> dict[str, Any]:
        printers = [p for p in self.printers.values() if p.bills]
        if not printers:
            raise Conflict("no printer is set up for bills", field="printer")
        table = self._catalog.tables.get(table_id)
        if table is None:
            raise NotFound(f"no table '{table_id}'", field="table")
        check = await repos.read_check(self._store, table_id)
        if check is None or not check[1]:
            raise Conflict("the table has no open check", field="table")
        check_id, orders = check
        doc = self.bill_doc(table.as_dict(), orders, printers[0])

        async def unit(tx: Tx) -> dict[str, Any]:
            n = 1
            while not await self._queue(
                tx,
                f"bill-{check_id}-{n}",
                printers[0].id,
                "bill",
                "ORIGINAL" if n == 1 else "REPRINT",
                replace(doc, copy="ORIGINAL" if n == 1 else "REPRINT"),
                None,
            ):
                n += 1
            return {
                "job_id": f"bill-{check_id}-{n}",
                "printer": printers[0].id,
                "total_cents": doc.total_cents,
            }

        return await self._store.write(unit)

    async def test_print(self, printer_id: str, timeout_s: float = 15.0) -> dict[str, Any]:
        """Print a test page and wait for the agent's answer: the real cause when it fails."""
        printer = self._printer(printer_id)
        job_id = f"test-{printer.id}-{self._clock.now_ms()}"
        doc = TestDoc(
            printer=printer.id,
            time=self._clock.now_iso(),
            lang=printer.lang,
            encoding=printer.encoding,
            width=printer.width,
        )
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[job_id] = fut

        async def unit(tx: Tx) -> None:
            await self._queue(tx, job_id, printer.id, "test", "ORIGINAL", doc, None)

        await self._store.write(unit)
        try:
            return await asyncio.wait_for(fut, timeout_s)
        except TimeoutError:
            await self._finish(job_id, "failed", "no_answer")
            return {
                "job_id": job_id,
                "ok": False,
                "error": "no_answer",
                "message": f"no answer from the agent of {printer.id} in {timeout_s:.0f} s",
            }
        finally:
            self._waiters.pop(job_id, None)

    def _printer(self, printer_id: str) -> PrinterConfig:
        printer = self.printers.get(printer_id)
        if printer is None:
            raise NotFound(f"no printer '{printer_id}'", field="printer")
        return printer

    # ------------------------------------------------------------ answers and health

    async def on_ack(self, printer_id: str, ack: contract.PrintAck) -> None:
        """An agent's answer about a job; `Forbidden` for a job that is not its printer's.

        The answer is saved in the background (the next ack need not wait for this one's
        commit), in the order the acks came."""
        if printer_id not in self.printers:
            return
        await self._check_owner(printer_id, ack.job_id)
        self._heard(printer_id)
        await self._background(self._settle(printer_id, ack), f"print-ack {ack.job_id}")

    async def _background(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run `work` as a task of its own; past `MAX_SETTLING` of them, here and now."""
        if len(self._settling) >= MAX_SETTLING:
            await work
            return
        task = asyncio.create_task(work, name=name)
        self._settling.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task[None]) -> None:
        self._settling.discard(task)
        exc = None if task.cancelled() else task.exception()
        if exc is not None and not isinstance(exc, StoreUnavailable):  # StoreUnavailable: the
            log.error("saving a print job's state failed: %r", exc)  # job goes out again

    async def _settle(self, printer_id: str, ack: contract.PrintAck) -> None:
        if ack.ok:
            self._mark_up(printer_id)
            # printed: no more resends, though its mark may wait a while to be saved
            entry = self._due.pop(ack.job_id, None)
            waited = ack.job_id in self._waiters  # someone waits on this answer: no lingering
            try:
                await self._finish(
                    ack.job_id, "printed", None, linger_s=0.0 if waited else MARK_LINGER_S
                )
            except StoreUnavailable:
                if entry is not None:  # not saved: it goes out again and its agent acks again
                    due = self._resend_ms(self._clock.now_ms())
                    self._due.setdefault(ack.job_id, (entry[0], entry[1], due))
                raise
            result: dict[str, Any] = {"job_id": ack.job_id, "ok": True, "status": ack.status}
        else:
            error = ack.error or "unknown"
            if error in UNAVAILABLE:
                self._mark_down(printer_id, error)
            # a failure is about the job only while it is this printer's: the one a job was
            # moved away from answers its cancel with "cancelled", which must not cancel the
            # job on the backup (success from either printer is kept: it is on paper)
            if ack.job_id.startswith("test-") or error in FINAL:
                await self._finish(
                    ack.job_id,
                    "cancelled" if error == "cancelled" else "failed",
                    error,
                    printer=printer_id,
                )
            else:
                await self._note_failure(ack.job_id, error, printer_id)
            result = {"job_id": ack.job_id, "ok": False, "error": error, "status": ack.status}
        fut = self._waiters.get(ack.job_id)
        if fut is not None and not fut.done():
            fut.set_result(result)

    async def _check_owner(self, printer_id: str, job_id: str) -> None:
        """An agent answers only for jobs of its own printer, or of the printer a job was
        moved away from (what it printed before the move is on paper). Job ids are easy to
        guess; the broker's ACL only keeps each agent on its own topics."""

        # a read, not a write unit: an ack must not add a trip through the writer's queue
        for job in await repos.read_jobs_by_id(self._store, [job_id]):
            if printer_id not in (job["printer"], job["origin"]):
                raise Forbidden(f"an ack for a job of printer '{job['printer']}'", field="job_id")

    def on_device_status(self, device_id: str, state: str, detail: Detail) -> None:
        printer_id = device_id.removeprefix("printer-")
        if printer_id not in self.printers:
            return
        if state != "online":
            # its jobs go at once when it is back: an agent keeps the jobs it has not started
            # in memory only, so one that restarted has none of them
            self._resend_wait.setdefault(printer_id, int(self.ack_timeout_s * 1000))
            self._mark_down(printer_id, "agent_offline")
            return
        self._heard(printer_id)
        if detail.get("online") is False:
            self._mark_down(printer_id, "offline")
        elif detail.get("paper") == "out":
            self._mark_down(printer_id, "paper_out")
        elif detail.get("cover_open"):
            self._mark_down(printer_id, "cover_open")
        else:
            self._mark_up(printer_id)

    def _heard(self, printer_id: str) -> None:
        """The printer's agent said something: it is there. If its resends were spaced out
        while it was quiet, or it had said it was offline, they go back to the ack timeout and
        its jobs waiting for an ack go now (an agent back from a restart or a lost session has
        none of them)."""
        self._heard_mono[printer_id] = self._clock.monotonic_ms()
        if self._resend_wait.pop(printer_id, None) is None:
            return
        for job_id, (printer, kind, due) in self._due.items():
            if printer == printer_id and due:
                self._due[job_id] = (printer, kind, 0)
        self._wake.set()

    def _mark_down(self, printer_id: str, reason: str) -> None:
        h = self.health[printer_id]
        if h.up:
            mono = self._clock.monotonic_ms()
            starting_for_s = self.start_grace_s - (mono - self.started_ms) / 1000
            if self.stopping:
                # the hub's own agents say goodbye as it stops: no trouble to warn about
                log.info("printer %s unavailable: %s", printer_id, reason)
            elif starting_for_s > 0:
                # what the last run left behind: a warning only if it is still so after the start
                log.info("printer %s not back yet: %s", printer_id, reason)
                self._unwarned[printer_id] = asyncio.get_running_loop().call_later(
                    starting_for_s, self._warn_if_down, printer_id
                )
            else:
                log.warning("printer %s unavailable: %s", printer_id, reason)
            h.down_since_ms = mono
        h.reason = reason

    def _warn_if_down(self, printer_id: str) -> None:
        self._unwarned.pop(printer_id, None)
        h = self.health[printer_id]
        if not h.up and not self.stopping:
            log.warning("printer %s unavailable: %s", printer_id, h.reason)

    def _mark_up(self, printer_id: str) -> None:
        h = self.health[printer_id]
        if not h.up:
            quiet = self._unwarned.pop(printer_id, None)
            if quiet is not None:
                quiet.cancel()
                log.info("printer %s back (was %s)", printer_id, h.reason)
            else:
                log.info("printer %s recovered (was %s)", printer_id, h.reason)
            self._wake.set()
        h.down_since_ms, h.reason = None, None

    async def _finish(
        self,
        job_id: str,
        state: str,
        reason: str | None,
        *,
        printer: str | None = None,
        linger_s: float = 0.0,
    ) -> None:
        """Settle a job; with `printer`, only while the job is still that printer's."""

        async def unit(tx: Tx) -> None:
            row = await repos.tx_job(tx, job_id)
            if row is None or row["state"] in ("printed", "cancelled"):
                return
            if printer is not None and row["printer"] != printer:
                return
            await repos.update_job(tx, job_id, state=state, reason=reason)
            info = JobInfo(
                job_id,
                state,
                row["printer"],
                row["kind"],
                copy=row["copy"],
                reason=reason,
                ticket_id=row["ticket_id"],
            )
            tx.emit(PRINT_FINISHED[state](job=info))
            if row["kind"] == "kitchen" and row["ticket_id"] is not None:
                await self._drop_corrections(tx, int(row["ticket_id"]), row["printer"])

        known = (state, reason, printer)
        self._unsaved[job_id] = known
        try:
            await self._store.write(unit, linger_s=linger_s)
        finally:
            if self._unsaved.get(job_id) == known:
                del self._unsaved[job_id]

    def as_known(self, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Jobs read from the store, with what this dispatcher knows of them and has not saved
        yet (a printed job's mark waits up to `MARK_LINGER_S` to share a commit): the admin
        page's list says "printed" when the paper is out, not seconds later."""
        for job in jobs:
            found = self._unsaved.get(job["id"])
            if found is not None:
                state, reason, printer = found
                if job["state"] not in ("printed", "cancelled") and printer in (
                    None,
                    job["printer"],
                ):
                    job["state"], job["reason"] = state, reason
                continue
            sent_ms = self._unsaved_sent.get(job["id"])
            if sent_ms is not None and job["state"] == "queued":
                job["state"], job["sent_ms"] = "sent", sent_ms
        return jobs

    async def _drop_corrections(self, tx: Tx, ticket_id: int, printer_id: str) -> None:
        """A ticket's chit that will never print takes its VOID and CHANGE chits on that
        printer with it (still to print behind it): none prints for a chit the kitchen
        never got."""
        if printer_id in await store_checks.tx_chit_printers(tx, ticket_id):
            return  # another of its chits printed there or will
        for job_id, printer in await store_checks.tx_pending_corrections(tx, ticket_id):
            if printer != printer_id:
                continue
            await repos.update_job(tx, job_id, state="cancelled", reason="chit_not_printed")
            info = JobInfo(
                job_id, "cancelled", printer, "correction", reason="chit_not_printed",
                ticket_id=ticket_id,
            )  # fmt: skip
            tx.emit(PRINT_FINISHED["cancelled"](job=info))

    async def _note_failure(self, job_id: str, reason: str, printer: str) -> None:
        async def unit(tx: Tx) -> None:
            row = await repos.tx_job(tx, job_id)
            if row is None or row["state"] not in ("queued", "sent") or row["printer"] != printer:
                return
            if row["reason"] != reason:
                await repos.update_job(tx, job_id, state=row["state"], reason=reason)

        await self._store.write(unit)

    # ------------------------------------------------------------ the dispatcher

    async def run(self) -> None:
        """Send jobs when they are committed or due again, move a down printer's jobs to its
        backup, and print a silent screen's tickets; sleep until the next of these."""
        self.low = await repos.read_print_low(self._store)
        pending, low = await repos.read_pending_jobs(self._store, self.low)
        for job in pending:
            due = 0 if job["state"] == "queued" else self._resend_ms(job["sent_ms"])
            self._due.setdefault(job["id"], (job["printer"], job["kind"], due))
        if low > self.low:  # a store from before the mark, or one whose mark is behind
            with contextlib.suppress(StoreUnavailable):
                await self._save_low(low)
        while True:
            self._wake.clear()
            try:
                await self._move_low()
                await self._fallback_for_silent_screens()
                await self._failover()
                await self._send_due()
            except StoreUnavailable as exc:  # the store says so once; try again shortly
                log.debug("print dispatcher: %s", exc)
                self._retry_at_ms = self._clock.now_ms() + RETRY_MS
            await self._sleep(self._next_in_s())

    async def _move_low(self) -> None:
        """Move the pending jobs' low mark up to the first one still pending, when jobs were
        settled since it was last moved, at most every `LOW_EVERY_MS`. Its write waits to share
        a commit: nobody waits on it, and a mark behind is only a longer read at the next
        start."""
        mono = self._clock.monotonic_ms()
        if not self._low_stale or mono < self._low_next_ms:
            return
        self._low_stale = False
        self._low_next_ms = mono + LOW_EVERY_MS
        low = await repos.read_pending_low(self._store, self.low)
        if low > self.low:
            await self._save_low(low)

    async def _save_low(self, low: int) -> None:
        async def unit(tx: Tx) -> None:
            await repos.set_meta(tx, repos.PRINT_LOW, str(low))

        await self._store.write(unit, linger_s=MARK_LINGER_S)
        self.low = low

    def _resend_ms(self, sent_ms: int | None) -> int:
        return (sent_ms or 0) + int(self.ack_timeout_s * 1000)

    def _next_wait(self, printer_id: str, *, resend: bool) -> int:
        """The wait (ms) before the jobs sent to `printer_id` now go again: the ack timeout,
        doubled at each resend to an agent not heard from since the send before (up to
        `RESEND_CAP_MS`)."""
        mono = self._clock.monotonic_ms()
        last = self._sent_mono.get(printer_id)
        self._sent_mono[printer_id] = mono
        base = int(self.ack_timeout_s * 1000)
        wait = self._resend_wait.get(printer_id, base)
        quiet = last is not None and self._heard_mono.get(printer_id, -1) < last
        if resend and quiet:
            wait = max(base, min(wait * 2, RESEND_CAP_MS))
            self._resend_wait[printer_id] = wait
        return wait

    def _next_in_s(self) -> float | None:
        """Seconds until the next job is due, a down printer's jobs move, or a screen may
        have fallen silent (None: only a commit or a recovery wakes the dispatcher)."""
        now, mono = self._clock.now_ms(), self._clock.monotonic_ms()
        waits: list[int] = []
        if self._due and self._is_connected():
            first = min(d for _, _, d in self._due.values())
            waits.append(max(first, self._retry_at_ms) - now)
        for pid, printer in self.printers.items():
            h = self.health[pid]
            if (
                not h.up
                and printer.backup is not None
                and h.down_since_ms is not None
                and any(p == pid and k != "test" for p, k, _ in self._due.values())
            ):
                waits.append(h.down_since_ms + printer.backup_after_s * 1000 - mono)
        if self._fallback_stations:
            waits.append(SCREEN_CHECK_MS)  # a look at who is connected, in memory
        if self._low_stale:
            waits.append(self._low_next_ms - mono)
        return max(0, min(waits)) / 1000 if waits else None

    def _is_connected(self) -> bool:
        return self._connected is not None and self._connected.is_set()

    async def _sleep(self, timeout_s: float | None) -> None:
        waits = [asyncio.ensure_future(self._wake.wait())]
        if self._connected is not None and not self._connected.is_set():
            waits.append(asyncio.ensure_future(self._connected.wait()))
        try:
            await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_all(waits)

    def station_silent(self, station: str) -> bool:
        now = self._clock.monotonic_ms()
        if self._live.screens_at(station):
            self._screen_seen_ms[station] = now
            return False
        seen = self._screen_seen_ms.get(station, self.started_ms)
        return now - seen >= self.silent_after_s * 1000

    async def _fallback_for_silent_screens(self) -> None:
        for station in sorted(self._fallback_stations):
            if not self.station_silent(station):
                self._silent.discard(station)
                continue
            if station in self._silent and station not in self._new_tickets:
                continue  # looked already, and no ticket came since
            self._silent.add(station)
            self._new_tickets.discard(station)
            tickets = await repos.read_open_tickets_unprinted(self._store, station)
            if not tickets:
                continue
            printer = self._station_printers(station, "fallback")[0]
            log.warning(
                "screen at %s silent: printing %d ticket(s) on %s",
                station,
                len(tickets),
                printer.id,
            )

            async def unit(
                tx: Tx, tickets: list[Ticket] = tickets, printer: PrinterConfig = printer
            ) -> None:
                for t in tickets:
                    await self._queue(
                        tx,
                        f"chit-{t.id}-{printer.id}",
                        printer.id,
                        "kitchen",
                        "ORIGINAL",
                        self.chit_doc(t, printer),
                        t.id,
                    )
                    await repos.mark_ticket_printed(tx, t.id, printer.id)
                    fresh = await repos.tx_ticket(tx, t.id)
                    assert fresh is not None
                    tx.emit(TicketUpdated(ticket=fresh))

            await self._store.write(unit)

    async def _failover(self) -> None:
        now = self._clock.monotonic_ms()
        for pid, printer in self.printers.items():
            h = self.health[pid]
            if (
                h.up
                or printer.backup is None
                or printer.backup not in self.printers
                or not self.health[printer.backup].up
                or now - (h.down_since_ms or now) < printer.backup_after_s * 1000
            ):
                continue
            ids = [j for j, (p, k, _) in self._due.items() if p == pid and k != "test"]
            if not ids:
                continue
            moving = [
                j for j in await repos.read_jobs_by_id(self._store, ids) if j["printer"] == pid
            ]
            if not moving:
                continue
            backup = printer.backup
            log.warning(
                "printer %s unavailable for %ds (%s): %d job(s) go to %s",
                pid,
                (now - (h.down_since_ms or now)) // 1000,
                h.reason,
                len(moving),
                backup,
            )

            async def unit(
                tx: Tx, moving: list[dict[str, Any]] = moving, pid: str = pid, backup: str = backup
            ) -> None:
                for job in moving:
                    doc = replace(job["doc"], banner=f"BACKUP FOR {pid}")
                    await repos.update_job(
                        tx, job["id"], state="queued", reason=None, printer=backup, doc=doc
                    )
                    info = JobInfo(job["id"], "queued", backup, job["kind"], origin=pid)
                    tx.emit(PrintMoved(job=info))

            await self._store.write(unit)
            for job in moving:  # the first printer must not print it too when it is back
                await self._send(
                    pid, contract.encode(contract.PrintCancel(job_id=job["id"], cancel=True))
                )

    async def _mark_sent(self, sent: list[str], now: int) -> None:
        """Save that these jobs went out at `now`; the write waits to share a commit."""

        async def unit(tx: Tx) -> None:
            for job_id in sent:
                row = await repos.tx_job(tx, job_id)
                if row is not None and row["state"] in ("queued", "sent"):
                    await repos.update_job(
                        tx, job_id, state="sent", reason=row["reason"], sent_ms=now, attempt=True
                    )

        self._unsaved_sent.update(dict.fromkeys(sent, now))
        try:
            await self._store.write(unit, linger_s=MARK_LINGER_S)
        finally:
            for job_id in sent:
                if self._unsaved_sent.get(job_id) == now:
                    del self._unsaved_sent[job_id]

    async def _send_due(self) -> None:
        """Publish the jobs that are new or whose ack is overdue, in the order they were made;
        mark them sent. A publish that fails stops the round (tried again after `RETRY_MS`)."""
        now = self._clock.now_ms()
        if not self._is_connected() or now < self._retry_at_ms:
            return
        ids = [j for j, (_, _, due) in self._due.items() if due <= now]
        if not ids:
            return
        # a job due at 0 is new (or moved, or its agent was just heard): not a resend
        again = {j for j in ids if self._due[j][2]}
        sent: dict[str, str] = {}  # job -> the printer it went to
        resent: dict[str, bool] = {}  # printer -> whether this round sends it a job again
        for job in await repos.read_jobs_by_id(self._store, ids):
            if job["state"] not in ("queued", "sent"):
                self._due.pop(job["id"], None)  # settled meanwhile
                continue
            if job["kind"] == "correction" and not await self._chit_printed(job):
                # a VOID or CHANGE chit waits for the chit it corrects to be on paper
                self._due[job["id"]] = (job["printer"], job["kind"], now + RETRY_MS)
                continue
            payload = contract.encode(contract.PrintJob(job_id=job["id"], doc=job["doc"]))
            if not await self._send(job["printer"], payload):
                self._retry_at_ms = now + RETRY_MS
                break
            sent[job["id"]] = job["printer"]
            resent[job["printer"]] = resent.get(job["printer"], False) or job["id"] in again
        if not sent:
            return
        waits = {pid: self._next_wait(pid, resend=r) for pid, r in resent.items()}
        for job_id, pid in sent.items():
            # an ack may have settled it (or a failover moved it) while the round went out
            printer, kind, _ = self._due.get(job_id, ("", "", 0))
            if printer == pid:
                self._due[job_id] = (pid, kind, now + waits[pid])

        # the resend times are kept here already: the next round need not wait for the mark
        await self._background(self._mark_sent(list(sent), now), "print-sent")
        self.sent += len(sent)

    async def _chit_printed(self, job: dict[str, Any]) -> bool:
        """Whether the chit a correction job corrects is printed on the job's printer."""
        ticket_id = job["ticket_id"]
        if ticket_id is None:
            return True
        return await store_checks.read_chit_printed(self._store, int(ticket_id), job["printer"])

    async def _send(self, printer_id: str, payload: bytes) -> bool:
        if self._publish is None:
            return False
        try:
            await self._publish(
                contract.printer_jobs(self._store_id, printer_id), payload, 1, False
            )
        except ConnectionError:
            return False
        return True

    # ------------------------------------------------------------ views

    def status(self) -> list[dict[str, Any]]:
        return [
            {
                "id": p.id,
                "stations": list(p.stations),
                "chits": p.chits,
                "bills": p.bills,
                "backup": p.backup,
                "up": self.health[p.id].up,
                "reason": self.health[p.id].reason,
            }
            for p in self.printers.values()
        ]
