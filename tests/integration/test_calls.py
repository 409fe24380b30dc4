"""Table calls: an ESP32 stand-in (a real MQTT client publishing what the ESPHome config
publishes) and the diner page open calls; the floor view shows them live; acknowledging turns
the button's LED state off; an unanswered call escalates."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import aiohttp
import aiomqtt

from hub.app import RunningHub, running_hub
from hub.config import HubConfig
from hub.ops.mosquitto import Mosquitto
from hub.services import staff
from tests.conftest import table_token
from tests.waiting import DEADLINE, hub_has_handled, until

PREFIX = "tablehub/v1/demo"


async def recv(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next live message of type `kind` (others are skipped)."""
    try:
        async with asyncio.timeout(DEADLINE):
            while True:
                msg: dict[str, Any] = await ws.receive_json()
                if msg["type"] == kind:
                    return msg
    except TimeoutError:
        raise AssertionError(f"no {kind!r} message on the live socket in {DEADLINE} s") from None


async def led_state(client: aiomqtt.Client, lit: bool) -> dict[str, Any]:
    """The next LED state with open == lit. The broker is shared by the session's hubs, so a
    retained state from an earlier test can arrive first; it is skipped, never taken."""
    seen: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(DEADLINE):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                state: dict[str, Any] = json.loads(message.payload)
                if state["open"] is lit:
                    return state
                seen.append(state)
    except TimeoutError:
        pass
    raise AssertionError(f"no LED state with open={lit}; saw {seen}")


async def test_esp32_button_call_shows_on_floor_and_ack_turns_led_off(
    hub: RunningHub, broker: Mosquitto, http: aiohttp.ClientSession
) -> None:
    floor = await staff.issue(hub.services.store, "floor", "floor phone")
    auth = {"Authorization": f"Bearer {floor}"}
    assert hub.bus is not None
    await asyncio.wait_for(hub.bus.connected.wait(), 5)
    url = hub.url.replace("http", "ws") + "/ws/floor"
    async with (
        http.ws_connect(url, headers=auth) as ws,
        aiomqtt.Client(
            "127.0.0.1",
            broker.port,
            identifier="table-button-T4",
            protocol=aiomqtt.ProtocolVersion.V5,
            will=aiomqtt.Will(f"{PREFIX}/devices/table-button-T4/status", b"offline", 1, True),
        ) as button,
    ):
        snap = await recv(ws, "snapshot")
        assert snap["calls"] == []
        await button.publish(
            f"{PREFIX}/devices/table-button-T4/status", b"online", qos=1, retain=True
        )
        # (the broker is shared by the session: other devices' retained states may come first)
        while (device := (await recv(ws, "device"))["device"])["id"] != "table-button-T4":
            pass
        assert device["state"] == "online"
        await button.subscribe(f"{PREFIX}/tables/T4/call/state", qos=1)
        press = json.dumps({"kind": "waiter", "id": "table-button-T4-1"})
        await button.publish(f"{PREFIX}/tables/T4/call", press, qos=1)
        call = (await recv(ws, "call"))["call"]
        assert (call["table"], call["kind"], call["state"]) == ("T4", "waiter", "open")
        assert (await led_state(button, True))["call_id"] == str(call["id"])
        # a second press while the call is open does not open a second call
        await button.publish(
            f"{PREFIX}/tables/T4/call",
            json.dumps({"kind": "waiter", "id": "table-button-T4-2"}),
            qos=1,
        )
        await hub_has_handled(button, f"{PREFIX}/tables/T4/call", before="the second press")
        async with http.get(f"{hub.url}/api/v1/calls", headers=auth) as r:
            assert [c["id"] for c in (await r.json())["calls"]] == [call["id"]]
        async with http.post(f"{hub.url}/api/v1/calls/{call['id']}/ack", headers=auth) as r:
            assert r.status == 200
            assert (await r.json())["state"] == "acked"
        assert (await led_state(button, False))["open"] is False
        assert (await recv(ws, "call"))["call"]["state"] == "acked"
        async with http.post(f"{hub.url}/api/v1/calls/{call['id']}/close", headers=auth) as r:
            assert (await r.json())["state"] == "closed"
        async with http.post(f"{hub.url}/api/v1/calls/{call['id']}/ack", headers=auth) as r:
            assert r.status == 409


