"""Counts go to the cloud: the kitchen's count, the portions each order takes and the sell-out
reach the reference receiver through the bridge, once each, with their content."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

from cloud_bridge.cli import run_bridge
from hub.app import RunningHub
from hub.domain.orders import LineRequest
from tests.bridge.conftest import (
    STORE,
    Receiver,
    assert_exactly_once,
    bridge_config,
    caught_up,
    wait_for,
)
from tests.conftest import table_token


async def test_counts_reach_the_cloud(tmp_path: Path, hub: RunningHub, receiver: Receiver) -> None:
    s = hub.services
    await s.stock.set_count("sea-salt-edamame", 2, 1, action_id=None, by="chef")
    for n in range(2):
        lines = [LineRequest("sea-salt-edamame", 1)]
        await s.ordering.place(table_token(hub, "T1"), f"cloud-stock-{n:03d}", lines)
    cfg = bridge_config(tmp_path, hub_db=s.store.path, endpoint=receiver.url)
    stop = asyncio.Event()
    bridge = asyncio.create_task(run_bridge(cfg, stop, rng=random.Random(7)))
    try:
        await wait_for(lambda: caught_up(receiver, hub), timeout=15, what="the cloud")
    finally:
        stop.set()
        await bridge
    await assert_exactly_once(receiver, s.store.path)
    async with receiver.pool.acquire() as con:
        rows = await con.fetch(
            "SELECT kind, body::text AS body FROM events WHERE store_id = $1 AND stream = 'menu' "
            "ORDER BY seq",
            STORE,
        )
    stock = [json.loads(r["body"]) for r in rows if r["kind"] == "item.stock"]
    assert [(b["left"], b["reason"]) for b in stock] == [(2, "set"), (1, "order"), (0, "order")]
    assert stock[1]["low"] is True
    sold_out = [json.loads(r["body"]) for r in rows if r["kind"] == "item.availability"]
    assert {"item": "sea-salt-edamame", "available": False} in sold_out
