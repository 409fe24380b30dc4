"""The floor view and the weighing dialog in headless chromium, with real MQTT devices: an
ESP32 stand-in opens a call, the floor view shows it, acknowledging turns its LED state off;
a lobster is weighed from a live scale reading on the KDS."""

from __future__ import annotations

import asyncio
import json

import aiomqtt
import pytest
from playwright.async_api import Browser, expect

from hub.app import RunningHub
from hub.domain.orders import LineRequest
from hub.ops.mosquitto import Mosquitto
from hub.services import staff
from tests.conftest import table_token
from tests.e2e.conftest import screenshot_dir

pytestmark = pytest.mark.browser
PREFIX = "tablehub/v1/demo"


async def test_button_call_on_floor_view_and_ack_turns_led_off(
    hub: RunningHub, broker: Mosquitto, browser: Browser
) -> None:
    token = await staff.issue(hub.services.store, "floor", "floor phone")
    page = await (await browser.new_context(viewport={"width": 390, "height": 844})).new_page()
    await page.goto(f"{hub.url}/pair?token={token}&next=/floor")
    await expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "online")
    assert hub.bus is not None
    await asyncio.wait_for(hub.bus.connected.wait(), 5)
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="table-button-T4") as esp:
        await esp.subscribe(f"{PREFIX}/tables/T4/call/state", qos=1)
        await esp.publish(
            f"{PREFIX}/tables/T4/call",
            json.dumps({"kind": "bill", "id": "table-button-T4-1-1"}),
            qos=1,
        )
        call = page.locator('[data-testid^="call-"][data-state]')
        await expect(call).to_have_count(1)
        await expect(call).to_contain_text("Table 4")
        await expect(call).to_have_attribute("data-state", "open")
        folder = screenshot_dir()
        if folder is not None:
            await page.screenshot(path=str(folder / "floor.png"))
        call_id = (await call.get_attribute("data-testid") or "").removeprefix("call-")
        await page.get_by_test_id(f"ack-{call_id}").click()  # the page's first tap
        await expect(call).to_have_attribute("data-state", "acked")
        states = []
        async with asyncio.timeout(5):
            async for message in esp.messages:
                assert isinstance(message.payload, bytes)
                lit = json.loads(message.payload)["open"]
                if not states and lit is False:  # kept from before the press (the hub's start)
                    continue
                states.append(lit)
                if states[-1] is False:
                    break
        assert states == [True, False]  # the LED lit with the call, off once acknowledged


async def test_weighing_a_lobster_from_the_scale(
    hub: RunningHub, broker: Mosquitto, browser: Browser
) -> None:
    await hub.services.ordering.place(
        table_token(hub, "T8"),
        "lobster-e2e-01",
        [LineRequest("live-lobster", 1, ("lobster-ginger-scallion",))],
    )
    kitchen = await staff.issue(hub.services.store, "kitchen", "wok screen")
    page = await (await browser.new_context(viewport={"width": 1280, "height": 800})).new_page()
    await page.goto(f"{hub.url}/pair?token={kitchen}&next=/kds/wok")
    await expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "online")
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="scale-pass") as scale:
        await scale.publish(
            f"{PREFIX}/scales/pass/weight", json.dumps({"grams": 1234, "stable": True}), retain=True
        )
        ticket = page.locator('[data-testid^="ticket-"]').first
        ticket_id = (await ticket.get_attribute("data-testid") or "").removeprefix("ticket-")
        await page.get_by_test_id(f"weigh-{ticket_id}-0").click()
        option = page.get_by_test_id("weighing-scale-pass")
        await expect(option).to_have_attribute("data-stable", "true")
        await option.click()
        await page.get_by_test_id("weighing-confirm").click()
        await expect(page.get_by_test_id(f"grams-{ticket_id}-0")).to_contain_text("1,234")
    order = (await hub.services.store.read_all("SELECT total_cents FROM orders"))[0]
    assert order[0] == 14808  # 1,234 g at 12.00 per 100 g
