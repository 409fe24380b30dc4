"""`GET /`: a start page that says what the box is and links the staff pages (each still needs
a paired screen), in English, Simplified and Traditional Chinese, with no link to anything
secret. Real hub over HTTP, real chromium."""

from __future__ import annotations

import re

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from hub.app import RunningHub
from hub.services import staff
from tests.conftest import table_token
from tests.e2e.conftest import screenshot_dir

pytestmark = pytest.mark.browser

STAFF_LINKS = {"/kds/expo", "/floor", "/admin", "/pair?next=/kds/expo"}
TITLES = {
    "en": "This is the restaurant’s ordering hub",
    "zh-Hans": "这是餐厅的点餐主机",
    "zh-Hant": "這是餐廳的點餐主機",
}


async def test_root_is_a_start_page_with_no_secret_in_it(hub: RunningHub) -> None:
    token = await staff.issue(hub.services.store, "admin", "manager")
    async with aiohttp.ClientSession() as http, http.get(f"{hub.url}/") as r:
        assert r.status == 200
        assert r.content_type == "text/html"
        html = await r.text()
    hrefs = set(re.findall(r'href="([^"]+)"', html))
    links = {h for h in hrefs if not h.startswith("/static/")}
    assert links == STAFF_LINKS
    assert token not in html
    for table in hub.services.catalog.tables:
        assert table_token(hub, table) not in html
    for secret in ("/api/", "/metrics", "token=", "/t/"):
        assert secret not in html


async def test_start_page_in_three_languages_and_staff_links_need_pairing(
    hub: RunningHub, browser: Browser
) -> None:
    context = await browser.new_context(viewport={"width": 1024, "height": 768}, locale="en-US")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{hub.url}/")
    await expect(page.get_by_test_id("start-title")).to_have_text(TITLES["en"])
    await expect(page.get_by_test_id("start-stations")).to_be_hidden()  # not paired
    folder = screenshot_dir()
    if folder is not None:
        await page.screenshot(path=str(folder / "start.png"))
    for lang in ("zh-Hans", "zh-Hant", "en"):
        await page.get_by_test_id("start-lang").select_option(lang)
        await expect(page.get_by_test_id("start-title")).to_have_text(TITLES[lang])
        await expect(page.locator("html")).to_have_attribute("lang", lang)

    await page.get_by_test_id("start-admin").click()  # an unpaired screen is sent to pair
    await expect(page).to_have_url(re.compile(r"/static/pair\.html\?next=(%2F|/)admin$"))
    assert errors == []


async def test_a_paired_screen_also_gets_each_station(hub: RunningHub, browser: Browser) -> None:
    token = await staff.issue(hub.services.store, "kitchen", "pass screen")
    page = await (await browser.new_context(locale="zh-TW")).new_page()
    await page.goto(f"{hub.url}/pair?token={token}&next=/")
    await expect(page.get_by_test_id("start-title")).to_have_text(TITLES["zh-Hant"])
    await expect(page.get_by_test_id("start-stations")).to_be_visible()
    grill = page.get_by_test_id("start-station-cold")
    await expect(grill).to_have_attribute("href", "/kds/cold")
    await grill.click()
    await expect(page.get_by_test_id("station-name")).to_be_visible()
