"""The router, the OpenAPI document and docs/api.md say the same: every route the hub serves
is in the document (or is one of the pages, WebSockets and text routes below, which are not
JSON), every path of the document is served, and docs/api.md names every route as
`METHOD /path` (in backticks; `WS` for a WebSocket) and no route that is not served."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from devices.agent import MqttSettings
from devices.buttons.demo import DemoButtons, demo_board
from hub.app import RunningHub, running_hub
from hub.config import HubConfig
from hub.domain.orders import LineRequest
from hub.ops.mosquitto import Mosquitto
from hub.services import staff
from hub.web.app import build_app

API_MD = Path(__file__).parents[2] / "docs" / "api.md"

# Routes docs/api.md documents that are not JSON operations, so not in the OpenAPI document
NOT_JSON = {
    # pages (HTML; the staff ones redirect to pairing first)
    "GET /",
    "GET /t/{token}",
    "GET /w/{token}",  # a walk-in's place in the queue
    "GET /floor",
    "GET /kds/{station}",
    "GET /admin",
    "GET /demo/devices",  # `tablehub demo` only
    "GET /pair",  # sets the session cookie and redirects
    "GET /favicon.ico",
    # WebSockets
    "GET /ws/table",
    "GET /ws/kds/{station}",
    "GET /ws/floor",
    # Prometheus text
    "GET /metrics",
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DOC_ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE|WS) (/[^`\s?]*)[^`]*`")
PARAM = re.compile(r"\{[^}]*\}|<[^>]*>")


@pytest.fixture
async def full_hub(
    hub_config: HubConfig, menu_doc: dict[str, Any], broker: Mosquitto
) -> AsyncIterator[RunningHub]:
    """A hub with every route there is: the demo's button board too."""
    buttons = DemoButtons(
        "demo",
        demo_board(["T1"], ["grill"]),
        MqttSettings(port=broker.port, client_id=f"{hub_config.broker.client_id}-b"),
    )
    async with running_hub(hub_config, seed_menu=menu_doc, demo_buttons=buttons) as running:
        yield running


def served(app: web.Application) -> set[str]:
    """Every route of `app` as "METHOD /path/{param}": no static files, no HEAD."""
    routes = set()
    for route in app.router.routes():
        resource = route.resource
        if resource is None or isinstance(resource, web.StaticResource):
            continue
        if route.method in METHODS:
            routes.add(f"{route.method} {resource.canonical}")
    return routes


def documented(doc: dict[str, Any]) -> set[str]:
    return {f"{m.upper()} {path}" for path, ops in doc["paths"].items() for m in ops}


def in_api_md() -> set[str]:
    """Every `METHOD /path` docs/api.md names, its parameters written `{}` (the prose may
    call them `<id>`), without a query."""
    text = API_MD.read_text(encoding="utf-8")
    return {
        f"{'GET' if method == 'WS' else method} {PARAM.sub('{}', path)}"
        for method, path in DOC_ROUTE.findall(text)
    }


def shape(route: str) -> str:
    return PARAM.sub("{}", route)


async def openapi(hub: RunningHub, http: aiohttp.ClientSession) -> dict[str, Any]:
    async with http.get(f"{hub.url}/api/v1/openapi.json") as r:
        assert r.status == 200
        body: dict[str, Any] = await r.json()
        return body


async def test_every_route_is_in_the_openapi_document_and_every_path_in_it_is_served(
    full_hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    routes = served(build_app(full_hub.services))
    doc = documented(await openapi(full_hub, http))
    assert routes >= NOT_JSON, sorted(NOT_JSON - routes)  # the list above is not stale
    assert sorted(routes - NOT_JSON - doc) == []  # served, not in the document
    assert sorted(doc - routes) == []  # in the document, not served
    assert not doc & NOT_JSON


async def test_every_documented_operation_reaches_its_handler(
    full_hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    # asked without a token, each is answered by its handler (an answer, a 401 or a 403),
    # never by the router's "no such path" or "not this method"
    for route in sorted(documented(await openapi(full_hub, http))):
        method, path = route.split(" ")
        async with http.request(
            method, full_hub.url + PARAM.sub("1", path), allow_redirects=False
        ) as r:
            body = await r.json() if r.content_type == "application/json" else {}
            assert r.status != 405, route
            assert not (r.status == 404 and body.get("field") is None), (route, body)


def template(route: str) -> re.Pattern[str]:
    """What `route` answers: each parameter any one path segment."""
    return re.compile(
        "".join("[^/]+" if p == "{}" else re.escape(p) for p in re.split(r"({})", route))
    )


async def test_docs_api_md_names_every_route_and_only_those(full_hub: RunningHub) -> None:
    routes = {shape(route) for route in served(build_app(full_hub.services))}
    named = in_api_md()
    assert sorted(routes - named) == []  # served, not in docs/api.md
    # in docs/api.md, not served (an example like `GET /kds/expo` is served by its template)
    patterns = [template(route) for route in routes]
    assert sorted(n for n in named if not any(p.fullmatch(n) for p in patterns)) == []


async def test_an_empty_body_is_refused_exactly_where_the_document_requires_one(
    full_hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    """A body the document marks required is never answered 2xx when it is missing; one it
    marks optional (every field optional: an action id) is taken as `{}`."""
    admin = await staff.issue(full_hub.services.store, "admin", "docs")
    # order 1 and its ticket 1, so that the actions on them get past "no such id"
    token = full_hub.services.catalog.token_for("T1")
    await full_hub.services.ordering.place(token, "docs-0001", [LineRequest("sea-salt-edamame", 1)])
    doc = await openapi(full_hub, http)
    seen = 0
    for path, ops in sorted(doc["paths"].items()):
        for method, op in sorted(ops.items()):
            if "requestBody" not in op:
                continue
            seen += 1
            url = full_hub.url + PARAM.sub("1", path)
            headers = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
            async with http.request(method.upper(), url, data=b"", headers=headers) as r:
                body = await r.json() if r.content_type == "application/json" else {}
            asked_for_body = body.get("message") == "a JSON object body is required"
            if op["requestBody"]["required"]:
                assert r.status >= 400, (method, path, r.status, body)
            else:
                assert not asked_for_body, (method, path, body)
    assert seen >= 30, seen  # the document's bodies were all tried
