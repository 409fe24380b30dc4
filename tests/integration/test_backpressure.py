"""Back-pressure: while the store's writer is behind, orders are refused with 503 and a
Retry-After instead of queueing without end; nothing is saved for a refused order."""

from __future__ import annotations

import aiohttp
import pytest

from hub.app import RunningHub
from tests.conftest import order_body, table_token


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
