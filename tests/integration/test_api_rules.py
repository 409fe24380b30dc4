"""The rules the OpenAPI document states for request bodies and queries are the rules the hub
enforces: for each body below, the document's schema (checked with a JSON Schema validator)
and the hub (asked over HTTP) give the same verdict. A body the document refuses is answered
422 naming the field; one it allows is not refused as a bad body (it may still meet a 403,
404 or 409: what it names, or what that is now)."""

from __future__ import annotations

from typing import Any

import aiohttp
import jsonschema_rs
import pytest

from hub.app import RunningHub
from hub.domain.orders import LineRequest
from hub.services import staff
from tests.conftest import table_token

EDAMAME = "sea-salt-edamame"
BAD_BODY = (400, 422)

# (name, method, path ({order} is an order of table T1), component, body, the field refused
# or None when the document allows the body)
CASES: list[tuple[str, str, str, str, dict[str, Any], str | None]] = [
    # a pairing link's `next`: a path on this hub
    ("next local", "POST", "/api/v1/admin/pairing", "PairingIn", {"next": "/kds/grill"}, None),
    ("next host", "POST", "/api/v1/admin/pairing", "PairingIn", {"next": "//evil.example"}, "next"),
    ("next space", "POST", "/api/v1/admin/pairing", "PairingIn", {"next": "/kds grill"}, "next"),
    ("next bslash", "POST", "/api/v1/admin/pairing", "PairingIn", {"next": "/\\evil"}, "next"),
    ("next relative", "POST", "/api/v1/admin/pairing", "PairingIn", {"next": "kds"}, "next"),
    ("next newline", "POST", "/api/v1/admin/pairing", "PairingIn", {"next": "/a\n"}, "next"),
    # a pairing PIN: six digits, spaces around them ignored
    ("pin", "POST", "/api/v1/pair/pin", "PinPairingIn", {"pin": "123456"}, None),
    ("pin spaced", "POST", "/api/v1/pair/pin", "PinPairingIn", {"pin": " 123456 "}, None),
    ("pin short", "POST", "/api/v1/pair/pin", "PinPairingIn", {"pin": "12345"}, "pin"),
    ("pin letters", "POST", "/api/v1/pair/pin", "PinPairingIn", {"pin": "12345a"}, "pin"),
    # a weight: a scale or grams, one of the two, 1 g to 100 kg
    ("grams", "POST", "{order}/lines/0/weight", "WeightIn", {"grams": 500}, None),
    ("grams 2.0", "POST", "{order}/lines/0/weight", "WeightIn", {"grams": 500.0}, None),
    ("scale", "POST", "{order}/lines/0/weight", "WeightIn", {"scale": "scale-9"}, None),
    ("neither", "POST", "{order}/lines/0/weight", "WeightIn", {}, "scale"),
    ("both", "POST", "{order}/lines/0/weight", "WeightIn", {"scale": "s", "grams": 5}, "scale"),
    ("0 g", "POST", "{order}/lines/0/weight", "WeightIn", {"grams": 0}, "grams"),
    ("100 kg+", "POST", "{order}/lines/0/weight", "WeightIn", {"grams": 100_001}, "grams"),
    # a void's reason: 1-140 characters, something on it to print
    ("reason", "POST", "{order}/lines/0/void", "VoidIn", {"reason": "太慢"}, None),
    ("reason blank", "POST", "{order}/lines/0/void", "VoidIn", {"reason": "  "}, "reason"),
    ("reason zwsp", "POST", "{order}/lines/0/void", "VoidIn", {"reason": "\u200b"}, "reason"),
    ("reason long", "POST", "{order}/lines/0/void", "VoidIn", {"reason": "x" * 141}, "reason"),
    ("qty 1.0", "POST", "{order}/lines/0/void", "VoidIn", {"reason": "x", "qty": 1.0}, None),
    ("qty 1.5", "POST", "{order}/lines/0/void", "VoidIn", {"reason": "x", "qty": 1.5}, "qty"),
    ("qty '1'", "POST", "{order}/lines/0/void", "VoidIn", {"reason": "x", "qty": "1"}, "qty"),
    # a change: a note of at most 140 characters
    ("note long", "POST", "{order}/lines/0/change", "ChangeIn", {"note": "n" * 141}, "note"),
    # a split: even needs n (2-20), items needs parts
    ("even", "POST", "/api/v1/tables/T1/split", "SplitIn", {"mode": "even", "n": 2}, None),
    ("even n 1", "POST", "/api/v1/tables/T1/split", "SplitIn", {"mode": "even", "n": 1}, "n"),
    ("even no n", "POST", "/api/v1/tables/T1/split", "SplitIn", {"mode": "even"}, "n"),
    ("no parts", "POST", "/api/v1/tables/T1/split", "SplitIn", {"mode": "items"}, "parts"),
    # a staff order: 1-50 lines, qty 1-99, seat 1-99
    ("order", "POST", "/api/v1/staff/orders", "StaffOrderIn", {}, None),
    ("no lines", "POST", "/api/v1/staff/orders", "StaffOrderIn", {"lines": []}, "lines"),
    ("qty 100", "POST", "/api/v1/staff/orders", "StaffOrderIn", {"qty": 100}, "lines[0].qty"),
    ("qty 2.0", "POST", "/api/v1/staff/orders", "StaffOrderIn", {"qty": 2.0}, None),
    ("seat 100", "POST", "/api/v1/staff/orders", "StaffOrderIn", {"seat": 100}, "lines[0].seat"),
    ("bad key", "POST", "/api/v1/staff/orders", "StaffOrderIn", {"key": "a b"}, "idempotency_key"),
    # a diner's call: one of the kinds
    ("call", "POST", "/api/v1/calls", "CallIn", {"kind": "water"}, None),
    ("call pizza", "POST", "/api/v1/calls", "CallIn", {"kind": "pizza"}, "kind"),
]


