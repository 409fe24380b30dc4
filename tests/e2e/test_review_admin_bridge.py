"""The admin page's cloud bridge card speaks the page's language, like every other card."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from hub.app import RunningHub
from hub.services import staff

pytestmark = pytest.mark.browser

LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


async def test_the_bridge_card_follows_the_language(
    linked_hub: RunningHub, browser: Browser
) -> None:
    hub = linked_hub
    token = await staff.issue(hub.services.store, "admin", "manager tablet")
    page = await (await browser.new_context(locale="zh-CN")).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{hub.url}/pair?token={token}&next=/admin")

    card = page.get_by_test_id("bridge-section")
    await expect(card).to_be_visible()
    await expect(page.get_by_test_id("bridge-state")).to_have_text("尚未运行")
    # no English left: the bridge's state, the row labels, "never", "checked at"
    text = await card.inner_text()
    assert not LATIN_WORD.findall(text), text

    # switching the language redraws the card at once
    await page.locator("#admin-lang").select_option("en")
    await expect(page.get_by_test_id("bridge-state")).to_have_text("Not running yet")
    await expect(card.locator("h2")).to_have_text("Cloud bridge")
    await expect(page.get_by_test_id("bridge-kv")).to_contain_text("Backlog")
    assert errors == []
