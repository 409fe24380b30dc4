"""The printer agent on a real Mosquitto with a fake network printer. The test plays the hub
with a real MQTT client: it publishes jobs and collects acks and the retained status."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from devices.agent import MqttSettings
from devices.printers.agent import PrinterAgent, PrinterSettings
from devices.printers.driver import EscposDriver
from devices.printers.fake import FakeNetworkPrinter, Receipt
from hub.bus import contract
from hub.ops.mosquitto import Mosquitto
from tests.contract.update_goldens import SIMPLE_CHIT
from tests.waiting import event, until

STORE = "demo"
PREFIX = f"tablehub/v1/{STORE}"
ROOT = Path(__file__).parents[2]


def chit(number: int, **changes: Any) -> dict[str, Any]:
    """Kitchen chit number `number`, its one dish named after it."""
    dish = {"qty": 1, "name": f"Dish {number}", "modifiers": ["Hot"]}
    return {**SIMPLE_CHIT, "number": number, "round": 1, "items": [dish], **changes}


def number(receipt: Receipt) -> int:
    (line,) = [x.strip() for x in receipt.lines if x.strip().startswith("#")]
    return int(line[1:])


def reprint(receipt: Receipt) -> bool:
    return "REPRINT" in receipt.banners


def complete(printer: FakeNetworkPrinter) -> list[Receipt]:
    return [r for r in printer.printed if r.complete]


class Hub:
    """Plays the hub: publishes jobs, records acks and status messages as they arrive."""

    def __init__(self, client: aiomqtt.Client, printer: str) -> None:
        self.client = client
        self.printer = printer
        self.acks: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.subscribed = asyncio.Event()  # the broker acknowledged the subscription

    @property
    def status_topic(self) -> str:
        return f"{PREFIX}/devices/printer-{self.printer}/status"

    async def listen(self) -> None:
        await self.client.subscribe(
            [(f"{PREFIX}/printers/{self.printer}/acks", 1), (self.status_topic, 1)]
        )
        self.subscribed.set()
        async for message in self.client.messages:
            assert isinstance(message.payload, bytes)
            body = json.loads(message.payload)
            if str(message.topic).endswith("/acks"):
                contract.decode_print_ack(message.payload)  # what the hub will decode
                self.acks.append(body)
            else:
                contract.decode_device_status(message.payload)
                self.statuses.append(body)

    async def send(self, job_id: str, doc: dict[str, Any]) -> None:
        payload = json.dumps({"job_id": job_id, "doc": doc})
        await self.client.publish(f"{PREFIX}/printers/{self.printer}/jobs", payload, qos=1)

    async def send_raw(self, payload: bytes) -> None:
        await self.client.publish(f"{PREFIX}/printers/{self.printer}/jobs", payload, qos=1)

    def acks_for(self, job_id: str) -> list[dict[str, Any]]:
        return [a for a in self.acks if a["job_id"] == job_id]

    def ok(self) -> list[str]:
        return [a["job_id"] for a in self.acks if a["ok"]]

    def failures(self) -> list[tuple[str, str]]:
        return [(a["job_id"], a["error"]) for a in self.acks if not a["ok"]]

    def seen(self) -> dict[str, object]:
        """What arrived so far, for a failure message."""
        return {"ok": self.ok(), "failures": self.failures(), "statuses": self.statuses[-3:]}

    async def wait_acks(self, pred: Callable[[], bool], what: str) -> None:
        await until(pred, what, state=self.seen)


@pytest.fixture
def printer() -> Iterator[FakeNetworkPrinter]:
    with FakeNetworkPrinter() as fake:
        yield fake


@pytest.fixture
def printer_id() -> str:
    return f"p{uuid.uuid4().hex[:10]}"


@contextlib.asynccontextmanager
async def listening(broker: Mosquitto, printer_id: str) -> AsyncIterator[Hub]:
    """The hub side of printer `printer_id`, once the broker acknowledged its subscription."""
    async with aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        identifier=f"hub-{printer_id}",
        protocol=aiomqtt.ProtocolVersion.V5,
    ) as client:
        side = Hub(client, printer_id)
        task = asyncio.create_task(side.listen())
        await event(side.subscribed, "the hub side's subscription to be acknowledged")
        yield side
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def hub(broker: Mosquitto, printer_id: str) -> AsyncIterator[Hub]:
    async with listening(broker, printer_id) as side:
        yield side


def make_agent(
    broker: Mosquitto, printer: FakeNetworkPrinter, printer_id: str, state_dir: Path
) -> PrinterAgent:
    return PrinterAgent(
        printer_id,
        STORE,
        EscposDriver(printer.address, timeout=0.5),
        MqttSettings(port=broker.port, keepalive=5),
        state_dir,
        settings=PrinterSettings(poll_interval=0.3, retry_interval=0.2),
    )


@contextlib.asynccontextmanager
async def running(agent: PrinterAgent) -> AsyncIterator[PrinterAgent]:
    """Run the agent until the block ends; jobs sent before it subscribed would be the hub's
    to resend, so wait until it is connected."""
    async with agent:
        await asyncio.wait_for(agent.link.connected.wait(), 5)
        yield agent


@pytest.fixture
def agent(
    broker: Mosquitto, printer: FakeNetworkPrinter, printer_id: str, tmp_path: Path
) -> PrinterAgent:
    return make_agent(broker, printer, printer_id, tmp_path / "state")


async def test_jobs_print_once_each_in_order(
    agent: PrinterAgent, hub: Hub, printer: FakeNetworkPrinter
) -> None:
    async with running(agent):
        for n in range(1, 6):
            await hub.send(f"j{n}", chit(n))
        await hub.wait_acks(lambda: len(hub.ok()) == 5, "five jobs acked")
        # nothing else comes: a sixth job is acked after anything the first five could still
        # cause (acks of one agent arrive in order)
        await hub.send("j6", chit(6))
        await hub.wait_acks(lambda: "j6" in hub.ok(), "the later job j6 acked")
    assert hub.ok() == ["j1", "j2", "j3", "j4", "j5", "j6"]
    assert hub.failures() == []
    assert [number(r) for r in printer.printed] == [1, 2, 3, 4, 5, 6]
    assert not any(reprint(r) for r in printer.printed)
    assert hub.acks[-1]["status"] == {
        "online": True,
        "paper": "ok",
        "cover_open": False,
        "drawer_open": False,
        "queue": 0,
        "error": None,
    }
    assert hub.statuses[-1] == {"state": "offline", "kind": "printer", "detail": None}


async def test_paper_out_holds_the_queue_then_prints_everything_in_order(
    agent: PrinterAgent, hub: Hub, printer: FakeNetworkPrinter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tablehub.devices.printer")
    printer.set_paper("out")
    async with running(agent):
        for n in range(1, 4):
            await hub.send(f"j{n}", chit(n))
        await hub.wait_acks(lambda: hub.failures() == [("j1", "paper_out")], "j1's paper out")
        # five more tries while the paper is out: each asks the printer three status questions
        printer.queries.clear()
        await until(
            lambda: len(printer.queries) >= 15,
            "five status reads while the paper is out",
            state=lambda: len(printer.queries),
        )
        assert printer.printed == []
        assert hub.acks[0]["status"]["paper"] == "out"
        assert hub.acks[0]["status"]["error"] == "paper_out"
        printer.set_paper("ok")
        await hub.wait_acks(lambda: len(hub.ok()) == 3, "three jobs acked once the paper is in")
    # a failure ack from any of those tries would have arrived before the ok acks
    assert hub.failures() == [("j1", "paper_out")]  # once per cause, not per retry
    assert hub.ok() == ["j1", "j2", "j3"]
    assert [number(r) for r in printer.printed] == [1, 2, 3]
    assert not any(reprint(r) for r in printer.printed)  # none was started while out
    messages = [r.getMessage() for r in caplog.records if r.name == "tablehub.devices.printer"]
    assert messages.count(f"printer {agent.printer_id} offline: paper out") == 1
    assert messages.count(f"printer {agent.printer_id} recovered") == 1


async def test_connection_dropped_mid_job_prints_it_again_marked(
    agent: PrinterAgent, hub: Hub, printer: FakeNetworkPrinter
) -> None:
    printer.drop_connection_after(120)  # status queries + part of the chit, then RST
    async with running(agent):
        await hub.send("j1", chit(1))
        await hub.wait_acks(lambda: hub.ok() == ["j1"], "j1 printed again after the drop")
        await hub.send("j2", chit(2))
        await hub.wait_acks(lambda: hub.ok() == ["j1", "j2"], "j2 acked")
    partial, *rest = [r for r in printer.printed if number(r) == 1]
    assert not partial.complete, "the first try was cut off"
    assert [(r.complete, reprint(r)) for r in rest] == [(True, True)]
    unmarked = [r for r in complete(printer) if not reprint(r)]
    assert [number(r) for r in unmarked] == [2]
    assert hub.failures() == [("j1", "offline")]


async def test_the_same_job_twice_prints_once_and_acks_twice(
    agent: PrinterAgent, hub: Hub, printer: FakeNetworkPrinter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tablehub.devices.printer")

    def resend_seen() -> bool:
        return any("j1 is already queued" in r.getMessage() for r in caplog.records)

    printer.set_cover_open(True)  # j1 cannot print yet: the resend below finds it queued
    async with running(agent):
        await hub.send("j1", chit(1))
        await hub.wait_acks(lambda: ("j1", "cover_open") in hub.failures(), "j1 tried, cover open")
        await hub.send("j1", chit(1))  # a resend while it is still queued
        await until(resend_seen, "the agent to take the resend as already queued")
        printer.set_cover_open(False)
        await hub.wait_acks(lambda: hub.ok() == ["j1"], "j1 acked")
        await hub.send("j1", chit(1))  # a resend after it printed: ack again, do not print
        await hub.wait_acks(lambda: hub.ok() == ["j1", "j1"], "j1 acked twice")
        await hub.send("j2", chit(2))  # a later job: printed and acked after anything of j1
        await hub.wait_acks(lambda: "j2" in hub.ok(), "the later job j2 acked")
    assert [number(r) for r in printer.printed] == [1, 2]
    assert hub.ok() == ["j1", "j1", "j2"]
    assert set(hub.failures()) == {("j1", "cover_open")}


async def test_bad_messages_are_refused_and_do_not_block_the_queue(
    agent: PrinterAgent, hub: Hub, printer: FakeNetworkPrinter
) -> None:
    async with running(agent):
        await hub.send_raw(b"not json")
        await hub.send_raw(b'{"job_id": "", "doc": {}}')
        await hub.send("bad", {"kind": "kitchen", "items": []})  # no table, no number
        await hub.send("good", chit(7))
        await hub.wait_acks(lambda: hub.ok() == ["good"], "the good job acked")
    assert hub.failures() == [("bad", "bad_document")]
    assert [number(r) for r in printer.printed] == [7]


async def test_cancelled_job_is_dropped_while_the_printer_is_down(
    agent: PrinterAgent, hub: Hub, printer: FakeNetworkPrinter
) -> None:
    printer.set_cover_open(True)
    async with running(agent):
        await hub.send("j1", chit(1))
        await hub.send("j2", chit(2))
        await hub.wait_acks(lambda: hub.failures() == [("j1", "cover_open")], "j1's cover open")
        await hub.send_raw(b'{"job_id": "j1", "cancel": true}')  # the hub moved it to a backup
        await hub.send_raw(b'{"job_id": "j9", "cancel": true}')  # cancelled before it arrived
        await hub.wait_acks(lambda: ("j9", "cancelled") in hub.failures(), "j9 cancelled")
        await hub.send("j9", chit(9))
        printer.set_cover_open(False)
        await hub.wait_acks(lambda: hub.ok() == ["j2"], "j2 printed once the cover shut")
        await hub.send("j3", chit(3))  # a later job: a late print of j1 or j9 would come first
        await hub.wait_acks(lambda: "j3" in hub.ok(), "the later job j3 acked")
    assert hub.ok() == ["j2", "j3"]
    assert [number(r) for r in printer.printed] == [2, 3]
    # j2 waits behind the open cover; whether it was tried (and answered cover_open) before
    # the cover shut depends on the poll timing, so its tries are left out of the comparison
    assert [f for f in hub.failures() if f != ("j2", "cover_open")] == [
        ("j1", "cover_open"),
        ("j1", "cancelled"),
        ("j9", "cancelled"),
        ("j9", "cancelled"),
    ]


async def test_a_test_page_that_cannot_print_is_answered_not_kept(
    agent: PrinterAgent, hub: Hub, printer: FakeNetworkPrinter
) -> None:
    printer.set_cover_open(True)
    async with running(agent):
        await hub.send("test-1", {"kind": "test", "printer": agent.printer_id})
        await hub.send("j1", chit(1))
        await hub.wait_acks(
            lambda: hub.failures() == [("test-1", "cover_open"), ("j1", "cover_open")],
            "the test page and j1 to fail with the cover open",
        )
        printer.set_cover_open(False)
        await hub.wait_acks(lambda: hub.ok() == ["j1"], "j1 acked once the cover shut")
    assert [number(r) for r in printer.printed] == [1]  # no test page an hour later


async def test_retained_status_shows_paper_out_while_idle(
    agent: PrinterAgent, hub: Hub, printer: FakeNetworkPrinter, broker: Mosquitto
) -> None:
    def paper(state: str) -> bool:
        return any((s.get("detail") or {}).get("paper") == state for s in hub.statuses)

    async with running(agent):
        await until(lambda: paper("ok"), "a status with paper ok", state=hub.seen)
        printer.set_paper("out")  # no job is queued: only the idle poll can notice
        await until(lambda: paper("out"), "the idle poll to publish paper out", state=hub.seen)
        async with aiomqtt.Client(
            "127.0.0.1", broker.port, identifier=f"late-{agent.printer_id}"
        ) as late:
            await late.subscribe(hub.status_topic, qos=1)
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
            lambda: (hub.statuses[-1]["detail"] or {}).get("error") is None,
            "a status without an error once the paper is in",
            state=hub.seen,
        )
    assert hub.failures() == []  # no job, no ack: the status alone tells the hub


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
    hub: Hub, printer: FakeNetworkPrinter, broker: Mosquitto, printer_id: str, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "printer.toml", broker, printer, printer_id)

    def state() -> str | None:
        return hub.statuses[-1]["state"] if hub.statuses else None

    def queued() -> int | None:
        detail = hub.statuses[-1]["detail"] if hub.statuses else None
        return detail["queue"] if detail else None

    with agent_process(config) as proc:
        await until(lambda: state() == "online", "the agent process online", state=hub.seen)
        await hub.send("j1", chit(1))
        await hub.send("j2", chit(2))
        await hub.wait_acks(lambda: hub.ok() == ["j1", "j2"], "j1 and j2 acked")
        # j3-j5 wait together (cover open), then go out as one run; the printer stops
        # answering after it: every job of the run may be on paper, none is known printed
        printer.set_cover_open(True)
        for n in (3, 4, 5):
            await hub.send(f"j{n}", chit(n))
        await until(lambda: queued() == 3, "j3-j5 queued behind the open cover", state=hub.seen)
        printer.stall(after_cut=True)
        printer.set_cover_open(False)
        await hub.wait_acks(
            lambda: (
                {("j3", "timeout"), ("j4", "timeout"), ("j5", "timeout")} <= set(hub.failures())
            ),
            "j3-j5 to time out",
        )
        proc.kill()  # SIGKILL: no clean disconnect, no goodbye
        await until(lambda: state() == "offline", "the last will (offline)", state=hub.seen)
        assert hub.statuses[-1] == {"state": "offline", "kind": "printer", "detail": None}
    before = [(number(r), reprint(r)) for r in complete(printer)]
    assert before == [(1, False), (2, False), (3, False), (4, False), (5, False)]

    printer.unstall()
    with agent_process(config):
        await hub.wait_acks(
            lambda: hub.ok() == ["j1", "j2", "j3", "j4", "j5"], "every job acked after the restart"
        )
        assert state() == "online"

    printed = [(number(r), reprint(r)) for r in complete(printer)]
    # the run reached paper before the crash; after the restart each job of it is printed
    # again, marked
    assert printed == [*before, (3, True), (4, True), (5, True)]
