"""Courses held and fired, paced tickets, quoted waits and throttling, from the outside: real
HTTP on 127.0.0.1, the real store, the test session's Mosquitto."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import aiomqtt
import pytest

from hub.app import RunningHub, running_hub
from hub.config import HubConfig, PacingConfig, StationPacing
from hub.ops.mosquitto import Mosquitto
from hub.services import staff
from tests.clocks import SteppingClock
from tests.conftest import table_token
from tests.samples import with_courses
from tests.waiting import event, until

PREFIX = "tablehub/v1/demo"
STARTER = {"item": "chicken-satay", "qty": 1}  # grill
MAIN = {"item": "kung-pao-chicken", "qty": 1}  # wok
DRINK = {"item": "tsingtao-lager", "qty": 1}  # bar


@pytest.fixture
def coursed(menu_doc: dict[str, Any]) -> dict[str, Any]:
    return with_courses(menu_doc)


@pytest.fixture
async def hub(hub_config: HubConfig, coursed: dict[str, Any]) -> AsyncIterator[RunningHub]:
    async with running_hub(hub_config, seed_menu=coursed) as running:
        assert running.bus is not None
        await event(running.bus.connected, "the hub to connect to the broker")
        yield running


@pytest.fixture
async def manual_hub(hub_config: HubConfig, coursed: dict[str, Any]) -> AsyncIterator[RunningHub]:
    config = replace(hub_config, broker=None, pacing=PacingConfig(auto_fire="manual"))
    async with running_hub(config, seed_menu=coursed) as running:
        yield running


async def token(hub: RunningHub, role: str) -> str:
    return await staff.issue(hub.services.store, role, f"test {role}")


async def order(
    http: aiohttp.ClientSession, hub: RunningHub, key: str, lines: list[dict[str, Any]], **kw: Any
) -> dict[str, Any]:
    body = {"table": table_token(hub, "T1"), "idempotency_key": key, "lines": lines, **kw}
    async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
        assert r.status == 201, await r.text()
        got: dict[str, Any] = await r.json()
        return got


async def get(http: aiohttp.ClientSession, url: str, tok: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {tok}"} if tok else {}
    async with http.get(url, headers=headers) as r:
        assert r.status == 200, await r.text()
        return await r.json()


async def bump_all(
    http: aiohttp.ClientSession, hub: RunningHub, kitchen: str, station: str, prefix: str
) -> None:
    """Bump every open ticket of `station`, each with its own action id."""
    url = f"{hub.url}/api/v1/stations/{station}/tickets"
    for t in (await get(http, url, kitchen))["tickets"]:
        async with http.post(
            f"{hub.url}/api/v1/tickets/{t['id']}/bump",
            json={"id": f"{prefix}{t['id']}"},
            headers={"Authorization": f"Bearer {kitchen}"},
        ) as r:
            assert r.status == 200, await r.text()


async def fire(
    http: aiohttp.ClientSession, hub: RunningHub, tok: str, body: dict[str, Any], table: str = "T1"
) -> tuple[int, Any]:
    async with http.post(
        f"{hub.url}/api/v1/tables/{table}/fire",
        json=body,
        headers={"Authorization": f"Bearer {tok}"},
    ) as r:
        return r.status, await r.json()


async def mqtt_json(client: aiomqtt.Client, timeout: float = 5.0) -> tuple[str, Any]:
    async with asyncio.timeout(timeout):
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            return str(message.topic), json.loads(message.payload)
    raise AssertionError("no message")


async def test_mains_are_held_from_the_wok_until_fired_once(
    manual_hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    hub = manual_hub
    kitchen, floor = await token(hub, "kitchen"), await token(hub, "floor")
    placed = await order(http, hub, "pace-held-0001", [STARTER, MAIN, DRINK])
    assert [ln["course"] for ln in placed["lines"]] == ["starters", "mains", "drinks"]
    wok = await get(http, f"{hub.url}/api/v1/stations/wok/tickets", kitchen)
    assert wok["tickets"] == []
    assert wok["held"] == []
    expo = await get(http, f"{hub.url}/api/v1/stations/expo/tickets", kitchen)
    assert [(t["station"], t["course"], t["status"]) for t in expo["held"]] == [
        ("wok", "mains", "held")
    ]
    assert {t["station"] for t in expo["tickets"]} == {"grill", "bar"}
    url = f"{hub.url}/api/v1/orders/{placed['order_id']}?table={table_token(hub, 'T1')}"
    seen = await get(http, url)
    states = {c["course"]: c["state"] for c in seen["courses"]}
    assert states == {"drinks": "fired", "starters": "fired", "mains": "held"}
    assert seen["eta_ms"] > 0

    status, fired = await fire(http, hub, floor, {"course": "mains", "id": "fire-mains-1"})
    assert status == 200, fired
    assert [t["station"] for t in fired["tickets"]] == ["wok"]
    assert fired["tickets"][0]["status"] == "open"
    assert fired["tickets"][0]["fired_ms"] > 0
    wok = await get(http, f"{hub.url}/api/v1/stations/wok/tickets", kitchen)
    assert [t["course"] for t in wok["tickets"]] == ["mains"]
    # the same tap again answers the same; another tap finds nothing held
    again = await fire(http, hub, floor, {"course": "mains", "id": "fire-mains-1"})
    assert again == (200, fired)
    status, err = await fire(http, hub, floor, {"course": "mains", "id": "fire-mains-2"})
    assert status == 409
    assert err["field"] == "course"
    seen = await get(http, url)
    assert {c["course"]: c["state"] for c in seen["courses"]}["mains"] == "fired"
    wok_rows = await hub.services.store.read_all(
        "SELECT COUNT(*) FROM outbox WHERE kind='ticket.fired'"
    )
    assert wok_rows[0][0] == 1


async def test_a_held_ticket_cannot_be_bumped_and_bad_fires_name_the_field(
    manual_hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    hub = manual_hub
    kitchen = await token(hub, "kitchen")
    await order(http, hub, "pace-bad-00001", [STARTER, MAIN])
    held = hub.services.pacer.held_tickets()[0]
    async with http.post(
        f"{hub.url}/api/v1/tickets/{held.id}/bump",
        json={"id": "bump-held"},
        headers={"Authorization": f"Bearer {kitchen}"},
    ) as r:
        assert r.status == 409
        assert (await r.json())["field"] == "ticket"
    cases = [
        ({"course": "mains"}, "T1", 422, "id"),
        ({"course": "soup", "id": "f-1"}, "T1", 422, "course"),
        ({"course": "mains", "id": "f-2"}, "T99", 404, "table"),
        ({"course": 7, "id": "f-3"}, "T1", 422, "course"),
    ]
    for body, table, code, field in cases:
        status, err = await fire(http, hub, kitchen, body, table)
        assert (status, err["field"]) == (code, field), (body, err)
    async with http.post(f"{hub.url}/api/v1/tables/T1/fire", json={"id": "x1"}) as r:
        assert r.status == 401
    assert len(hub.services.pacer.held_tickets()) == 1  # nothing fired by a bad request


async def test_bumping_the_starters_fires_the_mains_and_all_together_holds_nothing(
    hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    kitchen = await token(hub, "kitchen")
    await order(http, hub, "pace-auto-0001", [STARTER, MAIN])
    grill = await get(http, f"{hub.url}/api/v1/stations/grill/tickets", kitchen)
    (starter,) = grill["tickets"]
    assert len(hub.services.pacer.held_tickets()) == 1
    async with http.post(
        f"{hub.url}/api/v1/tickets/{starter['id']}/bump",
        json={"id": "bump-starter"},
        headers={"Authorization": f"Bearer {kitchen}"},
    ) as r:
        assert r.status == 200
    wok = await get(http, f"{hub.url}/api/v1/stations/wok/tickets", kitchen)
    assert [t["course"] for t in wok["tickets"]] == ["mains"]  # fired in the bump's write
    together = await order(http, hub, "pace-all-00001", [STARTER, MAIN], all_together=True)
    tickets = await hub.services.store.read_all(
        "SELECT status FROM tickets WHERE order_id=?", (together["order_id"],)
    )
    assert sorted(r[0] for r in tickets) == ["open", "open"]


async def test_a_bump_bar_fires_a_course_over_mqtt_and_the_wok_hears_of_it_only_then(
    hub: RunningHub, device: aiomqtt.Client, http: aiohttp.ClientSession
) -> None:
    await device.subscribe(f"{PREFIX}/kds/wok/events", qos=1)
    await order(http, hub, "pace-mqtt-0001", [STARTER, MAIN])
    # the relay publishes in commit order: a leaked held ticket would come first
    payload = json.dumps({"action": "fire", "id": "expo-key-1", "table": "T1"})
    await device.publish(f"{PREFIX}/kds/expo/bump", payload, qos=1)
    topic, msg = await mqtt_json(device)
    assert topic == f"{PREFIX}/kds/wok/events"
    assert msg["kind"] == "ticket.fired"  # the first thing the wok hears of the mains
    assert msg["ticket"]["course"] == "mains"
    assert msg["ticket"]["status"] == "open"
    assert msg["ticket"]["due_ms"] >= msg["ticket"]["start_at_ms"] > 0


async def test_a_bump_bar_starts_its_stations_next_ticket_over_mqtt_once(
    hub: RunningHub, device: aiomqtt.Client, http: aiohttp.ClientSession
) -> None:
    await device.subscribe(f"{PREFIX}/kds/grill/events", qos=1)
    placed = await order(http, hub, "pace-start-0001", [STARTER, DRINK])
    topic, msg = await mqtt_json(device)
    assert msg["kind"] == "ticket.created"
    grill_id = msg["ticket"]["id"]
    bar_id = next(
        t.id
        for t in hub.services.pacer.jobs.values()
        if t.order_id == placed["order_id"] and t.station == "bar"
    )
    # the grill's bar names the bar's ticket: refused (only its own station's tickets)
    wrong = json.dumps({"action": "start", "id": "grill-key-0", "ticket": bar_id})
    await device.publish(f"{PREFIX}/kds/grill/bump", wrong, qos=1)
    press = json.dumps({"action": "start", "id": "grill-key-1"})  # the first not started
    for _ in range(2):  # a repeated press starts it once
        await device.publish(f"{PREFIX}/kds/grill/bump", press, qos=1)
    topic, msg = await mqtt_json(device)
    assert topic == f"{PREFIX}/kds/grill/events"
    assert msg["kind"] == "ticket.started"
    assert msg["by"] == "bump bar grill"
    assert msg["ticket"]["id"] == grill_id
    assert msg["ticket"]["started_ms"] > 0

    # a bump after the presses: once it is heard, every press before it was handled
    bump = json.dumps({"action": "bump", "id": "grill-key-2", "ticket": grill_id})
    await device.publish(f"{PREFIX}/kds/grill/bump", bump, qos=1)
    topic, msg = await mqtt_json(device)
    assert (msg["kind"], msg["ticket"]["status"]) == ("ticket.updated", "bumped")
    rows = await hub.services.store.read_all("SELECT key FROM outbox WHERE kind='ticket.started'")
    assert [r[0] for r in rows] == [str(grill_id)]
    assert hub.services.pacer.jobs[bar_id].started_ms == 0


async def test_a_held_course_survives_a_restart_and_fires_once(
    hub_config: HubConfig, coursed: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    config = replace(hub_config, broker=None, pacing=PacingConfig(auto_fire="manual"))
    async with running_hub(config, seed_menu=coursed) as hub:
        await order(http, hub, "pace-crash-001", [STARTER, MAIN])
        floor = await token(hub, "floor")
    async with running_hub(config, seed_menu=coursed) as hub:
        assert [t.course for t in hub.services.pacer.held_tickets()] == ["mains"]
        status, _ = await fire(http, hub, floor, {"id": "fire-after-restart"})
        assert status == 200
        assert hub.services.pacer.held_tickets() == []
    async with running_hub(config, seed_menu=coursed) as hub:
        status, _ = await fire(http, hub, floor, {"id": "fire-after-restart"})
        assert status == 200  # the same action again: answered, nothing more fired
        rows = await hub.services.store.read_all(
            "SELECT COUNT(*) FROM outbox WHERE kind='ticket.fired'"
        )
        assert rows[0][0] == 1


async def test_the_menu_quotes_a_wait_the_order_an_eta_and_the_quote_is_recorded(
    manual_hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    hub = manual_hub
    kitchen, admin = await token(hub, "kitchen"), await token(hub, "admin")
    menu_url = f"{hub.url}/api/v1/menu?table={table_token(hub, 'T1')}"
    menu = await get(http, menu_url)
    calm = {it["id"]: it["wait_s"] for it in menu["items"]}
    assert menu["wait_s"] > 0
    assert calm["kung-pao-chicken"] > 0
    assert {"course", "prep_s", "paused", "busy"} <= set(menu["items"][0])
    for i in range(6):
        await order(http, hub, f"pace-load-{i:04d}", [MAIN], all_together=True)
    busy = {it["id"]: it["wait_s"] for it in (await get(http, menu_url))["items"]}
    assert busy["kung-pao-chicken"] > calm["kung-pao-chicken"]  # the wok has a queue now
    assert busy["tsingtao-lager"] == calm["tsingtao-lager"]  # the bar has none
    placed = await order(http, hub, "pace-eta-00001", [MAIN])
    url = f"{hub.url}/api/v1/orders/{placed['order_id']}?table={table_token(hub, 'T1')}"
    eta = (await get(http, url))["eta_ms"]
    assert eta > hub.services.clock.now_ms()
    await bump_all(http, hub, kitchen, "wok", "b-")
    assert (await get(http, url))["eta_ms"] is None  # ready: no ETA
    stats = await get(http, f"{hub.url}/api/v1/admin/pacing/quotes?hours=1", admin)
    assert stats["overall"]["count"] == 7
    assert stats["pending"] == 0
    assert stats["overall"]["p90_s"] is not None
    assert len(stats["hours"]) >= 1
    async with http.get(
        f"{hub.url}/api/v1/admin/pacing/quotes?hours=0",
        headers={"Authorization": f"Bearer {admin}"},
    ) as r:
        assert r.status == 422
        assert (await r.json())["field"] == "hours"


async def test_a_station_over_its_limit_pauses_its_items_until_the_load_falls(
    hub_config: HubConfig, coursed: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    said = "The wok is flat out: back in a few minutes"
    wok = StationPacing(cooks=1, wait_limit_s=1200, pause=True, pause_message=said)
    pacing = PacingConfig(auto_fire="manual", stations={"wok": wok})
    config = replace(hub_config, broker=None, pacing=pacing)
    async with running_hub(config, seed_menu=coursed) as hub:
        kitchen = await token(hub, "kitchen")
        for i in range(4):  # four mains of 10 minutes on one cook: 40 minutes of queue
            await order(http, hub, f"pace-pause-{i:03d}", [MAIN], all_together=True)
        pacer = hub.services.pacer

        async def paused() -> bool:
            await pacer.tick()
            return "wok" in pacer.paused

        await until(paused, "the wok to pause for its load")
        menu = await get(http, f"{hub.url}/api/v1/menu?table={table_token(hub, 'T1')}")
        items = {it["id"]: it for it in menu["items"]}
        assert items["kung-pao-chicken"]["paused"]
        assert items["kung-pao-chicken"]["busy"]
        assert items["kung-pao-chicken"]["pause_message"] == said  # the store's own words
        assert not items["chicken-satay"]["paused"]
        assert "pause_message" not in items["chicken-satay"]
        body = {
            "table": table_token(hub, "T1"),
            "idempotency_key": "pace-refused",
            "lines": [STARTER, MAIN],
        }
        async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
            assert r.status == 409
            refused = await r.json()
            assert refused["field"] == "lines[1].item"
            assert said in str(refused)
        for t in (await get(http, f"{hub.url}/api/v1/stations/wok/tickets", kitchen))["tickets"]:
            async with http.post(
                f"{hub.url}/api/v1/tickets/{t['id']}/bump",
                json={"id": f"pb-{t['id']}"},
                headers={"Authorization": f"Bearer {kitchen}"},
            ) as r:
                assert r.status == 200

        async def resumed() -> bool:
            await pacer.tick()
            return "wok" not in pacer.paused

        await until(resumed, "the wok to resume once its queue is made")
        await order(http, hub, "pace-after-01", [MAIN])


async def test_chits_of_a_held_course_print_when_it_is_fired(
    hub_config: HubConfig, coursed: dict[str, Any], broker: Mosquitto, http: aiohttp.ClientSession
) -> None:
    from hub.config import PrinterConfig
    from tests.conftest import printing_hub_from

    printers = (PrinterConfig(id="wok-1", stations=("wok",)),)
    config = replace(hub_config, pacing=PacingConfig(auto_fire="manual"))
    async with printing_hub_from(config, coursed, printers) as hub:
        floor = await token(hub, "floor")
        await order(http, hub, "pace-chit-0001", [STARTER, MAIN])
        jobs = await hub.services.store.read_all("SELECT COUNT(*) FROM print_jobs")
        assert jobs[0][0] == 0  # the mains are held: no chit yet
        status, fired = await fire(http, hub, floor, {"id": "fire-chit-1"})
        assert status == 200
        rows = await hub.services.store.read_all("SELECT ticket_id, printer FROM print_jobs")
        assert [tuple(r) for r in rows] == [(fired["tickets"][0]["id"], "wok-1")]


async def test_a_station_turning_busy_is_told_to_open_phones_at_once(
    hub_config: HubConfig, coursed: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    """Over its limit without pausing, a station's items are "busy" on the diner's menu: a
    phone already open hears of it in a `wait` message, not at its next menu load."""
    wok = StationPacing(cooks=1, wait_limit_s=1200)
    config = replace(hub_config, broker=None, pacing=PacingConfig(stations={"wok": wok}))
    async with running_hub(config, seed_menu=coursed) as hub:
        ws = hub.url.replace("http", "ws") + "/ws/table"
        async with http.ws_connect(ws, params={"table": table_token(hub, "T2")}) as phone:
            assert (await phone.receive_json(timeout=5))["type"] == "snapshot"
            for i in range(4):  # four mains of 10 minutes on one cook: 40 minutes of queue
                await order(http, hub, f"pace-busy-{i:03d}", [MAIN], all_together=True)
            await hub.services.pacer.tick()

            async def told_busy() -> bool:
                while True:
                    msg = await phone.receive_json(timeout=5)
                    if msg.get("type") == "wait" and msg["items"]["kung-pao-chicken"]["busy"]:
                        return "kung-pao-chicken" in msg["busy"]

            assert await asyncio.wait_for(told_busy(), timeout=10)


async def test_the_range_a_wait_is_told_in_follows_how_the_last_quotes_came_out(
    hub_config: HubConfig, coursed: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    """Until twenty quotes are settled a wait is told as 0.75 to 1.25 of it; once the kitchen
    has run three times slower than it quoted, a wait is told from well after it, on the
    menu, an order's ETA, and after a restart (the quotes are read back from the store)."""
    clock = SteppingClock()
    # cooks enough on the wok that every order is quoted its prep time
    pacing = PacingConfig(auto_fire="manual", stations={"wok": StationPacing(cooks=30)})
    config = replace(hub_config, broker=None, pacing=pacing)
    async with running_hub(config, seed_menu=coursed, clock=clock) as hub:
        kitchen = await token(hub, "kitchen")
        menu_url = f"{hub.url}/api/v1/menu?table={table_token(hub, 'T1')}"
        menu = await get(http, menu_url)
        wait = menu["wait_s"]
        assert menu["wait_range_s"] == [
            int(wait * 0.75),
            max(int(wait * 1.25), int(wait * 0.75) + 120),
        ]
        placed = [
            await order(http, hub, f"band-{i:04d}", [MAIN], all_together=True) for i in range(22)
        ]
        quoted = await hub.services.store.read_all(
            "SELECT quoted_ms, ready_by_ms FROM orders ORDER BY id"
        )
        longest = max(by - q for q, by in quoted)
        clock.advance(3 * longest)  # every order ready three times as late as quoted
        await bump_all(http, hub, kitchen, "wok", "band-bump-")
        band = (await get(http, f"{hub.url}/api/v1/pacing", kitchen))["band"]
        assert band["quotes"] == len(placed)
        assert band["low"] >= 3.0
        assert band["high"] >= band["low"]
        menu = await get(http, menu_url)
        low, high = menu["wait_range_s"]
        assert low >= 3 * menu["wait_s"]
        assert high >= low + 120
        item = next(it for it in menu["items"] if it["id"] == "kung-pao-chicken")
        assert item["wait_range_s"][0] >= 3 * item["wait_s"]
        mine = await order(http, hub, "band-eta-0001", [MAIN])
        url = f"{hub.url}/api/v1/orders/{mine['order_id']}?table={table_token(hub, 'T1')}"
        got = await get(http, url)
        now = clock.now_ms()
        first, last = got["eta_range_ms"]
        assert first - now >= 3 * (got["eta_ms"] - now) - 1000
        assert last > first
    async with running_hub(config, seed_menu=coursed, clock=clock) as hub:
        kitchen = await token(hub, "kitchen")
        band = (await get(http, f"{hub.url}/api/v1/pacing", kitchen))["band"]
        assert band["quotes"] == len(placed)
        assert band["low"] >= 3.0
