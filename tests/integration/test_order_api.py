"""The diner's order path over real HTTP against a real SQLite file."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from hub.app import RunningHub
from hub.web.bodies import LISTS_MAX_BODY, MAX_BODY
from tests.conftest import order_body, table_token
from tests.largest import body_schema, largest, size

PORK = "crispy-pork-belly"  # spice: exactly 1; extras: 0-3


async def post(
    http: aiohttp.ClientSession, hub: RunningHub, body: Any, **kw: Any
) -> tuple[int, dict[str, Any], aiohttp.ClientResponse]:
    async with http.post(f"{hub.url}/api/v1/orders", json=body, **kw) as r:
        return r.status, await r.json(), r


async def open_orders(http: aiohttp.ClientSession, hub: RunningHub, token: str) -> list[Any]:
    async with http.get(f"{hub.url}/api/v1/check", params={"table": token}) as r:
        assert r.status == 200
        orders: list[Any] = (await r.json())["orders"]
        return orders


async def test_menu_needs_a_genuine_table_token(
    hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    token = table_token(hub)
    async with http.get(f"{hub.url}/api/v1/menu", params={"table": token}) as r:
        assert r.status == 200
        menu = await r.json()
    assert menu["table"] == {"id": "T1", "name": "Table 1", "open": True, "requires_pin": False}
    assert {"en", "zh-Hans", "zh-Hant"} <= set(menu["items"][0]["name"])
    assert "station" not in menu["items"][0]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (forged, "", "x.y", token.replace("VDE", "VDI")):
        async with http.get(f"{hub.url}/api/v1/menu", params={"table": bad}) as r:
            assert r.status == 403
            assert (await r.json())["field"] == "table"


async def test_rotated_token_stops_working(hub: RunningHub, http: aiohttp.ClientSession) -> None:
    old = table_token(hub, "T2")
    new = await hub.services.catalog.rotate("T2")
    assert new != old
    status, body, _ = await post(http, hub, order_body(old, "rotated-key-1"))
    assert (status, body["field"]) == (403, "table")
    status, _, _ = await post(http, hub, order_body(new, "rotated-key-2"))
    assert status == 201


async def test_order_is_priced_by_the_hub(hub: RunningHub, http: aiohttp.ClientSession) -> None:
    token = table_token(hub)
    lines = [
        {
            "item": PORK,
            "qty": 2,
            "price_cents": 1,
            "modifiers": ["pork-belly-spice-hot", "pork-belly-extra-egg"],
            "note": "no onion",
        },
        {"item": "sea-salt-edamame", "qty": 1, "unit_cents": 0},
    ]
    status, order, _ = await post(http, hub, order_body(token, "priced-order-1", lines))
    assert status == 201, order
    menu = hub.services.catalog.menu
    assert menu is not None
    pork, egg = menu.items[PORK], menu.items[PORK].option("pork-belly-extra-egg")
    assert egg is not None
    want = (
        2 * (pork.price_cents + egg[1].price_delta_cents)
        + menu.items["sea-salt-edamame"].price_cents
    )
    assert order["total_cents"] == want
    assert order["status"] == "received"
    assert order["round"] == 1
    assert order["lines"][0]["note"] == "no onion"
    # the order is readable by the table, and not by another table
    async with http.get(
        f"{hub.url}/api/v1/orders/{order['order_id']}", params={"table": token}
    ) as r:
        assert r.status == 200
        assert (await r.json())["total_cents"] == want
    async with http.get(
        f"{hub.url}/api/v1/orders/{order['order_id']}", params={"table": table_token(hub, "T3")}
    ) as r:
        assert r.status == 404


async def test_same_key_gives_the_same_order(hub: RunningHub, http: aiohttp.ClientSession) -> None:
    token = table_token(hub)
    body = order_body(token, "double-tap-0001")
    s1, o1, r1 = await post(http, hub, body)
    s2, o2, r2 = await post(http, hub, body)
    assert (s1, s2) == (201, 201)
    assert o1["order_id"] == o2["order_id"]
    assert "Idempotent-Replayed" not in r1.headers
    assert r2.headers["Idempotent-Replayed"] == "true"
    assert len(await open_orders(http, hub, token)) == 1
    # the same key with another body is refused, not silently mapped to the first order
    other = order_body(token, "double-tap-0001", [{"item": "sea-salt-edamame", "qty": 3}])
    s3, err, _ = await post(http, hub, other)
    assert (s3, err["error"], err["field"]) == (409, "idempotency_mismatch", "idempotency_key")


@pytest.mark.parametrize(
    ("lines", "status", "field"),
    [
        ([{"item": "no-such-dish", "qty": 1}], 422, "lines[0].item"),
        ([{"item": "sea-salt-edamame", "qty": 0}], 422, "lines[0].qty"),
        ([{"item": "sea-salt-edamame", "qty": 100}], 422, "lines[0].qty"),
        ([{"item": "sea-salt-edamame", "qty": "2"}], 422, "lines[0].qty"),
        ([{"item": "sea-salt-edamame", "qty": 1, "note": "x" * 141}], 422, "lines[0].note"),
        ([{"item": PORK, "qty": 1}], 422, "lines[0].modifiers"),
        (
            [
                {
                    "item": PORK,
                    "qty": 1,
                    "modifiers": ["pork-belly-spice-hot", "pork-belly-spice-mild"],
                }
            ],
            422,
            "lines[0].modifiers",
        ),
        (
            [{"item": PORK, "qty": 1, "modifiers": ["pork-belly-spice-hot", "tofu-extra"]}],
            422,
            "lines[0].modifiers[1]",
        ),
        ([{"item": "sea-salt-edamame", "qty": 1}, {"qty": 1}], 422, "lines[1].item"),
        ([], 422, "lines"),
    ],
)
async def test_bad_lines_are_refused_naming_the_field(
    hub: RunningHub, http: aiohttp.ClientSession, lines: list[Any], status: int, field: str
) -> None:
    token = table_token(hub)
    got, err, _ = await post(
        http, hub, {"table": token, "idempotency_key": "bad-lines-01", "lines": lines}
    )
    assert (got, err["field"]) == (status, field), err
    assert err["message"]
    assert await open_orders(http, hub, token) == []


async def test_bad_envelopes(hub: RunningHub, http: aiohttp.ClientSession) -> None:
    token = table_token(hub)
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        (
            {"table": token, "idempotency_key": "short", "lines": [{"item": "x", "qty": 1}]},
            422,
            "idempotency_key",
        ),
        ({"idempotency_key": "abcdefgh", "lines": [{"item": "x", "qty": 1}]}, 422, "table"),
        (
            {"table": "nope", "idempotency_key": "abcdefgh1", "lines": [{"item": "x", "qty": 1}]},
            403,
            "table",
        ),
    ]
    for body, status, field in cases:
        got, err, _ = await post(http, hub, body)
        assert (got, err["field"]) == (status, field), err
    async with http.post(f"{hub.url}/api/v1/orders", data=b"{not json") as r:
        assert r.status == 400
        assert (await r.json())["error"] == "bad_json"
    async with http.post(f"{hub.url}/api/v1/orders", data=b"x" * (LISTS_MAX_BODY + 1)) as r:
        assert r.status == 413
        assert (await r.json())["error"] == "too_large"
    # the largest order the document allows (past 64 KiB) is read, not refused for its size:
    # its made-up item is what is refused
    biggest = largest(body_schema("POST", "/api/v1/orders")) | {"table": token}
    assert size(biggest) > MAX_BODY
    got, err, _ = await post(http, hub, biggest)
    assert (got, err["error"], err["field"]) == (422, "invalid", "lines[0].item"), err
    assert await open_orders(http, hub, token) == []


async def test_malformed_ids_are_refused_in_words(
    hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    """A field whose form is wrong is named, with what it should look like in words rather
    than the regular expression the API document gives."""
    token = table_token(hub)
    cases = [
        ({"idempotency_key": "short"}, "idempotency_key", "8-64 letters"),
        ({"lines": [{"item": "pork belly!", "qty": 1}]}, "lines[0].item", "an id from the menu"),
        (
            {"lines": [{"item": PORK, "qty": 1, "modifiers": ["hot sauce"]}]},
            "lines[0].modifiers[0]",
            "an id from the menu",
        ),
    ]
    for change, field, words in cases:
        body = order_body(token, "malformed-01") | change
        got, err, _ = await post(http, hub, body)
        assert (got, err["error"], err["field"]) == (422, "invalid", field), err
        assert words in err["message"], err
        assert "regex" not in err["message"], err
    assert await open_orders(http, hub, token) == []


async def test_rounds_add_up_on_one_check(hub: RunningHub, http: aiohttp.ClientSession) -> None:
    token = table_token(hub, "T4")
    totals = []
    for n in range(3):
        status, order, _ = await post(http, hub, order_body(token, f"round-key-{n:04d}"))
        assert status == 201
        assert order["round"] == n + 1
        totals.append(order["total_cents"])
    async with http.get(f"{hub.url}/api/v1/check", params={"table": token}) as r:
        check = await r.json()
    assert [o["round"] for o in check["orders"]] == [1, 2, 3]
    assert check["total_cents"] == sum(totals)


async def test_sold_out_item_is_refused_then_back(
    hub: RunningHub, http: aiohttp.ClientSession, kitchen_token: str
) -> None:
    token = table_token(hub)
    auth = {"Authorization": f"Bearer {kitchen_token}"}
    url = f"{hub.url}/api/v1/items/sea-salt-edamame/availability"
    async with http.post(url, json={"available": False}, headers=auth) as r:
        assert r.status == 200
        assert (await r.json())["available"] is False
    async with http.get(f"{hub.url}/api/v1/menu", params={"table": token}) as r:
        items = {i["id"]: i for i in (await r.json())["items"]}
    assert items["sea-salt-edamame"]["available"] is False
    status, err, _ = await post(http, hub, order_body(token, "sold-out-0001"))
    assert (status, err["error"], err["field"]) == (409, "sold_out", "lines[0].item")
    async with http.post(url, json={"available": True}, headers=auth) as r:
        assert r.status == 200
    status, _, _ = await post(http, hub, order_body(token, "sold-out-0002"))
    assert status == 201


async def test_staff_endpoints_need_a_staff_token(
    hub: RunningHub, http: aiohttp.ClientSession, kitchen_token: str
) -> None:
    token = table_token(hub)
    _, order, _ = await post(http, hub, order_body(token, "staff-auth-01"))
    ticket_url = f"{hub.url}/api/v1/tickets/1/bump"
    async with http.post(ticket_url, json={}) as r:
        assert r.status == 401
    async with http.post(ticket_url, json={}, headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 401  # a table token is not a staff token
    async with http.get(
        f"{hub.url}/api/v1/tables", headers={"Authorization": f"Bearer {kitchen_token}"}
    ) as r:
        assert r.status == 403  # kitchen is not admin
    # a paired screen's cookie works for reads, and for writes only with the CSRF header
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as screen:
        async with screen.get(
            f"{hub.url}/pair",
            params={"token": kitchen_token, "next": "/kds/bar"},
            allow_redirects=False,
        ) as r:
            assert r.status == 302
            assert "HttpOnly" in r.headers["Set-Cookie"]
            assert "SameSite=Strict" in r.headers["Set-Cookie"]
        async with screen.post(ticket_url, json={}) as r:
            assert r.status == 403
        async with screen.post(ticket_url, json={}, headers={"X-Requested-With": "tablehub"}) as r:
            assert r.status == 200
    assert order["order_id"] == 1


async def test_openapi_document_lists_the_contract(
    hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{hub.url}/api/v1/openapi.json") as r:
        doc = await r.json()
    assert doc["openapi"].startswith("3.")
    for path in (
        "/api/v1/menu",
        "/api/v1/orders",
        "/api/v1/orders/{order_id}",
        "/api/v1/stations/{station}/tickets",
        "/api/v1/tickets/{ticket_id}/bump",
        "/api/v1/tickets/{ticket_id}/recall",
        "/api/v1/items/{item_id}/availability",
    ):
        assert path in doc["paths"], path
    assert "OrderIn" in doc["components"]["schemas"]


async def test_admin_edits_the_menu(
    hub: RunningHub, http: aiohttp.ClientSession, admin_token: str
) -> None:
    auth = {"Authorization": f"Bearer {admin_token}"}
    async with http.get(f"{hub.url}/api/v1/admin/menu", headers=auth) as r:
        current = await r.json()
    doc = current["menu"]
    edamame = next(i for i in doc["items"] if i["id"] == "sea-salt-edamame")
    edamame["price_cents"] = 555
    # an invalid edit is refused naming the field, and changes nothing
    bad = json.loads(json.dumps(doc))
    bad["items"][0]["category"] = "nowhere"
    async with http.put(f"{hub.url}/api/v1/admin/menu", json=bad, headers=auth) as r:
        assert r.status == 422
        assert (await r.json())["field"] == "items[0].category"
    async with http.put(
        f"{hub.url}/api/v1/admin/menu",
        json=doc,
        headers=auth,
        params={},
    ) as r:
        assert r.status == 200
        assert (await r.json())["version"] == current["version"] + 1
    # a stale editor is told, not silently overwritten
    async with http.put(
        f"{hub.url}/api/v1/admin/menu",
        json=doc,
        headers={**auth, "If-Match": str(current["version"])},
    ) as r:
        assert r.status == 409
    status, order, _ = await post(http, hub, order_body(table_token(hub), "after-edit-01"))
    assert (status, order["total_cents"]) == (201, 555)


async def test_concurrent_orders_share_commits(
    hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    """Group commit: a burst of orders is saved in fewer fsync'd commits than orders."""
    commits_before = hub.services.store.commits
    bodies = [
        order_body(table_token(hub, f"T{1 + n % 12}"), f"burst-key-{n:04d}") for n in range(60)
    ]
    results = await asyncio.gather(*(post(http, hub, b) for b in bodies))
    assert [s for s, _, _ in results] == [201] * 60
    assert len({o["order_id"] for _, o, _ in results}) == 60
    assert hub.services.store.commits - commits_before < 60
