"""How long a void, a change and a payment take through HTTP on this machine (each answered
only once it is on disk): `python -m bench.corrections [--n 200] [--concurrency 16]`.

A hub without MQTT on a temporary store; N orders, then N voids one after another, N voids
from `concurrency` floor devices at once, N changes, and N payments that close N checks.
Prints p50/p99 latency and the rate for each."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from hub.app import running_hub
from hub.config import HubConfig, Limits
from hub.ops.menu_file import demo_menu
from hub.services import staff


async def timed(
    n: int, concurrency: int, call: Callable[[int], Awaitable[int]]
) -> tuple[list[float], float]:
    """Run `call(i)` for i < n, `concurrency` at a time; each must answer 2xx."""
    took: list[float] = []
    queue = list(range(n))

    async def worker() -> None:
        while queue:
            i = queue.pop()
            start = time.perf_counter()
            status = await call(i)
            took.append(time.perf_counter() - start)
            assert 200 <= status < 300, status

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return took, time.perf_counter() - start


def line(name: str, took: list[float], wall: float) -> str:
    ms = sorted(t * 1000 for t in took)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return (
        f"{name:<28} n={len(ms):<5} p50={statistics.median(ms):6.2f} ms  p99={p99:6.2f} ms  "
        f"{len(ms) / wall:7.0f}/s"
    )


async def main(n: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = HubConfig(
            data_dir=Path(tmp), http_port=0, broker=None, limits=Limits(enabled=False)
        )
        async with (
            running_hub(config, seed_menu=demo_menu()) as hub,
            aiohttp.ClientSession() as http,
        ):
            token = await staff.issue(hub.services.store, "floor", "bench")
            auth = {"Authorization": f"Bearer {token}"}
            tables = list(hub.services.catalog.tables)
            orders: list[Any] = []
            for i in range(n):
                body = {
                    "table": tables[i % len(tables)],
                    "idempotency_key": f"bench-order-{i:06d}",
                    "lines": [
                        {"item": "sea-salt-edamame", "qty": 9},
                        {"item": "pork-gyoza", "qty": 1, "modifiers": ["gyoza-sauce-vinegar"]},
                    ],
                }
                async with http.post(
                    hub.url + "/api/v1/staff/orders", json=body, headers=auth
                ) as r:
                    orders.append(await r.json())

            def post(path: str, body: dict[str, Any]) -> Callable[[], Awaitable[int]]:
                async def go() -> int:
                    async with http.post(hub.url + path, json=body, headers=auth) as r:
                        await r.read()
                        return r.status

                return go

            def void(tag: str) -> Callable[[int], Awaitable[int]]:
                return lambda i: post(
                    f"/api/v1/orders/{orders[i]['order_id']}/lines/0/void",
                    {"qty": 1, "reason": "bench", "id": f"bench-{tag}-{i:06d}"},
                )()

            def change(i: int) -> Awaitable[int]:
                return post(
                    f"/api/v1/orders/{orders[i]['order_id']}/lines/1/change",
                    {"note": "well done", "id": f"bench-change-{i:06d}"},
                )()

            def order(i: int) -> Awaitable[int]:
                body = {
                    "table": tables[i % len(tables)],
                    "idempotency_key": f"bench-more-{i:06d}",
                    "lines": [{"item": "sea-salt-edamame", "qty": 1}],
                }
                return post("/api/v1/staff/orders", body)()

            print(line(f"staff order, {concurrency} at once", *await timed(n, concurrency, order)))
            print(line("void, one at a time", *await timed(n, 1, void("seq"))))
            print(line(f"void, {concurrency} at once", *await timed(n, concurrency, void("par"))))
            print(line(f"change, {concurrency} at once", *await timed(n, concurrency, change)))
            views: dict[str, Any] = {}
            for t in tables:
                async with http.get(f"{hub.url}/api/v1/tables/{t}/check", headers=auth) as r:
                    views[t] = await r.json()
            k = min(len(tables), n)

            def pay(i: int) -> Awaitable[int]:
                t = tables[i]
                body = {
                    "method": "card",
                    "amount_cents": views[t]["due_cents"],
                    "id": f"bench-pay-{i:04d}",
                }
                return post(f"/api/v1/tables/{t}/payments", body)()

            print(line("payment closing a check", *await timed(k, concurrency, pay)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.corrections")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.concurrency))
