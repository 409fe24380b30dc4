"""`kill -9` of the hub while voids are in flight: every acknowledged void survives, once;
sending every void again after the restart (acknowledged or not) applies each exactly once."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.ops.mosquitto import Mosquitto, free_port
from tests.integration.test_crash import start_hub, token_cli, wait_serving, write_config
from tests.waiting import until

ORDERS = 6
UNITS = 60  # per order: more than the burst can void
PHONES = 6


async def void_burst(
    http: aiohttp.ClientSession,
    url: str,
    auth: dict[str, str],
    order_ids: list[int],
    n: int,
    tried: dict[str, int],
    acked: set[str],
    stop: asyncio.Event,
) -> None:
    """One floor device: voids one unit at a time until told to stop or the hub dies."""
    i = 0
    while not stop.is_set() and i < UNITS:
        order_id = order_ids[(n + i) % len(order_ids)]
        action = f"crash-void-{n}-{i:04d}"
        tried[action] = order_id
        body = {"qty": 1, "reason": "Guest changed mind", "id": action}
        try:
            async with http.post(
                f"{url}/api/v1/orders/{order_id}/lines/0/void", json=body, headers=auth
            ) as r:
                if r.status == 200:
                    acked.add(action)
        except (TimeoutError, aiohttp.ClientError):
            return
        i += 1


@pytest.mark.slow
async def test_kill_9_mid_correction_loses_no_acknowledged_void(
    tmp_path: Path, broker: Mosquitto, menu_doc: dict[str, Any]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cfg = write_config(tmp_path, port, broker.port, menu_doc)
    log = tmp_path / "hub.log"
    tried: dict[str, int] = {}
    acked: set[str] = set()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        proc = start_hub(cfg, log)
        await wait_serving(http, url, proc, log)
        tables = json.loads(token_cli(tmp_path / "data", "tables", "--json"))
        floor = token_cli(tmp_path / "data", "token", "--role", "floor", "--label", "Ann")
        auth = {"Authorization": f"Bearer {floor}"}
        order_ids = []
        for k in range(ORDERS):
            body = {
                "table": tables[k]["url"].rsplit("/", 1)[1],
                "idempotency_key": f"crash-order-{k:04d}",
                "lines": [{"item": "sea-salt-edamame", "qty": 99}],
            }
            async with http.post(url + "/api/v1/orders", json=body) as r:
                assert r.status == 201
                order_ids.append((await r.json())["order_id"])
        stop = asyncio.Event()
        devices = [
            asyncio.create_task(void_burst(http, url, auth, order_ids, n, tried, acked, stop))
            for n in range(PHONES)
        ]
        await until(lambda: len(acked) >= 20, "20 voids acknowledged", every=0.005)
        proc.send_signal(signal.SIGKILL)  # voids are in flight
        proc.wait(5)
        stop.set()
        await asyncio.gather(*devices)
        assert len(tried) > len(acked), "some voids were cut off by the kill"
        proc = start_hub(cfg, log)
        try:
            await wait_serving(http, url, proc, log)
            # every acknowledged void is there
            voided = await void_counts(http, url, auth, order_ids)
            per_order_acked = dict.fromkeys(order_ids, 0)
            for action in acked:
                per_order_acked[tried[action]] += 1
            for oid in order_ids:
                assert voided[oid] >= per_order_acked[oid]
            # every void again, acknowledged or not: each is applied exactly once
            for action, order_id in tried.items():
                body = {"qty": 1, "reason": "Guest changed mind", "id": action}
                async with http.post(
                    f"{url}/api/v1/orders/{order_id}/lines/0/void", json=body, headers=auth
                ) as r:
                    assert r.status == 200, (action, await r.text())
            voided = await void_counts(http, url, auth, order_ids)
            per_order_tried = dict.fromkeys(order_ids, 0)
            for order_id in tried.values():
                per_order_tried[order_id] += 1
            assert voided == per_order_tried
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
    with sqlite3.connect(f"file:{tmp_path / 'data' / 'tablehub.db'}?mode=ro", uri=True) as db:
        ids = [r[0] for r in db.execute("SELECT id FROM corrections")]
    assert sorted(ids) == sorted(tried)  # the record: one row per void, none twice
    assert acked <= set(ids)
    assert "Traceback" not in log.read_text()


async def void_counts(
    http: aiohttp.ClientSession, url: str, auth: dict[str, str], order_ids: list[int]
) -> dict[int, int]:
    out = {}
    for oid in order_ids:
        async with http.get(f"{url}/api/v1/orders/{oid}", headers=auth) as r:
            order = await r.json()
        line = order["lines"][0]
        assert line["line_cents"] == (line["qty"] - line["void_qty"]) * line["unit_cents"]
        assert order["total_cents"] == line["line_cents"]
        out[oid] = line["void_qty"]
    return out
