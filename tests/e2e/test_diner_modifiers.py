"""The diner's item sheet says what a required modifier group still needs, in the group's own
terms: "choose at least 1" where up to 2 may be chosen, "choose 1" where exactly one is.
Real hub, real chromium."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from hub.app import RunningHub
from tests.conftest import table_token

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize(
    ("locale", "one_or_two", "exactly_one"),
    [
        ("en-US", "Please choose at least 1.", "Please choose 1."),
        ("zh-TW", "請至少選擇 1 項。", "請選擇 1 項。"),
    ],
)
async def test_missing_choice_says_what_the_group_allows(
    hub: RunningHub, browser: Browser, locale: str, one_or_two: str, exactly_one: str
) -> None:
    page = await (await browser.new_context(viewport=PHONE, locale=locale)).new_page()
    await page.goto(f"{hub.url}/t/{table_token(hub, 'T2')}")

    await page.get_by_test_id("item-pork-gyoza").click()  # dipping sauces: choose 1 to 2
    await page.get_by_test_id("add-to-cart").click()
    sauces = page.locator('fieldset[data-group="gyoza-sauces"] .mod-error')
    await expect(sauces).to_have_text(one_or_two)
    await page.keyboard.press("Escape")

    await page.get_by_test_id("item-crispy-pork-belly").click()  # spice: exactly 1
    await page.get_by_test_id("add-to-cart").click()
    spice = page.locator('fieldset[data-group="pork-belly-spice"] .mod-error')
    await expect(spice).to_have_text(exactly_one)
