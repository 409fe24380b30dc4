"""A device acts only on what it owns, on a real Mosquitto: a bump bar on its station's
tickets, a printer agent on its printer's jobs. The broker's ACL keeps each device on its own
topics, but ticket and job ids are easy to guess; the hub ignores a foreign id and logs it once
per device and reason, while the owner's own messages still work."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import aiomqtt
import pytest

from hub.app import RunningHub
from hub.config import PrinterConfig
from hub.store import repos
from tests.conftest import table_token

PREFIX = "tablehub/v1/demo"
LINES = [{"item": "chicken-satay", "qty": 1}, {"item": "beef-chow-fun", "qty": 1}]  # grill, wok


async def until(what: str, pred: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    try:
        async with asyncio.timeout(timeout):
            while not await pred():
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not seen within {timeout:.0f} s: {what}") from None


async def place(hub: RunningHub, key: str) -> dict[str, Any]:
    body = {"table": table_token(hub), "idempotency_key": key, "lines": LINES}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{hub.url}/api/v1/orders", json=body) as r,
    ):
        assert r.status == 201, await r.text()
        order: dict[str, Any] = await r.json()
        return order


def rejections(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "rejected message" in r.getMessage()]


async def ticket_status(hub: RunningHub, station: str, ticket_id: int) -> str:
    view = await hub.services.kitchen.station_view(station)
    if any(t.id == ticket_id for t in view["tickets"]):
        return "open"
    return "bumped" if any(t.id == ticket_id for t in view["recent"]) else "unknown"


async def test_a_bump_bar_cannot_bump_or_recall_another_stations_ticket(
    hub: RunningHub, device: aiomqtt.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "tablehub.router")
    order = await place(hub, "ownership-bump-1")
    tickets = {
        s: next(t.id for t in (await hub.services.kitchen.station_view(s))["tickets"])
        for s in ("grill", "wok")
    }
    assert {t.order_id for t in (await hub.services.kitchen.station_view("expo"))["tickets"]} == {
        order["order_id"]
    }

    async def press(station: str, action: str, press_id: str, ticket: int) -> None:
        msg = {"action": action, "id": press_id, "ticket": ticket}
        await device.publish(f"{PREFIX}/kds/{station}/bump", json.dumps(msg), qos=1)

    # the grill's bar names the wok's ticket, twice; then bumps its own
    await press("grill", "bump", "grill-1", tickets["wok"])
    await press("grill", "bump", "grill-2", tickets["wok"])
    await press("grill", "bump", "grill-3", tickets["grill"])

    async def grill_bumped() -> bool:
        return await ticket_status(hub, "grill", tickets["grill"]) == "bumped"

    await until("the grill's own bump", grill_bumped)  # the hub handles messages in order
    assert await ticket_status(hub, "wok", tickets["wok"]) == "open"

    # the wok's bar bumps its own ticket; the grill's bar then tries to recall it
    await press("wok", "bump", "wok-1", tickets["wok"])

    async def wok_bumped() -> bool:
        return await ticket_status(hub, "wok", tickets["wok"]) == "bumped"

    await until("the wok's own bump", wok_bumped)
    await press("grill", "recall", "grill-4", tickets["wok"])
    await press("grill", "recall", "grill-5", tickets["grill"])

    async def grill_recalled() -> bool:
        return await ticket_status(hub, "grill", tickets["grill"]) == "open"

    await until("the grill's own recall", grill_recalled)
    assert await ticket_status(hub, "wok", tickets["wok"]) == "bumped"
    rejected = rejections(caplog)
    assert rejected == [
        "mqtt: rejected message from bump bar at grill: a ticket of station 'wok', not of 'grill'"
    ], rejected  # three foreign messages, one line: once per device and reason


PRINTERS = (
    PrinterConfig(id="grill-1", stations=("grill",)),
    PrinterConfig(id="wok-1", stations=("wok",)),
)


@pytest.fixture
def printers() -> tuple[PrinterConfig, ...]:
    return PRINTERS


async def job_states(hub: RunningHub) -> dict[str, str]:
    return {j["id"]: j["state"] for j in await repos.read_jobs(hub.services.store)}


async def test_a_printer_agent_cannot_ack_another_printers_job(
    printing_hub: RunningHub, device: aiomqtt.Client, caplog: pytest.LogCaptureFixture
) -> None:
    hub = printing_hub
    caplog.set_level(logging.WARNING, "tablehub.router")
    await place(hub, "ownership-ack-1")
    tickets = {
        s: next(t.id for t in (await hub.services.kitchen.station_view(s))["tickets"])
        for s in ("grill", "wok")
    }
    grill_job, wok_job = f"chit-{tickets['grill']}-grill-1", f"chit-{tickets['wok']}-wok-1"

    async def both_sent() -> bool:
        states = await job_states(hub)
        return states.get(grill_job) == "sent" and states.get(wok_job) == "sent"

    await until("both chits sent to their printers", both_sent)

    async def ack(printer: str, job_id: str) -> None:
        msg = json.dumps({"job_id": job_id, "ok": True})
        await device.publish(f"{PREFIX}/printers/{printer}/acks", msg, qos=1)

    await ack("grill-1", wok_job)  # the grill printer's agent acks the wok's job, twice
    await ack("grill-1", wok_job)
    await ack("grill-1", grill_job)  # then its own

    async def grill_printed() -> bool:
        return (await job_states(hub)).get(grill_job) == "printed"

    await until("the grill's own ack", grill_printed)  # the hub handles messages in order
    assert (await job_states(hub))[wok_job] == "sent"
    assert rejections(caplog) == [
        "mqtt: rejected message from printer agent grill-1: an ack for a job of printer 'wok-1'"
    ]

    await ack("wok-1", wok_job)

    async def wok_printed() -> bool:
        return (await job_states(hub)).get(wok_job) == "printed"

    await until("the wok's own ack", wok_printed)
    assert len(rejections(caplog)) == 1
