"""Orders left ready on the pass: a store that never taps serve (no expo screen, or an expo
that hands food over without a tap) has every order it ever made open, loaded by the expo's
and the floor's every connect. An order ready (every ticket bumped, no course held) for
`[kitchen] serve_ready_after_minutes` is served by the hub, as if by hand; nothing else is."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import aiohttp

from hub.app import RunningHub, running_hub
from hub.config import HubConfig, PacingConfig
from hub.services import staff
from plumbing.packed import unpack
from tests.clocks import SteppingClock
from tests.conftest import table_token
from tests.samples import with_courses

STARTER = {"item": "chicken-satay", "qty": 1}  # grill
MAIN = {"item": "kung-pao-chicken", "qty": 1}  # wok
HOUR_S = 3600


async def call(
    http: aiohttp.ClientSession, method: str, url: str, tok: str, body: Any = None
) -> Any:
    async with http.request(
        method, url, json=body, headers={"Authorization": f"Bearer {tok}"}
    ) as r:
        assert r.status in (200, 201), await r.text()
        return await r.json()


async def place(
    http: aiohttp.ClientSession, hub: RunningHub, table: str, key: str, lines: list[Any]
) -> int:
    body = {"table": table_token(hub, table), "idempotency_key": key, "lines": lines}
    async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
        assert r.status == 201, await r.text()
        return int((await r.json())["order_id"])


async def bump_all(
    http: aiohttp.ClientSession, hub: RunningHub, tok: str, station: str
) -> list[int]:
    got = await call(http, "GET", f"{hub.url}/api/v1/stations/{station}/tickets", tok)
    for t in got["tickets"]:
        await call(http, "POST", f"{hub.url}/api/v1/tickets/{t['id']}/bump", tok, {})
    return [int(t["id"]) for t in got["tickets"]]


async def status(http: aiohttp.ClientSession, hub: RunningHub, tok: str, order_id: int) -> str:
    got = await call(http, "GET", f"{hub.url}/api/v1/orders/{order_id}", tok)
    return str(got["status"])


async def tables_on_the_floor(http: aiohttp.ClientSession, hub: RunningHub, tok: str) -> set[str]:
    got = await call(http, "GET", f"{hub.url}/api/v1/pacing/tables", tok)
    return {t["table"] for t in got["tables"]}


def config_of(hub_config: HubConfig) -> HubConfig:
    return replace(hub_config, broker=None, pacing=PacingConfig(auto_fire="manual"))


async def test_an_order_left_ready_is_served_after_the_store_set_time_and_no_other(
    hub_config: HubConfig, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    clock = SteppingClock()
    async with running_hub(
        config_of(hub_config), seed_menu=with_courses(menu_doc), clock=clock
    ) as hub:
        kitchen = hub.services.kitchen
        tok = await staff.issue(hub.services.store, "kitchen", "kds")
        ready = await place(http, hub, "T1", "left-ready-01", [STARTER])
        cooking = await place(http, hub, "T2", "still-cooking-1", [MAIN])
        held = await place(http, hub, "T3", "mains-held-0001", [STARTER, MAIN])
        await bump_all(http, hub, tok, "grill")  # T1's starter, T3's starter; T3's mains held
        assert await status(http, hub, tok, ready) == "ready"
        assert await status(http, hub, tok, held) != "ready"
        assert await kitchen.serve_ready(HOUR_S) == []  # just ready: watched from now
        clock.advance((HOUR_S - 60) * 1000)
        assert await kitchen.serve_ready(HOUR_S) == []
        assert await status(http, hub, tok, ready) == "ready"
        clock.advance(120 * 1000)
        assert await kitchen.serve_ready(HOUR_S) == [ready]
        assert await status(http, hub, tok, ready) == "served"
        assert await status(http, hub, tok, cooking) == "received"  # open tickets: never
        assert await status(http, hub, tok, held) != "served"  # a course held: never
        assert await tables_on_the_floor(http, hub, tok) == {"T2", "T3"}
        rows = await hub.services.store.read_all(
            "SELECT key, body FROM outbox WHERE kind='order.status' ORDER BY seq DESC LIMIT 1"
        )
        assert rows[0][0] == str(ready)
        assert b'"status":"served"' in unpack(rows[0][1])
        clock.advance((HOUR_S * 5) * 1000)
        assert await kitchen.serve_ready(HOUR_S) == []  # nothing else is ready


async def test_a_wall_clock_set_forward_serves_nothing_early(
    hub_config: HubConfig, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    clock = SteppingClock()
    async with running_hub(
        config_of(hub_config), seed_menu=with_courses(menu_doc), clock=clock
    ) as hub:
        kitchen = hub.services.kitchen
        tok = await staff.issue(hub.services.store, "kitchen", "kds")
        order_id = await place(http, hub, "T1", "clock-jump-0001", [STARTER])
        await bump_all(http, hub, tok, "grill")
        assert await kitchen.serve_ready(HOUR_S) == []
        clock.wall += 3 * HOUR_S * 1000  # NTP reached a Pi that booted with an old time
        clock.mono += 60_000
        assert await kitchen.serve_ready(HOUR_S) == []
        assert await status(http, hub, tok, order_id) == "ready"
        clock.advance(HOUR_S * 1000)
        assert await kitchen.serve_ready(HOUR_S) == [order_id]


async def test_a_recall_keeps_the_order_on_the_pass(
    hub_config: HubConfig, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    clock = SteppingClock()
    async with running_hub(
        config_of(hub_config), seed_menu=with_courses(menu_doc), clock=clock
    ) as hub:
        kitchen = hub.services.kitchen
        tok = await staff.issue(hub.services.store, "kitchen", "kds")
        order_id = await place(http, hub, "T1", "recalled-00001", [STARTER])
        [ticket] = await bump_all(http, hub, tok, "grill")
        assert await kitchen.serve_ready(HOUR_S) == []
        clock.advance((HOUR_S - 60) * 1000)
        await call(http, "POST", f"{hub.url}/api/v1/tickets/{ticket}/recall", tok, {})
        assert await status(http, hub, tok, order_id) != "ready"
        await bump_all(http, hub, tok, "grill")  # made again: ready from now
        clock.advance(120 * 1000)
        assert await kitchen.serve_ready(HOUR_S) == []
        assert await status(http, hub, tok, order_id) == "ready"
        clock.advance(HOUR_S * 1000)
        assert await kitchen.serve_ready(HOUR_S) == [order_id]


async def test_the_sweep_runs_for_the_hubs_life_unless_the_store_turns_it_off(
    hub_config: HubConfig, menu_doc: dict[str, Any]
) -> None:
    async with running_hub(config_of(hub_config), seed_menu=menu_doc) as hub:
        assert hub.supervisor is not None
        assert "serve-ready" in hub.supervisor.names
    off = replace(config_of(hub_config), serve_ready_after_s=0)
    async with running_hub(off, seed_menu=menu_doc) as hub:
        assert hub.supervisor is not None
        assert "serve-ready" not in hub.supervisor.names
