"""The hub logs a line a minute of what it did, not a line per order."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from hub.app import RunningHub
from hub.consumers.activity import ActivityLog
from tests.conftest import order_body, table_token


async def test_orders_are_summed_up_not_logged_one_by_one(
    hub: RunningHub, http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    assert hub.bus is not None
    await asyncio.wait_for(hub.bus.connected.wait(), 5)
    summary = ActivityLog(hub.services)
    assert summary.line() is None  # nothing happened yet
    caplog.set_level(logging.INFO)
    for n in range(3):
        body = order_body(table_token(hub, f"T{n + 1}"), f"activity-{n}")
        async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
            assert r.status == 201
    line = summary.line()
    assert line is not None
    assert "3 orders placed, 0 refused as busy" in line
    assert "mqtt" in line
    assert summary.line() is None  # the next minute starts from here
    per_order = [r for r in caplog.records if r.name == "tablehub.ordering" and r.levelno >= 20]
    assert per_order == []
