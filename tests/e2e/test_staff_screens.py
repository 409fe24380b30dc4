"""Staff pages at real screen sizes: every admin section link shows at 1024 and 1440 px (none
cut off out of sight), and the floor view lists the longest-waiting call first. Real hub, real
chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import aiomqtt
import pytest
from playwright.async_api import Browser, Page, expect

from hub.app import RunningHub
from hub.bus import contract
from hub.ops.mosquitto import Mosquitto
from hub.services import staff
from hub.store.db import Tx
from tests.e2e.conftest import screenshot_dir
from tests.waiting import event

pytestmark = pytest.mark.browser

ADMIN_SIZES = [(1024, 768), (1440, 900), (1920, 1080)]


async def shot(page: Page, name: str) -> None:
    folder = screenshot_dir()
    if folder is not None:
        await page.screenshot(path=str(Path(folder) / f"{name}.png"))


async def paired_page(
    browser: Browser, hub: RunningHub, role: str, path: str, width: int, height: int
) -> Page:
    token = await staff.issue(hub.services.store, role, f"{role} {width}x{height}")
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    await page.goto(f"{hub.url}/pair?token={token}&next={path}")
    await expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "online")
    return page


@pytest.mark.parametrize(("width", "height"), ADMIN_SIZES, ids=[f"{w}" for w, _ in ADMIN_SIZES])
async def test_every_admin_section_link_is_on_screen(
    hub: RunningHub, browser: Browser, width: int, height: int
) -> None:
    page = await paired_page(browser, hub, "admin", "/admin", width, height)
    found = await page.evaluate(
        """() => {
          const nav = document.querySelector('.admin-nav');
          return {
            navScroll: nav.scrollWidth - nav.clientWidth,
            pageScroll: document.documentElement.scrollWidth - document.documentElement.clientWidth,
            links: [...nav.querySelectorAll('a')].map((a) => {
              const r = a.getBoundingClientRect();
              const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
              return { href: a.getAttribute('href'), left: r.left, right: r.right,
                       top: r.top, bottom: r.bottom, onTop: a.contains(hit),
                       target: !!document.getElementById(a.getAttribute('href').slice(1)) };
            }),
          };
        }"""
    )
    assert len(found["links"]) >= 10  # every section the page has, each on screen
    assert all(link["target"] for link in found["links"]), found["links"]
    assert found["navScroll"] <= 0, found  # nothing hidden behind a sideways scroll
    assert found["pageScroll"] <= 0, found
    for link in found["links"]:
        assert link["left"] >= 0, link
        assert link["right"] <= width, link
        assert link["top"] >= 0, link
        assert link["bottom"] <= height, link
        assert link["onTop"], link  # not covered by the language picker or the status
    await shot(page, f"admin-{width}")
    await page.get_by_role("link", name="Health").click()
    await expect(page).to_have_url(f"{hub.url}/admin#health")


async def test_floor_lists_the_longest_waiting_call_first(
    hub: RunningHub, browser: Browser
) -> None:
    old, _ = await hub.services.calls.open("T2", "waiter", "diner")

    async def waited_110_s(tx: Tx) -> None:
        await tx.execute("UPDATE calls SET opened_ms = opened_ms - 110000 WHERE id=?", (old.id,))

    await hub.services.store.write(waited_110_s)
    new, _ = await hub.services.calls.open("T5", "waiter", "diner")
    page = await paired_page(browser, hub, "floor", "/floor", 390, 844)
    cards = page.locator('[data-testid^="call-"][data-state]')
    await expect(cards).to_have_count(2)
    await expect(cards.nth(0)).to_have_attribute("data-testid", f"call-{old.id}")
    await expect(cards.nth(0)).to_contain_text("Table 2")
    await expect(cards.nth(0)).to_contain_text("1:5")  # waiting 1:50 (1:5x by the time it shows)
    await expect(cards.nth(1)).to_have_attribute("data-testid", f"call-{new.id}")

    # a third call, opened live, goes to the bottom
    newest, _ = await hub.services.calls.open("T7", "bill", "diner")
    await expect(cards).to_have_count(3)
    await expect(cards.nth(2)).to_have_attribute("data-testid", f"call-{newest.id}")
    await expect(cards.nth(0)).to_have_attribute("data-testid", f"call-{old.id}")


async def test_a_weighing_scale_is_one_card_on_the_floor_view(
    hub: RunningHub, broker: Mosquitto, browser: Browser
) -> None:
    """The scale agent reports itself (device `scale-prep`) and its weights (scale `prep`):
    the floor shows one card for it, not a weight card and a device card."""
    page = await paired_page(browser, hub, "floor", "/floor", 390, 844)
    assert hub.bus is not None
    await event(hub.bus.connected, "the hub to connect to the broker")
    store = "demo"
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="scale-prep") as scale:

        async def status(state: Literal["online", "offline"]) -> None:
            body = contract.encode(contract.DeviceStatus(state=state, kind="scale"))
            await scale.publish(contract.device_status(store, "scale-prep"), body, qos=1)

        async def weigh(grams: int) -> None:
            body = contract.encode(contract.WeightMessage(grams=grams, stable=True))
            await scale.publish(contract.scale_weight(store, "prep"), body, qos=1)

        await status("online")
        await weigh(1180)
        weight = page.get_by_test_id("weight-prep")
        await expect(weight).to_contain_text("Scale prep")
        await expect(page.get_by_test_id("device-scale-prep")).to_have_count(0)  # not twice
        await weigh(1250)
        await expect(weight).to_have_attribute("data-grams", "1250")
        await expect(page.get_by_test_id("device-scale-prep")).to_have_count(0)

        # a scale that went offline shows as such (its last weight is stale), still once
        await status("offline")
        device = page.get_by_test_id("device-scale-prep")
        await expect(device).to_have_attribute("data-state", "offline")
        await expect(weight).to_have_count(0)
