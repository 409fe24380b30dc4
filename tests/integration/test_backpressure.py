"""Back-pressure: while the store's writer is behind, orders are refused with 503 and a
Retry-After instead of queueing without end; nothing is saved for a refused order."""

from __future__ import annotations

import aiohttp
import pytest

from hub.app import RunningHub
from tests.conftest import order_body, table_token
from tests.waiting import until


async def test_a_store_behind_refuses_orders_with_retry_after(
    hub: RunningHub, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = hub.services.store
    monkeypatch.setattr(store, "backlog_s", lambda: 0.9)
    body = order_body(table_token(hub, "T1"), "busy-0001")
    async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
        assert r.status == 503
        assert r.headers["Retry-After"] == "1"
        doc = await r.json()
    assert doc["error"] == "busy"
    assert doc["message"]
    monkeypatch.setattr(store, "backlog_s", lambda: 0.0)
    async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
        assert r.status == 201, await r.text()
        assert "Idempotent-Replayed" not in r.headers  # the refused attempt saved nothing


async def test_orders_past_the_in_flight_cap_are_refused_at_once(
    hub: RunningHub, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the rush's worst, a phone past the cap gets a quick 503 (it sends again with the
    same key) instead of waiting behind every other order; the others are taken."""
    import asyncio

    s = hub.services
    s.orders_in_flight_max = 2
    gate = asyncio.Event()
    place = s.ordering.place

    async def slow_place(*args: object, **kw: object) -> object:
        await gate.wait()  # the writer is busy with other orders
        return await place(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(s.ordering, "place", slow_place)
    token = table_token(hub, "T1")

    async def post(key: str) -> tuple[int, str | None]:
        async with http.post(f"{hub.url}/api/v1/orders", json=order_body(token, key)) as r:
            return r.status, r.headers.get("Retry-After")

    first = [asyncio.create_task(post(f"in-flight-{i}")) for i in range(2)]
    await until(lambda: s.orders_in_flight >= 2, "two orders held in flight")
    assert await post("in-flight-2") == (503, "1")
    assert s.refused_in_flight == 1
    gate.set()
    assert [(await t)[0] for t in first] == [201, 201]
    assert s.orders_in_flight == 0
    assert (await post("in-flight-2"))[0] == 201  # sent again: taken
