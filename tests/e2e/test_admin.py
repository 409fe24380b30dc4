"""The admin page in headless chromium against a real hub: the kitchen's numbers drawn as SVG
charts (and updated live when the kitchen bumps), issuing a staff token with its pairing QR
code and revoking it, backing up now, editing and importing the menu, and the QR codes."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from hub.app import RunningHub
from hub.domain.orders import LineRequest
from hub.services import staff
from hub.store import backup, repos
from hub.store.db import Tx
from tests.conftest import table_token
from tests.e2e.conftest import screenshot_dir
from tests.waiting import until

pytestmark = pytest.mark.browser

TABLET = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}
HOUR_MS = 3_600_000


async def order(hub: RunningHub, table: str, key: str, item: str) -> list[int]:
    """Place an order; its ticket ids."""
    placed, _ = await hub.services.ordering.place(
        table_token(hub, table), key, [LineRequest(item, 1)]
    )
    rows = await hub.services.store.read_all(
        "SELECT id FROM tickets WHERE order_id=? ORDER BY id", (placed.order_id,)
    )
    return [int(r[0]) for r in rows]


async def bump_late(hub: RunningHub, ticket_id: int) -> None:
    """Bump a ticket that waited an hour (past every station's late limit)."""

    async def unit(tx: Tx) -> None:
        await tx.execute(
            "UPDATE tickets SET created_ms = created_ms - ? WHERE id=?", (HOUR_MS, ticket_id)
        )

    await hub.services.store.write(unit)
    await hub.services.kitchen.bump(ticket_id, None, None)


async def open_admin(
    browser: Browser, hub: RunningHub, viewport: dict[str, int]
) -> tuple[Page, list[str]]:
    token = await staff.issue(hub.services.store, "admin", "manager tablet")
    page = await (await browser.new_context(viewport=viewport, locale="en-US")).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # script errors and CSP refusals; a 4xx answer the page shows to the person is not one
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and "responded with a status of 4" not in m.text
            else None
        ),
    )
    await page.goto(f"{hub.url}/pair?token={token}&next=/admin")
    await expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "online")
    return page, errors


def bars(page: Page, chart: str, row: str | None = None) -> Any:
    scope = f'[data-testid="{chart}"]' + (f' g[data-row="{row}"]' if row else "")
    return page.locator(f"{scope} rect.bar")


