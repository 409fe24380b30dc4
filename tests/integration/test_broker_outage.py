"""After a 20 s outage of the real Mosquitto (stopped, then started again on the same port) the
hub's MQTT session is back within 2 s of the broker's return, as /healthz shows: the hub backs
off only while the broker is still down (reconnect cap of a second, hub/bus/client.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.app import RunningHub, running_hub
from hub.bus.client import BrokerConfig
from hub.config import HubConfig
from hub.ops.mosquitto import Mosquitto
from tests.waiting import until

OUTAGE_S = 20.0
BACK_WITHIN_S = 2.0


@pytest.fixture
async def own_broker(tmp_path: Path) -> AsyncIterator[Mosquitto]:
    """A broker of this test's own (the session's is shared by every other test)."""
    mq = Mosquitto(tmp_path / "mq")
    await asyncio.to_thread(mq.start)
    try:
        yield mq
    finally:
        await asyncio.to_thread(mq.stop)


@pytest.fixture
async def outage_hub(
    hub_config: HubConfig, menu_doc: dict[str, Any], own_broker: Mosquitto
) -> AsyncIterator[RunningHub]:
    broker = BrokerConfig(port=own_broker.port, client_id="outage-hub")
    async with running_hub(replace(hub_config, broker=broker), seed_menu=menu_doc) as running:
        yield running


async def broker_connected(http: aiohttp.ClientSession, hub: RunningHub) -> bool:
    async with http.get(f"{hub.url}/healthz") as r:
        return bool((await r.json())["broker_connected"])


@pytest.mark.timeout(OUTAGE_S + 60)
async def test_the_hub_is_back_within_two_seconds_of_the_broker(
    outage_hub: RunningHub, own_broker: Mosquitto, http: aiohttp.ClientSession
) -> None:
    hub = outage_hub
    assert hub.bus is not None
    await until(lambda: broker_connected(http, hub), "the hub to connect", every=0.05)
    await asyncio.to_thread(own_broker.stop)
    down_at = time.monotonic()
    bus = hub.bus

    async def down() -> bool:
        return not await broker_connected(http, hub)

    await until(down, "the hub to notice the outage")
    # the outage itself lasts 20 s (a scenario's length, not a wait for the hub), meanwhile the
    # hub keeps trying and backing off
    await asyncio.sleep(max(0.0, down_at + OUTAGE_S - time.monotonic()))
    assert not await broker_connected(http, hub)
    before = bus.connections
    await asyncio.to_thread(own_broker.start)  # same port, listening when this returns
    back_at = time.monotonic()
    await until(
        lambda: broker_connected(http, hub),
        "the hub's MQTT session back after the broker's return",
        timeout=10.0,
        every=0.02,
    )
    took = time.monotonic() - back_at
    print(f"MQTT session back {took:.2f} s after the broker's return ({OUTAGE_S:.0f} s outage)")
    assert bus.connections == before + 1
    assert took < BACK_WITHIN_S, f"back {took:.2f} s after the broker (at most {BACK_WITHIN_S})"
