"""A table's check through real HTTP: move the party (old phones lose the check, the KDS
shows the new table), merge two checks, split by items, seats and evenly, record payments
until the check closes and the QR code starts a new one, and print each part's bill."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import aiomqtt
import pytest

from hub.app import RunningHub
from hub.config import BillConfig, HubConfig, PrinterConfig
from hub.ops.mosquitto import Mosquitto
from hub.services import staff
from tests.conftest import order_body, printing_hub_from, table_token
from tests.integration.test_print_queue import StandInAgent, started
from tests.waiting import until

PREFIX = "tablehub/v1/demo"
PRINTERS = (
    PrinterConfig(id="cold-1", stations=("cold",)),
    PrinterConfig(id="bar-1", stations=("bar",), bills=True),
)
EDAMAME = {"item": "sea-salt-edamame", "qty": 3}  # 550 each, cold
TEA = {"item": "hot-jasmine-tea", "qty": 1}  # 400, bar


@pytest.fixture
async def check_hub(hub_config: HubConfig, menu_doc: dict[str, Any]) -> AsyncIterator[RunningHub]:
    async with printing_hub_from(hub_config, menu_doc, PRINTERS) as hub:
        yield hub


@pytest.fixture
async def agent(broker: Mosquitto) -> AsyncIterator[StandInAgent]:
    async with started(broker, StandInAgent) as a:
        yield a


class Floor:
    def __init__(self, hub: RunningHub, http: aiohttp.ClientSession, token: str) -> None:
        self.hub, self.http, self.token = hub, http, token

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.request(method, self.hub.url + path, json=body, headers=headers) as r:
            return r.status, await r.json()

    async def order(self, table: str, key: str, lines: list[dict[str, Any]]) -> Any:
        body = order_body(table_token(self.hub, table), key, lines)
        async with self.http.post(self.hub.url + "/api/v1/orders", json=body) as r:
            assert r.status == 201, await r.text()
            return await r.json()

    async def diner_check(self, table: str) -> Any:
        params = {"table": table_token(self.hub, table)}
        async with self.http.get(self.hub.url + "/api/v1/check", params=params) as r:
            assert r.status == 200
            return await r.json()


@pytest.fixture
async def floor(check_hub: RunningHub, http: aiohttp.ClientSession) -> Floor:
    return Floor(check_hub, http, await staff.issue(check_hub.services.store, "floor", "Ann"))


async def recv(ws: aiohttp.ClientWebSocketResponse, kind: str) -> Any:
    async with asyncio.timeout(5):
        while True:
            msg = await ws.receive_json()
            if msg["type"] == kind:
                return msg


async def test_moving_a_party_takes_its_check_tickets_and_phones_along(
    floor: Floor, device: aiomqtt.Client, http: aiohttp.ClientSession, agent: StandInAgent
) -> None:
    hub = floor.hub
    order = await floor.order("T1", "move-0001", [EDAMAME])
    await device.subscribe(f"{PREFIX}/kds/cold/events", qos=1)
    ws_url = hub.url.replace("http", "ws") + "/ws/table"
    async with (
        http.ws_connect(ws_url, params={"table": table_token(hub, "T1")}) as old_phone,
        http.ws_connect(ws_url, params={"table": table_token(hub, "T2")}) as new_phone,
    ):
        await recv(old_phone, "snapshot")
        await recv(new_phone, "snapshot")
        body = {"to": "T2", "id": "move-act-0001"}
        status, check = await floor.call("POST", "/api/v1/tables/T1/move", body)
        assert status == 200, check
        assert check["table"] == {"id": "T2", "name": "Table 2"}
        assert [o["order_id"] for o in check["orders"]] == [order["order_id"]]
        assert check["orders"][0]["table"]["id"] == "T2"
        # both tables' phones hear of it: the old one drops the check, the new one shows it
        for phone in (old_phone, new_phone):
            moved = await recv(phone, "check.moved")
            assert (moved["from_table"]["id"], moved["table"]["id"]) == ("T1", "T2")
        seen = await recv(new_phone, "order")
        assert seen["order"]["order_id"] == order["order_id"]
    # the KDS shows the ticket under the new table's name, on the same ticket
    async with asyncio.timeout(5):
        async for message in device.messages:
            assert isinstance(message.payload, bytes)
            event = json.loads(message.payload)
            if event["kind"] == "ticket.updated":
                assert event["ticket"]["order_id"] == order["order_id"]
                assert event["ticket"]["table"] == {"id": "T2", "name": "Table 2"}
                break
    assert (await floor.diner_check("T1"))["orders"] == []
    assert [o["order_id"] for o in (await floor.diner_check("T2"))["orders"]] == [order["order_id"]]
    async with http.get(
        f"{hub.url}/api/v1/orders/{order['order_id']}", params={"table": table_token(hub, "T1")}
    ) as r:
        assert r.status == 404
    # later chits name the new table
    admin = await staff.issue(hub.services.store, "admin", "Boss")
    async with http.get(
        hub.url + "/api/v1/stations/cold/tickets", headers={"Authorization": f"Bearer {admin}"}
    ) as r:
        (ticket,) = [t for t in (await r.json())["tickets"] if t["order_id"] == order["order_id"]]
    assert ticket["table"]["name"] == "Table 2"
    async with http.post(
        f"{hub.url}/api/v1/tickets/{ticket['id']}/reprint",
        headers={"Authorization": f"Bearer {admin}"},
    ) as r:
        assert r.status == 201
    await until(
        lambda: any(d.get("copy") == "REPRINT" for d in agent.docs("cold-1")), "the reprint"
    )
    reprint = next(d for d in agent.docs("cold-1") if d.get("copy") == "REPRINT")
    assert reprint["table"] == "Table 2"
    # a retry changes nothing; a second move of a table with no check is refused
    status, again = await floor.call("POST", "/api/v1/tables/T1/move", body)
    assert status == 200
    assert again["check_id"] == check["check_id"]
    status, err = await floor.call("POST", "/api/v1/tables/T1/move", {"to": "T3", "id": "mv-0002x"})
    assert (status, err["field"]) == (409, "table")
    # a new order at the new table joins the moved check
    more = await floor.order("T2", "move-0002", [TEA])
    assert more["check_id"] == check["check_id"]


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/api/v1/tables/T1/move", {"to": "T99", "id": "bad-move-01"}, 404, "to"),
        ("/api/v1/tables/T1/move", {"to": "T1", "id": "bad-move-01"}, 422, "to"),
        ("/api/v1/tables/T1/move", {"to": "T5", "id": "bad-move-01"}, 409, "to"),
        ("/api/v1/tables/T1/move", {"to": "T2"}, 422, "id"),
        ("/api/v1/tables/T99/move", {"to": "T2", "id": "bad-move-01"}, 404, "table"),
        ("/api/v1/tables/T1/merge", {"from": "T99", "id": "bad-merge-1"}, 404, "from"),
        ("/api/v1/tables/T1/merge", {"from": "T1", "id": "bad-merge-1"}, 422, "from"),
        ("/api/v1/tables/T1/merge", {"from": "T2", "id": "bad-merge-1"}, 409, "from"),
        ("/api/v1/tables/T2/merge", {"from": "T1", "id": "bad-merge-1"}, 409, "table"),
        ("/api/v1/tables/T1/merge", {"id": "bad-merge-1"}, 422, "from"),
        ("/api/v1/tables/T1/split", {"mode": "even", "n": 1, "id": "bad-split-1"}, 422, "n"),
        ("/api/v1/tables/T1/split", {"mode": "even", "n": 21, "id": "bad-split-1"}, 422, "n"),
        ("/api/v1/tables/T1/split", {"mode": "thirds", "id": "bad-split-1"}, 422, "mode"),
        ("/api/v1/tables/T1/split", {"mode": "items", "id": "bad-split-1"}, 422, "parts"),
        ("/api/v1/tables/T1/split", {"mode": "seats", "id": "bad-split-1"}, 409, "mode"),
        (
            "/api/v1/tables/T1/split",
            {"mode": "items", "parts": [[{"order_id": 999, "line": 0}]], "id": "bad-split-1"},
            422,
            "parts[0][0].order_id",
        ),
        ("/api/v1/tables/T2/split", {"mode": "even", "n": 2, "id": "bad-split-1"}, 409, "table"),
        (
            "/api/v1/tables/T1/payments",
            {"method": "cash", "amount_cents": 0, "id": "bad-pay-001"},
            422,
            "amount_cents",
        ),
        (
            "/api/v1/tables/T1/payments",
            {"method": "cheque", "amount_cents": 100, "id": "bad-pay-001"},
            422,
            "method",
        ),
        (
            "/api/v1/tables/T1/payments",
            {"method": "cash", "amount_cents": 999_999, "id": "bad-pay-001"},
            422,
            "amount_cents",
        ),
        (
            "/api/v1/tables/T1/payments",
            {"method": "cash", "amount_cents": 100, "part": 1, "id": "bad-pay-001"},
            422,
            "part",
        ),
        (
            "/api/v1/tables/T1/payments",
            {"method": "card", "amount_cents": 100, "tip_cents": -1, "id": "bad-pay-001"},
            422,
            "tip_cents",
        ),
        (
            "/api/v1/tables/T2/payments",
            {"method": "card", "amount_cents": 100, "id": "bad-pay-001"},
            409,
            "table",
        ),
    ],
)
async def test_bad_check_actions_are_refused_naming_the_field(
    floor: Floor, path: str, body: Any, status: int, field: str
) -> None:
    await floor.order("T1", "bad-check-0001", [EDAMAME])
    await floor.order("T5", "bad-check-0002", [TEA])
    _, before = await floor.call("GET", "/api/v1/tables/T1/check")
    got, err = await floor.call("POST", path, body)
    assert (got, err["field"]) == (status, field), err
    _, after = await floor.call("GET", "/api/v1/tables/T1/check")
    assert after == before


async def test_merging_checks_brings_every_order_under_one_table(floor: Floor) -> None:
    a = await floor.order("T3", "merge-0001", [EDAMAME])
    b = await floor.order("T4", "merge-0002", [TEA])
    status, check = await floor.call(
        "POST", "/api/v1/tables/T3/merge", {"from": "T4", "id": "merge-act-01"}
    )
    assert status == 200, check
    assert [o["order_id"] for o in check["orders"]] == [a["order_id"], b["order_id"]]
    assert {o["table"]["id"] for o in check["orders"]} == {"T3"}
    assert check["total_cents"] == 3 * 550 + 400
    assert (await floor.diner_check("T4"))["orders"] == []
    status, tables = await floor.call("GET", "/api/v1/floor/tables")
    assert status == 200
    by_id = {t["id"]: t for t in tables["tables"]}
    assert by_id["T3"]["orders"] == 2
    assert by_id["T3"]["due_cents"] == 3 * 550 + 400
    assert by_id["T4"]["check_id"] is None
    assert tables["void_reasons"]
    assert tables["currency"] == check["currency"] != ""


async def test_a_split_by_items_is_paid_part_by_part_and_closes_the_check(floor: Floor) -> None:
    order = await floor.order("T6", "split-0001", [EDAMAME, TEA])
    oid = order["order_id"]
    parts = [[{"order_id": oid, "line": 0, "qty": 2}], [{"order_id": oid, "line": 1}]]
    status, check = await floor.call(
        "POST", "/api/v1/tables/T6/split", {"mode": "items", "parts": parts, "id": "split-act-1"}
    )
    assert status == 200, check
    assert [(p["label"], p["total_cents"]) for p in check["parts"]] == [
        ("Part 1", 1100),
        ("Part 2", 400),
        ("Rest", 550),  # the third edamame was in no part
    ]
    assert sum(p["total_cents"] for p in check["parts"]) == check["total_cents"] == 2050
    pay = "/api/v1/tables/T6/payments"
    first = {"part": 1, "method": "card", "amount_cents": 1100, "tip_cents": 200, "id": "pay-1-x1"}
    status, paid = await floor.call("POST", pay, first)
    assert status == 201, paid
    assert paid["payment"]["part"] == 1
    assert paid["payment"]["by"] == "Ann"
    assert paid["check"]["parts"][0]["due_cents"] == 0
    assert paid["check"]["due_cents"] == 950
    status, again = await floor.call("POST", pay, first)  # a retry records nothing more
    assert status == 201
    assert again["check"]["paid_cents"] == 1100
    status, err = await floor.call("POST", pay, first | {"id": "pay-1-x2"})
    assert (status, err["field"]) == (422, "amount_cents")  # part 1 is paid
    status, err = await floor.call(
        "POST", "/api/v1/tables/T6/split", {"mode": "even", "n": 2, "id": "split-act-2"}
    )
    assert (status, err["field"]) == (409, "mode")  # payments are on the parts
    status, _ = await floor.call(
        "POST", pay, {"part": 2, "method": "cash", "amount_cents": 400, "id": "pay-2-xx"}
    )
    assert status == 201
    status, last = await floor.call(
        "POST", pay, {"part": 3, "method": "other", "amount_cents": 550, "id": "pay-3-xx"}
    )
    assert status == 201
    assert last["check"]["closed"] is True
    assert last["check"]["due_cents"] == 0
    # the table is free and its QR code starts a new check
    status, now = await floor.call("GET", "/api/v1/tables/T6/check")
    assert now["check_id"] is None
    assert now["orders"] == []
    assert (await floor.diner_check("T6"))["orders"] == []
    again_order = await floor.order("T6", "split-0002", [TEA])
    assert again_order["check_id"] != order["check_id"]


async def test_a_split_by_seats_follows_the_seats_staff_entered(floor: Floor) -> None:
    lines = [
        {"item": "sea-salt-edamame", "qty": 1, "seat": 2},
        {"item": "hot-jasmine-tea", "qty": 2, "seat": 1},
        {"item": "sea-salt-edamame", "qty": 1},
    ]
    status, _ = await floor.call(
        "POST",
        "/api/v1/staff/orders",
        {"table": "T7", "idempotency_key": "seats-0001", "lines": lines},
    )
    assert status == 201
    status, check = await floor.call(
        "POST", "/api/v1/tables/T7/split", {"mode": "seats", "id": "seats-act-1"}
    )
    assert status == 200, check
    assert check["split"] == "seats"
    assert [(p["label"], p["total_cents"]) for p in check["parts"]] == [
        ("Seat 1", 800),
        ("Seat 2", 550),
        ("Shared", 550),
    ]


@pytest.mark.parametrize("n", [2, 3, 7])
async def test_an_even_split_adds_up_and_gives_the_odd_cents_to_the_first_parts(
    floor: Floor, n: int
) -> None:
    await floor.order("T8", f"even-000{n}", [{"item": "mango-sticky-rice", "qty": 1}, TEA])
    status, check = await floor.call(
        "POST", "/api/v1/tables/T8/split", {"mode": "even", "n": n, "id": f"even-act-{n:02d}"}
    )
    assert status == 200
    totals = [p["total_cents"] for p in check["parts"]]
    assert sum(totals) == check["total_cents"] == 895 + 400
    assert totals == sorted(totals, reverse=True)
    assert max(totals) - min(totals) <= 1
    assert all(p["lines"] == [] for p in check["parts"])


async def test_each_part_prints_its_own_bill(
    hub_config: HubConfig, menu_doc: dict[str, Any], http: aiohttp.ClientSession, broker: Mosquitto
) -> None:
    bill = BillConfig(taxes=(("Sales tax 8.875%", 88_750),))
    async with (
        printing_hub_from(replace(hub_config, bill=bill), menu_doc, PRINTERS) as hub,
        started(broker, StandInAgent) as agent,
    ):
        floor = Floor(hub, http, await staff.issue(hub.services.store, "floor", "Ann"))
        await floor.order("T9", "bills-0001", [EDAMAME, TEA])
        status, check = await floor.call(
            "POST", "/api/v1/tables/T9/split", {"mode": "even", "n": 3, "id": "bills-act-1"}
        )
        assert status == 200
        assert check["tax_cents"] == (2050 * 88_750 + 500_000) // 1_000_000
        status, printed = await floor.call("POST", "/api/v1/tables/T9/bills", {})
        assert status == 201, printed
        assert printed["parts"] == [1, 2, 3]

        def bills() -> list[dict[str, Any]]:
            return [d for d in agent.docs("bar-1") if d["kind"] == "bill"]

        await until(lambda: len(bills()) == 3, "three bills")
        assert [d["total_cents"] for d in bills()] == [p["total_cents"] for p in check["parts"]]
        assert sum(d["total_cents"] for d in bills()) == check["total_cents"]
        for doc in bills():
            assert (
                doc["subtotal_cents"] + sum(t["cents"] for t in doc["tax_lines"])
                == doc["total_cents"]
            )
        status, one = await floor.call("POST", "/api/v1/tables/T9/bills", {"part": 2})
        assert status == 201
        assert one["parts"] == [2]
        status, err = await floor.call("POST", "/api/v1/tables/T9/bills", {"part": 4})
        assert (status, err["field"]) == (422, "part")


async def test_two_payments_at_once_never_pay_more_than_is_due(floor: Floor) -> None:
    """Both at once: the store takes one and refuses the other, whose amount is no longer
    due (the check stays open) or whose check the first one closed."""
    for n in range(4):
        table = f"T{10 + n % 3}"
        await floor.order(table, f"race-pay-{n:04d}", [TEA])  # 400
        pay = f"/api/v1/tables/{table}/payments"
        amount = 300 if n % 2 else 400
        results = await asyncio.gather(
            *(
                floor.call(
                    "POST", pay, {"method": m, "amount_cents": amount, "id": f"race-{m}-{n:03d}"}
                )
                for m in ("cash", "card")
            )
        )
        statuses = sorted(status for status, _ in results)
        paid = next(body for status, body in results if status == 201)
        refused = next(body for status, body in results if status != 201)
        if amount == 300:
            assert statuses == [201, 422]
            assert refused["field"] == "amount_cents"
            assert paid["check"]["closed"] is False
            assert paid["check"]["due_cents"] == 100
            status, last = await floor.call(
                "POST", pay, {"method": "cash", "amount_cents": 100, "id": f"race-rest-{n:03d}"}
            )
            assert status == 201
            assert last["check"]["closed"] is True
        else:
            assert statuses == [201, 409]
            assert refused["field"] == "table"
            assert paid["check"]["closed"] is True
        status, now = await floor.call("GET", f"/api/v1/tables/{table}/check")
        assert now["check_id"] is None  # closed once, paid exactly


async def test_an_unknown_table_has_no_check(floor: Floor) -> None:
    status, err = await floor.call("GET", "/api/v1/tables/T99/check")
    assert (status, err["field"]) == (404, "table")
    status, empty = await floor.call("GET", "/api/v1/tables/T12/check")
    assert status == 200
    assert (empty["check_id"], empty["total_cents"], empty["parts"]) == (None, 0, [])
