"""The demo's devices page in headless chromium: pressing a simulated call button goes through
the real button agent (gpiozero's mock pins) and MQTT to the hub; the call shows on the floor
view, the button's LED lights, and acknowledging the call puts the LED out. A bump button at
the pass bumps the station's oldest ticket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from devices.agent import MqttSettings
from devices.buttons.demo import DemoButtons, demo_board
from hub.app import RunningHub, running_hub
from hub.config import HubConfig
from hub.ops.mosquitto import Mosquitto
from hub.services import staff
from tests.conftest import table_token
from tests.e2e.conftest import screenshot_dir
from tests.waiting import until

pytestmark = pytest.mark.browser


@pytest.fixture
async def demo_hub(
    hub_config: HubConfig, menu_doc: dict[str, Any], broker: Mosquitto
) -> AsyncIterator[RunningHub]:
    board = demo_board(["T1", "T2"], ["grill", "wok"])
    buttons = DemoButtons(
        "demo", board, MqttSettings(port=broker.port, client_id=f"{hub_config.broker.client_id}-b")
    )
    async with running_hub(hub_config, seed_menu=menu_doc, demo_buttons=buttons) as hub:
        yield hub


async def test_pressing_a_demo_button_opens_a_call_and_lights_its_led(
    demo_hub: RunningHub, browser: Browser, http: aiohttp.ClientSession
) -> None:
    hub = demo_hub
    token = await staff.issue(hub.services.store, "floor", "demo phone")
    auth = {"Authorization": f"Bearer {token}"}
    page = await (await browser.new_context(viewport={"width": 820, "height": 1000})).new_page()
    await page.goto(f"{hub.url}/pair?token={token}&next=/demo/devices")
    led = page.get_by_test_id("led-T2")
    await expect(led).to_have_attribute("data-lit", "off")
    buttons = {
        (b["table"], b["call"]): b["pin"]
        for b in hub.services.demo_buttons.buttons()
        if b["kind"] == "call"
    }
    await page.get_by_test_id(f"press-{buttons[('T2', 'water')]}").click()
    await expect(led).to_have_attribute("data-lit", "on", timeout=5000)
    async with http.get(f"{hub.url}/api/v1/calls", headers=auth) as r:
        calls = (await r.json())["calls"]
    assert [(c["table"], c["kind"], c["state"]) for c in calls] == [("T2", "water", "open")]
    assert calls[0]["source"].startswith("button:buttons-demo-")
    folder = screenshot_dir()
    if folder is not None:
        await page.screenshot(path=str(folder / "demo-devices.png"))
    async with http.post(f"{hub.url}/api/v1/calls/{calls[0]['id']}/ack", headers=auth) as r:
        assert r.status == 200
    await expect(led).to_have_attribute("data-lit", "off", timeout=5000)
    await expect(page.get_by_test_id("led-T1")).to_have_attribute("data-lit", "off")


async def test_a_demo_bump_button_bumps_the_oldest_ticket(
    demo_hub: RunningHub, browser: Browser, http: aiohttp.ClientSession
) -> None:
    hub = demo_hub
    token = await staff.issue(hub.services.store, "floor", "demo phone")
    kitchen = await staff.issue(hub.services.store, "kitchen", "grill screen")
    table = table_token(hub, "T1")
    item = next(
        i
        for i in hub.services.catalog.menu.items.values()
        if i.station == "grill" and not i.modifier_groups and i.price_per_grams is None
    )
    body = {
        "table": table,
        "idempotency_key": "demo-bump-1",
        "lines": [{"item": item.id, "qty": 1}],
    }
    async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
        assert r.status == 201, await r.text()
    kauth = {"Authorization": f"Bearer {kitchen}"}

    async def open_tickets() -> int:
        async with http.get(f"{hub.url}/api/v1/stations/grill/tickets", headers=kauth) as r:
            return len([t for t in (await r.json())["tickets"] if t["status"] == "open"])

    assert await open_tickets() == 1
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{hub.url}/pair?token={token}&next=/demo/devices")
    bump = next(
        b["pin"]
        for b in hub.services.demo_buttons.buttons()
        if b["kind"] == "bump" and b["station"] == "grill" and b["action"] == "bump"
    )
    await page.get_by_test_id(f"press-{bump}").click()

    async def bumped() -> bool:
        return await open_tickets() == 0

    await until(bumped, "the demo bump button to bump the grill ticket", every=0.1)


async def test_a_press_while_one_is_under_way_is_refused(
    demo_hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    hub = demo_hub
    token = await staff.issue(hub.services.store, "floor", "demo phone")
    auth = {"Authorization": f"Bearer {token}"}
    pin = next(b["pin"] for b in hub.services.demo_buttons.buttons() if b["kind"] == "call")
    url = f"{hub.url}/api/v1/demo/buttons/{pin}/press"

    async def press() -> int:
        async with http.post(url, headers=auth) as r:
            return r.status

    statuses = sorted(await asyncio.gather(*(press() for _ in range(5))))
    assert statuses[0] == 204
    assert set(statuses[1:]) <= {204, 409}
    assert 409 in statuses
    async with http.post(f"{hub.url}/api/v1/demo/buttons/99/press", headers=auth) as r:
        assert r.status == 404
        assert (await r.json())["field"] == "pin"
