"""Counted dishes in the browser: two phones order the last lobster at the same moment and
exactly one gets it, the other is told it is sold out; a phone asking for more than remain is
told how many are left; the kitchen screen shows what is running low. Real hub, real
chromium, two browser contexts as two phones."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import Browser, Page, Route, expect

from hub.app import RunningHub
from hub.domain.orders import LineRequest
from tests.conftest import table_token
from tests.e2e.test_admin import open_admin
from tests.e2e.test_order_flow import PHONE, pair, shot

pytestmark = pytest.mark.browser


async def phone(browser: Browser, hub: RunningHub, table: str) -> Page:
    ctx = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US")
    page = await ctx.new_page()
    await page.goto(f"{hub.url}/t/{table_token(hub, table)}")
    await expect(page.get_by_test_id("item-live-lobster")).to_be_visible()
    return page


async def lobster_in_cart(page: Page) -> None:
    await page.get_by_test_id("item-live-lobster").click()
    await page.get_by_test_id("option-lobster-ginger-scallion").click()
    await page.get_by_test_id("add-to-cart").click()
    await page.get_by_test_id("cart-button").click()


async def test_the_last_lobster_ordered_from_two_phones_at_once(
    hub: RunningHub, browser: Browser
) -> None:
    await hub.services.stock.set_count("live-lobster", 1, None, action_id=None, by="chef")
    phones = [await phone(browser, hub, "T1"), await phone(browser, hub, "T2")]
    await expect(phones[0].get_by_test_id("left-live-lobster")).to_have_text("1 left")
    for p in phones:
        await lobster_in_cart(p)
    # both orders leave their phones before either is answered: each is held on its way
    # until the other has been sent too, then both go to the hub together
    held: list[Route] = []
    both_sent = asyncio.Event()

    async def hold(route: Route) -> None:
        held.append(route)
        if len(held) == 2:
            both_sent.set()
        await both_sent.wait()
        await route.continue_()

    for p in phones:
        await p.route("**/api/v1/orders", hold)
    await asyncio.gather(*(p.get_by_test_id("place-order").click() for p in phones))

    async def outcome(p: Page) -> str:
        """'order' once the phone shows its placed order, 'refused' once its cart line says
        why it was refused."""
        order = p.locator('[data-testid^="order-"][data-status]')
        refused = p.get_by_test_id("line-error-0")
        await expect(order.or_(refused)).to_be_visible()
        return "order" if await order.count() else "refused"

    results = [await outcome(p) for p in phones]
    assert sorted(results) == ["order", "refused"]
    loser = phones[results.index("refused")]
    await expect(loser.get_by_test_id("line-error-0")).to_contain_text("sold out")
    await shot(loser, "last-lobster-refused")
    rows = await hub.services.store.read_all("SELECT COUNT(*) FROM orders")
    assert rows[0][0] == 1
    # both phones now show it sold out, without a reload
    for p in phones:
        await p.keyboard.press("Escape")
        await expect(p.get_by_test_id("item-live-lobster")).to_have_attribute(
            "data-available", "false"
        )


async def test_a_phone_is_told_how_many_are_left_and_the_kitchen_sees_it_running_low(
    hub: RunningHub, browser: Browser
) -> None:
    await hub.services.stock.set_count("sea-salt-edamame", 2, 1, action_id=None, by="chef")
    kds = await pair(browser, hub, "/kds/cold")
    page = await phone(browser, hub, "T3")
    for _ in range(3):
        await page.get_by_test_id("item-sea-salt-edamame").click()
        await page.get_by_test_id("add-to-cart").click()
    await page.get_by_test_id("cart-button").click()
    await page.get_by_test_id("place-order").click()
    await expect(page.get_by_test_id("line-error-0")).to_have_text(
        "Only 2 left — please order no more than that."
    )
    await shot(page, "only-two-left")
    assert (await hub.services.store.read_all("SELECT COUNT(*) FROM orders"))[0][0] == 0

    # one is ordered: the kitchen screen shows the last one as running low
    await hub.services.ordering.place(
        table_token(hub, "T4"), "edamame-low-1", [LineRequest("sea-salt-edamame", 1)]
    )
    low = kds.get_by_test_id("low-sea-salt-edamame")
    await expect(low).to_contain_text("1 left")
    await shot(kds, "kds-running-low")


async def test_the_admin_page_counts_an_item_and_shows_it_running_low(
    hub: RunningHub, browser: Browser
) -> None:
    page, errors = await open_admin(browser, hub, {"width": 1280, "height": 900})
    box = page.get_by_test_id("count-pad-thai")
    await box.fill("5")
    await box.press("Enter")
    await box.blur()
    left = page.get_by_test_id("left-pad-thai")
    await expect(left).to_have_text("5 left")
    level = hub.services.catalog.stock["pad-thai"]
    assert (level.left, level.low_at) == (5, 1)  # the screens warn at a fifth by default
    # orders come in from phones: the page follows the count live and warns at the last one
    for n in range(4):
        lines = [LineRequest("pad-thai", 1, ("pad-thai-chicken",))]
        await hub.services.ordering.place(table_token(hub, "T5"), f"pad-thai-{n:04d}", lines)
    await expect(left).to_have_text("Running low · 1 left")
    await left.scroll_into_view_if_needed()
    await shot(page, "admin-running-low")
    assert errors == []
