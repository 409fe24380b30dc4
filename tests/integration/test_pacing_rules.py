"""The rules around courses, from the outside: a timed fire, fire on serve, held courses
shown greyed, a course paced to land together, prep times learnt again after a restart, the
tables waiting too long between courses, and a ticket long past its time projected to go on."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from hub.app import RunningHub, running_hub
from hub.config import HubConfig, PacingConfig, StationPacing
from hub.services import staff
from plumbing.clock import iso_from_ms
from plumbing.packed import unpack
from tests.conftest import table_token
from tests.samples import with_courses

STARTER = {"item": "chicken-satay", "qty": 1}  # grill
MAIN = {"item": "kung-pao-chicken", "qty": 1}  # wok
SALAD = {"item": "smashed-cucumber-salad", "qty": 1}  # cold, a starter


class ManualClock:
    """Wall time that moves only when the test says."""

    def __init__(self) -> None:
        self.t = 1_790_000_000_000

    def now_ms(self) -> int:
        return self.t

    def now_iso(self) -> str:
        return iso_from_ms(self.t)

    def monotonic_ms(self) -> int:
        return self.t


def config_of(hub_config: HubConfig, **pacing: Any) -> HubConfig:
    return replace(hub_config, broker=None, pacing=PacingConfig(**pacing))


async def order(
    http: aiohttp.ClientSession, hub: RunningHub, key: str, lines: list[dict[str, Any]], **kw: Any
) -> dict[str, Any]:
    body = {"table": table_token(hub, "T1"), "idempotency_key": key, "lines": lines, **kw}
    async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
        assert r.status == 201, await r.text()
        got: dict[str, Any] = await r.json()
        return got


async def call(
    http: aiohttp.ClientSession, method: str, url: str, tok: str, body: Any = None
) -> Any:
    async with http.request(
        method, url, json=body, headers={"Authorization": f"Bearer {tok}"}
    ) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def test_a_held_course_fires_by_itself_after_the_store_set_delay(
    hub_config: HubConfig, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    clock = ManualClock()
    config = config_of(hub_config, auto_fire="ready", fire_after_s=600)
    async with running_hub(config, seed_menu=with_courses(menu_doc), clock=clock) as hub:
        kitchen = await staff.issue(hub.services.store, "kitchen", "kds")
        await order(http, hub, "timed-fire-01", [STARTER, MAIN])
        pacer = hub.services.pacer
        clock.t += 599_000
        await pacer.tick()
        wok = await call(http, "GET", f"{hub.url}/api/v1/stations/wok/tickets", kitchen)
        assert wok["tickets"] == []  # not yet
        clock.t += 2_000
        await pacer.tick()
        wok = await call(http, "GET", f"{hub.url}/api/v1/stations/wok/tickets", kitchen)
        assert [t["course"] for t in wok["tickets"]] == ["mains"]
        rows = await hub.services.store.read_all(
            "SELECT body FROM outbox WHERE kind='ticket.fired'"
        )
        assert len(rows) == 1
        assert b'"by":"auto"' in unpack(rows[0][0])


async def test_serving_the_starters_fires_the_mains_and_the_order_stays_open(
    hub_config: HubConfig, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    async with running_hub(
        config_of(hub_config, auto_fire="served"), seed_menu=with_courses(menu_doc)
    ) as hub:
        kitchen = await staff.issue(hub.services.store, "kitchen", "kds")
        placed = await order(http, hub, "serve-fire-01", [STARTER, MAIN])
        grill = await call(http, "GET", f"{hub.url}/api/v1/stations/grill/tickets", kitchen)
        tid = grill["tickets"][0]["id"]
        await call(http, "POST", f"{hub.url}/api/v1/tickets/{tid}/bump", kitchen, {"id": "b1"})
        assert len(hub.services.pacer.held_tickets()) == 1  # bumped is not enough here
        url = f"{hub.url}/api/v1/orders/{placed['order_id']}"
        served = await call(http, "POST", f"{url}/serve", kitchen, {"id": "s1"})
        assert served["status"] != "served"  # the mains are still to come
        seen = await call(http, "GET", url, kitchen)
        states = {c["course"]: c["state"] for c in seen["courses"]}
        assert states == {"starters": "served", "mains": "fired"}
        assert seen["eta_ms"] is not None
        wok = await call(http, "GET", f"{hub.url}/api/v1/stations/wok/tickets", kitchen)
        tid = wok["tickets"][0]["id"]
        await call(http, "POST", f"{hub.url}/api/v1/tickets/{tid}/bump", kitchen, {"id": "b2"})
        served = await call(http, "POST", f"{url}/serve", kitchen, {"id": "s2"})
        assert served["status"] == "served"


async def test_a_station_that_shows_held_courses_gets_them_greyed(
    hub_config: HubConfig, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    stations = {"wok": StationPacing(show_held=True)}
    config = config_of(hub_config, auto_fire="manual", stations=stations)
    async with running_hub(config, seed_menu=with_courses(menu_doc)) as hub:
        kitchen = await staff.issue(hub.services.store, "kitchen", "kds")
        await order(http, hub, "greyed-0001", [STARTER, MAIN])
        wok = await call(http, "GET", f"{hub.url}/api/v1/stations/wok/tickets", kitchen)
        assert wok["tickets"] == []
        assert [(t["status"], t["held_visible"]) for t in wok["held"]] == [("held", True)]
        # a screen that (re)connects gets them in its snapshot too, and the grill, whose
        # screens do not show held courses, gets none
        ws = hub.url.replace("http", "ws")
        auth = {"Authorization": f"Bearer {kitchen}"}
        for station, held in (("wok", [("held", True)]), ("grill", []), ("expo", [("held", True)])):
            async with http.ws_connect(f"{ws}/ws/kds/{station}", headers=auth) as screen:
                snap = await screen.receive_json(timeout=5)
                assert snap["type"] == "snapshot"
                assert [(t["status"], t["held_visible"]) for t in snap["held"]] == held, station


async def test_a_course_over_two_stations_is_paced_to_land_together(
    hub_config: HubConfig, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    doc = with_courses(menu_doc)
    for item in doc["items"]:
        item["prep_s"] = {"chicken-satay": 900, "smashed-cucumber-salad": 180}.get(item["id"], 300)
    config = config_of(hub_config, auto_fire="manual", slack_s=0)
    async with running_hub(config, seed_menu=doc) as hub:
        kitchen = await staff.issue(hub.services.store, "kitchen", "kds")
        placed = await order(http, hub, "paced-00001", [STARTER, SALAD])
        expo = await call(http, "GET", f"{hub.url}/api/v1/stations/expo/tickets", kitchen)
        by = {t["station"]: t for t in expo["tickets"] if t["order_id"] == placed["order_id"]}
        grill, cold = by["grill"], by["cold"]
        assert grill["due_ms"] == cold["due_ms"]
        assert grill["start_at_ms"] == grill["fired_ms"]  # the longest starts now
        assert cold["start_at_ms"] - cold["fired_ms"] == (900 - 180) * 1000  # "start in 12:00"
        assert (grill["expected_s"], cold["expected_s"]) == (900, 180)
        assert cold["items"][0]["start_at_ms"] == cold["start_at_ms"]


async def test_prep_times_are_learnt_again_from_the_store_after_a_restart(
    hub_config: HubConfig, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    clock = ManualClock()
    config = config_of(hub_config, auto_fire="manual")
    async with running_hub(config, seed_menu=menu_doc, clock=clock) as hub:
        kitchen = await staff.issue(hub.services.store, "kitchen", "kds")
        for i in range(3):
            await order(http, hub, f"learn-{i:05d}", [{"item": "sea-salt-edamame", "qty": 1}])
            clock.t += 240_000  # each takes four minutes
            cold = await call(http, "GET", f"{hub.url}/api/v1/stations/cold/tickets", kitchen)
            tid = cold["tickets"][0]["id"]
            await call(
                http, "POST", f"{hub.url}/api/v1/tickets/{tid}/bump", kitchen, {"id": f"l{i}"}
            )
        menu = await call(http, "GET", f"{hub.url}/api/v1/menu?table={table_token(hub)}", kitchen)
        learnt = {it["id"]: it["prep_s"] for it in menu["items"]}["sea-salt-edamame"]
        assert learnt == 240
    async with running_hub(config, seed_menu=menu_doc, clock=clock) as hub:
        assert hub.services.pacer.model.count("sea-salt-edamame", "cold") == 3
        menu = await call(http, "GET", f"{hub.url}/api/v1/menu?table={table_token(hub)}", kitchen)
        assert {it["id"]: it["prep_s"] for it in menu["items"]}["sea-salt-edamame"] == 240


async def test_a_table_waiting_too_long_for_its_next_course_is_flagged(
    hub_config: HubConfig, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    clock = ManualClock()
    config = config_of(hub_config, auto_fire="manual", flag_after_s=600)
    async with running_hub(config, seed_menu=with_courses(menu_doc), clock=clock) as hub:
        floor = await staff.issue(hub.services.store, "floor", "floor")
        kitchen = await staff.issue(hub.services.store, "kitchen", "kds")
        await order(http, hub, "flagged-0001", [STARTER, MAIN])
        grill = await call(http, "GET", f"{hub.url}/api/v1/stations/grill/tickets", kitchen)
        tid = grill["tickets"][0]["id"]
        await call(http, "POST", f"{hub.url}/api/v1/tickets/{tid}/bump", kitchen, {"id": "f1"})
        clock.t += 601_000
        view = await call(http, "GET", f"{hub.url}/api/v1/pacing/tables", floor)
        (t1,) = view["tables"]
        assert t1["table"] == "T1"
        assert t1["next"] == "mains"
        assert t1["waiting_s"] == 601
        assert t1["flagged"] is True
        assert [c["state"] for c in t1["courses"]] == ["ready", "held"]
        load = await call(http, "GET", f"{hub.url}/api/v1/pacing", floor)
        assert load["stations"]["wok"]["held"] == 1


async def test_the_anchor_started_late_moves_the_other_tickets_start_on_its_station(
    hub_config: HubConfig, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    doc = with_courses(menu_doc)
    for item in doc["items"]:
        item["prep_s"] = {"chicken-satay": 900, "smashed-cucumber-salad": 180}.get(item["id"], 300)
    clock = ManualClock()
    config = config_of(hub_config, auto_fire="manual", slack_s=0)
    async with running_hub(config, seed_menu=doc, clock=clock) as hub:
        kitchen = await staff.issue(hub.services.store, "kitchen", "kds")
        await order(http, hub, "started-0001", [STARTER, SALAD])
        grill = await call(http, "GET", f"{hub.url}/api/v1/stations/grill/tickets", kitchen)
        cold = await call(http, "GET", f"{hub.url}/api/v1/stations/cold/tickets", kitchen)
        (satay,), (salad,) = grill["tickets"], cold["tickets"]
        assert salad["start_at_ms"] == satay["start_at_ms"] + 720_000  # "start in 12:00"
        # the grill cook gets to the satay two minutes late and says so
        clock.t += 120_000
        url = f"{hub.url}/api/v1/tickets/{satay['id']}/start"
        started = await call(http, "POST", url, kitchen, {"id": "start-1"})
        assert started["started_ms"] == clock.t
        again = await call(http, "POST", url, kitchen, {"id": "start-1"})  # repeated: once
        assert again == started
        cold = await call(http, "GET", f"{hub.url}/api/v1/stations/cold/tickets", kitchen)
        (moved,) = cold["tickets"]
        assert moved["start_at_ms"] == clock.t + 720_000  # moved with the satay
        assert moved["due_ms"] == clock.t + 900_000
        assert moved["started_ms"] == 0
        told = await hub.services.store.read_all(
            "SELECT key FROM outbox WHERE kind='ticket.started'"
        )
        assert [r[0] for r in told] == [str(satay["id"])]  # once, though asked twice
        # starting it again, a held or an unknown ticket: the field is named
        async with http.post(
            f"{hub.url}/api/v1/tickets/999999/start",
            json={"id": "start-2"},
            headers={"Authorization": f"Bearer {kitchen}"},
        ) as r:
            assert r.status == 404
            assert (await r.json())["field"] == "ticket"
        bumped = f"{hub.url}/api/v1/tickets/{satay['id']}/bump"
        await call(http, "POST", bumped, kitchen, {"id": "bump-1"})
        async with http.post(
            url, json={"id": "start-3"}, headers={"Authorization": f"Bearer {kitchen}"}
        ) as r:
            assert r.status == 409
            assert (await r.json())["field"] == "ticket"
        # recalled, it is to make again: not started until a cook says so
        recall = f"{hub.url}/api/v1/tickets/{satay['id']}/recall"
        recalled = await call(http, "POST", recall, kitchen, {"id": "recall-1"})
        assert (recalled["status"], recalled["started_ms"]) == ("open", 0)
        clock.t += 5_000
        again = await call(http, "POST", url, kitchen, {"id": "start-4"})
        assert again["started_ms"] == clock.t


async def test_a_held_ticket_cannot_be_started(
    hub_config: HubConfig, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    async with running_hub(
        config_of(hub_config, auto_fire="manual"), seed_menu=with_courses(menu_doc)
    ) as hub:
        kitchen = await staff.issue(hub.services.store, "kitchen", "kds")
        await order(http, hub, "held-start-1", [STARTER, MAIN])
        (held,) = hub.services.pacer.held_tickets()
        async with http.post(
            f"{hub.url}/api/v1/tickets/{held.id}/start",
            json={"id": "hs-1"},
            headers={"Authorization": f"Bearer {kitchen}"},
        ) as r:
            assert r.status == 409
            assert (await r.json())["field"] == "ticket"


async def test_a_ticket_a_cook_went_away_from_moves_the_eta_and_the_quotes_behind_it(
    hub_config: HubConfig, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    # one cook at the wok; of its last 12 tickets, 5 took 2.5 times their expected time (the
    # cook called away): a ticket 1.2 times past its time is expected to go on as they did,
    # not to end in a minute or two, and the order after it is quoted behind it
    clock = ManualClock()
    async with running_hub(
        config_of(hub_config, auto_fire="manual"), seed_menu=menu_doc, clock=clock
    ) as hub:
        kitchen = await staff.issue(hub.services.store, "kitchen", "kds")
        wok_url = f"{hub.url}/api/v1/stations/wok/tickets"

        async def start_next(key: str) -> dict[str, Any]:
            placed = await order(http, hub, key, [MAIN])
            ticket: dict[str, Any] = (await call(http, "GET", wok_url, kitchen))["tickets"][0]
            url = f"{hub.url}/api/v1/tickets/{ticket['id']}/start"
            await call(http, "POST", url, kitchen, {"id": f"s-{key}"})
            return {"order": placed, "ticket": ticket}

        expected_s = 0
        for i, times in enumerate([1.0] * 7 + [2.5] * 5):
            got = await start_next(f"away-{i:05d}")
            expected_s = got["ticket"]["expected_s"]
            clock.t += round(expected_s * times * 1000)
            url = f"{hub.url}/api/v1/tickets/{got['ticket']['id']}/bump"
            await call(http, "POST", url, kitchen, {"id": f"b-{i}"})
        assert expected_s > 0
        started_ms = clock.t
        away = await start_next("away-late-1")
        assert away["ticket"]["expected_s"] == expected_s  # the long ones taught no prep time
        clock.t += round(expected_s * 1.2 * 1000)  # past its time
        url = f"{hub.url}/api/v1/orders/{away['order']['order_id']}?table={table_token(hub)}"
        eta = (await call(http, "GET", url, kitchen))["eta_ms"]
        assert eta == pytest.approx(started_ms + expected_s * 2.5 * 1000, abs=2000)
        after = await order(http, hub, "away-after-1", [MAIN])
        row = await hub.services.store.read_one(
            "SELECT ready_by_ms FROM orders WHERE id=?", (after["order_id"],)
        )
        assert row is not None
        assert int(row[0]) >= eta + expected_s * 1000 - 2000  # behind it, not 2 min on
