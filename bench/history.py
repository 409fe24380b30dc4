"""What pruning a day of closed business writes: `python -m bench.history [--orders 3000]`.

A hub in this process (no broker, no printers), its wall clock stepped by hand: `--orders`
parties each order two lines for two stations over HTTP, are cooked (every ticket bumped),
served and closed, all on one day; 36 days later a table calls (the store's newest event);
the cloud bridge's state says the cloud has every event; then one round of history pruning
runs (`[history] keep_days` 35). Reported: the store's pages in use before and after, the rows
deleted, and what the round cost the card: the bytes this process wrote (`/proc/self/io`
`write_bytes`, what reaches the block layer) from a checkpointed store to a checkpointed one
again, with the store's `secure_delete=FAST` and, for comparison, with it on (SQLite's build
on Debian and Raspberry Pi OS).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from cloud_bridge.cursor import BridgeState
from hub.app import RunningHub, running_hub
from hub.config import HttpLimits, HubConfig, Limits
from hub.consumers.history_prune import DAY_MS, HistoryPruner
from hub.ops.menu_file import demo_menu
from hub.services import staff
from hub.store.db import Tx
from plumbing.outbox import LANES
from tests.clocks import SteppingClock

LINES = [{"item": "sea-salt-edamame", "qty": 2}, {"item": "hot-jasmine-tea", "qty": 1}]


def written_bytes() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise RuntimeError("no write_bytes in /proc/self/io")


def checkpoint(db: Path) -> None:
    """Copy the WAL into the file and empty it (the hub is idle meanwhile)."""
    conn = sqlite3.connect(db, timeout=10)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def in_use(db: Path) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        page = int(conn.execute("PRAGMA page_size").fetchone()[0])
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    finally:
        conn.close()
    return (pages - free) * page


async def a_day(hub: RunningHub, http: aiohttp.ClientSession, orders: int) -> None:
    store = hub.services.store
    kitchen = await staff.issue(store, "kitchen", "bench kitchen")
    floor = await staff.issue(store, "floor", "bench floor")
    tables = sorted(hub.services.catalog.tables)

    async def call(tok: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {tok}"}
        async with http.post(hub.url + path, json=body or {}, headers=headers) as r:
            assert r.status in (200, 201), await r.text()
            return await r.json()

    for n in range(orders):
        table = tables[n % len(tables)]
        body = {
            "table": hub.services.catalog.token_for(table),
            "idempotency_key": f"history-bench-{n:08d}",
            "lines": LINES,
        }
        async with http.post(hub.url + "/api/v1/orders", json=body) as r:
            assert r.status == 201, await r.text()
            order = await r.json()
        async with http.get(
            hub.url + "/api/v1/stations/expo/tickets",
            headers={"Authorization": f"Bearer {kitchen}"},
        ) as r:
            tickets = (await r.json())["tickets"]
        for t in tickets:
            if t["order_id"] == order["order_id"]:
                await call(kitchen, f"/api/v1/tickets/{t['id']}/bump")
        await call(kitchen, f"/api/v1/orders/{order['order_id']}/serve")
        await call(floor, f"/api/v1/tables/{table}/close")


async def one_run(orders: int, secure_delete: str, work: Path) -> dict[str, Any]:
    clock = SteppingClock()  # from today: the bench's first day is the machine's
    clock.wall = int(time.time() * 1000)
    config = HubConfig(
        data_dir=work / f"data-{secure_delete.lower()}",
        http_port=0,
        broker=None,
        limits=Limits(enabled=False),
        http_limits=HttpLimits(connections_per_address=1024),
        backup_every_s=0,
    )
    out: dict[str, Any] = {"secure_delete": secure_delete, "orders": orders}
    async with (
        running_hub(replace(config), seed_menu=demo_menu(), clock=clock) as hub,
        aiohttp.ClientSession() as http,
    ):
        store = hub.services.store
        t0 = time.monotonic()
        await a_day(hub, http, orders)
        out["day_s"] = round(time.monotonic() - t0, 1)
        clock.advance(36 * DAY_MS)
        body = {"table": hub.services.catalog.token_for("T1"), "kind": "water"}
        async with http.post(hub.url + "/api/v1/calls", json=body) as r:
            assert r.status in (200, 201)
        state_db = work / f"bridge-{secure_delete.lower()}.db"
        async with BridgeState(state_db, store_id="demo", now_ms=clock.now_ms) as st:
            await st.commit_ack(dict.fromkeys(LANES, store.committed_seq))

        async def pragma(tx: Tx) -> None:
            await tx.execute(f"PRAGMA secure_delete={secure_delete}")

        await store.write(pragma)
        checkpoint(store.path)
        out["in_use_before"] = in_use(store.path)
        before = written_bytes()
        t0 = time.monotonic()
        result = await HistoryPruner(store, state_db, now_ms=clock.now_ms).prune_once()
        out["prune_s"] = round(time.monotonic() - t0, 2)
        checkpoint(store.path)
        out["written"] = written_bytes() - before
        out["in_use_after"] = in_use(store.path)
        out["rows"] = result.rows
        out["checks"] = result.checks
        out["writes"] = result.writes
    return out


ORDERS = 3000  # a busy store's day


async def measure(orders: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="tablehub-history-", dir="/var/tmp") as tmp:
        return [await one_run(orders, mode, Path(tmp)) for mode in ("FAST", "ON")]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--orders", type=int, default=ORDERS)
    args = p.parse_args(argv)
    runs = asyncio.run(measure(args.orders))
    print(json.dumps(runs, indent=1))
    for r in runs:
        freed = r["in_use_before"] - r["in_use_after"]
        print(
            f"secure_delete={r['secure_delete']}: {r['checks']} checks, {r['rows']} rows in "
            f"{r['writes']} writes, {r['prune_s']} s; business freed {freed / 1e6:.2f} MB; "
            f"pruning wrote {r['written'] / 1e6:.2f} MB ({r['written'] / max(1, freed):.2f}× "
            "what it freed)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
