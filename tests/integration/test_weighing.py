"""Items sold by weight: ordered without a price, weighed on a real scale reading (MQTT),
priced on the hub, shown to the diner."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import aiomqtt

from hub.app import RunningHub
from hub.ops.mosquitto import Mosquitto
from tests.conftest import order_body, table_token
from tests.waiting import until

LOBSTER = [
    {"item": "live-lobster", "qty": 1, "modifiers": ["lobster-noodles"]},
    {"item": "sea-salt-edamame", "qty": 1},
]


async def recv(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    async with asyncio.timeout(5):
        while True:
            msg: dict[str, Any] = await ws.receive_json()
            if msg["type"] == kind:
                return msg


async def test_weighed_line_is_priced_from_a_stable_reading(
    hub: RunningHub, broker: Mosquitto, http: aiohttp.ClientSession, kitchen_token: str
) -> None:
    auth = {"Authorization": f"Bearer {kitchen_token}"}
    token = table_token(hub, "T8")
    async with http.post(
        f"{hub.url}/api/v1/orders", json=order_body(token, "lobster-0001", LOBSTER)
    ) as r:
        assert r.status == 201
        order = await r.json()
    lobster, edamame = order["lines"]
    assert lobster["weight_pending"] is True
    assert lobster["line_cents"] == 600  # only the noodles until it is weighed
    assert order["total_cents"] == 600 + edamame["line_cents"]
    weigh = f"{hub.url}/api/v1/orders/{order['order_id']}/lines/0/weight"
    assert hub.bus is not None
    await asyncio.wait_for(hub.bus.connected.wait(), 5)
    async with (
        aiomqtt.Client("127.0.0.1", broker.port, identifier="scale-pass") as scale,
        http.ws_connect(
            hub.url.replace("http", "ws") + "/ws/table", params={"table": token}
        ) as diner,
    ):
        await recv(diner, "snapshot")
        topic = "tablehub/v1/demo/scales/pass/weight"
        await scale.publish(topic, json.dumps({"grams": 1180, "stable": False}), retain=True)
        weights = hub.services.live.weights
        await until(lambda: weights.get("pass") == (1180, False), "the moving reading")
        async with http.post(weigh, json={"scale": "pass"}, headers=auth) as r:
            assert r.status == 409  # still moving: nothing recorded
        await scale.publish(topic, json.dumps({"grams": 1234, "stable": True}), retain=True)
        await until(lambda: weights.get("pass") == (1234, True), "the stable reading")
        async with http.post(weigh, json={"scale": "pass"}, headers=auth) as r:
            assert r.status == 200
            weighed = await r.json()
        line = weighed["lines"][0]
        # 1,234 g at 12.00 per 100 g = 148.08, plus the noodles
        assert (line["grams"], line["line_cents"]) == (1234, 14808 + 600)
        assert weighed["total_cents"] == 14808 + 600 + edamame["line_cents"]
        seen = (await recv(diner, "order"))["order"]
        assert seen["lines"][0]["grams"] == 1234
        assert seen["total_cents"] == weighed["total_cents"]
    async with http.get(f"{hub.url}/api/v1/stations/wok/tickets", headers=auth) as r:
        (ticket,) = (await r.json())["tickets"]
    assert ticket["items"][0]["grams"] == 1234
    # the second line is not sold by weight, and a typed weight needs a sane value
    async with http.post(
        weigh.replace("/lines/0/", "/lines/1/"), json={"grams": 100}, headers=auth
    ) as r:
        assert (r.status, (await r.json())["field"]) == (409, "line")  # what the line is
    async with http.post(weigh, json={"grams": 0}, headers=auth) as r:
        assert (r.status, (await r.json())["field"]) == (422, "grams")
    async with http.post(weigh, json={}, headers=auth) as r:
        assert r.status == 422
