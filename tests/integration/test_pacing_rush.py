"""A kitchen far behind, from the outside: with more open tickets than the pacer projects on
every call, the tick works the projection out a station at a time, giving the loop a turn
between, and orders and screens take the last one meanwhile. Real HTTP, the real store; the
threshold is lowered so that a few orders make a rush."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from hub.app import running_hub
from hub.config import HubConfig, PacingConfig
from hub.services import pacing, staff
from tests.conftest import table_token
from tests.integration.test_pacing_rules import ManualClock, call, order
from tests.samples import with_courses

STARTER = {"item": "chicken-satay", "qty": 1}  # grill
MAIN = {"item": "kung-pao-chicken", "qty": 1}  # wok
DRINK = {"item": "tsingtao-lager", "qty": 1}  # bar
SALAD = {"item": "smashed-cucumber-salad", "qty": 1}  # cold


async def test_a_rush_projection_is_worked_out_in_turns_and_is_the_same(
    hub_config: HubConfig,
    menu_doc: dict[str, Any],
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pacing, "CACHE_ALWAYS_OVER", 3)
    monkeypatch.setattr(pacing, "REFRESH_CHUNK", 4)
    monkeypatch.setattr(pacing, "TICK_S", 3600.0)  # the test ticks; the hub's own loop does not
    clock = ManualClock()
    config = replace(hub_config, broker=None, pacing=PacingConfig(auto_fire="manual"))
    async with running_hub(config, seed_menu=with_courses(menu_doc), clock=clock) as hub:
        kitchen = await staff.issue(hub.services.store, "kitchen", "kds")
        for i in range(5):  # a starter sent, its main held
            await order(http, hub, f"rush-held-{i:02d}", [STARTER, MAIN])
        for i in range(5):  # everything sent at once, on three stations
            await order(http, hub, f"rush-open-{i:02d}", [DRINK, MAIN, SALAD], all_together=True)
        grill = await call(http, "GET", f"{hub.url}/api/v1/stations/grill/tickets", kitchen)
        first = grill["tickets"][0]["id"]
        await call(http, "POST", f"{hub.url}/api/v1/tickets/{first}/start", kitchen, {"id": "s-1"})
        clock.t += 30_000
        pacer = hub.services.pacer
        assert len(pacer.jobs) == 25

        pacer._proj = None  # worked out at once, as a call finding none does
        at_once = pacer.projection()
        waits_at_once = pacer.station_waits()

        turns = 0
        refreshing = True

        async def other_work() -> None:
            nonlocal turns
            while refreshing:
                turns += 1
                await asyncio.sleep(0)

        pacer._proj = None
        other = asyncio.create_task(other_work())
        await pacer.refresh()
        refreshing = False
        await other
        # 25 tickets in chunks of 4, then four stations, twice (the held ones): the loop had
        # a turn between each
        assert turns >= 7 + 4 + 4
        in_turns = pacer.projection()
        assert in_turns is not at_once
        assert in_turns.finish_ms == at_once.finish_ms
        assert {s: list(j) for s, j in in_turns.jobs.items()} == {
            s: list(j) for s, j in at_once.jobs.items()
        }
        assert in_turns.free_after == at_once.free_after
        assert pacer.station_waits() == waits_at_once
        assert set(in_turns.finish_ms) == set(pacer.jobs)  # the held ones too

        # a new order is placed against the last projection, not a new one ...
        placed = await order(http, hub, "rush-late-01", [DRINK], all_together=True)
        assert pacer.projection() is in_turns
        url = f"{hub.url}/api/v1/orders/{placed['order_id']}?table={table_token(hub, 'T1')}"
        assert (await call(http, "GET", url, kitchen))["eta_ms"] > clock.t
        # ... which the next tick works out again, with it
        clock.t += 1_000
        await pacer.tick()
        ticked = pacer.projection()
        assert ticked is not in_turns
        assert set(ticked.finish_ms) == set(pacer.jobs)
        # a tick late by more than STALE_MS: the next call works it out at once
        clock.t += pacing.STALE_MS
        assert pacer.projection() is not ticked


def test_stations_projected_apart_and_merged_are_the_kitchen_projected_at_once() -> None:
    from hub.domain import pacing as pc

    now = 1_790_000_000_000
    jobs = [
        pc.Job(i, ["grill", "wok", "bar"][i % 3], now - 60_000 * (i % 5), 120 + 30 * i, i // 2)
        for i in range(12)
    ]
    jobs.append(pc.Job(99, "grill", now - 100_000, 600, 50, started_ms=now - 90_000))
    cooks = {"grill": 2, "wok": 1, "bar": 1, "cold": 1}
    freed = {"wok": [now - 5_000]}
    whole = pc.project(now, jobs, cooks, freed)
    parts = [
        pc.project(now, [j for j in jobs if j.station == s], {s: c}, freed)
        for s, c in cooks.items()
    ]
    merged = pc.merge(now, parts)
    assert merged.finish_ms == whole.finish_ms
    assert merged.cooks_free == whole.cooks_free
    assert merged.free_after == whole.free_after
    for s in cooks:
        assert merged.station_wait_s(s, now) == whole.station_wait_s(s, now)


async def test_a_course_newer_than_the_projection_keeps_its_pace_when_a_bump_comes(
    hub_config: HubConfig,
    menu_doc: dict[str, Any],
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rush's projection is a few seconds old: a course placed since is not in it. A bump
    elsewhere must not take that course's anchor as done now and start its other tickets at
    once; nor does a call timed a moment before the projection work a new one out."""
    monkeypatch.setattr(pacing, "CACHE_ALWAYS_OVER", 3)
    monkeypatch.setattr(pacing, "TICK_S", 3600.0)
    doc = with_courses(menu_doc)
    for item in doc["items"]:
        if item["id"] == "chicken-satay":
            item["prep_s"] = 900
        if item["id"] == "smashed-cucumber-salad":
            item["prep_s"] = 120
    clock = ManualClock()
    config = replace(hub_config, broker=None, pacing=PacingConfig(auto_fire="manual"))
    async with running_hub(config, seed_menu=doc, clock=clock) as hub:
        kitchen = await staff.issue(hub.services.store, "kitchen", "kds")
        for i in range(4):
            await order(http, hub, f"rush-bar-{i:02d}", [DRINK], all_together=True)
        pacer = hub.services.pacer
        await pacer.refresh()
        cached = pacer.projection()
        assert pacer.projection(clock.t - 500) is cached  # timed just before: still fresh
        # a starter course placed after the projection: the satay first, the salad paced
        await order(http, hub, "rush-course-01", [STARTER, SALAD])
        cold = await call(http, "GET", f"{hub.url}/api/v1/stations/cold/tickets", kitchen)
        salad = cold["tickets"][0]
        assert salad["start_at_ms"] >= clock.t + 600_000  # 900 - 120 - 60 s of slack
        clock.t += 1_000
        assert pacer.projection() is cached  # the satay is not in it
        bar = await call(http, "GET", f"{hub.url}/api/v1/stations/bar/tickets", kitchen)
        url = f"{hub.url}/api/v1/tickets/{bar['tickets'][0]['id']}/bump"
        await call(http, "POST", url, kitchen, {"id": "bump-bar-01"})
        cold = await call(http, "GET", f"{hub.url}/api/v1/stations/cold/tickets", kitchen)
        assert cold["tickets"][0]["start_at_ms"] == salad["start_at_ms"]


async def test_a_refresh_does_not_replace_a_projection_worked_out_while_it_ran(
    hub_config: HubConfig,
    menu_doc: dict[str, Any],
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pacing, "CACHE_ALWAYS_OVER", 3)
    monkeypatch.setattr(pacing, "REFRESH_CHUNK", 1)
    monkeypatch.setattr(pacing, "TICK_S", 3600.0)
    clock = ManualClock()
    config = replace(hub_config, broker=None, pacing=PacingConfig(auto_fire="manual"))
    async with running_hub(config, seed_menu=with_courses(menu_doc), clock=clock) as hub:
        for i in range(5):
            await order(http, hub, f"rush-race-{i:02d}", [DRINK, MAIN], all_together=True)
        pacer = hub.services.pacer
        pacer._proj = None
        running = asyncio.create_task(pacer.refresh())
        await asyncio.sleep(0)  # the refresh has taken its snapshot and given way
        # meanwhile an order, timed a moment before, works one out with newer tickets
        meanwhile = pacer.projection(clock.t - 200)
        await running
        assert pacer.projection() is meanwhile
