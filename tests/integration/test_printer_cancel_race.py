"""A cancel (the hub moved a job to the backup printer) that arrives just as the printer comes
back must not print the cancelled job, nor lose the job behind it.

Seen in `make chaos` (printer-offline): the agent journalled the cancel before taking the job
out of its queue; in that await the printer loop started the job, printed it, then popped the
*next* job off the queue as if it were the one printed. That job stayed `queued` in the
journal, so the hub's resends were answered "already queued" and it never printed."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomqtt
import pytest

from devices.printers.agent import PrinterAgent
from devices.printers.fake import FakeNetworkPrinter
from hub.mosquitto import Mosquitto
from tests.integration.test_printer_agent import Hub, chit, make_agent, number, running, until


@pytest.fixture
def printer() -> Iterator[FakeNetworkPrinter]:
    with FakeNetworkPrinter() as fake:
        yield fake


@pytest.fixture
async def side(broker: Mosquitto) -> AsyncIterator[Hub]:
    printer_id = f"p{uuid.uuid4().hex[:10]}"
    async with aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        identifier=f"hub-{printer_id}",
        protocol=aiomqtt.ProtocolVersion.V5,
    ) as client:
        hub = Hub(client, printer_id)
        task = asyncio.create_task(hub.listen())
        await asyncio.sleep(0.1)
        yield hub
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_cancel_while_the_printer_comes_back_loses_nothing(
    broker: Mosquitto,
    printer: FakeNetworkPrinter,
    side: Hub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    agent: PrinterAgent = make_agent(broker, printer, side.printer, tmp_path / "state")
    printer.set_cover_open(True)
    async with running(agent):
        for n in (1, 2, 3):
            await side.send(f"j{n}", chit(n))
        await until(lambda: side.failures() == [("j1", "cover_open")])
        mark = agent._journal_mark

        def slow_cancel(job_id: str, state: str, error: str | None) -> None:
            if state == "cancelled":
                time.sleep(0.8)  # a slow fsync: the printer loop runs meanwhile
            mark(job_id, state, error)

        monkeypatch.setattr(agent, "_journal_mark", slow_cancel)
        await side.send_raw(b'{"job_id": "j1", "cancel": true}')
        await asyncio.sleep(0.15)  # the cancel is being journalled
        printer.set_cover_open(False)  # the printer is back; the next retry is due in 0.2 s
        await until(lambda: sorted(side.ok()) == ["j2", "j3"], timeout=10)
        await asyncio.sleep(0.5)  # nothing else comes
    assert [number(r) for r in printer.printed if r.complete] == [2, 3]
    assert side.ok() == ["j2", "j3"]
    assert ("j1", "cancelled") in side.failures()
