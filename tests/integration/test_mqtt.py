"""The hub on a real Mosquitto: KDS events out, bump bars in, bad messages refused, and no
event lost while the broker is down."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from hub.app import RunningHub, running_hub
from hub.bus.client import BrokerConfig
from hub.config import HubConfig
from hub.ops.mosquitto import Mosquitto
from tests.conftest import order_body, table_token
from tests.waiting import event, hub_has_handled, until

PREFIX = "tablehub/v1/demo"


async def next_json(client: aiomqtt.Client, timeout: float = 5.0) -> tuple[str, Any]:
    async with asyncio.timeout(timeout):
        async for message in client.messages:
            payload = message.payload
            assert isinstance(payload, bytes)
            text = payload.decode()
            return str(message.topic), (json.loads(text) if text.startswith("{") else text)
    raise AssertionError("no message")


async def place(
    http: aiohttp.ClientSession, hub: RunningHub, key: str, table: str = "T1"
) -> dict[str, Any]:
    async with http.post(
        f"{hub.url}/api/v1/orders", json=order_body(table_token(hub, table), key)
    ) as r:
        assert r.status == 201
        order: dict[str, Any] = await r.json()
        return order


async def test_hub_announces_itself_retained(hub: RunningHub, broker: Mosquitto) -> None:
    assert hub.bus is not None
    await asyncio.wait_for(hub.bus.connected.wait(), 5)
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="late-joiner") as late:
        await late.subscribe(f"{PREFIX}/hub/status", qos=1)
        topic, payload = await next_json(late)
    assert (topic, payload) == (f"{PREFIX}/hub/status", "online")


async def test_tickets_are_published_to_their_station(
    hub: RunningHub, device: aiomqtt.Client, http: aiohttp.ClientSession
) -> None:
    await device.subscribe(f"{PREFIX}/kds/+/events", qos=1)
    order = await place(http, hub, "mqtt-events-01")
    topic, event = await next_json(device)
    assert topic == f"{PREFIX}/kds/{event['ticket']['station']}/events"
    assert event["kind"] == "ticket.created"
    assert event["ticket"]["order_id"] == order["order_id"]
    assert event["seq"] > 0


async def test_bump_bar_bumps_the_oldest_ticket_once(
    hub: RunningHub, device: aiomqtt.Client, http: aiohttp.ClientSession
) -> None:
    await place(http, hub, "mqtt-bump-0001", table="T1")
    await place(http, hub, "mqtt-bump-0002", table="T2")
    view = await hub.services.kitchen.station_view("cold")
    first, second = (t.id for t in view["tickets"])
    bump = json.dumps({"action": "bump", "id": "press-1"})
    await device.publish(f"{PREFIX}/kds/cold/bump", bump, qos=1)
    await device.publish(f"{PREFIX}/kds/cold/bump", bump, qos=1)  # a repeated delivery

    async def first_bumped() -> bool:
        v = await hub.services.kitchen.station_view("cold")
        return [t.id for t in v["tickets"]] == [second]

    await until(first_bumped, "the first press to bump the oldest ticket")
    await hub_has_handled(device, f"{PREFIX}/kds/cold/bump", before="the repeated press")
    view = await hub.services.kitchen.station_view("cold")
    assert [t.id for t in view["tickets"]] == [second]
    assert view["recent"][0].id == first
    await device.publish(
        f"{PREFIX}/kds/cold/bump", json.dumps({"action": "recall", "id": "press-2"}), qos=1
    )

    async def recalled() -> bool:
        v = await hub.services.kitchen.station_view("cold")
        return sorted(t.id for t in v["tickets"]) == sorted([first, second])

    await until(recalled, "the recall to bring the bumped ticket back")


async def test_bad_messages_are_refused_and_logged_once(
    hub: RunningHub,
    device: aiomqtt.Client,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "tablehub.router")
    await place(http, hub, "mqtt-garbage-01")
    before = await hub.services.kitchen.station_view("cold")
    for payload in (
        b"not json",
        b"not json",
        b'{"action":"explode","id":"x"}',
        b'{"action":"bump"}',
        b"\xff\xfe",
    ):
        await device.publish(f"{PREFIX}/kds/cold/bump", payload, qos=1)
    await device.publish(f"{PREFIX}/kds/no-such-station/bump", b'{"action":"bump","id":"y"}', qos=1)
    assert hub.bus is not None

    def rejected_now() -> list[str]:
        messages = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
        return [m for m in messages if "marker-" not in m]

    # every message on the cold topic has been handled, and the one to the unknown station
    # has been refused: nothing further can be logged for them
    await hub_has_handled(device, f"{PREFIX}/kds/cold/bump", before="the garbage")
    await until(
        lambda: any("no-such-station" in m for m in rejected_now()),
        "the message to an unknown station to be refused",
        state=rejected_now,
    )
    rejected = rejected_now()
    assert len(rejected) == 5, rejected  # the repeated garbage is logged once
    assert all("bump bar at" in m for m in rejected)
    assert any("no-such-station" in m for m in rejected)
    after = await hub.services.kitchen.station_view("cold")
    assert after == before


async def test_events_wait_for_the_broker(
    tmp_path: Path, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    """Orders placed while the broker is down reach the kitchen's MQTT devices afterwards."""
    mq = Mosquitto(tmp_path / "mq")
    mq.start()
    config = HubConfig(
        data_dir=tmp_path / "data",
        http_port=0,
        broker=BrokerConfig(port=mq.port, client_id="hub-outage"),
    )
    try:
        async with running_hub(config, seed_menu=menu_doc) as hub:
            assert hub.bus is not None
            await asyncio.wait_for(hub.bus.connected.wait(), 5)
            mq.kill9()
            bus = hub.bus
            await until(lambda: not bus.connected.is_set(), "the hub to see the broker gone")
            ids = [
                (await place(http, hub, f"outage-{n:05d}", table=f"T{n + 1}"))["order_id"]
                for n in range(5)
            ]
            mq.start()
            got: list[int] = []
            async with aiomqtt.Client("127.0.0.1", mq.port, identifier="kds-after") as kds:
                await kds.subscribe(f"{PREFIX}/kds/+/events", qos=1)
                async with asyncio.timeout(20):
                    async for message in kds.messages:
                        assert isinstance(message.payload, bytes)
                        got.append(json.loads(message.payload)["ticket"]["order_id"])
                        if sorted(set(got)) == ids:
                            break
            assert sorted(set(got)) == ids
    finally:
        mq.stop()


