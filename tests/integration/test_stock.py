"""Stock counts through real HTTP on a real store: the kitchen sets "3 tonight", each order
takes from the count in its own write, an order for more than remains is refused saying how
many are left, the item sells out at zero on every screen at once, a void of a line not yet
made puts it back (a comp does not), many phones at the last portions get exactly as many
orders as there were portions, and the count survives a restart."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest

from hub.app import RunningHub, running_hub
from hub.config import HubConfig
from hub.domain.orders import LineRequest
from hub.services import staff
from plumbing.packed import unpack
from tests.conftest import order_body, table_token
from tests.waiting import until

EDAMAME = "sea-salt-edamame"
LOBSTER = {"item": "live-lobster", "qty": 1, "modifiers": ["lobster-ginger-scallion"]}


class Client:
    def __init__(self, hub: RunningHub, http: aiohttp.ClientSession, tokens: dict[str, str]):
        self.hub, self.http, self.tokens = hub, http, tokens

    async def call(
        self, method: str, path: str, role: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        async with self.http.request(method, self.hub.url + path, json=body, headers=headers) as r:
            return r.status, await r.json()

    async def stock(
        self, item: str, body: dict[str, Any], role: str = "kitchen"
    ) -> tuple[int, Any]:
        return await self.call("POST", f"/api/v1/items/{item}/stock", role, body)

    async def order(
        self, key: str, lines: list[dict[str, Any]], table: str = "T1"
    ) -> tuple[int, Any]:
        return await self.call(
            "POST", "/api/v1/orders", body=order_body(table_token(self.hub, table), key, lines)
        )

    async def menu_item(self, item: str) -> dict[str, Any]:
        status, menu = await self.call("GET", f"/api/v1/menu?table={table_token(self.hub)}")
        assert status == 200
        found: dict[str, Any] = next(i for i in menu["items"] if i["id"] == item)
        return found

    async def staff_item(self, item: str) -> dict[str, Any]:
        status, doc = await self.call("GET", "/api/v1/items", "kitchen")
        assert status == 200
        found: dict[str, Any] = next(i for i in doc["items"] if i["id"] == item)
        return found


@pytest.fixture
async def client(lone_hub: RunningHub, http: aiohttp.ClientSession) -> Client:
    store = lone_hub.services.store
    tokens = {
        role: await staff.issue(store, role, f"test {role}")
        for role in ("kitchen", "floor", "admin")
    }
    return Client(lone_hub, http, tokens)


async def test_orders_take_from_the_count_and_the_item_sells_out_at_zero(client: Client) -> None:
    status, item = await client.stock(EDAMAME, {"count": 3, "low_at": 1, "id": "stock-0001"})
    assert status == 200, item
    assert (item["stock_left"], item["low_at"], item["stock_low"]) == (3, 1, False)
    assert (await client.menu_item(EDAMAME))["stock_left"] == 3
    assert "stock_left" not in await client.menu_item("pork-gyoza")  # not counted

    status, _ = await client.order("stock-order-01", [{"item": EDAMAME, "qty": 2}])
    assert status == 201
    assert (await client.menu_item(EDAMAME))["stock_left"] == 1
    assert (await client.staff_item(EDAMAME))["stock_low"] is True

    # two more than the one left: refused whole, naming the line, saying how many are left
    lines = [{"item": "pork-gyoza", "qty": 1, "modifiers": ["gyoza-sauce-vinegar"]}]
    lines += [{"item": EDAMAME, "qty": 1}, {"item": EDAMAME, "qty": 1}]
    status, err = await client.order("stock-order-02", lines)
    assert status == 409, err
    assert (err["error"], err["field"], err["left"]) == ("not_enough_left", "lines[1].qty", 1)
    assert "only 1" in err["message"]
    rows = await client.hub.services.store.read_all("SELECT id FROM orders")
    assert len(rows) == 1  # nothing of the refused order was saved

    status, _ = await client.order("stock-order-03", [{"item": EDAMAME, "qty": 1}])
    assert status == 201
    menu_item = await client.menu_item(EDAMAME)
    assert (menu_item["stock_left"], menu_item["available"]) == (0, False)
    status, err = await client.order("stock-order-04", [{"item": EDAMAME, "qty": 1}], "T2")
    assert (status, err["error"], err["field"]) == (409, "sold_out", "lines[0].item")

    # the kitchen finds two more: on sale again
    status, item = await client.stock(EDAMAME, {"count": 2, "id": "stock-0002"})
    assert (status, item["available"], item["stock_left"]) == (200, True, 2)
    status, _ = await client.order("stock-order-05", [{"item": EDAMAME, "qty": 2}], "T2")
    assert status == 201
    # no longer counted: sold as usual
    status, item = await client.stock(EDAMAME, {"count": None, "id": "stock-0003"})
    assert status == 200
    assert "stock_left" not in item


async def test_setting_a_count_is_for_the_kitchen_named_and_done_once(client: Client) -> None:
    status, err = await client.stock(EDAMAME, {"count": 5}, role="floor")
    assert (status, err["field"]) == (403, "token")
    status, err = await client.call("POST", f"/api/v1/items/{EDAMAME}/stock", None, {"count": 5})
    assert status == 401
    bad: list[tuple[dict[str, Any], str]] = [
        ({"count": -1}, "count"),
        ({"count": "12"}, "count"),
        ({}, "count"),
        ({"count": 100_001}, "count"),
        ({"count": 3, "low_at": -2}, "low_at"),
        ({"count": 3, "id": ""}, "id"),
    ]
    for body, field in bad:
        status, err = await client.stock(EDAMAME, body)
        assert (status, err["field"]) == (422, field), (body, err)
    status, err = await client.stock("no-such-dish", {"count": 5})
    assert (status, err["field"]) == (404, "item")

    status, _ = await client.stock(EDAMAME, {"count": 5, "id": "stock-once-01"}, role="admin")
    assert status == 200
    assert (await client.order("stock-once-ord1", [{"item": EDAMAME, "qty": 1}]))[0] == 201
    # the same action again (a retry of the first request) changes nothing
    status, item = await client.stock(EDAMAME, {"count": 5, "id": "stock-once-01"})
    assert (status, item["stock_left"]) == (200, 4)


async def test_the_last_portions_go_to_exactly_as_many_orders(client: Client) -> None:
    portions, phones = 5, 48
    assert (await client.stock("live-lobster", {"count": portions, "id": "lobster-05"}))[0] == 200
    tables = list(client.hub.services.catalog.tables)

    async def phone(n: int) -> tuple[int, Any]:
        return await client.order(f"last-lobster-{n:03d}", [LOBSTER], tables[n % len(tables)])

    results = await asyncio.gather(*(phone(n) for n in range(phones)))
    won = [r for s, r in results if s == 201]
    lost = [r for s, r in results if s != 201]
    assert len(won) == portions
    assert len(lost) == phones - portions
    assert {(r["error"], r["field"]) for r in lost} <= {
        ("not_enough_left", "lines[0].qty"),
        ("sold_out", "lines[0].item"),
    }
    assert all(r.get("left", 0) == 0 for r in lost)
    rows = await client.hub.services.store.read_all("SELECT body FROM orders")
    sold = sum(ln["qty"] for r in rows for ln in json.loads(unpack(r[0]))["lines"])
    assert sold == portions
    left = await client.hub.services.store.read_one(
        "SELECT left_count FROM stock WHERE item='live-lobster'"
    )
    assert left is not None
    assert left[0] == 0
    assert (await client.menu_item("live-lobster"))["available"] is False


async def test_a_void_puts_portions_back_and_a_comp_does_not(client: Client) -> None:
    assert (await client.stock(EDAMAME, {"count": 4, "id": "void-stock-1"}))[0] == 200
    body = {
        "table": "T3",
        "idempotency_key": "staff-stock-01",
        "lines": [{"item": EDAMAME, "qty": 3}],
    }
    status, order = await client.call("POST", "/api/v1/staff/orders", "floor", body)
    assert status == 201, order
    assert (await client.menu_item(EDAMAME))["stock_left"] == 1
    oid = order["order_id"]
    void = {"qty": 1, "reason": "Guest changed mind", "id": "void-stock-act1"}
    status, _ = await client.call("POST", f"/api/v1/orders/{oid}/lines/0/void", "floor", void)
    assert status == 200
    assert (await client.menu_item(EDAMAME))["stock_left"] == 2
    # the same void again puts nothing back twice
    status, _ = await client.call("POST", f"/api/v1/orders/{oid}/lines/0/void", "floor", void)
    assert status == 200
    assert (await client.menu_item(EDAMAME))["stock_left"] == 2
    # the kitchen makes the rest; giving it away now is a comp: that food is gone
    status, tickets = await client.call("GET", "/api/v1/stations/cold/tickets", "kitchen")
    ticket = next(t for t in tickets["tickets"] if t["order_id"] == oid)
    assert (await client.call("POST", f"/api/v1/tickets/{ticket['id']}/bump", "kitchen", {}))[
        0
    ] == 200
    comp = {"reason": "Too salty", "id": "comp-stock-act1"}
    status, comped = await client.call("POST", f"/api/v1/orders/{oid}/lines/0/void", "admin", comp)
    assert status == 200, comped
    assert (await client.menu_item(EDAMAME))["stock_left"] == 2


async def test_a_change_of_quantity_takes_or_returns_the_difference(client: Client) -> None:
    assert (await client.stock(EDAMAME, {"count": 3, "id": "chg-stock-1"}))[0] == 200
    body = {
        "table": "T4",
        "idempotency_key": "staff-chg-001",
        "lines": [{"item": EDAMAME, "qty": 1}],
    }
    status, order = await client.call("POST", "/api/v1/staff/orders", "floor", body)
    assert status == 201
    path = f"/api/v1/orders/{order['order_id']}/lines/0/change"
    status, err = await client.call("POST", path, "floor", {"qty": 4, "id": "chg-stock-act1"})
    assert (status, err["field"], err.get("left")) == (409, "qty", 2)
    status, _ = await client.call("POST", path, "floor", {"qty": 3, "id": "chg-stock-act2"})
    assert status == 200
    assert (await client.menu_item(EDAMAME))["stock_left"] == 0
    status, _ = await client.call("POST", path, "floor", {"qty": 2, "id": "chg-stock-act3"})
    assert status == 200
    item = await client.menu_item(EDAMAME)
    assert (item["stock_left"], item["available"]) == (1, True)


async def test_the_kitchen_screens_hear_of_low_stock_and_the_sell_out(client: Client) -> None:
    assert (await client.stock(EDAMAME, {"count": 2, "low_at": 1, "id": "ws-stock-1"}))[0] == 200
    headers = {"Authorization": f"Bearer {client.tokens['kitchen']}"}
    seen: list[dict[str, Any]] = []
    async with client.http.ws_connect(client.hub.url + "/ws/kds/cold", headers=headers) as ws:
        first = await ws.receive_json()
        assert first["type"] == "snapshot"

        async def read() -> None:
            async for msg in ws:
                seen.append(json.loads(msg.data))

        reader = asyncio.create_task(read())
        try:
            assert (await client.order("ws-stock-ord1", [{"item": EDAMAME, "qty": 1}]))[0] == 201
            await until(
                lambda: any(m["type"] == "stock" and m["left"] == 1 for m in seen),
                "the low-stock message",
                state=lambda: seen,
            )
            low = next(m for m in seen if m["type"] == "stock")
            assert (low["item"], low["low"], low["reason"]) == (EDAMAME, True, "order")
            assert (await client.order("ws-stock-ord2", [{"item": EDAMAME, "qty": 1}]))[0] == 201
            await until(
                lambda: any(
                    (m["type"], m.get("item"), m.get("available"))
                    == ("availability", EDAMAME, False)
                    for m in seen
                ),
                "the sell-out on the kitchen screen",
                state=lambda: seen,
            )
        finally:
            reader.cancel()


async def test_a_count_survives_a_restart(hub_config: HubConfig, menu_doc: dict[str, Any]) -> None:
    config = replace(hub_config, broker=None)
    async with running_hub(config, seed_menu=menu_doc) as hub:
        await hub.services.stock.set_count(EDAMAME, 7, 2, action_id=None, by="test")
        await hub.services.ordering.place(
            table_token(hub), "restart-stock-1", [LineRequest(EDAMAME, 3)]
        )
    async with running_hub(config, seed_menu=menu_doc) as hub:
        level = hub.services.catalog.stock[EDAMAME]
        assert (level.left, level.low_at) == (4, 2)
        doc = next(i for i in hub.services.catalog.public_menu()["items"] if i["id"] == EDAMAME)
        assert doc["stock_left"] == 4


async def test_pre_orders_reserve_portions_and_cancelled_ones_put_them_back(
    client: Client,
) -> None:
    assert (await client.stock(EDAMAME, {"count": 3, "id": "pre-stock-01"}))[0] == 200
    at = (datetime.now().astimezone() + timedelta(days=1)).replace(tzinfo=None)
    booking = {
        "id": "res-stock-0001",
        "name": "Ada",
        "party": 2,
        "at": at.isoformat(timespec="minutes"),
        "table": "T9",
        "dishes": [{"item": EDAMAME, "qty": 2}],
    }
    status, _ = await client.call("POST", "/api/v1/reservations", "floor", booking)
    assert status == 201
    assert (await client.menu_item(EDAMAME))["stock_left"] == 1  # reserved
    # another pre-order for more than is left: refused, naming the dishes
    more = booking | {"id": "res-stock-0002", "table": "T10"}
    status, err = await client.call("POST", "/api/v1/reservations", "floor", more)
    assert (status, err["error"], err["field"], err["left"]) == (
        409,
        "not_enough_left",
        "dishes",
        1,
    )
    # cancelled: the portions come back
    cancel = {"id": "cancel-stock-01"}
    status, _ = await client.call(
        "POST", "/api/v1/reservations/res-stock-0001/cancel", "floor", cancel
    )
    assert status == 200
    assert (await client.menu_item(EDAMAME))["stock_left"] == 3
    # booked again and seated: the dishes become an order, taken from the count once
    again = booking | {"id": "res-stock-0003"}
    assert (await client.call("POST", "/api/v1/reservations", "floor", again))[0] == 201
    seat = {"table": "T9", "id": "seat-stock-001"}
    status, _ = await client.call("POST", "/api/v1/reservations/res-stock-0003/seat", "floor", seat)
    assert status == 200
    assert (await client.menu_item(EDAMAME))["stock_left"] == 1
    rows = await client.hub.services.store.read_all("SELECT body FROM orders WHERE table_id='T9'")
    assert [ln["qty"] for r in rows for ln in json.loads(unpack(r[0]))["lines"]] == [2]
