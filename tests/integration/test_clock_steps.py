"""The wall clock steps (a Pi has no battery clock; NTP sets it when the network comes):
durations inside the hub run on the monotonic clock, so a step neither freezes nor fires
call escalation, printer failover, rate limits or uptime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from hub.app import RunningHub, running_hub
from hub.config import HubConfig
from tests.clocks import SteppingClock
from tests.conftest import table_token

HOUR_MS = 3_600_000


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
async def stepping_hub(
    hub_config: HubConfig, menu_doc: dict[str, Any], clock: SteppingClock
) -> AsyncIterator[RunningHub]:
    async with running_hub(
        replace(hub_config, broker=None), seed_menu=menu_doc, clock=clock
    ) as running:
        yield running


async def open_call(hub: RunningHub, http: aiohttp.ClientSession, table: str) -> int:
    body = {"table": table_token(hub, table), "kind": "waiter"}
    async with http.post(f"{hub.url}/api/v1/calls", json=body) as r:
        assert r.status == 201
        return int((await r.json())["id"])


@pytest.mark.parametrize(
    ("step_ms", "early_ms", "late_ms"),
    [
        (-HOUR_MS, 60_000, 61_000),  # NTP sets the clock an hour back: escalation not frozen
        (HOUR_MS, 1_000, 120_000),  # the clock jumps an hour ahead: escalation not fired
    ],
    ids=["back", "forward"],
)
async def test_a_wall_clock_step_does_not_move_escalation(
    stepping_hub: RunningHub,
    http: aiohttp.ClientSession,
    clock: SteppingClock,
    step_ms: int,
    early_ms: int,
    late_ms: int,
) -> None:
    calls = stepping_hub.services.calls
    calls.escalate_after_s = 120
    await open_call(stepping_hub, http, "T1")
    clock.wall += step_ms
    clock.advance(early_ms)
    assert await calls.escalate_due() == 0  # under two minutes unanswered: not yet
    clock.advance(late_ms)
    assert await calls.escalate_due() == 1  # two minutes unanswered, whatever the wall says


async def test_uptime_and_printer_timers_ignore_the_wall_clock(
    stepping_hub: RunningHub, http: aiohttp.ClientSession, clock: SteppingClock
) -> None:
    clock.advance(10_000)
    clock.wall -= HOUR_MS
    async with http.get(f"{stepping_hub.url}/healthz") as r:
        assert (await r.json())["uptime_s"] == pytest.approx(10.0, abs=0.5)
    printing = stepping_hub.services.printing
    # a station with no screen is silent after silent_after_s of monotonic time, not of wall
    printing.silent_after_s = 30
    clock.wall += 2 * HOUR_MS
    assert printing.station_silent("grill") is False  # 10 s since start, whatever the wall
    clock.advance(25_000)
    assert printing.station_silent("grill") is True
