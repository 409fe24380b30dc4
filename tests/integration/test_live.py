"""Live screens over real WebSockets: KDS tickets and diner order status, with reconnects."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from hub.app import RunningHub
from tests.conftest import order_body, table_token

WAIT = 5.0


async def recv(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next message of type `kind` (pings and other kinds are skipped)."""
    async with asyncio.timeout(WAIT):
        while True:
            msg: dict[str, Any] = await ws.receive_json()
            if msg["type"] == kind:
                return msg


async def place(
    http: aiohttp.ClientSession,
    hub: RunningHub,
    key: str,
    table: str = "T1",
    lines: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    async with http.post(
        f"{hub.url}/api/v1/orders", json=order_body(table_token(hub, table), key, lines)
    ) as r:
        assert r.status == 201, await r.text()
        order: dict[str, Any] = await r.json()
        return order


def kds_url(hub: RunningHub, station: str) -> str:
    return hub.url.replace("http", "ws") + f"/ws/kds/{station}"


async def test_kds_sees_new_tickets_and_bumps_live(
    hub: RunningHub, http: aiohttp.ClientSession, kitchen_token: str
) -> None:
    auth = {"Authorization": f"Bearer {kitchen_token}"}
    async with http.ws_connect(kds_url(hub, "bar"), headers=auth) as ws:
        snap = await recv(ws, "snapshot")
        assert snap["tickets"] == []
        assert snap["station"]["id"] == "bar"
        order = await place(
            http,
            hub,
            "live-kds-0001",
            lines=[
                {
                    "item": "brown-sugar-boba",
                    "qty": 2,
                    "modifiers": ["boba-large", "boba-sugar-half"],
                    "note": "<img src=x onerror=alert(1)>",
                }
            ],
        )
        msg = await recv(ws, "ticket")
        ticket = msg["ticket"]
        assert ticket["order_id"] == order["order_id"]
        assert ticket["status"] == "open"
        assert ticket["items"][0]["note"] == "<img src=x onerror=alert(1)>"
        async with http.post(
            f"{hub.url}/api/v1/tickets/{ticket['id']}/bump", json={}, headers=auth
        ) as r:
            assert r.status == 200
        msg = await recv(ws, "ticket")
        assert (msg["ticket"]["id"], msg["ticket"]["status"]) == (ticket["id"], "bumped")


async def test_screen_that_reconnects_misses_nothing_and_doubles_nothing(
    hub: RunningHub, http: aiohttp.ClientSession, kitchen_token: str
) -> None:
    auth = {"Authorization": f"Bearer {kitchen_token}"}
    async with http.ws_connect(kds_url(hub, "expo"), headers=auth) as ws:
        await recv(ws, "snapshot")
        first = await place(http, hub, "reconnect-0001")
        await recv(ws, "ticket")
    # the screen is gone while orders arrive and a ticket is bumped
    second = await place(http, hub, "reconnect-0002", table="T2")
    third = await place(http, hub, "reconnect-0003", table="T3")
    async with http.get(f"{hub.url}/api/v1/stations/expo/tickets", headers=auth) as r:
        tickets = (await r.json())["tickets"]
    first_ticket = next(t for t in tickets if t["order_id"] == first["order_id"])
    async with http.post(
        f"{hub.url}/api/v1/tickets/{first_ticket['id']}/bump", json={}, headers=auth
    ) as r:
        assert r.status == 200
    async with http.ws_connect(kds_url(hub, "expo"), headers=auth) as ws:
        snap = await recv(ws, "snapshot")
        open_orders = [t["order_id"] for t in snap["tickets"]]
        assert sorted(open_orders) == sorted([second["order_id"], third["order_id"]])
        assert len({t["id"] for t in snap["tickets"]}) == len(snap["tickets"])
        assert snap["recent"][0]["id"] == first_ticket["id"]
        assert {o["order_id"]: o["status"] for o in snap["orders"]}[first["order_id"]] == "ready"
        # nothing already in the snapshot is sent again
        await place(http, hub, "reconnect-0004", table="T4")
        msg = await recv(ws, "ticket")
        assert msg["seq"] > snap["seq"]
        assert msg["ticket"]["order_id"] not in open_orders


async def test_diner_page_follows_its_order_and_the_86_list(
    hub: RunningHub, http: aiohttp.ClientSession, kitchen_token: str
) -> None:
    auth = {"Authorization": f"Bearer {kitchen_token}"}
    token = table_token(hub, "T5")
    url = hub.url.replace("http", "ws") + "/ws/table"
    async with http.ws_connect(url, params={"table": token}) as ws:
        snap = await recv(ws, "snapshot")
        assert snap["orders"] == []
        order = await place(
            http, hub, "diner-ws-0001", table="T5", lines=[{"item": "sea-salt-edamame", "qty": 1}]
        )
        assert (await recv(ws, "order"))["order"]["status"] == "received"
        async with http.get(f"{hub.url}/api/v1/stations/expo/tickets", headers=auth) as r:
            (ticket,) = [
                t for t in (await r.json())["tickets"] if t["order_id"] == order["order_id"]
            ]
        async with http.post(
            f"{hub.url}/api/v1/tickets/{ticket['id']}/bump", json={}, headers=auth
        ) as r:
            assert r.status == 200
        assert (await recv(ws, "order"))["order"]["status"] == "ready"
        async with http.post(
            f"{hub.url}/api/v1/orders/{order['order_id']}/serve", json={}, headers=auth
        ) as r:
            assert r.status == 200
        assert (await recv(ws, "order"))["order"]["status"] == "served"
        async with http.post(
            f"{hub.url}/api/v1/items/sea-salt-edamame/availability",
            json={"available": False},
            headers=auth,
        ) as r:
            assert r.status == 200
        msg = await recv(ws, "availability")
        assert (msg["item"], msg["available"]) == ("sea-salt-edamame", False)
    # another table's page hears nothing of this table's orders
    async with http.ws_connect(url, params={"table": table_token(hub, "T6")}) as ws:
        snap = await recv(ws, "snapshot")
        assert snap["orders"] == []
        assert snap["sold_out"] == ["sea-salt-edamame"]


async def test_kds_socket_needs_staff(hub: RunningHub, http: aiohttp.ClientSession) -> None:
    async with http.get(hub.url + "/ws/kds/bar") as r:
        assert r.status == 401
    async with http.get(hub.url + "/ws/table", params={"table": "forged.token"}) as r:
        assert r.status == 403


async def test_item_bumps_recall_and_order_status(
    hub: RunningHub, http: aiohttp.ClientSession, kitchen_token: str
) -> None:
    auth = {"Authorization": f"Bearer {kitchen_token}"}
    order = await place(
        http,
        hub,
        "item-bumps-01",
        lines=[{"item": "sea-salt-edamame", "qty": 1}, {"item": "sea-salt-edamame", "qty": 2}],
    )
    async with http.get(f"{hub.url}/api/v1/stations/expo/tickets", headers=auth) as r:
        view = await r.json()
    (ticket,) = view["tickets"]
    assert view["all_day"] == [
        {"item": "sea-salt-edamame", "name": ticket["items"][0]["name"], "qty": 3}
    ]
    bump = f"{hub.url}/api/v1/tickets/{ticket['id']}/bump"
    async with http.post(bump, json={"item": 0, "id": "tap-1"}, headers=auth) as r:
        t = await r.json()
    assert t["status"] == "open"
    assert [i["bumped"] for i in t["items"]] == [True, False]
    # the same action id again changes nothing
    async with http.post(bump, json={"item": 0, "id": "tap-1"}, headers=auth) as r:
        assert [i["bumped"] for i in (await r.json())["items"]] == [True, False]
    async with http.get(f"{hub.url}/api/v1/orders/{order['order_id']}", headers=auth) as r:
        assert (await r.json())["status"] == "preparing"
    async with http.post(bump, json={"item": 1}, headers=auth) as r:
        assert (await r.json())["status"] == "bumped"
    async with http.get(f"{hub.url}/api/v1/orders/{order['order_id']}", headers=auth) as r:
        assert (await r.json())["status"] == "ready"
    async with http.post(bump, json={}, headers=auth) as r:
        assert r.status == 409
    station = ticket["station"]
    async with http.post(f"{hub.url}/api/v1/stations/{station}/recall", json={}, headers=auth) as r:
        recalled = await r.json()
    assert (recalled["id"], recalled["status"]) == (ticket["id"], "open")
    async with http.get(f"{hub.url}/api/v1/orders/{order['order_id']}", headers=auth) as r:
        assert (await r.json())["status"] == "received"
    async with http.post(f"{hub.url}/api/v1/stations/{station}/recall", json={}, headers=auth) as r:
        assert r.status == 409


async def test_a_repeated_bump_is_answered_with_its_ticket_as_it_is_now(
    hub: RunningHub, http: aiohttp.ClientSession, kitchen_token: str
) -> None:
    """A screen that did not hear the answer sends the same action id again: the ticket is
    not bumped twice, and the answer is the ticket as it is now. The id is kept on the ticket,
    which the bump writes anyway, not in a b-tree of its own (a bump is the kitchen's busiest
    write)."""
    auth = {"Authorization": f"Bearer {kitchen_token}"}
    await place(http, hub, "repeat-bump-01")
    async with http.get(f"{hub.url}/api/v1/stations/expo/tickets", headers=auth) as r:
        (ticket,) = (await r.json())["tickets"]
    bump = f"{hub.url}/api/v1/tickets/{ticket['id']}/bump"
    async with http.post(bump, json={"id": "bar-3-press-41"}, headers=auth) as r:
        first = await r.json()
    assert (r.status, first["status"]) == (200, "bumped")
    async with http.post(bump, json={"id": "bar-3-press-41"}, headers=auth) as r:
        assert (r.status, await r.json()) == (200, first)
    (kept,) = await hub.services.store.read_all(
        "SELECT acts FROM tickets WHERE id=?", (ticket["id"],)
    )
    assert json.loads(kept[0]) == [["bump", "bar-3-press-41"]]
    assert await hub.services.store.read_all("SELECT id FROM actions") == []

    recall = f"{hub.url}/api/v1/tickets/{ticket['id']}/recall"
    async with http.post(recall, json={}, headers=auth) as r:
        assert (await r.json())["status"] == "open"
    # the repeat arrives after the recall: nothing is bumped, the ticket is shown as it is
    async with http.post(bump, json={"id": "bar-3-press-41"}, headers=auth) as r:
        again = await r.json()
    assert (r.status, again["id"], again["status"]) == (200, ticket["id"], "open")
    async with http.get(f"{hub.url}/api/v1/stations/expo/tickets", headers=auth) as r:
        assert [t["id"] for t in (await r.json())["tickets"]] == [ticket["id"]]
    # the id is still that bump's: another action with it is refused
    async with http.post(recall, json={"id": "bar-3-press-41"}, headers=auth) as r:
        assert (r.status, (await r.json())["field"]) == (409, "id")


async def test_a_screens_action_id_is_kept_on_its_ticket_and_a_bars_store_wide(
    hub: RunningHub, http: aiohttp.ClientSession, kitchen_token: str
) -> None:
    """A screen's tap names its ticket: its id, reused on another ticket (a screen that
    counts its taps from 1 again after a reload), is a new bump there, not a silent no-op. A
    station's recall names no ticket: its repeat is answered, and recalls nothing more."""
    auth = {"Authorization": f"Bearer {kitchen_token}"}
    satay = [{"item": "chicken-satay", "qty": 1}]  # grill
    await place(http, hub, "reused-id-0001", lines=satay)
    await place(http, hub, "reused-id-0002", table="T2", lines=satay)
    async with http.get(f"{hub.url}/api/v1/stations/grill/tickets", headers=auth) as r:
        first, second = (t["id"] for t in (await r.json())["tickets"])
    for tid in (first, second):
        async with http.post(
            f"{hub.url}/api/v1/tickets/{tid}/bump", json={"id": "tap-1"}, headers=auth
        ) as r:
            got = await r.json()
            assert (r.status, got["id"], got["status"]) == (200, tid, "bumped")
    recall = f"{hub.url}/api/v1/stations/grill/recall"
    for _ in range(2):
        async with http.post(recall, json={"id": "recall-1"}, headers=auth) as r:
            got = await r.json()
            assert (r.status, got["id"], got["status"]) == (200, second, "open")
    async with http.get(f"{hub.url}/api/v1/stations/grill/tickets", headers=auth) as r:
        assert [t["id"] for t in (await r.json())["tickets"]] == [second]  # one recall


async def test_the_expo_sees_and_recalls_every_stations_bumps_newest_first(
    hub: RunningHub, http: aiohttp.ClientSession, kitchen_token: str
) -> None:
    """Bumps at four stations, in an order no station or id sorts by: the expo's recent list
    is newest first across the stations, its recall takes the newest back, then the one
    before it, and a ticket bumped again is the newest again."""
    auth = {"Authorization": f"Bearer {kitchen_token}"}
    items = ("chicken-satay", "veggie-spring-rolls", "sea-salt-edamame", "hot-jasmine-tea")
    await place(http, hub, "expo-bumps-01", lines=[{"item": i, "qty": 1} for i in items])
    expo = f"{hub.url}/api/v1/stations/expo/tickets"
    async with http.get(expo, headers=auth) as r:
        by_station = {t["station"]: t["id"] for t in (await r.json())["tickets"]}
    assert set(by_station) == {"grill", "wok", "cold", "bar"}, by_station
    for station in ("wok", "bar", "grill", "cold"):
        url = f"{hub.url}/api/v1/tickets/{by_station[station]}/bump"
        async with http.post(url, json={}, headers=auth) as r:
            assert r.status == 200, await r.text()

    async def recent() -> list[str]:
        async with http.get(expo, headers=auth) as r:
            ids = [t["id"] for t in (await r.json())["recent"]]
        station_of = {v: k for k, v in by_station.items()}
        return [station_of[i] for i in ids]

    assert await recent() == ["cold", "grill", "bar", "wok"]
    recall = f"{hub.url}/api/v1/stations/expo/recall"
    for want in ("cold", "grill"):
        async with http.post(recall, json={}, headers=auth) as r:
            got = await r.json()
        assert (got["id"], got["status"]) == (by_station[want], "open"), got
    assert await recent() == ["bar", "wok"]
    async with http.post(
        f"{hub.url}/api/v1/tickets/{by_station['cold']}/bump", json={}, headers=auth
    ) as r:
        assert r.status == 200
    assert await recent() == ["cold", "bar", "wok"]
    # each station's own recall takes its own newest, whatever the others did since
    async with http.post(f"{hub.url}/api/v1/stations/wok/recall", json={}, headers=auth) as r:
        assert (await r.json())["id"] == by_station["wok"]
    assert await recent() == ["cold", "bar"]
