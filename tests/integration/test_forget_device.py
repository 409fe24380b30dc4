"""A device gone for good (a printer replaced, a button retired) is forgotten by an admin:
its row, its retained status on the broker and its place on every screen go, and it comes
back only if it reports again. One that is online, or in the hub's config, is not."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import uuid
from typing import Any

import aiohttp
import aiomqtt
import pytest

from hub.app import RunningHub, running_hub
from hub.config import HubConfig, PrinterConfig
from hub.domain.events import DeviceStatusChanged
from hub.ops.mosquitto import Mosquitto
from hub.services import staff
from hub.store import repos
from tests.waiting import event, until

PREFIX = "tablehub/v1/demo"


def _topic(device_id: str) -> str:
    return f"{PREFIX}/devices/{device_id}/status"


async def _state(hub: RunningHub, device_id: str) -> str | None:
    got = await repos.read_device(hub.services.store, device_id)
    return None if got is None else got.state


async def _forget(
    http: aiohttp.ClientSession, hub: RunningHub, token: str, device_id: str
) -> tuple[int, Any]:
    async with http.post(
        f"{hub.url}/api/v1/admin/devices/{device_id}/forget",
        json={},
        headers={"Authorization": f"Bearer {token}"},
    ) as r:
        return r.status, await r.json()


async def _retained(broker: Mosquitto, topic: str) -> bytes | None:
    """The broker's retained message on `topic`, if any: retained messages come right after
    the subscription, so a marker published after it arrives after them."""
    marker = f"test/marker/{uuid.uuid4().hex}"
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier=f"r-{uuid.uuid4().hex}") as c:
        await c.subscribe(topic, qos=1)
        await c.subscribe(marker, qos=1)
        await c.publish(marker, b"end", qos=1)
        async with asyncio.timeout(10):
            async for message in c.messages:
                if str(message.topic) == marker:
                    return None
                payload = message.payload
                assert isinstance(payload, bytes)
                return payload
    raise AssertionError("no marker")


async def test_a_retired_button_is_forgotten_and_not_brought_back(
    hub: RunningHub,
    broker: Mosquitto,
    admin_token: str,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    device_id = f"button-old-{uuid.uuid4().hex[:8]}"
    topic = _topic(device_id)
    assert hub.bus is not None
    await event(hub.bus.connected, "the hub to connect")
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier=device_id) as button:
        await button.publish(topic, json.dumps({"state": "online", "kind": "button"}), retain=True)
        await until(lambda: _state(hub, device_id), "the button to be seen online")
        assert await _state(hub, device_id) == "online"
        status, body = await _forget(http, hub, admin_token, device_id)
        assert status == 409
        assert body["field"] == "device"
        assert await _state(hub, device_id) == "online"  # nothing forgotten
        await button.publish(topic, json.dumps({"state": "offline", "kind": "button"}), retain=True)
    await until(
        lambda: _state_is(hub, device_id, "offline"), "the button to be seen offline", every=0.02
    )
    assert await _retained(broker, topic) is not None

    caplog.set_level(logging.INFO)
    caplog.clear()  # from here on: the forgetting and what the hub hears after it
    seq = hub.services.store.committed_seq
    status, body = await _forget(http, hub, admin_token, device_id)
    assert status == 200, body
    assert body["forgotten"] == device_id
    assert body["device"]["state"] == "forgotten"
    assert body["device"]["kind"] == "button"
    # its row is gone, the screens and the cloud are told, the broker keeps no status of it
    assert await _state(hub, device_id) is None
    events = [
        e.event for e in await hub.services.store.events_after(seq, 50)
        if isinstance(e.event, DeviceStatusChanged) and e.event.device.id == device_id
    ]  # fmt: skip
    assert [e.device.state for e in events] == ["forgotten"]
    assert await _retained(broker, topic) is None
    async with http.get(
        f"{hub.url}/api/v1/devices", headers={"Authorization": f"Bearer {admin_token}"}
    ) as r:
        assert r.status == 200
        assert device_id not in {d["id"] for d in (await r.json())["devices"]}
    # the hub hears its own clearing of the retained status: not a bad message
    assert not [r for r in caplog.records if device_id in r.getMessage() and r.levelno >= 30]
    # forgetting it again: no such device
    status, body = await _forget(http, hub, admin_token, device_id)
    assert (status, body["field"]) == (404, "device")
    # and if it reports again, it is shown again
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier=device_id) as button:
        await button.publish(topic, json.dumps({"state": "online", "kind": "button"}), retain=True)
        await until(lambda: _state_is(hub, device_id, "online"), "the button back online")


async def _state_is(hub: RunningHub, device_id: str, state: str) -> bool:
    return await _state(hub, device_id) == state


async def test_forgetting_needs_an_admin_and_a_device_id(
    hub: RunningHub, admin_token: str, http: aiohttp.ClientSession
) -> None:
    await event(hub.bus.connected, "the hub to connect")  # forgetting clears it on the broker
    kitchen = await staff.issue(hub.services.store, "kitchen", "a kds")
    await hub.services.devices.report("printer-gone-1", "offline", "printer", {})
    status, _ = await _forget(http, hub, kitchen, "printer-gone-1")
    assert status == 403
    status, body = await _forget(http, hub, admin_token, "not%20a%20device")
    assert (status, body["field"]) == (422, "device")
    status, body = await _forget(http, hub, admin_token, "printer-never-seen")
    assert (status, body["field"]) == (404, "device")
    assert await _state(hub, "printer-gone-1") == "offline"  # none of those forgot it
    status, body = await _forget(http, hub, admin_token, "printer-gone-1")
    assert status == 200, body


async def test_a_printer_of_the_hubs_config_is_not_forgotten(
    hub_config: HubConfig, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    config = dataclasses.replace(
        hub_config, printers=(PrinterConfig(id="grill-1", stations=("grill",)),)
    )
    async with running_hub(config, seed_menu=menu_doc) as hub:
        token = await staff.issue(hub.services.store, "admin", "admin")
        await hub.services.devices.report("printer-grill-1", "offline", "printer", {})
        status, body = await _forget(http, hub, token, "printer-grill-1")
        assert (status, body["field"]) == (409, "device")
        assert "config" in body["message"]
        assert await _state(hub, "printer-grill-1") == "offline"