async def collect_tickets(
    client: aiomqtt.Client, want: set[int], timeout: float = 20.0
) -> list[tuple[int, int]]:
    """(seq, order id) of every ticket event until each order in `want` has been seen."""
    got: list[tuple[int, int]] = []
    async with asyncio.timeout(timeout):
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            event = json.loads(message.payload)
            got.append((event["seq"], event["ticket"]["order_id"]))
            if want <= {order for _, order in got}:
                break
    return got


async def test_a_burst_reaches_mqtt_complete_in_order_and_once(
    hub: RunningHub, device: aiomqtt.Client, http: aiohttp.ClientSession
) -> None:
    """Orders placed at once are published in batches: every ticket event arrives, in the
    order of its seq, none twice, and the relay's cursor ends on the last one."""
    await device.subscribe(f"{PREFIX}/kds/+/events", qos=1)
    orders = await asyncio.gather(
        *(place(http, hub, f"burst-{n:04d}", table=f"T{n % 12 + 1}") for n in range(120))
    )
    ids = {o["order_id"] for o in orders}
    got = await collect_tickets(device, ids)
    seqs = [seq for seq, _ in got]
    assert seqs == sorted(seqs)
    assert len(seqs) == len(set(seqs))
    assert {order for _, order in got} == ids
    assert hub.relay is not None
    await until(lambda: _caught_up(hub), "the relay to catch up")
    assert hub.relay.sent >= len(got)
    async with http.get(f"{hub.url}/healthz") as r:
        relay = (await r.json())["mqtt_relay"]
    assert relay["behind"] == 0
    assert relay["published_upto"] >= max(seqs)
    assert relay["published"] >= len(got)


async def _caught_up(hub: RunningHub) -> bool:
    assert hub.relay is not None
    return hub.relay.cursor >= hub.services.store.committed_seq


