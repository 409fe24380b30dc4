"""A cancel (the hub moved a job to the backup printer) that arrives just as the printer comes
back must not print the cancelled job, nor lose the job behind it.

Seen in `make chaos` (printer-offline): the agent journalled the cancel before taking the job
out of its queue; in that await the printer loop started the job, printed it, then popped the
*next* job off the queue as if it were the one printed. That job stayed `queued` in the
journal, so the hub's resends were answered "already queued" and it never printed."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from devices.printers.agent import PrinterAgent
from devices.printers.fake import FakeNetworkPrinter
from devices.printers.journal import QueuedJob
from hub.ops.mosquitto import Mosquitto
from tests.printing_side import Hub, chit, make_agent, number, running
from tests.waiting import thread_event, until


class CancelHeldOpen:
    """Holds the agent's journal write of a cancel open until the printer loop has picked a
    job and asked the journal to mark it `started`.

    The agent has one journal thread. The cancel's write runs on it and waits here; the
    printer loop meanwhile reads the printer's status and submits its run's `started` write,
    which queues behind the held one. So the printer loop chooses its job *while the cancel
    is between its two halves* — the interleaving the bug needed, every run, with no sleep.
    Old agent: j1 was still queued, the loop took it, printed it, and popped j2 as if it had
    printed j2. Fixed agent: j1 left the queue before the write, so the loop takes j2."""

    def __init__(self, agent: PrinterAgent, monkeypatch: pytest.MonkeyPatch) -> None:
        self.cancel_writing = threading.Event()  # the cancel's journal write has begun
        self.loop_started: list[list[str]] = []  # runs the printer loop marked started meanwhile
        self._loop_committed = threading.Event()
        self.held_until_loop_committed: bool | None = None
        start, mark = agent._journal_start, agent._journal_mark

        async def start_seen(jobs: list[QueuedJob]) -> None:
            self.loop_started.append([j.job_id for j in jobs])
            self._loop_committed.set()
            await start(jobs)

        def held_mark(job_id: str, state: str, error: str | None) -> None:
            if state == "cancelled" and self.held_until_loop_committed is None:
                self.cancel_writing.set()
                self.held_until_loop_committed = self._loop_committed.wait(30)
            mark(job_id, state, error)

        monkeypatch.setattr(agent, "_journal_start", start_seen)
        monkeypatch.setattr(agent, "_journal_mark", held_mark)


async def test_cancel_while_the_printer_comes_back_loses_nothing(
    broker: Mosquitto,
    printer: FakeNetworkPrinter,
    printer_hub: Hub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent: PrinterAgent = make_agent(broker, printer, printer_hub.printer, tmp_path / "state")
    printer.set_cover_open(True)
    async with running(agent):
        for n in (1, 2, 3):
            await printer_hub.send(f"j{n}", chit(n))
        await until(
            lambda: printer_hub.failures() == [("j1", "cover_open")],
            "j1 to fail with the cover open",
            state=printer_hub.failures,
        )
        held = CancelHeldOpen(agent, monkeypatch)
        await printer_hub.send_raw(b'{"job_id": "j1", "cancel": true}')
        await thread_event(held.cancel_writing, "the agent to start journalling the cancel")
        printer.set_cover_open(False)  # the printer is back: the loop's next retry can print
        await until(
            lambda: sorted(printer_hub.ok()) == ["j2", "j3"],
            "j2 and j3 to print (the old agent printed j1 and lost j2)",
            state=lambda: (printer_hub.ok(), printer_hub.failures(), held.loop_started),
        )
        # nothing else comes: a later job, queued behind anything left, prints and is acked
        # last, so a late print of j1 would be on paper before it
        await printer_hub.send("j4", chit(4))
        await until(
            lambda: "j4" in printer_hub.ok(), "the later job j4 to print", state=printer_hub.ok
        )
    assert held.held_until_loop_committed, "the printer loop never chose a job mid-cancel"
    assert held.loop_started[0][0] == "j2"  # chosen while the cancel was being journalled
    assert [number(r) for r in printer.printed if r.complete] == [2, 3, 4]
    assert printer_hub.ok() == ["j2", "j3", "j4"]
    assert ("j1", "cancelled") in printer_hub.failures()
