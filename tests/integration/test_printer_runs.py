"""Jobs waiting together at a printer go out as one run: one session at the printer, one
fsync'd journal commit to start them and one to finish them, each job acked in order. A run
whose write fails is printed again job by job as REPRINT; a cancel for a job behind a run still
drops it. The printer holds jobs back with its cover open (no timing), on a real Mosquitto with
the fake network printer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devices.printers.agent import PrinterAgent, PrinterSettings
from devices.printers.driver import EscposDriver
from devices.printers.fake import FakeNetworkPrinter, Receipt, receipts
from devices.printers.journal import Journal
from devices.printers.render import parse_doc, render
from hub.ops.mosquitto import Mosquitto
from tests.printing_side import Hub, chit, make_agent, number, reprint, running
from tests.waiting import thread_event, until


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Every write of any journal, as it returns: ("start", ids), ("printed", ids, next ids)
    and ("mark", id, state). Queueing a job writes nothing."""
    seen: list[tuple[Any, ...]] = []
    commit, mark = Journal.commit, Journal.mark

    def commit_seen(self: Journal, printed: Any, started: Any, now: float) -> None:
        commit(self, printed, started, now)
        ids = [j for j, _ in started]
        seen.append(("printed", list(printed), ids) if printed else ("start", ids))

    def mark_seen(self: Journal, job_id: str, state: str, now: float, error: Any = None) -> None:
        mark(self, job_id, state, now, error)
        seen.append(("mark", job_id, state))

    monkeypatch.setattr(Journal, "commit", commit_seen)
    monkeypatch.setattr(Journal, "mark", mark_seen)
    return seen


@pytest.fixture
def new_agent(
    broker: Mosquitto, printer: FakeNetworkPrinter, printer_id: str, tmp_path: Path
) -> Callable[..., PrinterAgent]:
    """Makes the agent of `printer_id` (the printer `printer_hub` plays the hub of) on
    `printer`, or on the driver given, with any other `PrinterSettings` given."""

    def agent(driver: EscposDriver | None = None, **settings: Any) -> PrinterAgent:
        return make_agent(broker, printer, printer_id, tmp_path / "state", driver, **settings)

    return agent


def rendered_size(doc: dict[str, Any]) -> int:
    """Bytes of `doc` as the agent renders it (default settings)."""
    s = PrinterSettings()
    return len(render(parse_doc(doc), profile=s.profile, encoding_mode=s.encoding_mode))


def sessions(printer: FakeNetworkPrinter) -> list[list[Receipt]]:
    """The receipts of each connection that printed something (status polls left out)."""
    out = []
    for data in printer.connections:
        found = [r for r in receipts(data) if r.blocks]
        if found:
            out.append(found)
    return out


async def held_back(hub: Hub, agent: PrinterAgent, printer: FakeNetworkPrinter, n: int) -> None:
    """Send j1..jn while the cover is open; return once all wait in the agent's queue."""
    printer.set_cover_open(True)
    for k in range(1, n + 1):
        await hub.send(f"j{k}", chit(k))
    await until(lambda: agent.queue_length == n, f"{n} jobs queued", state=hub.seen)
    await hub.wait_acks(lambda: ("j1", "cover_open") in hub.failures(), "j1 tried, cover open")


async def test_waiting_jobs_print_as_one_run_with_two_journal_commits(
    new_agent: Callable[..., PrinterAgent],
    printer: FakeNetworkPrinter,
    printer_hub: Hub,
    commits: list[tuple[Any, ...]],
) -> None:
    jobs = [f"j{k}" for k in range(1, 6)]
    async with running(new_agent()) as agent:
        await held_back(printer_hub, agent, printer, 5)
        assert commits == []  # nothing started while the cover is open
        printer.set_cover_open(False)
        await printer_hub.wait_acks(lambda: len(printer_hub.ok()) == 5, "five jobs acked")
        # a later job, alone: printed at once, in a run of its own (nothing waits for company)
        await printer_hub.send("j6", chit(6))
        await printer_hub.wait_acks(lambda: "j6" in printer_hub.ok(), "the later job j6 acked")
    assert printer_hub.ok() == [*jobs, "j6"]
    assert printer_hub.failures() == [("j1", "cover_open")]
    # one connection carried the five, in order, each complete and not marked
    printed = sessions(printer)
    assert [[(number(r), r.complete, reprint(r)) for r in s] for s in printed] == [
        [(k, True, False) for k in range(1, 6)],
        [(6, True, False)],
    ]
    # two fsync'd commits for the five jobs, not five or ten; one start and one end for j6
    assert commits == [
        ("start", jobs),
        ("printed", jobs, []),
        ("start", ["j6"]),
        ("printed", ["j6"], []),
    ]


