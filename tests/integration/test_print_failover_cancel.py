"""Failover: the printer a job was moved away from answers the hub's cancel with
``{"ok": false, "error": "cancelled"}``, as the real agent does. That answer is about the job
on *that* printer; it must not cancel the job now queued on the backup.

Seen in `make chaos` (printer-offline): the hub settled the moved job as `cancelled` on that
ack, so a backup that had not printed it yet never did, and the chit was lost."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from hub.app import RunningHub
from hub.config import PrinterConfig
from hub.ops.mosquitto import Mosquitto
from tests.conftest import order_body, table_token
from tests.integration.test_print_queue import PRINTERS, StandInAgent, jobs_in, started
from tests.waiting import until


class CancellingAgent(StandInAgent):
    """The stand-in agents, answering a cancel as the real agent does."""

    def answer_to(self, printer: str, job: dict[str, Any]) -> dict[str, Any] | None:
        if job.get("cancel"):
            return {"ok": False, "error": "cancelled"}
        return self.answer.get(printer, {"ok": True})


@pytest.fixture
def printers() -> tuple[PrinterConfig, ...]:
    return PRINTERS


@pytest.fixture
async def agents(broker: Mosquitto) -> AsyncIterator[CancellingAgent]:
    async with started(broker, CancellingAgent) as a:
        yield a


async def test_cancel_ack_from_the_first_printer_keeps_the_job_on_the_backup(
    printing_hub: RunningHub, agents: CancellingAgent, http: aiohttp.ClientSession
) -> None:
    hub = printing_hub
    agents.answer["cold-1"] = {"ok": False, "error": "paper_out"}
    agents.answer["bar-1"] = None  # the backup is slow to answer
    async with http.post(
        f"{hub.url}/api/v1/orders", json=order_body(table_token(hub), "moved-0001")
    ) as r:
        assert r.status == 201

    async def cancel_answered() -> bool:
        return any(j.get("cancel") for j in agents.jobs.get("cold-1", [])) and bool(
            agents.docs("bar-1")
        )

    await until(cancel_answered, "the first printer's cancel and the backup's copy")
    agents.answer["bar-1"] = {"ok": True}  # the backup prints it (on the hub's resend)

    async def printed() -> bool:
        return len(await jobs_in(hub, "printed")) == 1

    await until(printed, "the job printed on the backup")
    assert await jobs_in(hub, "cancelled") == []
    (doc,) = {json.dumps(d, sort_keys=True) for d in agents.docs("bar-1")}
    assert json.loads(doc)["banner"] == "BACKUP FOR cold-1"