async def test_charts_tokens_and_backups(hub: RunningHub, browser: Browser) -> None:
    slow = await order(hub, "T1", "admin-e2e-0001", "sea-salt-edamame")
    quick = await order(hub, "T2", "admin-e2e-0002", "sea-salt-edamame")
    await order(hub, "T3", "admin-e2e-0003", "tsingtao-lager")
    await bump_late(hub, slow[0])
    await hub.services.kitchen.bump(quick[0], None, None)
    page, errors = await open_admin(browser, hub, TABLET)

    # orders per hour: one bar per hour of the 12-hour window, this hour's holds the 3 orders
    orders = bars(page, "chart-orders")
    await expect(orders).to_have_count(12)
    await expect(orders.last).to_have_attribute("data-value", "3")
    assert {await b.get_attribute("data-value") for b in (await orders.all())[:-1]} == {"0"}
    # ticket times: median and p90 for each of the 4 stations; late tickets: one bar each
    await expect(bars(page, "chart-times")).to_have_count(8)
    cold_times = bars(page, "chart-times", "Cold Kitchen")
    p90 = int(await cold_times.nth(1).get_attribute("data-value") or 0)
    assert 3590 <= p90 <= 3700
    await expect(bars(page, "chart-late")).to_have_count(4)
    await expect(bars(page, "chart-late", "Cold Kitchen")).to_have_attribute("data-value", "1")
    await expect(bars(page, "chart-late", "Grill")).to_have_attribute("data-value", "0")
    # the same numbers as text for screen readers, and an accessible name on the picture
    await expect(page.get_by_test_id("table-late")).to_contain_text("Cold Kitchen")
    await expect(page.get_by_role("img", name="Late tickets per station")).to_have_count(1)
    await expect(page.locator("#stats-summary")).to_contain_text("1 of 2 tickets late")

    # the kitchen keeps cooking: the charts follow without a reload
    more = await order(hub, "T4", "admin-e2e-0004", "sea-salt-edamame")
    await hub.services.kitchen.bump(more[0], None, None)
    await expect(orders.last).to_have_attribute("data-value", "4", timeout=10_000)

    # a staff token: issued with its pairing QR code, then revoked after a confirmation
    await page.get_by_test_id("token-role").select_option("kitchen")
    await page.get_by_test_id("token-label").fill("Grill tablet")
    await page.get_by_test_id("token-issue").click()
    await expect(page.get_by_test_id("token-value")).to_have_text(re.compile(r"^thk_\S{20,}$"))
    token = await page.get_by_test_id("token-value").text_content() or ""
    qr = page.get_by_test_id("pair-qr")
    await expect(qr).to_be_visible()
    assert await qr.evaluate("img => img.complete && img.naturalWidth > 100")
    await expect(page.get_by_test_id("pair-link")).to_have_attribute(
        "href", f"{hub.url}/pair?token={token}&next=/kds/grill"
    )
    listed = {t["label"]: t for t in await staff.listing(hub.services.store)}
    row = page.get_by_test_id(f"token-{listed['Grill tablet']['id']}")
    await expect(row).to_have_attribute("data-state", "active")
    await expect(page.get_by_test_id(f"token-{listed['manager tablet']['id']}")).to_contain_text(
        "this screen"
    )
    await page.get_by_test_id(f"revoke-{listed['Grill tablet']['id']}").click()
    await expect(page.get_by_test_id("confirm-dialog")).to_contain_text("Revoke “Grill tablet”?")
    await page.get_by_test_id("confirm-ok").click()
    await expect(row).to_have_attribute("data-state", "revoked")
    revoked = {t["label"]: t for t in await staff.listing(hub.services.store)}
    assert revoked["Grill tablet"]["revoked_at"] is not None

    # a backup now: listed with its size, and the last backup's age is shown
    await expect(page.get_by_test_id("backups-empty")).to_be_visible()
    await page.get_by_test_id("backup-now").click()
    table = page.get_by_test_id("backups-table")
    await expect(table.locator("tbody tr")).to_have_count(1)
    (made,) = backup.list_backups(backup.backups_dir(hub.services.store.path.parent))
    await expect(page.get_by_test_id(f"backup-{made.name}")).to_be_visible()
    await expect(page.get_by_test_id("backups-last")).to_have_text("Last backup just now")
    # and when the hub makes the next one: at the store's 04:00
    await expect(page.locator("#backups-summary")).to_contain_text(re.compile(r"next \w+ 0?4:00"))
    # this hub has no cloud bridge: it keeps every closed check, and says so
    await expect(page.get_by_test_id("history-note")).to_have_text(
        "The hub keeps every closed check: there is no cloud copy."
    )

    # every table's QR code shows (an <img> of an SVG file)
    qr_img = page.get_by_test_id("table-T1").locator("img")
    await qr_img.scroll_into_view_if_needed()
    await expect(qr_img).to_have_js_property("complete", True)
    assert await qr_img.evaluate("img => img.naturalWidth") > 100
    folder = screenshot_dir()
    if folder is not None:
        await page.locator("#stats").screenshot(path=str(folder / "admin-charts.png"))
    assert errors == []


