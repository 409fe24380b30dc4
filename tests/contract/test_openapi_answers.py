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


async def test_an_action_id_used_for_another_action_is_a_conflict_not_its_answer(
    hub: RunningHub, http: aiohttp.ClientSession, kitchen_token: str
) -> None:
    """A bump with the action id of a serve is refused (409 `id`): answered with the serve's
    order, it would be a bump's answer that is no ticket."""
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
    for action in ("bump", "start", "recall"):
        refused = await api.call(
            "POST",
            f"/api/v1/tickets/{{ticket_id}}/{action}",
            409,
            args={"ticket_id": ticket_id},
            json=same,
            headers=staff,
        )
        assert refused["field"] == "id", refused
    # the serve itself, again: its first answer
    again = await api.call(
        "POST", serve, 200, args={"order_id": placed["order_id"]}, json=same, headers=staff
    )
    assert (again["order_id"], again["status"]) == (placed["order_id"], "served")
