"""The hub's printer agents share one journal file (hub/consumers/agents.py): each keys its
jobs by its device id, an order's chits for several printers are started in one commit (one
fsync, where each printer's own file took one each), and a journal an agent kept in a file of
its own is taken in when it starts on the shared one: what it printed is still answered for,
what it started prints again marked, what an older agent left queued prints."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from devices.printers.fake import FakeNetworkPrinter, Receipt
from devices.printers.journal import Journal, SharedJournal, stored_doc
from hub.ops.mosquitto import Mosquitto
from tests.printing_side import Hub, chit, listening, make_agent, number, reprint
from tests.printing_side import running as agent_running
from tests.waiting import until

Commit = tuple[list[str], list[str]]


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> list[Commit]:
    """Every commit of marks and starts, as (keys printed, keys started)."""
    seen: list[Commit] = []
    commit = Journal.commit

    def commit_seen(self: Journal, printed: Any, started: Any, now: float) -> None:
        commit(self, printed, started, now)
        seen.append((list(printed), [k for k, _ in started]))

    monkeypatch.setattr(Journal, "commit", commit_seen)
    return seen


def acked(hub: Hub, ids: list[str]) -> bool:
    return hub.ok() == ids


def complete(printer: FakeNetworkPrinter) -> list[Receipt]:
    return [r for r in printer.printed if r.complete]


def rows(path: Path) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT job_id, state FROM jobs").fetchall())
    finally:
        conn.close()


@contextlib.asynccontextmanager
async def two_printers(
    broker: Mosquitto, state: Path, journal: SharedJournal
) -> AsyncIterator[tuple[list[Hub], list[FakeNetworkPrinter]]]:
    """Printers `pa` and `pb`, their agents on `journal`, and the hub's side of each."""
    async with contextlib.AsyncExitStack() as stack:
        printers = [stack.enter_context(FakeNetworkPrinter()) for _ in range(2)]
        hubs = [await stack.enter_async_context(listening(broker, pid)) for pid in ("pa", "pb")]
        for pid, printer in zip(("pa", "pb"), printers, strict=True):
            agent = make_agent(broker, printer, pid, state, journal=journal)
            await stack.enter_async_context(agent_running(agent))
        yield hubs, printers


async def test_two_printers_chits_start_in_one_commit_and_each_is_answered_for_apart(
    broker: Mosquitto, tmp_path: Path, commits: list[Commit]
) -> None:
    state = tmp_path / "state"
    journal = SharedJournal(state / "printers.sqlite", linger_s=0.3)
    async with two_printers(broker, state, journal) as (hubs, printers):
        # one order's chits, one for each printer, with the same job id (a job moved to a
        # backup printer keeps its id): each printer's is its own
        await asyncio.gather(*(h.send("order-1", chit(1)) for h in hubs))
        for h in hubs:
            await h.wait_acks(partial(acked, h, ["order-1"]), f"{h.printer} acked")
        # sent again (an ack lost): answered again, not printed again
        await hubs[0].send("order-1", chit(1))
        await hubs[0].wait_acks(lambda: hubs[0].ok() == ["order-1"] * 2, "pa acked again")
    for printer in printers:
        assert [(number(r), reprint(r)) for r in complete(printer)] == [(1, False)]
    started = [sorted(s) for _, s in commits if s]
    assert started == [["printer-pa/order-1", "printer-pb/order-1"]], commits
    assert rows(state / "printers.sqlite") == {
        "printer-pa/order-1": "printed",
        "printer-pb/order-1": "printed",
    }
    assert sorted(p.name for p in state.iterdir() if p.suffix == ".sqlite") == ["printers.sqlite"]


