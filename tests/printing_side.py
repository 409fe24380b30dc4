"""The hub's side of a printer agent in tests: kitchen chits to send, a real MQTT client that
publishes jobs and records acks and the retained status, and an agent on a fake network
printer, run until a block ends."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiomqtt

from devices.agent import MqttSettings
from devices.printers.agent import PrinterAgent, PrinterSettings
from devices.printers.driver import EscposDriver
from devices.printers.fake import FakeNetworkPrinter, Receipt
from devices.printers.journal import SharedJournal
from hub.bus import contract
from hub.ops.mosquitto import Mosquitto
from tests.contract.update_goldens import SIMPLE_CHIT
from tests.waiting import event, until

STORE = "demo"
PREFIX = f"tablehub/v1/{STORE}"


def chit(number: int, **changes: Any) -> dict[str, Any]:
    """Kitchen chit number `number`, its one dish named after it."""
    dish = {"qty": 1, "name": f"Dish {number}", "modifiers": ["Hot"]}
    return {**SIMPLE_CHIT, "number": number, "round": 1, "items": [dish], **changes}


def number(receipt: Receipt) -> int:
    (line,) = [x.strip() for x in receipt.lines if x.strip().startswith("#")]
    return int(line[1:])


def reprint(receipt: Receipt) -> bool:
    return "REPRINT" in receipt.banners


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


def make_agent(
    broker: Mosquitto,
    printer: FakeNetworkPrinter,
    printer_id: str,
    state_dir: Path,
    driver: EscposDriver | None = None,
    *,
    journal: SharedJournal | None = None,
    **settings: Any,
) -> PrinterAgent:
    """The agent of printer `printer_id` on `printer` (or on `driver`, if given), polling and
    retrying quickly, journalling in `journal` if given (else a file of its own); `settings`
    are any other `PrinterSettings`."""
    return PrinterAgent(
        printer_id,
        STORE,
        driver or EscposDriver(printer.address, timeout=0.5),
        MqttSettings(port=broker.port, keepalive=5),
        state_dir,
        settings=PrinterSettings(poll_interval=0.3, retry_interval=0.2, **settings),
        journal=journal,
    )


@contextlib.asynccontextmanager
async def running(agent: PrinterAgent) -> AsyncIterator[PrinterAgent]:
    """Run the agent until the block ends; jobs sent before it subscribed would be the hub's
    to resend, so wait until it is connected."""
    async with agent:
        await asyncio.wait_for(agent.link.connected.wait(), 5)
        yield agent
