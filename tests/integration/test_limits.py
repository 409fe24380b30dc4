"""Rate limits on diners: one table or one phone cannot flood the kitchen; others still order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from hub.app import RunningHub, running_hub
from hub.config import HubConfig, Limits
from hub.domain.ratelimit import Limit, RateLimiter
from hub.errors import RateLimited
from tests.conftest import order_body, table_token


class FakeClock:
    def __init__(self) -> None:
        self.ms = 1_000_000

    def __call__(self) -> int:
        return self.ms


def test_bucket_allows_a_burst_then_refills() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limit(burst=3, per_minute=6), clock)
    for _ in range(3):
        limiter.take("T1", "orders")
    with pytest.raises(RateLimited) as err:
        limiter.take("T1", "orders")
    assert err.value.retry_after_s == 10
    limiter.take("T2", "orders")  # another table is not affected
    clock.ms += 10_000  # one token back after 10 s at 6 per minute
    limiter.take("T1", "orders")
    with pytest.raises(RateLimited):
        limiter.take("T1", "orders")


def test_bucket_memory_is_bounded() -> None:
    limiter = RateLimiter(Limit(burst=1, per_minute=1), FakeClock(), max_keys=100)
    for n in range(1000):
        limiter.take(f"phone-{n}", "orders")
    assert len(limiter._buckets) == 100


@pytest.fixture
async def limited_hub(hub_config: HubConfig, menu_doc: dict[str, Any]) -> AsyncIterator[RunningHub]:
    config = replace(
        hub_config,
        broker=None,
        limits=Limits(
            orders=Limit(burst=3, per_minute=1),
            calls=Limit(burst=2, per_minute=1),
            client=Limit(burst=6, per_minute=1),
        ),
    )
    async with running_hub(config, seed_menu=menu_doc) as hub:
        yield hub


async def test_a_flooding_table_is_refused_others_still_order(
    limited_hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    hub = limited_hub
    statuses = []
    for n in range(5):
        async with http.post(
            f"{hub.url}/api/v1/orders", json=order_body(table_token(hub, "T1"), f"flood-{n:04d}")
        ) as r:
            statuses.append(r.status)
            if r.status == 429:
                body = await r.json()
                assert body["error"] == "rate_limited"
                assert int(r.headers["Retry-After"]) > 0
    assert statuses == [201, 201, 201, 429, 429]
    async with http.post(
        f"{hub.url}/api/v1/orders", json=order_body(table_token(hub, "T2"), "other-table-1")
    ) as r:
        assert r.status == 201
    # the refused orders were not stored
    async with http.get(f"{hub.url}/api/v1/check", params={"table": table_token(hub, "T1")}) as r:
        assert len((await r.json())["orders"]) == 3
    # calls have their own, smaller allowance
    call = {"table": table_token(hub, "T3"), "kind": "water"}
    got = []
    for _ in range(3):
        async with http.post(f"{hub.url}/api/v1/calls", json=call) as r:
            got.append(r.status)
    assert got == [201, 200, 429]
    # and one phone (one address) cannot go on from table to table without end
    async with http.post(
        f"{hub.url}/api/v1/orders", json=order_body(table_token(hub, "T4"), "same-phone-1")
    ) as r:
        assert r.status == 429
