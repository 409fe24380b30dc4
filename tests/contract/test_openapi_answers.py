"""The OpenAPI document's answer schemas hold for what a running hub answers.

A diner reads the menu, orders, reads the order and the check back and calls a waiter; the
kitchen reads its tickets, starts, bumps and recalls them and serves the order. Each answer is
validated against the schema the hub's own /api/v1/openapi.json gives that operation and
status, so an answer that drops or mistypes a field the document requires fails here, not only
when the fuzzer happens to reach it."""

from __future__ import annotations

from typing import Any

import aiohttp
import jsonschema_rs

from hub.app import RunningHub
from tests.conftest import order_body, table_token

PORK = "crispy-pork-belly"  # spice: exactly 1; extras: 0-3
LOBSTER = "live-lobster"  # sold by weight: its line is priced once weighed


class Answers:
    """Calls the hub and checks each JSON answer against the document's schema for it."""

    def __init__(self, hub: RunningHub, http: aiohttp.ClientSession, doc: dict[str, Any]) -> None:
        self.hub, self.http, self.doc = hub, http, doc
        self.checked: list[str] = []

    def schema(self, method: str, path: str, status: int) -> dict[str, Any]:
        answer = self.doc["paths"][path][method.lower()]["responses"][str(status)]
        schema: dict[str, Any] = answer["content"]["application/json"]["schema"]
        return schema

    async def call(
        self,
        method: str,
        path: str,
        status: int,
        *,
        args: dict[str, Any] | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        """`method path` (its parameters filled from `args`) must answer `status` with a
        body its schema in the document allows; returns the body."""
        url = self.hub.url + path.format(**(args or {}))
        async with self.http.request(method, url, **kw) as r:
            body: dict[str, Any] = await r.json()
            assert r.status == status, body
        schema = self.schema(method, path, status)
        # the answer's schema, resolving its $refs in the document's components
        validator = jsonschema_rs.Draft202012Validator(
            dict(schema, components=self.doc["components"])
        )
        errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(body)]
        assert not errors, f"{method} {path} {status}: {errors}"
        self.checked.append(f"{method} {path} {status}")
        return body