def _filled(
    name: str, component: str, body: dict[str, Any], hub: RunningHub, admin: str
) -> dict[str, Any]:
    """`body` made whole: the fields each component needs besides the one under test."""
    action = f"act-{abs(hash(name)) % 10**8:08d}"
    if component == "PairingIn":
        return {"token": admin, **body}
    if component in ("VoidIn", "ChangeIn", "SplitIn"):
        return {"id": action, **body}
    if component == "CallIn":
        return {"table": table_token(hub, "T2"), **body}
    if component == "StaffOrderIn":
        line: dict[str, Any] = {"item": EDAMAME, "qty": body.get("qty", 1)}
        if "seat" in body:
            line["seat"] = body["seat"]
        return {
            "table": "T3",
            "idempotency_key": body.get("key", action),
            "lines": body.get("lines", [line]),
        }
    return body


@pytest.fixture
async def document(hub: RunningHub, http: aiohttp.ClientSession) -> dict[str, Any]:
    async with http.get(f"{hub.url}/api/v1/openapi.json") as r:
        doc: dict[str, Any] = await r.json()
        return doc


def allows(document: dict[str, Any], component: str, body: dict[str, Any]) -> bool:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": f"#/components/schemas/{component}",
        "components": document["components"],
    }
    return bool(jsonschema_rs.validator_for(schema).is_valid(body))


@pytest.mark.parametrize(
    ("name", "method", "path", "component", "body", "field"), CASES, ids=[c[0] for c in CASES]
)
async def test_the_document_and_the_hub_agree_on_a_body(
    hub: RunningHub,
    http: aiohttp.ClientSession,
    admin_token: str,
    document: dict[str, Any],
    name: str,
    method: str,
    path: str,
    component: str,
    body: dict[str, Any],
    field: str | None,
) -> None:
    order, _ = await hub.services.ordering.place(
        table_token(hub), "rules-order-01", [LineRequest(EDAMAME, 2)]
    )
    whole = _filled(name, component, body, hub, admin_token)
    assert allows(document, component, whole) == (field is None), whole
    url = hub.url + path.replace("{order}", f"/api/v1/orders/{order.order_id}")
    headers = {"Authorization": f"Bearer {admin_token}", "X-Requested-With": "tablehub"}
    async with http.request(method, url, json=whole, headers=headers) as r:
        answer = await r.json()
        if field is None:
            assert r.status not in BAD_BODY, answer
        else:
            assert (r.status, answer["field"]) == (422, field), answer


@pytest.mark.parametrize(("day", "status"), [("", 422), ("2026-02-30", 422), ("2026-2-3", 422)])
async def test_a_corrections_day_is_a_date_when_given(
    hub: RunningHub, http: aiohttp.ClientSession, admin_token: str, day: str, status: int
) -> None:
    headers = {"Authorization": f"Bearer {admin_token}"}
    url = f"{hub.url}/api/v1/admin/corrections"
    async with http.get(url, params={"day": day}, headers=headers) as r:
        assert (r.status, (await r.json())["field"]) == (status, "day")
    async with http.get(url, headers=headers) as r:  # none given: today
        assert r.status == 200


async def test_a_void_of_more_than_is_left_is_a_conflict_not_a_bad_body(
    hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    floor = await staff.issue(hub.services.store, "floor", "rules floor")
    order, _ = await hub.services.ordering.place(
        table_token(hub), "rules-order-02", [LineRequest(EDAMAME, 2)]
    )
    url = f"{hub.url}/api/v1/orders/{order.order_id}/lines/0/void"
    body = {"reason": "Wrong item", "id": "rules-void-01", "qty": 3}
    async with http.post(url, json=body, headers={"Authorization": f"Bearer {floor}"}) as r:
        assert (r.status, (await r.json())["field"]) == (409, "qty")
    after = await hub.services.store.read_all(
        "SELECT COUNT(*) FROM corrections WHERE order_id = ?", (order.order_id,)
    )
    assert after[0][0] == 0