async def test_runs_keep_their_bounds_and_the_next_run_is_started_with_the_last(
    new_agent: Callable[..., PrinterAgent],
    printer: FakeNetworkPrinter,
    printer_hub: Hub,
    commits: list[tuple[Any, ...]],
) -> None:
    one = rendered_size(chit(1))
    # three jobs per run at most, and bytes for two and a half of them
    async with running(new_agent(max_run=3, max_run_bytes=one * 5 // 2)) as agent:
        await held_back(printer_hub, agent, printer, 7)
        printer.set_cover_open(False)
        await printer_hub.wait_acks(lambda: len(printer_hub.ok()) == 7, "seven jobs acked")
    assert printer_hub.ok() == [f"j{k}" for k in range(1, 8)]
    printed = sessions(printer)
    assert [[number(r) for r in s] for s in printed] == [[1, 2], [3, 4], [5, 6], [7]]
    assert all(r.complete and not reprint(r) for s in printed for r in s)
    # the printed commit of each run marks the jobs behind it started (as many as a run may
    # take), so the next run needs no commit of its own to start
    assert commits == [
        ("start", ["j1", "j2"]),
        ("printed", ["j1", "j2"], ["j3", "j4", "j5"]),
        ("printed", ["j3", "j4"], ["j5", "j6", "j7"]),
        ("printed", ["j5", "j6"], ["j7"]),
        ("printed", ["j7"], []),
    ]


async def test_a_run_cut_off_mid_write_is_printed_again_marked_each_job_acked_once(
    new_agent: Callable[..., PrinterAgent],
    printer: FakeNetworkPrinter,
    printer_hub: Hub,
) -> None:
    one = rendered_size(chit(1))
    async with running(new_agent()) as agent:
        await held_back(printer_hub, agent, printer, 4)
        # the run's connection: 9 bytes of status questions, j1, half of j2, then RST
        printer.drop_connection_after(9 + one + one // 2)
        printer.set_cover_open(False)
        await printer_hub.wait_acks(lambda: len(printer_hub.ok()) == 4, "four jobs acked")
        # a later job: anything of the run would come before it
        await printer_hub.send("j5", chit(5))
        await printer_hub.wait_acks(lambda: "j5" in printer_hub.ok(), "the later job j5 acked")
    assert printer_hub.ok() == ["j1", "j2", "j3", "j4", "j5"]
    # each job of the run: one failure with the cause, then printed again
    assert [f for f in printer_hub.failures() if f[1] != "cover_open"] == [
        ("j1", "offline"),
        ("j2", "offline"),
        ("j3", "offline"),
        ("j4", "offline"),
    ]
    printed = [[(number(r), r.complete, reprint(r)) for r in s] for s in sessions(printer)]
    assert printed == [
        [(1, True, False), (2, False, False)],  # j1 on paper before the drop, j2 torn
        # each job of the run again, alone, marked (it may be on paper already)
        [(1, True, True)],
        [(2, True, True)],
        [(3, True, True)],
        [(4, True, True)],
        [(5, True, False)],
    ]


class HeldDriver(EscposDriver):
    """The real driver, whose next write waits until the test lets it go (the printer busy
    taking a long run): the test acts while a run is being written."""

    def __init__(self, address: str) -> None:
        super().__init__(address, timeout=0.5)
        self.writing = threading.Event()
        self.go = threading.Event()

    def write(self, data: bytes) -> None:
        if not self.writing.is_set():
            self.writing.set()
            self.go.wait(30)
        super().write(data)


async def test_a_cancel_behind_a_run_drops_the_job_and_one_in_the_run_finishes(
    new_agent: Callable[..., PrinterAgent],
    printer: FakeNetworkPrinter,
    printer_hub: Hub,
) -> None:
    driver = HeldDriver(printer.address)
    async with running(new_agent(driver, max_run=2)) as agent:
        await held_back(printer_hub, agent, printer, 4)
        printer.set_cover_open(False)
        await thread_event(driver.writing, "the run j1-j2 to be written")
        await printer_hub.send_raw(b'{"job_id": "j2", "cancel": true}')  # in the run: it finishes
        await printer_hub.send_raw(b'{"job_id": "j4", "cancel": true}')  # behind it: dropped
        await printer_hub.wait_acks(
            lambda: ("j4", "cancelled") in printer_hub.failures(), "j4 cancelled"
        )
        assert agent.queue_length == 3  # j1, j2 (being written), j3
        driver.go.set()
        await printer_hub.wait_acks(lambda: printer_hub.ok() == ["j1", "j2", "j3"], "j1-j3 acked")
        # a later job: a late print of j4 would come before it
        await printer_hub.send("j5", chit(5))
        await printer_hub.wait_acks(lambda: "j5" in printer_hub.ok(), "the later job j5 acked")
    assert printer_hub.ok() == ["j1", "j2", "j3", "j5"]
    assert [f for f in printer_hub.failures() if f[1] != "cover_open"] == [("j4", "cancelled")]
    assert [[number(r) for r in s] for s in sessions(printer)] == [[1, 2], [3], [5]]
