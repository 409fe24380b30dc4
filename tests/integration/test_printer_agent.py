"""The printer agent on a real Mosquitto with a fake network printer. The test plays the hub
with a real MQTT client: it publishes jobs and collects acks and the retained status."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import aiomqtt
import pytest

from devices.printers.agent import PrinterAgent
from devices.printers.fake import FakeNetworkPrinter, Receipt
from hub.ops.mosquitto import Mosquitto
from tests.printing_side import STORE, Hub, chit, make_agent, number, reprint, running
from tests.waiting import until

ROOT = Path(__file__).parents[2]


def complete(printer: FakeNetworkPrinter) -> list[Receipt]:
    return [r for r in printer.printed if r.complete]


@pytest.fixture
def agent(
    broker: Mosquitto, printer: FakeNetworkPrinter, printer_id: str, tmp_path: Path
) -> PrinterAgent:
    return make_agent(broker, printer, printer_id, tmp_path / "state")


async def test_jobs_print_once_each_in_order(
    agent: PrinterAgent, printer_hub: Hub, printer: FakeNetworkPrinter
) -> None:
    async with running(agent):
        for n in range(1, 6):
            await printer_hub.send(f"j{n}", chit(n))
        await printer_hub.wait_acks(lambda: len(printer_hub.ok()) == 5, "five jobs acked")
        # nothing else comes: a sixth job is acked after anything the first five could still
        # cause (acks of one agent arrive in order)
        await printer_hub.send("j6", chit(6))
        await printer_hub.wait_acks(lambda: "j6" in printer_hub.ok(), "the later job j6 acked")
    assert printer_hub.ok() == ["j1", "j2", "j3", "j4", "j5", "j6"]
    assert printer_hub.failures() == []
    assert [number(r) for r in printer.printed] == [1, 2, 3, 4, 5, 6]
    assert not any(reprint(r) for r in printer.printed)
    assert printer_hub.acks[-1]["status"] == {
        "online": True,
        "paper": "ok",
        "cover_open": False,
        "drawer_open": False,
        "queue": 0,
        "error": None,
    }
    assert printer_hub.statuses[-1] == {"state": "offline", "kind": "printer", "detail": None}


async def test_paper_out_holds_the_queue_then_prints_everything_in_order(
    agent: PrinterAgent,
    printer_hub: Hub,
    printer: FakeNetworkPrinter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="tablehub.devices.printer")
    printer.set_paper("out")
    async with running(agent):
        for n in range(1, 4):
            await printer_hub.send(f"j{n}", chit(n))
        await printer_hub.wait_acks(
            lambda: printer_hub.failures() == [("j1", "paper_out")], "j1's paper out"
        )
        # five more tries while the paper is out: each asks the printer three status questions
        printer.queries.clear()
        await until(
            lambda: len(printer.queries) >= 15,
            "five status reads while the paper is out",
            state=lambda: len(printer.queries),
        )
        assert printer.printed == []
        assert printer_hub.acks[0]["status"]["paper"] == "out"
        assert printer_hub.acks[0]["status"]["error"] == "paper_out"
        printer.set_paper("ok")
        await printer_hub.wait_acks(
            lambda: len(printer_hub.ok()) == 3, "three jobs acked once the paper is in"
        )
    # a failure ack from any of those tries would have arrived before the ok acks
    assert printer_hub.failures() == [("j1", "paper_out")]  # once per cause, not per retry
    assert printer_hub.ok() == ["j1", "j2", "j3"]
    assert [number(r) for r in printer.printed] == [1, 2, 3]
    assert not any(reprint(r) for r in printer.printed)  # none was started while out
    messages = [r.getMessage() for r in caplog.records if r.name == "tablehub.devices.printer"]
    assert messages.count(f"printer {agent.printer_id} offline: paper out") == 1
    assert messages.count(f"printer {agent.printer_id} recovered") == 1


async def test_connection_dropped_mid_job_prints_it_again_marked(
    agent: PrinterAgent, printer_hub: Hub, printer: FakeNetworkPrinter
) -> None:
    printer.drop_connection_after(120)  # status queries + part of the chit, then RST
    async with running(agent):
        await printer_hub.send("j1", chit(1))
        await printer_hub.wait_acks(
            lambda: printer_hub.ok() == ["j1"], "j1 printed again after the drop"
        )
        await printer_hub.send("j2", chit(2))
        await printer_hub.wait_acks(lambda: printer_hub.ok() == ["j1", "j2"], "j2 acked")
    partial, *rest = [r for r in printer.printed if number(r) == 1]
    assert not partial.complete, "the first try was cut off"
    assert [(r.complete, reprint(r)) for r in rest] == [(True, True)]
    unmarked = [r for r in complete(printer) if not reprint(r)]
    assert [number(r) for r in unmarked] == [2]
    assert printer_hub.failures() == [("j1", "offline")]


async def test_the_same_job_twice_prints_once_and_acks_twice(
    agent: PrinterAgent,
    printer_hub: Hub,
    printer: FakeNetworkPrinter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="tablehub.devices.printer")

    def resend_seen() -> bool:
        return any("j1 is already queued" in r.getMessage() for r in caplog.records)

    printer.set_cover_open(True)  # j1 cannot print yet: the resend below finds it queued
    async with running(agent):
        await printer_hub.send("j1", chit(1))
        await printer_hub.wait_acks(
            lambda: ("j1", "cover_open") in printer_hub.failures(), "j1 tried, cover open"
        )
        await printer_hub.send("j1", chit(1))  # a resend while it is still queued
        await until(resend_seen, "the agent to take the resend as already queued")
        printer.set_cover_open(False)
        await printer_hub.wait_acks(lambda: printer_hub.ok() == ["j1"], "j1 acked")
        await printer_hub.send("j1", chit(1))  # a resend after it printed: ack again, do not print
        await printer_hub.wait_acks(lambda: printer_hub.ok() == ["j1", "j1"], "j1 acked twice")
        await printer_hub.send("j2", chit(2))  # a later job: printed and acked after anything of j1
        await printer_hub.wait_acks(lambda: "j2" in printer_hub.ok(), "the later job j2 acked")
    assert [number(r) for r in printer.printed] == [1, 2]
    assert printer_hub.ok() == ["j1", "j1", "j2"]
    assert set(printer_hub.failures()) == {("j1", "cover_open")}


async def test_bad_messages_are_refused_and_do_not_block_the_queue(
    agent: PrinterAgent, printer_hub: Hub, printer: FakeNetworkPrinter
) -> None:
    async with running(agent):
        await printer_hub.send_raw(b"not json")
        await printer_hub.send_raw(b'{"job_id": "", "doc": {}}')
        await printer_hub.send("bad", {"kind": "kitchen", "items": []})  # no table, no number
        await printer_hub.send("good", chit(7))
        await printer_hub.wait_acks(lambda: printer_hub.ok() == ["good"], "the good job acked")
    assert printer_hub.failures() == [("bad", "bad_document")]
    assert [number(r) for r in printer.printed] == [7]


async def test_cancelled_job_is_dropped_while_the_printer_is_down(
    agent: PrinterAgent, printer_hub: Hub, printer: FakeNetworkPrinter
) -> None:
    printer.set_cover_open(True)
    async with running(agent):
        await printer_hub.send("j1", chit(1))
        await printer_hub.send("j2", chit(2))
        await printer_hub.wait_acks(
            lambda: printer_hub.failures() == [("j1", "cover_open")], "j1's cover open"
        )
        # the hub moved j1 to a backup; j9 is cancelled before it arrived
        await printer_hub.send_raw(b'{"job_id": "j1", "cancel": true}')
        await printer_hub.send_raw(b'{"job_id": "j9", "cancel": true}')
        await printer_hub.wait_acks(
            lambda: ("j9", "cancelled") in printer_hub.failures(), "j9 cancelled"
        )
        await printer_hub.send("j9", chit(9))
        printer.set_cover_open(False)
        await printer_hub.wait_acks(
            lambda: printer_hub.ok() == ["j2"], "j2 printed once the cover shut"
        )
        # a later job: a late print of j1 or j9 would come first
        await printer_hub.send("j3", chit(3))
        await printer_hub.wait_acks(lambda: "j3" in printer_hub.ok(), "the later job j3 acked")
    assert printer_hub.ok() == ["j2", "j3"]
    assert [number(r) for r in printer.printed] == [2, 3]
    # j2 waits behind the open cover; whether it was tried (and answered cover_open) before
    # the cover shut depends on the poll timing, so its tries are left out of the comparison
    assert [f for f in printer_hub.failures() if f != ("j2", "cover_open")] == [
        ("j1", "cover_open"),
        ("j1", "cancelled"),
        ("j9", "cancelled"),
        ("j9", "cancelled"),
    ]


async def test_a_test_page_that_cannot_print_is_answered_not_kept(
    agent: PrinterAgent, printer_hub: Hub, printer: FakeNetworkPrinter
) -> None:
    printer.set_cover_open(True)
    async with running(agent):
        await printer_hub.send("test-1", {"kind": "test", "printer": agent.printer_id})
        await printer_hub.send("j1", chit(1))
        await printer_hub.wait_acks(
            lambda: printer_hub.failures() == [("test-1", "cover_open"), ("j1", "cover_open")],
            "the test page and j1 to fail with the cover open",
        )
        printer.set_cover_open(False)
        await printer_hub.wait_acks(
            lambda: printer_hub.ok() == ["j1"], "j1 acked once the cover shut"
        )
    assert [number(r) for r in printer.printed] == [1]  # no test page an hour later


async def test_retained_status_shows_paper_out_while_idle(
    agent: PrinterAgent, printer_hub: Hub, printer: FakeNetworkPrinter, broker: Mosquitto
) -> None:
    def paper(state: str) -> bool:
        return any((s.get("detail") or {}).get("paper") == state for s in printer_hub.statuses)

    async with running(agent):
        await until(lambda: paper("ok"), "a status with paper ok", state=printer_hub.seen)
        printer.set_paper("out")  # no job is queued: only the idle poll can notice
        await until(
            lambda: paper("out"), "the idle poll to publish paper out", state=printer_hub.seen
        )
        async with aiomqtt.Client(
            "127.0.0.1", broker.port, identifier=f"late-{agent.printer_id}"
        ) as late:
            await late.subscribe(printer_hub.status_topic, qos=1)
            async with asyncio.timeout(5):
                message = await anext(aiter(late.messages))
            assert message.retain
            assert isinstance(message.payload, bytes)
            retained = json.loads(message.payload)
        assert retained["state"] == "online"
        assert retained["detail"]["paper"] == "out"
        assert retained["detail"]["error"] == "paper_out"
        assert retained["detail"]["online"] is False
        printer.set_paper("ok")
        await until(
            lambda: (printer_hub.statuses[-1]["detail"] or {}).get("error") is None,
            "a status without an error once the paper is in",
            state=printer_hub.seen,
        )
    assert printer_hub.failures() == []  # no job, no ack: the status alone tells the hub


async def test_test_print_returns_the_real_cause(
    agent: PrinterAgent, printer: FakeNetworkPrinter
) -> None:
    outcome = await agent.test_print()
    assert outcome.ok
    assert complete(printer)[-1].lines[0] == "TEST PAGE"
    printer.set_cover_open(True)
    assert (await agent.test_print()).error == "cover_open"
    printer.set_cover_open(False)
    printer.refuse()
    refused = await agent.test_print()
    assert refused.error == "refused"
    assert refused.message is not None
    assert "connection refused" in refused.message
    assert refused.status is not None
    assert refused.status["online"] is False
    printer.accept()
    printer.stall()
    assert (await agent.test_print()).error == "timeout"
    await agent.close()


# ---------------------------------------------------------------- a real crash (kill -9)


def write_config(
    path: Path, broker: Mosquitto, printer: FakeNetworkPrinter, printer_id: str
) -> Path:
    path.write_text(
        f'store = "{STORE}"\n'
        f'printer = "{printer_id}"\n'
        f'address = "{printer.address}"\n'
        f'state_dir = "{path.parent / "state"}"\n'
        "timeout = 0.5\npoll_interval = 0.3\nretry_interval = 0.2\n"
        f"[mqtt]\nport = {broker.port}\n"
    )
    return path


def last_state(hub: Hub) -> str | None:
    """The agent's last status as the hub side saw it (online, offline)."""
    return hub.statuses[-1]["state"] if hub.statuses else None


