"""A diner orders on a phone-sized page, the ticket appears on the kitchen screen without a
reload, the cook bumps it, and the diner's page shows it ready. Real hub, real broker, real
headless chromium."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from hub.app import RunningHub
from hub.services import staff
from tests.conftest import table_token
from tests.e2e.conftest import screenshot_dir

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
KDS = {"width": 1280, "height": 800}
XSS = '<img src=x onerror="window.__pwned=1">'


async def shot(page: Page, name: str) -> None:
    folder = screenshot_dir()
    if folder is not None:
        await page.screenshot(path=str(Path(folder) / f"{name}.png"))


async def pair(browser: Browser, hub: RunningHub, path: str) -> Page:
    token = await staff.issue(hub.services.store, "kitchen", "e2e screen")
    context = await browser.new_context(viewport=KDS)
    page = await context.new_page()
    await page.goto(f"{hub.url}/pair?token={token}&next={path}")
    await expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "online")
    return page


async def test_diner_orders_cook_bumps_diner_sees_ready(hub: RunningHub, browser: Browser) -> None:
    kds = await pair(browser, hub, "/kds/cold")
    phone_ctx = await browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US"
    )
    phone = await phone_ctx.new_page()
    errors: list[str] = []
    phone.on("pageerror", lambda e: errors.append(str(e)))
    kds.on("pageerror", lambda e: errors.append(str(e)))
    await phone.goto(f"{hub.url}/t/{table_token(hub, 'T3')}")
    await expect(phone.get_by_test_id("item-sea-salt-edamame")).to_be_visible()
    await shot(phone, "diner")

    await phone.get_by_test_id("item-sea-salt-edamame").click()
    await phone.get_by_test_id("item-note").fill("Less salt, please")
    await phone.get_by_test_id("add-to-cart").click()
    await phone.get_by_test_id("cart-button").click()
    await phone.get_by_test_id("place-order").click()
    card = phone.locator('[data-testid^="order-"][data-status]')
    await expect(card).to_have_count(1)
    await expect(card).to_have_attribute("data-status", "received")

    # the ticket arrives on the kitchen screen without a reload
    ticket = kds.locator('[data-testid^="ticket-"]')
    await expect(ticket).to_have_count(1)
    await expect(ticket).to_contain_text("Table 3")
    await expect(ticket).to_contain_text("Less salt, please")
    await shot(kds, "kds")

    ticket_id = (await ticket.get_attribute("data-testid") or "").removeprefix("ticket-")
    await kds.get_by_test_id(f"bump-{ticket_id}").click()
    await expect(ticket).to_have_count(0)
    await expect(card).to_have_attribute("data-status", "ready")
    await shot(phone, "ready")
    orders = await hub.services.store.read_all("SELECT COUNT(*) FROM orders")
    assert orders[0][0] == 1
    assert errors == []


async def test_double_tap_places_one_order_and_86_shows_live(
    hub: RunningHub, browser: Browser
) -> None:
    phone = await (
        await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    ).new_page()
    await phone.goto(f"{hub.url}/t/{table_token(hub, 'T5')}")
    await phone.get_by_test_id("item-sea-salt-edamame").click()
    await phone.get_by_test_id("add-to-cart").click()
    await phone.get_by_test_id("cart-button").click()
    place = phone.get_by_test_id("place-order")
    await place.dblclick()
    await expect(phone.locator('[data-testid^="order-"][data-status]')).to_have_count(1)
    rows = await hub.services.store.read_all("SELECT COUNT(*) FROM orders")
    assert rows[0][0] == 1
    # the kitchen 86es an item: the open menu shows it sold out at once
    await hub.services.catalog.set_availability("veggie-spring-rolls", False)
    card = phone.get_by_test_id("item-veggie-spring-rolls")
    await expect(card).to_contain_text("Sold out")  # no reload: pushed to the open page
    await hub.services.catalog.set_availability("veggie-spring-rolls", True)
    await expect(card).not_to_contain_text("Sold out")


async def test_chinese_menu_is_remembered(hub: RunningHub, browser: Browser) -> None:
    ctx = await browser.new_context(viewport=PHONE, locale="en-US")
    phone = await ctx.new_page()
    await phone.goto(f"{hub.url}/t/{table_token(hub, 'T6')}")
    await phone.get_by_test_id("lang-zh-Hant").click()
    await expect(phone.get_by_test_id("item-sea-salt-edamame")).to_contain_text("毛豆")
    await phone.reload()
    await expect(phone.get_by_test_id("item-sea-salt-edamame")).to_contain_text("毛豆")
    await shot(phone, "diner-zh-hant")


async def test_hostile_note_is_text_on_the_kitchen_screen(
    hub: RunningHub, browser: Browser
) -> None:
    kds = await pair(browser, hub, "/kds/cold")
    phone = await (await browser.new_context(viewport=PHONE)).new_page()
    await phone.goto(f"{hub.url}/t/{table_token(hub, 'T9')}")
    await phone.get_by_test_id("item-sea-salt-edamame").click()
    await phone.get_by_test_id("item-note").fill(XSS)
    await phone.get_by_test_id("add-to-cart").click()
    await phone.get_by_test_id("cart-button").click()
    await phone.get_by_test_id("place-order").click()
    ticket = kds.locator('[data-testid^="ticket-"]')
    await expect(ticket).to_contain_text(XSS)  # shown as the characters the diner typed
    assert await kds.evaluate("window.__pwned === undefined")
    assert await kds.locator("img[src='x']").count() == 0
    assert await phone.evaluate("window.__pwned === undefined")


async def test_a_busy_hub_is_explained_and_the_retry_makes_one_order(
    hub: RunningHub, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the store's writer is behind the hub answers 503: the phone retries with the
    same key, then tells the diner; the cart stays, and the next tap places exactly one
    order."""
    phone = await (
        await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US")
    ).new_page()
    await phone.goto(f"{hub.url}/t/{table_token(hub, 'T6')}")
    await phone.get_by_test_id("item-sea-salt-edamame").click()
    await phone.get_by_test_id("add-to-cart").click()
    await phone.get_by_test_id("cart-button").click()
    monkeypatch.setattr(hub.services.store, "backlog_s", lambda: 2.0)
    await phone.get_by_test_id("place-order").click()
    banner = phone.locator("#error-banner")
    await expect(banner).to_be_visible(timeout=15_000)
    await expect(banner).to_contain_text("can’t take orders right now")
    assert hub.services.ordering.refused_busy >= 2  # the page tried again before telling
    rows = await hub.services.store.read_all("SELECT COUNT(*) FROM orders")
    assert rows[0][0] == 0
    monkeypatch.setattr(hub.services.store, "backlog_s", lambda: 0.0)
    await phone.get_by_test_id("place-order").click()
    await expect(phone.locator('[data-testid^="order-"][data-status]')).to_have_count(1)
    rows = await hub.services.store.read_all("SELECT COUNT(*) FROM orders")
    assert rows[0][0] == 1