async def test_diner_and_kitchen_answers_match_the_document(
    hub: RunningHub, http: aiohttp.ClientSession, kitchen_token: str
) -> None:
    async with http.get(f"{hub.url}/api/v1/openapi.json") as r:
        doc = await r.json()
    api = Answers(hub, http, doc)
    token = table_token(hub)
    staff = {"Authorization": f"Bearer {kitchen_token}"}
    # a counted item: the menu gives its stock_left
    await api.call(
        "POST",
        "/api/v1/items/{item_id}/stock",
        200,
        args={"item_id": PORK},
        json={"count": 5, "low_at": 1},
        headers=staff,
    )
    menu = await api.call("GET", "/api/v1/menu", 200, params={"table": token})
    assert {it["id"]: it.get("stock_left") for it in menu["items"]}[PORK] == 5

    lines = [
        {
            "item": PORK,
            "qty": 2,
            "modifiers": ["pork-belly-spice-mild", "pork-belly-extra-egg"],
            "note": "no onion",
        },
        {"item": LOBSTER, "qty": 1, "modifiers": ["lobster-noodles"]},
        {"item": "chicken-satay", "qty": 1},  # the grill's ticket has two items
        {"item": "sea-salt-edamame", "qty": 1},
    ]
    placed = await api.call(
        "POST", "/api/v1/orders", 201, json=order_body(token, "answers-0001", lines)
    )
    weighed = placed["lines"][1]
    assert (weighed["per_grams"], weighed["weight_pending"]) == (100, True)
    order = {"order_id": placed["order_id"]}
    got = await api.call(
        "GET", "/api/v1/orders/{order_id}", 200, args=order, params={"table": token}
    )
    assert got["order_id"] == placed["order_id"]
    assert "eta_ms" in got
    assert "eta_range_ms" in got
    await api.call("GET", "/api/v1/orders/{order_id}", 200, args=order, headers=staff)
    check = await api.call("GET", "/api/v1/check", 200, params={"table": token})
    assert [o["order_id"] for o in check["orders"]] == [placed["order_id"]]

    call = {"table": token, "kind": "waiter"}
    await api.call("POST", "/api/v1/calls", 201, json=call)
    await api.call("POST", "/api/v1/calls", 200, json=call)  # the call already open

    grill = await api.call(
        "GET", "/api/v1/stations/{station}/tickets", 200, args={"station": "grill"}, headers=staff
    )
    (ticket,) = grill["tickets"]
    await api.call(
        "GET", "/api/v1/stations/{station}/tickets", 200, args={"station": "expo"}, headers=staff
    )
    one = {"ticket_id": ticket["id"]}
    started = await api.call(
        "POST",
        "/api/v1/tickets/{ticket_id}/start",
        200,
        args=one,
        json={"id": "start-1"},
        headers=staff,
    )
    assert started["started_ms"] > 0
    bump = "/api/v1/tickets/{ticket_id}/bump"
    await api.call("POST", bump, 200, args=one, json={"item": 0}, headers=staff)
    bumped = await api.call("POST", bump, 200, args=one, json={"id": "bump-1"}, headers=staff)
    assert bumped["status"] == "bumped"
    # the same action id again: the stored answer, still a ticket
    await api.call("POST", bump, 200, args=one, json={"id": "bump-1"}, headers=staff)
    await api.call(
        "POST", "/api/v1/tickets/{ticket_id}/recall", 200, args=one, json={}, headers=staff
    )
    await api.call("POST", bump, 200, args=one, json={}, headers=staff)
    await api.call(
        "POST",
        "/api/v1/stations/{station}/recall",
        200,
        args={"station": "grill"},
        json={},
        headers=staff,
    )
    served = await api.call(
        "POST", "/api/v1/orders/{order_id}/serve", 200, args=order, json={}, headers=staff
    )
    assert served["status"] == "served"
    # and the error body
    await api.call("POST", bump, 404, args={"ticket_id": 999999}, json={}, headers=staff)
    await api.call("GET", "/api/v1/menu", 403, params={"table": "forged"})
    assert len(api.checked) == 20


async def test_an_action_id_used_for_another_action_is_a_conflict_not_its_answer(
    hub: RunningHub, http: aiohttp.ClientSession, kitchen_token: str
) -> None:
    """An action id is kept on what it acted on: a serve's on its order, a recall's on its
    ticket. Each is answered as its own kind (the order, the ticket: never the other's answer,
    which would be a bump's answer that is no ticket), and a bump or a start with the recall's
    id on that ticket is refused (409 `id`)."""
    async with http.get(f"{hub.url}/api/v1/openapi.json") as r:
        api = Answers(hub, http, await r.json())
    staff = {"Authorization": f"Bearer {kitchen_token}"}
    placed = await api.call(
        "POST", "/api/v1/orders", 201, json=order_body(table_token(hub), "answers-0002")
    )
    ticket_id = (await hub.services.store.read_all("SELECT id FROM tickets"))[0][0]
    serve = "/api/v1/orders/{order_id}/serve"
    same = {"id": "kitchen-action-1"}
    await api.call(
        "POST", serve, 200, args={"order_id": placed["order_id"]}, json=same, headers=staff
    )
    recalled = await api.call(
        "POST",
        "/api/v1/tickets/{ticket_id}/recall",
        200,
        args={"ticket_id": ticket_id},
        json=same,
        headers=staff,
    )
    assert (recalled["id"], recalled["status"]) == (ticket_id, "open")
    for action in ("bump", "start"):
        refused = await api.call(
            "POST",
            f"/api/v1/tickets/{{ticket_id}}/{action}",
            409,
            args={"ticket_id": ticket_id},
            json=same,
            headers=staff,
        )
        assert refused["field"] == "id", refused
    # the serve itself, again: its order as it is now
    again = await api.call(
        "POST", serve, 200, args={"order_id": placed["order_id"]}, json=same, headers=staff
    )
    assert again["order_id"] == placed["order_id"]