def queue_length(hub: Hub) -> int | None:
    """The agent's queue length in its last status."""
    detail = hub.statuses[-1]["detail"] if hub.statuses else None
    return detail["queue"] if detail else None


@contextlib.contextmanager
def agent_process(config: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m devices.printers` as its own process; its log goes next to the config."""
    with (config.parent / "agent.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "devices.printers", "--config", str(config)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(5)


async def test_killed_agent_loses_nothing_and_its_last_will_fires(
    printer_hub: Hub,
    printer: FakeNetworkPrinter,
    broker: Mosquitto,
    printer_id: str,
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path / "printer.toml", broker, printer, printer_id)

    state, queued = partial(last_state, printer_hub), partial(queue_length, printer_hub)

    with agent_process(config) as proc:
        await until(lambda: state() == "online", "the agent process online", state=printer_hub.seen)
        await printer_hub.send("j1", chit(1))
        await printer_hub.send("j2", chit(2))
        await printer_hub.wait_acks(lambda: printer_hub.ok() == ["j1", "j2"], "j1 and j2 acked")
        # j3-j5 wait together (cover open), then go out as one run; the printer stops
        # answering after it: every job of the run may be on paper, none is known printed
        printer.set_cover_open(True)
        for n in (3, 4, 5):
            await printer_hub.send(f"j{n}", chit(n))
        await until(
            lambda: queued() == 3, "j3-j5 queued behind the open cover", state=printer_hub.seen
        )
        printer.stall(after_cut=True)
        printer.set_cover_open(False)
        await printer_hub.wait_acks(
            lambda: (
                {("j3", "timeout"), ("j4", "timeout"), ("j5", "timeout")}
                <= set(printer_hub.failures())
            ),
            "j3-j5 to time out",
        )
        proc.kill()  # SIGKILL: no clean disconnect, no goodbye
        await until(lambda: state() == "offline", "the last will (offline)", state=printer_hub.seen)
        assert printer_hub.statuses[-1] == {"state": "offline", "kind": "printer", "detail": None}
    before = [(number(r), reprint(r)) for r in complete(printer)]
    assert before == [(1, False), (2, False), (3, False), (4, False), (5, False)]

    printer.unstall()
    with agent_process(config):
        await printer_hub.wait_acks(
            lambda: printer_hub.ok() == ["j1", "j2", "j3", "j4", "j5"],
            "every job acked after the restart",
        )
        assert state() == "online"

    printed = [(number(r), reprint(r)) for r in complete(printer)]
    # the run reached paper before the crash; after the restart each job of it is printed
    # again, marked
    assert printed == [*before, (3, True), (4, True), (5, True)]


async def test_jobs_only_queued_when_the_agent_is_killed_print_once_when_sent_again(
    printer_hub: Hub,
    printer: FakeNetworkPrinter,
    broker: Mosquitto,
    printer_id: str,
    tmp_path: Path,
) -> None:
    """A job the agent has only queued is in its memory, not on its disk: it was never
    answered for, so the hub sends it again when the agent is back (the hub's side:
    tests/integration/test_print_queue.py), and it prints once, as an original."""
    config = write_config(tmp_path / "printer.toml", broker, printer, printer_id)
    journal = tmp_path / "state" / f"printer-{printer_id}.sqlite"

    state, queued = partial(last_state, printer_hub), partial(queue_length, printer_hub)

    printer.set_cover_open(True)
    with agent_process(config) as proc:
        await until(lambda: state() == "online", "the agent process online", state=printer_hub.seen)
        for n in (1, 2):
            await printer_hub.send(f"j{n}", chit(n))
        await until(lambda: queued() == 2, "j1 and j2 queued", state=printer_hub.seen)
        proc.kill()
        await until(lambda: state() == "offline", "the last will (offline)", state=printer_hub.seen)
    conn = sqlite3.connect(journal)
    try:
        assert conn.execute("SELECT job_id, state FROM jobs").fetchall() == []
    finally:
        conn.close()
    assert complete(printer) == []

    printer.set_cover_open(False)
    with agent_process(config):
        await until(lambda: state() == "online", "the agent back online", state=printer_hub.seen)
        for n in (1, 2):  # what the hub does for an agent back online
            await printer_hub.send(f"j{n}", chit(n))
        await printer_hub.wait_acks(lambda: printer_hub.ok() == ["j1", "j2"], "j1 and j2 acked")
    assert [(number(r), reprint(r)) for r in complete(printer)] == [(1, False), (2, False)]
