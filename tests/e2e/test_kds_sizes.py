"""The kitchen screen on the displays it really runs on: the Pi's official 7" panel (800×480),
a 1024×600 panel, a 1280×800 tablet and a portrait 800×1280 screen. At each: no horizontal
scroll, the station's name shows, every header control is on screen or in the "more" menu,
and tickets beyond the board's edge are counted by the "N more" cue. Real hub, real chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from hub.app import RunningHub
from hub.services import staff
from tests.conftest import order_body, table_token
from tests.e2e.conftest import screenshot_dir

pytestmark = pytest.mark.browser

SIZES = [(800, 480), (1024, 600), (1280, 800), (800, 1280)]
CONTROLS = ["recall-last", "recent-button", "availability-button", "settings-button"]
TICKETS = 14  # more than any of the sizes shows at once


async def kds_page(
    browser: Browser, hub: RunningHub, width: int, height: int, station: str = "cold"
) -> Page:
    token = await staff.issue(hub.services.store, "kitchen", f"kds {width}x{height}")
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    await page.goto(f"{hub.url}/pair?token={token}&next=/kds/{station}")
    await expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "online")
    return page


async def place_orders(hub: RunningHub, count: int) -> None:
    async with aiohttp.ClientSession() as http:
        for n in range(count):
            body = order_body(table_token(hub, f"T{n % 8 + 1}"), f"size-order-{n}")
            async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
                assert r.status == 201, await r.text()


async def layout(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = await page.evaluate(
        """() => {
          const box = (n) => {
            const r = n.getBoundingClientRect();
            return [r.left, r.top, r.right, r.bottom];
          };
          const name = document.querySelector('[data-testid="station-name"]');
          const shown = (n) => n && !n.hidden && getComputedStyle(n).display !== 'none'
            && n.getClientRects().length > 0;
          return {
            scrollWidth: document.documentElement.scrollWidth,
            clientWidth: document.documentElement.clientWidth,
            name: name.textContent, nameBox: box(name),
            nameCut: name.scrollWidth > name.clientWidth,
            controls: Object.fromEntries([...document.querySelectorAll('.kds-header button')]
              .map((b) => [b.dataset.testid, { shown: shown(b), box: box(b) }])),
          };
        }"""
    )
    return result


async def shot(page: Page, name: str) -> None:
    folder = screenshot_dir()
    if folder is not None:
        await page.screenshot(path=str(Path(folder) / f"{name}.png"))


def on_screen(box: list[float], width: int, height: int) -> bool:
    left, top, right, bottom = box
    return left >= 0 and top >= 0 and right <= width and bottom <= height


async def reachable_controls(page: Page, width: int, height: int) -> set[str]:
    """The header controls a cook can tap: the visible ones plus the "more" menu's."""
    found = await layout(page)
    reach = {
        tid
        for tid, c in found["controls"].items()
        if c["shown"] and on_screen(c["box"], width, height)
    }
    if "header-more" in reach:
        await page.get_by_test_id("header-more").click()
        menu = page.get_by_test_id("header-menu")
        await expect(menu).to_be_visible()
        for tid in CONTROLS:
            if await menu.get_by_test_id(f"more-{tid}").count():
                reach.add(tid)
        await page.keyboard.press("Escape")
        await expect(menu).to_be_hidden()
    return reach


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_kds_fits_the_screen(
    hub: RunningHub, browser: Browser, width: int, height: int
) -> None:
    page = await kds_page(browser, hub, width, height)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await place_orders(hub, TICKETS)
    await expect(page.locator('[data-testid^="ticket-"]')).to_have_count(TICKETS)

    found = await layout(page)
    assert found["scrollWidth"] <= found["clientWidth"] == width  # no horizontal scroll
    assert found["name"] == "Cold Kitchen"
    assert not found["nameCut"], found  # the whole name shows at these sizes
    assert on_screen(found["nameBox"], width, height)
    assert set(CONTROLS) <= await reachable_controls(page, width, height)

    # tickets past the right edge are counted, and the count is announced (a live region)
    more = page.get_by_test_id("board-more")
    await expect(more).to_be_visible()
    await expect(more).to_have_attribute("aria-live", "polite")
    beyond = await page.evaluate(
        """() => {
          const b = document.querySelector('#board');
          const edge = b.getBoundingClientRect().right;
          return [...b.children].filter((n) => n.getBoundingClientRect().left > edge - 40).length;
        }"""
    )
    assert beyond > 0
    await expect(more).to_contain_text(f"{beyond} more")
    await shot(page, f"kds-{width}x{height}")
    assert errors == []


async def test_expo_fits_the_pi_panel(hub: RunningHub, browser: Browser) -> None:
    page = await kds_page(browser, hub, 800, 480, "expo")
    await expect(page.get_by_test_id("station-name")).to_have_text("Expo")
    found = await layout(page)
    assert found["scrollWidth"] <= found["clientWidth"] == 800
    assert not found["nameCut"]
    assert set(CONTROLS) <= await reachable_controls(page, 800, 480)


async def test_controls_that_do_not_fit_move_into_the_more_menu(
    hub: RunningHub, browser: Browser
) -> None:
    """Narrower than any supported panel (a long translation or a printer alert can do the
    same): the header's last buttons go into "⋯ N more", which says how many it holds."""
    page = await kds_page(browser, hub, 560, 480)
    more = page.get_by_test_id("header-more")
    await expect(more).to_be_visible()
    await expect(more).to_have_attribute("aria-label", re.compile(r"^[1-9][0-9]* more controls$"))
    # read together: a later layout pass (a font loaded) may move one more button in or out
    label, count = await more.evaluate(
        "e => [e.getAttribute('aria-label'), Number(e.getAttribute('data-count'))]"
    )
    assert (label, count >= 1) == (f"{count} more controls", True)
    found = await layout(page)
    assert found["scrollWidth"] <= found["clientWidth"]
    assert found["nameBox"][2] - found["nameBox"][0] > 40  # some of the name still shows
    assert set(CONTROLS) <= await reachable_controls(page, 560, 480)

    await more.click()
    await expect(more).to_have_attribute("aria-expanded", "true")
    await shot(page, "kds-560x480-more")
    await page.get_by_test_id("more-settings-button").click()
    await expect(page.get_by_test_id("settings-done")).to_be_visible()

    # wide again: every button back in the header, no menu
    await page.get_by_test_id("settings-done").click()
    await page.set_viewport_size({"width": 1280, "height": 800})
    await expect(more).to_be_hidden()
    for tid in CONTROLS:
        await expect(page.get_by_test_id(tid)).to_be_visible()