async def test_an_agents_own_journal_is_taken_in_when_it_starts_on_the_shared_one(
    broker: Mosquitto, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    own = Journal(state / "printer-pa.sqlite")  # as `python -m devices.printers` kept it
    try:
        now = time.time()
        own.start([("j7", chit(7)), ("j8", chit(8))], now)  # then the agent died
        own.printed(["j8"], now)
        # a job an agent of an earlier version had only queued
        own._db.execute(
            "INSERT INTO jobs (job_id, doc, state, updated) VALUES ('j9', ?, 'queued', ?)",
            (stored_doc(chit(9)), now),
        )
    finally:
        own.close()
    journal = SharedJournal(state / "printers.sqlite")
    async with two_printers(broker, state, journal) as (hubs, printers):
        pa = hubs[0]
        await pa.wait_acks(lambda: pa.ok() == ["j7", "j9"], "j7 and j9 printed after the start")
        await pa.send("j8", chit(8))  # printed before: answered, not printed
        await pa.wait_acks(lambda: pa.ok() == ["j7", "j9", "j8"], "j8 answered")
    assert [(number(r), reprint(r)) for r in complete(printers[0])] == [(7, True), (9, False)]
    assert not (state / "printer-pa.sqlite").exists()
    assert rows(state / "printers.sqlite") == {
        "printer-pa/j7": "printed",
        "printer-pa/j8": "printed",
        "printer-pa/j9": "printed",
    }


async def test_a_commit_that_fails_fails_every_agent_waiting_on_it_and_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = SharedJournal(tmp_path / "printers.sqlite", linger_s=0.05)
    opened = await journal.attach()
    await journal.attach()
    await journal.call(opened.start, [("printer-a/j0", chit(0))], 1.0)
    try:
        start = Journal._start

        def start_then_fail(self: Journal, jobs: Any, now: float) -> None:
            start(self, jobs, now)  # the rows are written, then the disk fails
            raise sqlite3.OperationalError("disk I/O error")

        with monkeypatch.context() as m:
            m.setattr(Journal, "_start", start_then_fail)
            got = await asyncio.gather(
                journal.commit(["printer-a/j0"], [("printer-a/j1", chit(1))], 2.0),
                journal.commit((), [("printer-b/j1", chit(1))], 2.0),
                return_exceptions=True,
            )
        assert [type(g) for g in got] == [sqlite3.OperationalError] * 2
        # nothing of the failed commit is kept: j0 is still started, j1 nowhere
        assert rows(tmp_path / "printers.sqlite") == {"printer-a/j0": "started"}
        await journal.commit((), [("printer-a/j2", chit(2))], 3.0)  # the next one works
        assert rows(tmp_path / "printers.sqlite") == {
            "printer-a/j0": "started",
            "printer-a/j2": "started",
        }
    finally:
        await journal.detach()
        await journal.detach()


async def test_a_job_cancelled_while_its_start_is_written_is_not_printed(
    broker: Mosquitto, tmp_path: Path
) -> None:
    """The hub moved the job to a backup printer while its start waited for company: no
    paper had moved, so it is dropped and answered cancelled, not printed on both."""
    state = tmp_path / "state"
    journal = SharedJournal(state / "printers.sqlite", linger_s=1.0)
    await journal.attach()  # another agent of the process: starts wait for company
    try:
        async with two_printers(broker, state, journal) as (hubs, printers):
            pa = hubs[0]
            await pa.send("j1", chit(1))
            await until(lambda: journal._batch is not None, "j1's start gathered")
            await pa.send_raw(b'{"job_id": "j1", "cancel": true}')
            await pa.wait_acks(lambda: pa.failures() == [("j1", "cancelled")], "j1 cancelled")
            await pa.send("j2", chit(2))  # the printer goes on
            await pa.wait_acks(lambda: pa.ok() == ["j2"], "j2 printed")
        assert [number(r) for r in complete(printers[0])] == [2]
        assert rows(state / "printers.sqlite") == {
            "printer-pa/j1": "cancelled",
            "printer-pa/j2": "printed",
        }
    finally:
        await journal.detach()


async def test_an_old_journal_that_cannot_be_read_is_set_aside_and_the_printer_prints(
    broker: Mosquitto, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "printer-pa.sqlite").write_bytes(b"")  # cut short when it was made
    journal = SharedJournal(state / "printers.sqlite")
    async with two_printers(broker, state, journal) as (hubs, printers):
        await hubs[0].send("j1", chit(1))
        await hubs[0].wait_acks(lambda: hubs[0].ok() == ["j1"], "j1 printed")
    assert [number(r) for r in complete(printers[0])] == [1]
    assert not (state / "printer-pa.sqlite").exists()
    assert (state / "printer-pa.sqlite.unreadable").exists()


def test_an_old_journal_is_taken_in_once(tmp_path: Path) -> None:
    """A file taken in that could not be deleted is not taken in again: its rows may have
    been pruned since, and a job it had started would print again."""
    own = tmp_path / "printer-pa.sqlite"
    old = Journal(own)
    old.start([("j1", chit(1))], time.time())
    old.close()
    shared = Journal(tmp_path / "printers.sqlite")
    try:
        assert shared.adopt(own, "printer-pa/") == 1
        assert not own.exists()
        old = Journal(own)  # the same file, back (it could not be deleted)
        old.start([("j1", chit(1))], time.time())
        old.close()
        shared.printed(["printer-pa/j1"], time.time())
        shared.prune(time.time() + 1)  # j1 printed, then forgotten
        assert shared.adopt(own, "printer-pa/") == 0
        assert shared.pending("printer-pa/") == []
    finally:
        shared.close()


async def test_a_printed_mark_waiting_for_company_is_kept_when_the_agents_stop(
    tmp_path: Path,
) -> None:
    """The paper is out: a mark still gathered when the last agent leaves is committed, not
    dropped (the job would print again, marked REPRINT, after every restart)."""
    path = tmp_path / "printers.sqlite"
    journal = SharedJournal(path, linger_s=600.0)
    opened = await journal.attach()
    await journal.attach()
    await journal.call(opened.start, [("printer-a/j1", chit(1))], time.time())
    marking = asyncio.create_task(journal.commit(["printer-a/j1"], [], time.time()))
    await asyncio.sleep(0.05)
    assert not marking.done()  # waiting for the other agent's starts
    marking.cancel()  # its agent stops
    await journal.detach()
    await journal.detach()
    assert rows(path) == {"printer-a/j1": "printed"}