async def test_menu_edit_and_import_and_phone_width(hub: RunningHub, browser: Browser) -> None:
    page, errors = await open_admin(browser, hub, PHONE)
    # no sideways scrolling on a phone
    await expect(page.get_by_test_id("menu-table")).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    # edit a price and a name in place
    await page.get_by_test_id("menu-price-sea-salt-edamame").fill("6.25")
    await page.get_by_test_id("menu-name-sea-salt-edamame").fill("Edamame <b>salted</b>")
    await page.get_by_test_id("menu-save-sea-salt-edamame").click()
    await expect(page.get_by_test_id("menu-save-sea-salt-edamame")).to_be_disabled()
    # the button is disabled while the save is under way as well: wait for the hub to have it
    await until(lambda: hub.services.catalog.menu_version == 2, "the edit to be saved")
    item = hub.services.catalog.staff_item("sea-salt-edamame")
    assert item["price_cents"] == 625
    assert item["name"]["en"] == "Edamame <b>salted</b>"
    assert hub.services.catalog.menu_version == 2
    # the sold-out list shows the new name as text
    await expect(page.get_by_test_id("avail-row-sea-salt-edamame")).to_contain_text("<b>salted</b>")

    # a menu file the hub refuses: the page names the field
    bad = hub.services.catalog.menu_document()
    bad["items"][2]["price_cents"] = -5
    await page.get_by_test_id("menu-file").set_input_files(
        files=[
            {
                "name": "menu.json",
                "mimeType": "application/json",
                "buffer": json.dumps(bad).encode(),
            }
        ]
    )
    await expect(page.get_by_test_id("menu-error-field")).to_have_text("items[2].price_cents")
    assert hub.services.catalog.menu_version == 2
    # a good one is taken
    good = hub.services.catalog.menu_document()
    good["items"][2]["price_cents"] = 999
    await page.get_by_test_id("menu-file").set_input_files(
        files=[
            {
                "name": "menu.json",
                "mimeType": "application/json",
                "buffer": json.dumps(good).encode(),
            }
        ]
    )
    await expect(page.get_by_test_id("menu-error")).to_be_hidden()
    await expect(page.locator("#menu-summary")).to_contain_text("version 3")
    assert hub.services.catalog.staff_items()[2]["price_cents"] == 999
    assert errors == []


async def test_a_pairing_pin_from_the_admin_page_pairs_a_floor_phone(
    hub: RunningHub, browser: Browser
) -> None:
    page, errors = await open_admin(browser, hub, TABLET)
    await page.get_by_test_id("token-role").select_option("floor")
    await page.get_by_test_id("token-label").fill("host stand phone")
    await page.get_by_test_id("pin-issue").click()
    shown = page.get_by_test_id("pin-value")
    await expect(shown).to_have_text(re.compile(r"^\d{6}$"))
    await expect(page.get_by_test_id("pin-valid")).to_contain_text(re.compile(r"Valid for (9|10):"))
    await expect(page.get_by_test_id("pin-issued")).to_contain_text(f"{hub.url}/pair")
    pin = await shown.text_content()
    assert pin is not None
    # a phone with no token: opens /pair, types the PIN, lands on the floor view
    phone = await (await browser.new_context(viewport=PHONE, locale="en-US")).new_page()
    await phone.goto(f"{hub.url}/pair?next=/floor")
    await expect(phone.get_by_test_id("pair-pin-error")).to_be_hidden()
    await phone.get_by_test_id("pair-pin").fill(pin)
    await phone.get_by_test_id("pair-pin-submit").click()
    await phone.wait_for_url(f"{hub.url}/floor")
    await expect(phone.get_by_test_id("conn-status")).to_have_attribute("data-state", "online")
    # the paired phone has a token of its own, listed for the manager to revoke
    rows = await staff.listing(hub.services.store)
    assert [(r["role"], r["revoked_at"]) for r in rows if "host stand phone" in r["label"]] == [
        ("floor", None)
    ]
    assert errors == []


async def test_a_device_gone_for_good_is_forgotten_from_the_admin_page(
    hub: RunningHub, browser: Browser
) -> None:
    devices = hub.services.devices
    await devices.report("button-t9-retired", "offline", "button", {})
    await devices.report("printer-bar-old", "online", "printer", {"online": True, "paper": "ok"})
    page, errors = await open_admin(browser, hub, TABLET)
    retired = page.get_by_test_id("device-button-t9-retired")
    await expect(retired).to_be_visible()
    await expect(page.get_by_test_id("device-printer-bar-old")).to_be_visible()
    # an online device has no Forget button: only one that has gone away
    await expect(page.get_by_test_id("forget-printer-bar-old")).to_have_count(0)
    await page.get_by_test_id("forget-button-t9-retired").click()
    await page.get_by_test_id("confirm-ok").click()
    await expect(retired).to_have_count(0)
    assert await repos.read_device(hub.services.store, "button-t9-retired") is None
    # a second admin screen open meanwhile drops it too (the live `forgotten` message)
    await devices.report("button-t9-other", "offline", "button", {})
    second, more_errors = await open_admin(browser, hub, PHONE)
    await expect(second.get_by_test_id("device-button-t9-other")).to_be_visible()
    await hub.services.devices.forget("button-t9-other")
    await expect(second.get_by_test_id("device-button-t9-other")).to_have_count(0)
    assert errors == []
    assert more_errors == []