async def test_a_connection_dropped_mid_burst_loses_no_ticket(
    hub: RunningHub,
    hub_config: HubConfig,
    device: aiomqtt.Client,
    http: aiohttp.ClientSession,
    broker: Mosquitto,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The hub's connection drops while orders stream in (another client takes over its
    client id, which makes the broker close it): once the hub has reconnected every ticket
    event is published, any it sent again with its own seq."""
    assert hub.bus is not None
    assert hub.relay is not None
    await asyncio.wait_for(hub.bus.connected.wait(), 5)
    await device.subscribe(f"{PREFIX}/kds/+/events", qos=1)
    caplog.set_level(logging.INFO, logger="tablehub.bus")

    dropped = asyncio.Event()

    async def stream() -> set[int]:
        ids: set[int] = set()
        for group in range(16):
            if group == 8:  # half the orders come after the drop, however fast this machine is
                await event(dropped, "the hub's connection to be taken over")
            placed = await asyncio.gather(
                *(place(http, hub, f"drop-{group:02d}-{n}", table=f"T{n + 1}") for n in range(10))
            )
            ids |= {o["order_id"] for o in placed}
        return ids

    orders = asyncio.create_task(stream())
    relay = hub.relay
    await until(lambda: relay.sent >= 20, "the relay to publish 20 ticket events", every=0.001)
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, identifier=hub_config.broker.client_id, clean_session=True
    ):
        pass  # the broker closes the hub's connection: same client id
    dropped.set()
    ids = await orders
    got = await collect_tickets(device, ids, timeout=30)
    by_seq: dict[int, int] = {}
    for seq, order in got:
        assert by_seq.setdefault(seq, order) == order  # a repeat carries its own seq
    assert {order for _, order in got} == ids
    tickets = [e for e in await hub.services.store.events_after(0, 10_000) if e.stream == "tickets"]
    assert set(by_seq) == {e.seq for e in tickets}
    connects = [r for r in caplog.records if r.getMessage().startswith("connected to broker")]
    assert len(connects) >= 1  # it did reconnect (the first connect was before the capture)


async def test_tickets_a_crashed_broker_lost_are_published_again(
    tmp_path: Path, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    """A kitchen device with a persistent session is offline; the broker acknowledges the
    hub's tickets, queues them for it, and is killed before it saves them. After the
    restart the hub publishes again what the broker took in the seconds before the drop,
    and the device gets every ticket (repeats keep their seq)."""
    mq = Mosquitto(tmp_path / "mq", autosave_interval=3600)  # saves only when stopped
    mq.start()
    config = HubConfig(
        data_dir=tmp_path / "data",
        http_port=0,
        broker=BrokerConfig(port=mq.port, client_id="hub-replay"),
    )

    def kitchen_device() -> aiomqtt.Client:
        return aiomqtt.Client(
            "127.0.0.1",
            mq.port,
            identifier="kds-persistent",
            clean_session=False,
        )

    try:
        async with kitchen_device() as kds:
            await kds.subscribe(f"{PREFIX}/kds/+/events", qos=1)
        mq.stop()  # a clean stop saves the device's session and subscription
        mq.start()
        async with running_hub(config, seed_menu=menu_doc) as hub:
            assert hub.bus is not None
            assert hub.relay is not None
            await asyncio.wait_for(hub.bus.connected.wait(), 10)
            ids = {
                (await place(http, hub, f"replay-{n:04d}", table=f"T{n % 12 + 1}"))["order_id"]
                for n in range(12)
            }
            # every ticket acknowledged by the broker
            await until(lambda: _caught_up(hub), "the broker to acknowledge every ticket")
            first = hub.bus.connections
            mq.kill9()  # the tickets queued for the device die with it
            mq.start()
            bus = hub.bus
            await until(
                lambda: bus.connections != first and bus.connected.is_set(),
                "the hub to reconnect to the restarted broker",
            )
            await until(lambda: _caught_up(hub), "the relay to catch up after the restart")
            assert hub.relay.replayed > 0
            async with kitchen_device() as kds:
                got = await collect_tickets(kds, ids, timeout=10)
        assert {order for _, order in got} == ids
    finally:
        mq.stop()
