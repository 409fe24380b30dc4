"""The host stand in headless chromium: book a table with pre-ordered dishes, see a double
booking refused on the timeline and booked anyway, seat the party (its table opens and the
dishes appear on the kitchen screen), and a walk-in whose own phone page follows their place
in the queue and gets the host's "table ready". Real hub, real SQLite."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from playwright.async_api import Browser, expect

from hub.app import RunningHub
from hub.services.booking import BookRequest
from tests.e2e.test_checks_floor import PHONE, shot, staff_page

pytestmark = pytest.mark.browser

TOMORROW = (datetime.now().astimezone() + timedelta(days=1)).date().isoformat()


async def test_book_pre_order_seat_and_the_dishes_reach_the_kitchen(
    hub: RunningHub, browser: Browser
) -> None:
    errors: list[str] = []
    host = await staff_page(browser, hub, "floor", "/floor", errors)
    kds = await staff_page(browser, hub, "kitchen", "/kds/cold", errors)
    await host.get_by_test_id("tab-book").click()
    await host.get_by_test_id("book-day").fill(TOMORROW)
    await host.get_by_test_id("book-day").dispatch_event("change")
    await expect(host.get_by_test_id("book-form")).to_be_visible()

    async def book(name: str, time: str, phone: str = "") -> None:
        await host.get_by_test_id("book-name").fill(name)
        await host.get_by_test_id("book-party").fill("4")
        await host.get_by_test_id("book-time").fill(time)
        await host.get_by_test_id("book-table").select_option("T3")
        await host.get_by_test_id("book-phone").fill(phone)

    await book("Ada Lovelace", "19:00", "+44 20 7946 0958")
    await host.get_by_test_id("book-dish").select_option("sea-salt-edamame")
    await host.get_by_test_id("book-dish-qty").fill("2")
    await host.get_by_test_id("book-dish-add").click()
    await expect(host.get_by_test_id("book-dish-list")).to_contain_text("2× Sea Salt Edamame")
    await host.get_by_test_id("book-save").click()
    ada = host.locator('[data-testid^="res-res-"]').filter(has_text="Ada Lovelace")
    await expect(ada).to_have_count(1)
    await expect(ada).to_contain_text("••• ••58")  # the phone, masked on the shared screen
    await expect(ada).not_to_contain_text("7946")

    # the party grows: edit the booking in place (same booking, phone kept, dishes kept)
    ada_id = (await ada.get_attribute("data-testid") or "").removeprefix("res-")
    await host.get_by_test_id(f"edit-{ada_id}").click()
    await expect(host.get_by_test_id("book-name")).to_have_value("Ada Lovelace")
    await expect(host.get_by_test_id("book-dish-list")).to_contain_text("2× Sea Salt Edamame")
    await host.get_by_test_id("book-party").fill("6")
    await host.get_by_test_id("book-notes").fill("window seat")
    await host.get_by_test_id("book-save").click()
    await expect(ada).to_contain_text("Ada Lovelace · 6")
    await expect(ada).to_contain_text("window seat")
    await expect(ada).to_contain_text("••• ••58")
    await expect(host.locator('[data-testid^="res-res-"]')).to_have_count(1)
    await expect(host.get_by_test_id("book-edit-cancel")).to_be_hidden()

    # the same table at 19:30: refused, the clash named; booked anyway, both show red
    await book("Bob", "19:30")
    await host.get_by_test_id("book-save").click()
    clash = host.get_by_test_id("book-clash")
    await expect(clash).to_contain_text("Ada Lovelace")
    await shot(host, "host-double-booking")
    await host.get_by_test_id("book-anyway").click()
    await expect(host.locator('[data-testid^="res-res-"]')).to_have_count(2)
    await expect(host.locator('.tl-slot[data-clash="true"]')).to_have_count(2)
    await host.evaluate("document.querySelector('[data-testid=book-timeline]').scrollIntoView()")
    await shot(host, "host-timeline")

    # the party arrives: seat Ada at T3; the table opens and the dishes go to the kitchen
    res_id = (await ada.get_attribute("data-testid") or "").removeprefix("res-")
    await host.get_by_test_id(f"seat-table-{res_id}").select_option("T3")
    await host.get_by_test_id(f"seat-{res_id}").click()
    await expect(ada).to_have_attribute("data-status", "seated")
    assert hub.services.catalog.tables["T3"].is_open
    ticket = kds.locator('[data-testid^="ticket-"]')
    await expect(ticket).to_have_count(1)
    await expect(ticket).to_contain_text("Table 3")
    await expect(ticket).to_contain_text("Sea Salt Edamame")
    await shot(kds, "kds-pre-order")
    assert errors == []


async def test_a_walk_in_follows_their_place_on_their_own_phone(
    hub: RunningHub, browser: Browser
) -> None:
    errors: list[str] = []
    host = await staff_page(browser, hub, "floor", "/floor#book", errors)
    await expect(host.get_by_test_id("wait-form")).to_be_visible()

    async def walk_in(name: str, phone: str = "") -> None:
        await host.get_by_test_id("wait-name").fill(name)
        await host.get_by_test_id("wait-party").fill("2")
        await host.get_by_test_id("wait-phone").fill(phone)
        await host.get_by_test_id("wait-add").click()

    await walk_in("Yan Li", "0171 555 0101")
    row = host.locator('[data-testid^="wait-walk-"]').filter(has_text="Yan Li")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("Quoted 0 min")  # every table is free
    link = row.locator('[data-testid^="wait-link-"]')
    await expect(row.locator('[data-testid^="wait-qr-"]')).to_be_visible()
    url = await link.get_attribute("href")
    assert url is not None
    assert url.startswith(f"{hub.url}/w/")

    phone = await (await browser.new_context(viewport=PHONE)).new_page()
    await phone.goto(url)
    await expect(phone.get_by_test_id("wait-hello")).to_have_text("Yan, you're in the queue")
    await expect(phone.get_by_test_id("wait-position")).to_have_text("You are next")
    await expect(phone.get_by_test_id("wait-card")).not_to_contain_text("Li")
    await expect(phone.get_by_test_id("wait-card")).not_to_contain_text("0101")
    # the guest's own language, and back
    await phone.get_by_test_id("wait-lang").select_option("zh-Hant")
    await expect(phone.get_by_test_id("wait-position")).to_have_text("下一位就是您")
    await expect(phone.get_by_test_id("wait-hello")).to_have_text("Yan, 您正在候位")
    await phone.get_by_test_id("wait-lang").select_option("en")
    await expect(phone.get_by_test_id("wait-position")).to_have_text("You are next")

    # another walk-in joins behind; the first is still next. The host says the table is ready
    await walk_in("Zed")
    await expect(host.locator('[data-testid^="wait-walk-"]')).to_have_count(2)
    wait_id = (await row.get_attribute("data-testid") or "").removeprefix("wait-")
    await host.get_by_test_id(f"wait-ready-{wait_id}").click()
    await expect(phone.get_by_test_id("wait-message")).to_contain_text(
        "Your table is ready", timeout=15_000
    )
    await expect(phone.get_by_test_id("wait-position")).to_have_text("You are next")
    await shot(phone, "walk-in-page")
    # seated: the page says so, and the next guest moves up
    await host.get_by_test_id(f"wait-table-{wait_id}").select_option("T2")
    await host.get_by_test_id(f"wait-seat-{wait_id}").click()
    await expect(phone.get_by_test_id("wait-hello")).to_have_text(
        "Yan, your table is ready", timeout=15_000
    )
    await expect(host.locator('[data-testid^="wait-walk-"]')).to_have_count(1)
    await expect(host.locator('[data-testid^="wait-walk-"]')).to_contain_text("#1")
    assert errors == []


async def test_an_online_booking_that_clashes_is_shown_to_the_host(
    hub: RunningHub, browser: Browser
) -> None:
    booking = hub.services.booking
    at = f"{TOMORROW}T20:00"
    await booking.book(BookRequest("stand-res-0009", "Ada Lovelace", 2, at, table="T4"), "host")
    online = BookRequest("web-res-0009", "Bob Online", 3, f"{TOMORROW}T20:30", table="T4")
    answer = await booking.from_cloud(online, cancelled=False)
    assert "Ada Lovelace" in answer["conflict"]
    errors: list[str] = []
    host = await staff_page(browser, hub, "floor", "/floor#book", errors)
    await host.get_by_test_id("book-day").fill(TOMORROW)
    await host.get_by_test_id("book-day").dispatch_event("change")
    conflict = host.get_by_test_id("res-conflict-web-res-0009")
    await expect(conflict).to_contain_text("Table 4 is booked for Ada Lovelace")
    await expect(host.locator('.tl-slot[data-clash="true"]')).to_have_count(2)
    await shot(host, "host-online-conflict")
    assert errors == []