DEVICE = """
import sys, time
import paho.mqtt.client as mqtt
port, topic = int(sys.argv[1]), sys.argv[2]
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="table-button-T9")
c.will_set(topic, b"offline", qos=1, retain=True)
c.connect("127.0.0.1", port, keepalive=15)
c.loop_start()
c.publish(topic, b"online", qos=1, retain=True).wait_for_publish(5)
print("up", flush=True)
time.sleep(60)
"""


async def test_dead_button_is_visible(
    hub: RunningHub, broker: Mosquitto, http: aiohttp.ClientSession, kitchen_token: str
) -> None:
    """A button that loses power (SIGKILL: no goodbye) shows offline through its last will."""
    auth = {"Authorization": f"Bearer {kitchen_token}"}
    topic = f"{PREFIX}/devices/table-button-T9/status"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DEVICE, str(broker.port), topic, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        assert await asyncio.wait_for(proc.stdout.readline(), 10) == b"up\n"

        async def state() -> str | None:
            async with http.get(f"{hub.url}/api/v1/devices", headers=auth) as r:
                devices = {d["id"]: d["state"] for d in (await r.json())["devices"]}
            return devices.get("table-button-T9")

        async def is_(wanted: str) -> bool:
            return await state() == wanted

        await until(lambda: is_("online"), "the button to show online", every=0.05)
        proc.kill()
        await until(lambda: is_("offline"), "the button's last will (offline)", every=0.05)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def test_diner_calls_and_escalation(hub: RunningHub, http: aiohttp.ClientSession) -> None:
    token = table_token(hub, "T7")
    body = {"table": token, "kind": "bill"}
    async with http.post(f"{hub.url}/api/v1/calls", json=body) as r:
        assert r.status == 201
        call = await r.json()
    async with http.post(f"{hub.url}/api/v1/calls", json=body) as r:
        assert r.status == 200
        assert (await r.json())["id"] == call["id"]
    async with http.post(f"{hub.url}/api/v1/calls", json={"table": token, "kind": "dance"}) as r:
        assert r.status == 422
        assert (await r.json())["field"] == "kind"
    calls = hub.services.calls
    calls.escalate_after_s = 3600
    assert await calls.escalate_due() == 0
    calls.escalate_after_s = 0
    assert await calls.escalate_due() == 1
    assert await calls.escalate_due() == 0  # once
    url = hub.url.replace("http", "ws") + "/ws/table"
    async with http.ws_connect(url, params={"table": token}) as ws:
        snap = await recv(ws, "snapshot")
        assert [(c["kind"], c["escalated"]) for c in snap["calls"]] == [("bill", True)]


async def test_hub_start_sets_every_led_from_the_store(
    hub_config: HubConfig, menu_doc: dict[str, Any], broker: Mosquitto
) -> None:
    """A state the broker kept from before (a restored or reinstalled box) must not leave a
    button lit: the hub publishes each table's LED state from its store when it connects."""
    topic = f"{PREFIX}/tables/T7/call/state"
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="stale-writer") as writer:
        stale = json.dumps({"open": True, "kind": "bill", "call_id": "999"})
        await writer.publish(topic, stale, qos=1, retain=True)
    async with (
        running_hub(hub_config, seed_menu=menu_doc),
        aiomqtt.Client("127.0.0.1", broker.port, identifier="table-button-T7") as button,
    ):
        await button.subscribe(topic, qos=1)
        state = await led_state(button, False)
        assert state == {"open": False, "kind": None, "call_id": None}
