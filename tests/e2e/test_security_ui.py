"""The security features as people meet them, in headless chromium on a real hub: a diner at a
table staff have not opened yet, the table PIN before the first order (wrong, right,
remembered, locked out), and a kitchen screen paired with a one-time PIN."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from hub.app import RunningHub
from hub.services import staff
from tests.conftest import table_token
from tests.e2e.conftest import screenshot_dir

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 390, "height": 844}
SCREEN: ViewportSize = {"width": 1280, "height": 800}
EDAMAME = "sea-salt-edamame"


async def shot(page: Page, name: str) -> None:
    folder = screenshot_dir()
    if folder is not None:
        await page.screenshot(path=str(Path(folder) / f"{name}.png"))


async def staff_post(hub: RunningHub, role: str, path: str, body: Any = None) -> dict[str, Any]:
    token = await staff.issue(hub.services.store, role, f"e2e {role}")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            hub.url + path, json=body or {}, headers={"Authorization": f"Bearer {token}"}
        ) as r,
    ):
        assert r.status in (200, 201), await r.text()
        data: dict[str, Any] = await r.json()
        return data


async def orders_of(hub: RunningHub, table: str) -> int:
    rows = await hub.services.store.read_all(
        "SELECT COUNT(*) FROM orders WHERE table_id = ?", (table,)
    )
    return int(rows[0][0])


async def add_edamame_and_open_cart(phone: Page) -> None:
    await phone.get_by_test_id(f"item-{EDAMAME}").click()
    await phone.get_by_test_id("add-to-cart").click()
    await phone.get_by_test_id("cart-button").click()


async def type_pin(phone: Page, pin: str) -> None:
    await phone.get_by_test_id("pin-key-clear").click()
    for digit in pin:
        await phone.get_by_test_id(f"pin-key-{digit}").click()
    await expect(phone.get_by_test_id("pin-input")).to_have_value(pin)


async def phone_at(browser: Browser, hub: RunningHub, table: str) -> tuple[Page, list[str]]:
    ctx = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US")
    phone = await ctx.new_page()
    errors: list[str] = []
    phone.on("pageerror", lambda e: errors.append(str(e)))
    await phone.goto(f"{hub.url}/t/{table_token(hub, table)}")
    await expect(phone.get_by_test_id(f"item-{EDAMAME}")).to_be_visible()
    return phone, errors


async def test_closed_table_then_pin_then_remembered(pin_hub: RunningHub, browser: Browser) -> None:
    hub = pin_hub
    phone, errors = await phone_at(browser, hub, "T2")
    # closed: the page says why, the menu is still there, ordering is off
    closed = phone.get_by_test_id("table-closed")
    await expect(closed).to_be_visible()
    await expect(closed).to_contain_text("This table isn’t open yet")
    await add_edamame_and_open_cart(phone)
    await expect(phone.get_by_test_id("place-order")).to_be_disabled()
    await expect(phone.get_by_test_id("table-closed-hint")).to_contain_text(
        "Ordering starts when the staff open your table."
    )
    await shot(phone, "diner-table-closed")

    # staff open the table: the page learns it live, without a reload
    opened = await staff_post(hub, "floor", "/api/v1/tables/T2/open")
    pin = opened["pin"]
    await expect(closed).to_be_hidden()
    await expect(phone.get_by_test_id("place-order")).to_be_enabled()

    # the first order asks for the PIN; a wrong one shows the hub's answer and orders nothing
    await phone.get_by_test_id("place-order").click()
    await expect(phone.get_by_test_id("pin-input")).to_be_visible()
    assert await phone.get_by_test_id("pin-input").get_attribute("inputmode") == "numeric"
    wrong = "0000" if pin != "0000" else "1111"
    await type_pin(phone, wrong)
    await phone.get_by_test_id("pin-submit").click()
    await expect(phone.get_by_test_id("pin-error")).to_have_text(
        "The table PIN is not right; the staff can tell you."
    )
    assert await orders_of(hub, "T2") == 0
    assert await phone.evaluate("sessionStorage.length") == 0
    await shot(phone, "diner-pin-wrong")

    # the right PIN places the order and is kept for this session
    await type_pin(phone, pin)
    await phone.get_by_test_id("pin-submit").click()
    card = phone.locator('[data-testid^="order-"][data-status]')
    await expect(card).to_have_count(1)
    assert await orders_of(hub, "T2") == 1
    kept = await phone.evaluate("Object.values(sessionStorage)")
    assert kept == [pin]
    stored = "Object.keys(localStorage).filter((k) => k.startsWith('tablehub.pin'))"
    assert await phone.evaluate(stored) == []  # never beyond this session

    # the next order goes straight through, even after a reload
    await phone.reload()
    await add_edamame_and_open_cart(phone)
    await phone.get_by_test_id("place-order").click()
    await expect(phone.locator('[data-testid^="order-"][data-status]')).to_have_count(2)
    assert await orders_of(hub, "T2") == 2
    await expect(phone.get_by_test_id("pin-input")).to_have_count(0)

    # the party leaves: staff close the table, the page says so and forgets the PIN
    await staff_post(hub, "floor", "/api/v1/tables/T2/close")
    await expect(closed).to_be_visible()
    assert await phone.evaluate("sessionStorage.length") == 0
    assert errors == []


async def test_pin_lockout_is_explained(pin_hub: RunningHub, browser: Browser) -> None:
    hub = pin_hub
    pin = (await staff_post(hub, "floor", "/api/v1/tables/T3/open"))["pin"]
    wrong = "0000" if pin != "0000" else "1111"
    phone, errors = await phone_at(browser, hub, "T3")
    await phone.get_by_test_id("lang-zh-Hant").click()
    await add_edamame_and_open_cart(phone)
    await phone.get_by_test_id("place-order").click()
    for _ in range(5):
        await type_pin(phone, wrong)
        await phone.get_by_test_id("pin-submit").click()
        await expect(phone.get_by_test_id("pin-error")).to_have_text(
            "餐桌密碼不正確，請向服務人員詢問。"
        )
    # locked: even the right PIN waits, and the page says how long
    await type_pin(phone, pin)
    await phone.get_by_test_id("pin-submit").click()
    await expect(phone.get_by_test_id("pin-error")).to_have_text(
        "密碼錯誤次數過多。請等待 2 分鐘 後再試，或詢問服務人員。"
    )
    await expect(phone.get_by_test_id("pin-submit")).to_be_disabled()
    assert await orders_of(hub, "T3") == 0
    await shot(phone, "diner-pin-locked")
    assert errors == []


async def test_a_screen_pairs_with_a_one_time_pin(pin_hub: RunningHub, browser: Browser) -> None:
    hub = pin_hub
    made = await staff_post(
        hub, "admin", "/api/v1/admin/pairing-pins", {"role": "kitchen", "label": "cold screen"}
    )
    ctx = await browser.new_context(viewport=SCREEN, has_touch=True, locale="en-US")
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # an unpaired screen is sent to pairing, and comes back afterwards
    await page.goto(f"{hub.url}/kds/cold")
    await expect(page.get_by_test_id("pair-pin")).to_be_focused()
    await expect(page.get_by_test_id("pair-next")).to_have_value("/kds/cold")
    wrong = f"{(int(made['pin']) + 1) % 1_000_000:06d}"
    await page.get_by_test_id("pair-pin").fill(wrong)
    await page.get_by_test_id("pair-pin-submit").click()
    await expect(page.get_by_test_id("pair-pin-error")).to_have_text(
        "That PIN is not right or has expired. Ask a manager for a new one."
    )
    assert page.url.startswith(f"{hub.url}/static/pair.html")
    await shot(page, "pair-pin")
    # the on-screen keypad types the PIN on a touchscreen without a keyboard
    for digit in made["pin"]:
        await page.get_by_test_id(f"pair-key-{digit}").click()
    await page.get_by_test_id("pair-pin-submit").click()
    await page.wait_for_url(f"{hub.url}/kds/cold")
    await expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "online")
    (cookie,) = [c for c in await ctx.cookies() if c["name"] == "th_staff"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert "th_staff" not in await page.evaluate("document.cookie")
    # the PIN is spent: another screen cannot use it
    other = await (await browser.new_context(viewport=SCREEN)).new_page()
    await other.goto(f"{hub.url}/static/pair.html?next=/kds/cold")
    await other.get_by_test_id("pair-pin").fill(made["pin"])
    await other.get_by_test_id("pair-pin-submit").click()
    await expect(other.get_by_test_id("pair-pin-error")).to_be_visible()
    assert other.url.startswith(f"{hub.url}/static/pair.html")
    assert errors == []


async def test_a_screen_whose_pairing_was_revoked_says_so(
    pin_hub: RunningHub, browser: Browser
) -> None:
    """A screen's token is revoked while it runs: the hub closes its socket at once and
    refuses it again and again (a refused upgrade looks like a dead network to the page), so
    every third failed dial the page asks the API, learns it is no longer paired, and says
    so instead of "reconnecting" forever."""
    hub = pin_hub
    made = await staff_post(
        hub, "admin", "/api/v1/admin/pairing-pins", {"role": "kitchen", "label": "wok screen"}
    )
    ctx = await browser.new_context(viewport=SCREEN, locale="en-US")
    page = await ctx.new_page()
    await page.goto(f"{hub.url}/static/pair.html?next=/kds/wok")
    await page.get_by_test_id("pair-pin").fill(made["pin"])
    await page.get_by_test_id("pair-pin-submit").click()
    await page.wait_for_url(f"{hub.url}/kds/wok")
    await expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "online")
    (token,) = [
        t
        for t in await staff.listing(hub.services.store)
        if "wok screen" in t["label"] and t["revoked_at"] is None
    ]
    revoked = await staff_post(hub, "admin", f"/api/v1/admin/tokens/{token['id']}/revoke")
    assert revoked["screens_closed"] == 1  # the hub closes the screen's socket at once
    # its reconnects are refused; every third, the page asks the API and learns why
    await expect(page.get_by_test_id("not-paired")).to_be_visible(timeout=20_000)
    await expect(page.get_by_test_id("ticket")).to_have_count(0)
