"""The down-link: a chain admin publishes a menu in the cloud; the bridge hands it to the
hub's admin API, which validates it like any edit; the verdict goes back up."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import aiohttp

from cloud_bridge.cli import run_bridge
from cloud_bridge.cursor import read_state
from hub.app import RunningHub
from tests.bridge.conftest import ADMIN_TOKEN, STORE, Receiver, bridge_config, wait_for
from tests.waiting import until


async def publish(http: aiohttp.ClientSession, rec: Receiver, menu: dict[str, Any]) -> int:
    async with http.put(
        f"{rec.url}/v1/stores/{STORE}/menu",
        json=menu,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ) as r:
        assert r.status == 201, await r.text()
        version: int = (await r.json())["version"]
        return version


async def test_cloud_menus_reach_the_hub_and_rejections_are_reported_with_the_reason(
    tmp_path: Path, hub: RunningHub, receiver: Receiver, admin_token: str
) -> None:
    # the bridge reaches the cloud through a proxy that counts its menu polls
    proxy = await receiver.behind_proxy()
    polls = [0]

    def count(request: bytes) -> None:
        polls[0] += request.startswith(f"GET /v1/stores/{STORE}/menu ".encode())

    proxy.on_request = count
    cfg = bridge_config(
        tmp_path,
        hub_db=hub.services.store.path,
        endpoint=proxy.url,
        hub_url=hub.url,
        admin_token=admin_token,
    )
    stop = asyncio.Event()
    bridge = asyncio.create_task(run_bridge(cfg, stop, rng=random.Random(1)))
    cat = hub.services.catalog
    try:
        async with aiohttp.ClientSession() as http:
            doc = cat.menu_document()
            start_version = cat.menu_version
            doc["items"][0]["price_cents"] = 1234
            v1 = await publish(http, receiver, doc)

            async def result_is(status: str, version: int) -> bool:
                menu = (await receiver.status())["menu"]
                return bool(menu) and menu["version"] == version and menu["status"] == status

            await wait_for(lambda: result_is("applied", v1), timeout=10, what="menu applied")
            assert cat.menu_version == start_version + 1
            assert cat.menu_document()["items"][0]["price_cents"] == 1234
            assert (await receiver.status())["menu"]["hub_version"] == cat.menu_version

            bad = cat.menu_document()
            bad["items"][1]["price_cents"] = -5
            v2 = await publish(http, receiver, bad)
            await wait_for(lambda: result_is("rejected", v2), timeout=10, what="menu rejected")
            menu = (await receiver.status())["menu"]
            assert menu["field"] == "items[1].price_cents"
            assert "whole number" in menu["message"]
            assert cat.menu_version == start_version + 1  # the hub kept its menu

            # three polls later, the rejected version has not been tried again: the hub kept
            # its menu and the cloud got no second report of it
            reported = await result_received_at(receiver, v2)
            seen = polls[0]
            await until(lambda: polls[0] >= seen + 3, "three more menu polls by the bridge")
            assert cat.menu_version == start_version + 1
            assert await result_received_at(receiver, v2) == reported
            state = read_state(cfg.state_db)
            assert state["menu"]["status"] == "rejected"
    finally:
        stop.set()
        await bridge
        await proxy.stop()


async def result_received_at(rec: Receiver, version: int) -> object:
    """When the cloud last got the hub's verdict on `version` (a report again moves it)."""
    async with rec.pool.acquire() as con:
        return await con.fetchval(
            "SELECT received_at FROM menu_results WHERE store_id = $1 AND version = $2",
            STORE,
            version,
        )
