"""Orders taken by staff for a table (no QR code, no PIN; the menu's checks all apply): 201
like a diner's, saying who entered them, with seats on the lines and the tickets."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from hub.app import RunningHub
from hub.services import staff

URL = "/api/v1/staff/orders"
LINES = [
    {"item": "pork-gyoza", "qty": 2, "modifiers": ["gyoza-sauce-chili-oil"], "seat": 1},
    {"item": "sea-salt-edamame", "qty": 1, "note": "no salt", "seat": 2},
    {"item": "thai-iced-tea", "qty": 1, "modifiers": ["thai-tea-large"]},
]


async def post(
    http: aiohttp.ClientSession, hub: RunningHub, token: str | None, body: Any
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.post(hub.url + URL, json=body, headers=headers) as r:
        return r.status, await r.json(), r.headers


async def test_a_staff_order_says_who_entered_it_and_carries_seats(
    pin_hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    hub = pin_hub  # tables must be opened and diners give a PIN: staff need neither
    token = await staff.issue(hub.services.store, "floor", "Ann")
    body = {"table": "T3", "idempotency_key": "staff-order-0001", "lines": LINES}
    status, order, headers = await post(http, hub, token, body)
    assert status == 201, order
    assert "Idempotent-Replayed" not in headers
    assert order["entered_by"] == "Ann"
    assert order["table"] == {"id": "T3", "name": "Table 3"}
    assert [ln["seat"] for ln in order["lines"]] == [1, 2, None]
    assert order["lines"][1]["note"] == "no salt"
    assert order["check_id"] > 0
    assert order["total_cents"] == sum(ln["line_cents"] for ln in order["lines"])
    admin = await staff.issue(hub.services.store, "admin", "Boss")
    async with http.get(
        hub.url + "/api/v1/stations/expo/tickets", headers={"Authorization": f"Bearer {admin}"}
    ) as r:
        tickets = (await r.json())["tickets"]
    seats = {it["item"]: it["seat"] for t in tickets for it in t["items"]}
    assert seats == {"pork-gyoza": 1, "sea-salt-edamame": 2, "thai-iced-tea": None}
    # a retry is the same order, once
    status, again, headers = await post(http, hub, token, body)
    assert status == 201
    assert headers["Idempotent-Replayed"] == "true"
    assert again == order
    # the same key with other lines is refused
    other = body | {"lines": LINES[:1]}
    status, err, _ = await post(http, hub, token, other)
    assert (status, err["field"]) == (409, "idempotency_key")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"table": "T99", "idempotency_key": "staff-bad-0001", "lines": LINES}, 404, "table"),
        ({"idempotency_key": "staff-bad-0001", "lines": LINES}, 422, "table"),
        ({"table": "T1", "idempotency_key": "short", "lines": LINES}, 422, "idempotency_key"),
        ({"table": "T1", "idempotency_key": "staff-bad-0001", "lines": []}, 422, "lines"),
        (
            {
                "table": "T1",
                "idempotency_key": "staff-bad-0001",
                "lines": [{"item": "x", "qty": 1}],
            },
            422,
            "lines[0].item",
        ),
        (
            {
                "table": "T1",
                "idempotency_key": "staff-bad-0001",
                "lines": [{"item": "sea-salt-edamame", "qty": 1, "seat": 0}],
            },
            422,
            "lines[0].seat",
        ),
        (
            {
                "table": "T1",
                "idempotency_key": "staff-bad-0001",
                "lines": [{"item": "pork-gyoza", "qty": 1}],
            },
            422,
            "lines[0].modifiers",
        ),
        (
            {
                "table": "T1",
                "idempotency_key": "staff-bad-0001",
                "lines": [{"item": "sea-salt-edamame", "qty": 0}],
            },
            422,
            "lines[0].qty",
        ),
    ],
)
async def test_bad_staff_orders_are_refused_naming_the_field(
    hub: RunningHub, http: aiohttp.ClientSession, body: Any, status: int, field: str
) -> None:
    token = await staff.issue(hub.services.store, "floor", "Ann")
    got, err, _ = await post(http, hub, token, body)
    assert (got, err["field"]) == (status, field), err
    rows = await hub.services.store.read_all("SELECT COUNT(*) FROM orders")
    assert rows[0][0] == 0


async def test_staff_orders_need_a_floor_login(
    hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    body = {"table": "T1", "idempotency_key": "staff-auth-0001", "lines": LINES}
    status, err, _ = await post(http, hub, None, body)
    assert (status, err["field"]) == (401, "token")
    kitchen = await staff.issue(hub.services.store, "kitchen", "Grill")
    status, err, _ = await post(http, hub, kitchen, body)
    assert (status, err["field"]) == (403, "token")
