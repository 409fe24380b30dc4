"""A shift's corrections and the waiter's own orders, in headless chromium on phone-sized floor
pages: a line voided on the floor phone turns VOID on the kitchen screen's same ticket and the
diner's check total drops; a party moves T3 → T7 while its ticket cooks; a check is split
evenly by three and each part paid; a waiter orders for a table with no phone. Real hub, real
broker, real SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from hub.app import RunningHub, running_hub
from hub.config import HubConfig, PrinterConfig, ShiftConfig
from hub.domain.orders import LineRequest
from hub.domain.tokens import hash_manager_pin
from hub.ops.mosquitto import Mosquitto
from hub.services import staff
from hub.services.corrections import Actor
from hub.store import repos
from tests.conftest import printing_hub_from, table_token
from tests.e2e.conftest import screenshot_dir
from tests.integration.test_print_queue import StandInAgent, started
from tests.waiting import until

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 390, "height": 844}
KDS: ViewportSize = {"width": 1280, "height": 800}
MANAGER_PIN = "4821"
BILL_PRINTERS = (
    PrinterConfig(id="cold-1", stations=("cold",)),
    PrinterConfig(id="bar-1", stations=("bar",), bills=True),
)


@pytest.fixture
async def manager_hub(hub_config: HubConfig, menu_doc: dict[str, Any]) -> AsyncIterator[RunningHub]:
    """A hub whose floor logins may comp with the manager PIN."""
    shift = ShiftConfig(manager_pin_hash=hash_manager_pin(MANAGER_PIN, b"e2e-salt", 1000))
    async with running_hub(replace(hub_config, shift=shift), seed_menu=menu_doc) as running:
        yield running


async def shot(page: Page, name: str) -> None:
    folder = screenshot_dir()
    if folder is not None:
        await page.screenshot(path=str(Path(folder) / f"{name}.png"))


def watch(page: Page, errors: list[str]) -> Page:
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    return page


async def staff_page(
    browser: Browser, hub: RunningHub, role: str, path: str, errors: list[str]
) -> Page:
    token = await staff.issue(hub.services.store, role, f"{role} e2e")
    viewport = PHONE if path.startswith("/floor") else KDS
    page = watch(await (await browser.new_context(viewport=viewport)).new_page(), errors)
    await page.goto(f"{hub.url}/pair?token={token}&next={path}")
    await expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "online")
    return page


async def diner_page(browser: Browser, hub: RunningHub, table: str, errors: list[str]) -> Page:
    ctx = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = watch(await ctx.new_page(), errors)
    await page.goto(f"{hub.url}/t/{table_token(hub, table)}")
    await expect(page.get_by_test_id("cart-button")).to_be_visible()
    return page


async def open_check(floor: Page, table: str) -> None:
    await floor.get_by_test_id("tab-tables").click()
    await floor.get_by_test_id(f"table-{table}").click()
    await expect(floor.get_by_test_id("check-summary")).to_be_visible()


async def place(hub: RunningHub, table: str, key: str, *lines: LineRequest) -> int:
    order, _ = await hub.services.ordering.place(table_token(hub, table), key, list(lines))
    return int(order.order_id)


async def test_void_on_floor_phone_shows_void_on_kds_and_new_total_on_diner(
    hub: RunningHub, browser: Browser
) -> None:
    errors: list[str] = []
    kds = await staff_page(browser, hub, "kitchen", "/kds/cold", errors)
    phone = await diner_page(browser, hub, "T3", errors)
    order_id = await place(
        hub,
        "T3",
        "void-e2e-0001",
        LineRequest("sea-salt-edamame", 2, ()),
        LineRequest("smashed-cucumber-salad", 1, ()),
    )
    ticket = kds.locator('[data-testid^="ticket-"]')
    await expect(ticket).to_have_count(1)
    ticket_id = (await ticket.get_attribute("data-testid") or "").removeprefix("ticket-")
    await phone.get_by_test_id("orders-button").click()
    await expect(phone.get_by_test_id("check-total")).to_have_text("$17.95")  # 2×5.50 + 6.95

    floor = await staff_page(browser, hub, "floor", "/floor", errors)
    await open_check(floor, "T3")
    await expect(floor.get_by_test_id("check-total")).to_have_text("$17.95")
    await shot(floor, "floor-check")
    await floor.get_by_test_id(f"void-line-{order_id}-0").click()
    await floor.get_by_test_id("void-qty").get_by_role("button", name="Fewer").click()
    await expect(floor.get_by_test_id("void-confirm")).to_be_disabled()  # no reason yet
    await floor.get_by_test_id("void-reason-0").click()
    await shot(floor, "floor-void")
    await floor.get_by_test_id("void-confirm").click()

    # the same ticket, live: one edamame struck off and marked VOID with its reason
    line = kds.get_by_test_id(f"line-{ticket_id}-0")
    await expect(line).to_have_attribute("data-void", "part")
    await expect(kds.get_by_test_id(f"void-{ticket_id}-0")).to_contain_text("VOID 1")
    await expect(ticket).to_have_count(1)
    await shot(kds, "kds-void")
    # the diner's open check drops by one edamame, and says so on the line
    await expect(phone.get_by_test_id("check-total")).to_have_text("$12.45")
    await expect(phone.get_by_test_id(f"order-line-void-{order_id}-0")).to_contain_text(
        "1 cancelled"
    )
    await expect(floor.get_by_test_id("check-total")).to_have_text("$12.45")
    await expect(floor.get_by_test_id(f"line-void-{order_id}-0")).to_contain_text("VOID")

    # the whole cucumber line, voided the same way, strikes through on the kitchen screen
    await floor.get_by_test_id(f"void-line-{order_id}-1").click()
    await floor.get_by_test_id("void-other").fill("Spilled on the way")
    await floor.get_by_test_id("void-confirm").click()
    await expect(kds.get_by_test_id(f"line-{ticket_id}-1")).to_have_attribute("data-void", "true")
    await expect(kds.get_by_test_id(f"void-{ticket_id}-1")).to_contain_text("Spilled on the way")
    await expect(phone.get_by_test_id("check-total")).to_have_text("$5.50")
    order = await repos.read_order(hub.services.store, order_id)
    assert order is not None
    assert [(ln.qty, ln.void_qty) for ln in order.lines] == [(2, 1), (1, 1)]
    assert order.total_cents == 550
    assert errors == []


async def test_after_the_kitchen_made_it_a_void_is_a_comp_with_the_manager_pin(
    manager_hub: RunningHub, browser: Browser
) -> None:
    hub = manager_hub
    errors: list[str] = []
    kds = await staff_page(browser, hub, "kitchen", "/kds/cold", errors)
    phone = await diner_page(browser, hub, "T5", errors)
    order_id = await place(hub, "T5", "comp-e2e-0001", LineRequest("sea-salt-edamame", 2, ()))
    ticket = kds.locator('[data-testid^="ticket-"]')
    await expect(ticket).to_have_count(1)
    ticket_id = (await ticket.get_attribute("data-testid") or "").removeprefix("ticket-")
    await kds.get_by_test_id(f"bump-{ticket_id}").click()
    await expect(ticket).to_have_count(0)
    await phone.get_by_test_id("orders-button").click()
    await expect(phone.get_by_test_id("check-total")).to_have_text("$11.00")

    floor = await staff_page(browser, hub, "floor", "/floor", errors)
    await open_check(floor, "T5")
    await floor.get_by_test_id(f"void-line-{order_id}-0").click()
    await floor.get_by_test_id("void-reason-3").click()
    await floor.get_by_test_id("void-confirm").click()
    # a floor login cannot comp alone: the hub asks for the manager PIN, the sheet stays
    await expect(floor.get_by_test_id("comp-notice")).to_be_visible()
    await expect(floor.get_by_test_id("not-paired")).to_have_count(0)
    for digit in "1111":
        await floor.get_by_test_id(f"manager-pin-key-{digit}").click()
    await floor.get_by_test_id("void-confirm").click()
    await expect(floor.get_by_test_id("error-pin")).to_contain_text("not right")
    await floor.get_by_test_id("manager-pin-key-clear").click()
    for digit in MANAGER_PIN:
        await floor.get_by_test_id(f"manager-pin-key-{digit}").click()
    await shot(floor, "floor-comp-pin")
    await floor.get_by_test_id("void-confirm").click()
    await expect(floor.get_by_test_id(f"line-void-{order_id}-0")).to_contain_text("COMP")
    await expect(phone.get_by_test_id("check-total")).to_have_text("$0.00")
    await expect(phone.get_by_test_id(f"order-line-void-{order_id}-0")).to_have_text("On the house")
    order = await repos.read_order(hub.services.store, order_id)
    assert order is not None
    assert order.lines[0].void_qty == 2
    assert [v.comp for v in order.lines[0].voids] == [True]
    assert errors == []


async def test_changed_line_is_highlighted_on_the_same_ticket(
    hub: RunningHub, browser: Browser
) -> None:
    errors: list[str] = []
    kds = await staff_page(browser, hub, "kitchen", "/kds/cold", errors)
    order_id = await place(hub, "T2", "change-e2e-01", LineRequest("sea-salt-edamame", 1, ()))
    ticket = kds.locator('[data-testid^="ticket-"]')
    await expect(ticket).to_have_count(1)
    ticket_id = (await ticket.get_attribute("data-testid") or "").removeprefix("ticket-")
    floor = await staff_page(browser, hub, "floor", "/floor", errors)
    await open_check(floor, "T2")
    await floor.get_by_test_id(f"change-line-{order_id}-0").click()
    await floor.get_by_test_id("change-note").fill("No salt at all")
    await floor.get_by_test_id("change-qty").get_by_role("button", name="More").click()
    await floor.get_by_test_id("change-confirm").click()
    await expect(kds.get_by_test_id(f"changed-{ticket_id}-0")).to_contain_text("CHANGED")
    await expect(kds.get_by_test_id(f"note-{ticket_id}-0")).to_have_text("No salt at all")
    await expect(kds.get_by_test_id(f"line-{ticket_id}-0")).to_have_attribute(
        "data-changed", "note qty"
    )
    await expect(ticket).to_have_count(1)
    await expect(floor.get_by_test_id("check-total")).to_have_text("$11.00")

    # once the kitchen bumps it, a change is refused and the page offers void + re-order
    await kds.get_by_test_id(f"bump-{ticket_id}").click()
    await expect(ticket).to_have_count(0)
    await floor.get_by_test_id(f"change-line-{order_id}-0").click()
    await floor.get_by_test_id("change-note").fill("Extra salt")
    await floor.get_by_test_id("change-confirm").click()
    await expect(floor.get_by_test_id("change-cooked")).to_be_visible()
    await expect(floor.get_by_test_id("void-and-reorder")).to_be_visible()
    assert errors == []


async def test_staff_order_for_a_table_with_no_phone(hub: RunningHub, browser: Browser) -> None:
    errors: list[str] = []
    kds = await staff_page(browser, hub, "kitchen", "/kds/grill", errors)
    floor = await staff_page(browser, hub, "floor", "/floor", errors)
    await open_check(floor, "T6")
    await expect(floor.get_by_test_id("check-empty")).to_be_visible()
    await floor.get_by_test_id("staff-order").click()
    await floor.get_by_test_id("staff-search").fill("gyoza")
    await floor.get_by_test_id("staff-item-pork-gyoza").click()
    # the diners' picker: a required option is asked for before the line is added
    await floor.get_by_test_id("staff-add").click()
    await expect(floor.locator(".mod-group.is-invalid")).to_have_count(1)
    await floor.get_by_test_id("option-gyoza-sauce-chili-oil").check()
    await floor.get_by_test_id("staff-qty").get_by_role("button", name="More").click()
    await floor.get_by_test_id("staff-seat").fill("2")
    await floor.get_by_test_id("staff-note").fill("Sauce on the side")
    await shot(floor, "floor-staff-item")
    await floor.get_by_test_id("staff-add").click()
    await expect(floor.get_by_test_id("staff-line-0")).to_contain_text("2×")
    await shot(floor, "floor-staff-order")
    await floor.get_by_test_id("staff-send").click()

    ticket = kds.locator('[data-testid^="ticket-"]')
    await expect(ticket).to_have_count(1)
    await expect(ticket).to_contain_text("Table 6")
    await expect(ticket).to_contain_text("Sauce on the side")
    order = floor.locator('[data-testid^="check-order-"]')
    await expect(order).to_have_count(1)
    await expect(order).to_contain_text("entered by floor e2e")
    await expect(order).to_contain_text("Seat 2")
    rows = await hub.services.store.read_all("SELECT id FROM orders")
    assert len(rows) == 1

    # the guests leave before it is cooked: the whole order is voided, after a confirmation
    order_id = int(rows[0][0])
    await floor.get_by_test_id(f"void-order-{order_id}").click()
    await floor.get_by_test_id("void-reason-0").click()
    await floor.get_by_test_id("void-confirm").click()
    ticket_id = (await ticket.get_attribute("data-testid") or "").removeprefix("ticket-")
    await expect(kds.get_by_test_id(f"line-{ticket_id}-0")).to_have_attribute("data-void", "true")
    await expect(floor.get_by_test_id("check-total")).to_have_text("$0.00")
    await expect(floor.get_by_test_id(f"void-order-{order_id}")).to_have_count(0)
    assert errors == []


async def test_move_t3_to_t7_while_a_ticket_is_open(hub: RunningHub, browser: Browser) -> None:
    errors: list[str] = []
    kds = await staff_page(browser, hub, "kitchen", "/kds/cold", errors)
    old_phone = await diner_page(browser, hub, "T3", errors)
    new_phone = await diner_page(browser, hub, "T7", errors)
    await place(hub, "T3", "move-e2e-0001", LineRequest("sea-salt-edamame", 1, ()))
    ticket = kds.locator('[data-testid^="ticket-"]')
    await expect(ticket).to_contain_text("Table 3")
    await expect(old_phone.get_by_test_id("orders-button")).to_be_visible()
    await expect(new_phone.get_by_test_id("orders-button")).to_be_hidden()

    floor = await staff_page(browser, hub, "floor", "/floor", errors)
    await open_check(floor, "T3")
    await floor.get_by_test_id("move-table").click()
    await floor.get_by_test_id("move-to-T7").click()
    await expect(floor.get_by_test_id("confirm-text")).to_have_text("Move Table 3 → Table 7?")
    await shot(floor, "floor-move")
    await floor.get_by_test_id("confirm-table").click()
    await expect(floor.locator("#ft-title")).to_have_text("Table 7")

    await expect(ticket).to_contain_text("Table 7")  # the same open ticket, renamed
    await expect(ticket).to_have_count(1)
    await expect(old_phone.get_by_test_id("check-moved-text")).to_contain_text("Table 7")
    await expect(old_phone.get_by_test_id("orders-button")).to_be_hidden()
    await expect(new_phone.get_by_test_id("orders-button")).to_be_visible()
    await new_phone.get_by_test_id("orders-button").click()
    await expect(new_phone.get_by_test_id("check-total")).to_have_text("$5.50")
    assert errors == []


async def test_split_evenly_by_three_print_and_pay_each_part(
    hub_config: HubConfig, menu_doc: dict[str, Any], broker: Mosquitto, browser: Browser
) -> None:
    errors: list[str] = []
    async with (
        printing_hub_from(hub_config, menu_doc, BILL_PRINTERS) as hub,
        started(broker, StandInAgent) as agent,
    ):
        phone = await diner_page(browser, hub, "T4", errors)
        await place(hub, "T4", "split-e2e-0001", LineRequest("sea-salt-edamame", 2, ()))  # 11.00
        await expect(phone.get_by_test_id("orders-button")).to_be_visible()
        floor = await staff_page(browser, hub, "floor", "/floor", errors)
        await open_check(floor, "T4")
        await floor.get_by_test_id("split-check").click()
        await floor.get_by_test_id("split-mode-even").click()
        await floor.get_by_test_id("split-n").get_by_role("button", name="More").click()
        await expect(floor.get_by_test_id("split-n")).to_contain_text("3")
        await shot(floor, "floor-split")
        await floor.get_by_test_id("split-confirm").click()
        parts = floor.locator('[data-testid^="part-"][data-due]')
        await expect(parts).to_have_count(3)
        # odd cents go to the first parts: 3.67 + 3.67 + 3.66
        await expect(floor.get_by_test_id("part-1")).to_contain_text("$3.67")
        await expect(floor.get_by_test_id("part-3")).to_contain_text("$3.66")

        def bills() -> list[dict[str, Any]]:
            return [d for d in agent.docs("bar-1") if d["kind"] == "bill"]

        for n in (1, 2, 3):
            await floor.get_by_test_id(f"bill-part-{n}").click()
            await until(lambda n=n: len(bills()) == n, f"bill {n} printed")
        assert [d["total_cents"] for d in bills()] == [367, 367, 366]

        for n, method in ((1, "cash"), (2, "card"), (3, "other")):
            await floor.get_by_test_id(f"pay-part-{n}").click()
            await floor.get_by_test_id(f"pay-method-{method}").click()
            if n == 2:
                await floor.get_by_test_id("pay-tip").fill("1.50")
                await shot(floor, "floor-pay")
            await floor.get_by_test_id("pay-confirm").click()
            await expect(floor.get_by_test_id(f"part-{n}")).to_have_attribute("data-due", "0")
        await expect(floor.get_by_test_id("check-due")).to_have_text("$0.00")
        await expect(floor.get_by_test_id("check-paid-up")).to_be_visible()
        await shot(floor, "floor-paid")
        rows = await hub.services.store.read_all(
            "SELECT method, amount_cents, tip_cents FROM payments ORDER BY part"
        )
        assert [tuple(r) for r in rows] == [("cash", 367, 0), ("card", 367, 150), ("other", 366, 0)]
        # paid in full: the table closed; its phones lose the check and its QR code starts anew
        await expect(phone.get_by_test_id("orders-button")).to_be_hidden()
        await expect(floor.get_by_test_id("table-T4")).to_have_attribute("data-open", "false")
    assert errors == []


async def test_merge_a_check_into_another_table(hub: RunningHub, browser: Browser) -> None:
    errors: list[str] = []
    await place(hub, "T1", "merge-e2e-0001", LineRequest("sea-salt-edamame", 1, ()))
    await place(hub, "T2", "merge-e2e-0002", LineRequest("smashed-cucumber-salad", 1, ()))
    t2_phone = await diner_page(browser, hub, "T2", errors)
    await expect(t2_phone.get_by_test_id("orders-button")).to_be_visible()
    floor = await staff_page(browser, hub, "floor", "/floor", errors)
    await open_check(floor, "T1")
    await floor.get_by_test_id("merge-check").click()
    await expect(floor.get_by_test_id("merge-from-T3")).to_have_count(0)  # no check there
    await floor.get_by_test_id("merge-from-T2").click()
    await expect(floor.get_by_test_id("confirm-text")).to_have_text(
        "Merge Table 2’s check into Table 1?"
    )
    await floor.get_by_test_id("confirm-table").click()
    await expect(floor.locator('[data-testid^="check-order-"]')).to_have_count(2)
    await expect(floor.get_by_test_id("check-total")).to_have_text("$12.45")
    await expect(floor.get_by_test_id("table-T2")).to_have_attribute("data-open", "false")
    await expect(t2_phone.get_by_test_id("orders-button")).to_be_hidden()
    assert errors == []


async def test_admin_sees_voids_and_comps_by_reason_and_staff(
    hub: RunningHub, browser: Browser
) -> None:
    errors: list[str] = []
    order_id = await place(hub, "T8", "report-e2e-001", LineRequest("sea-salt-edamame", 3, ()))
    fixes = hub.services.corrections
    await fixes.void(
        order_id, 0, qty=1, reason="Wrong item", action_id="report-void-1", actor=Actor("Ann")
    )
    await fixes.void(
        order_id, 0, qty=2, reason="Too long", action_id="report-void-2", actor=Actor("Bo")
    )
    admin = await staff_page(browser, hub, "admin", "/admin", errors)
    by_reason = admin.get_by_test_id("corrections-by-reason")
    await expect(by_reason.locator('tr[data-name="Wrong item"]')).to_contain_text("$5.50")
    await expect(by_reason.locator('tr[data-name="Too long"]')).to_contain_text("$11.00")
    by_staff = admin.get_by_test_id("corrections-by-staff")
    await expect(by_staff.locator('tr[data-name="Ann"]')).to_contain_text("1")
    await expect(by_staff.locator('tr[data-name="Bo"]')).to_contain_text("2")
    await expect(admin.get_by_test_id("corrections-summary")).to_have_text("3 voided · 0 comped")
    await admin.get_by_test_id("corrections-section").scroll_into_view_if_needed()
    await shot(admin, "admin-corrections")
    assert errors == []


async def test_split_by_items_and_by_seat(hub: RunningHub, browser: Browser) -> None:
    errors: list[str] = []
    order_id = await place(
        hub,
        "T9",
        "split-items-01",
        LineRequest("sea-salt-edamame", 2, ()),
        LineRequest("smashed-cucumber-salad", 1, ()),
    )
    floor = await staff_page(browser, hub, "floor", "/floor", errors)
    await open_check(floor, "T9")
    await floor.get_by_test_id("split-check").click()
    await floor.get_by_test_id("split-mode-items").click()
    # one edamame and the cucumber to part 2; the other edamame stays in part 1
    await floor.get_by_test_id(f"split-unit-{order_id}-0-1-part-2").click()
    await floor.get_by_test_id(f"split-unit-{order_id}-1-0-part-2").click()
    await floor.get_by_test_id("split-confirm").click()
    await expect(floor.locator('[data-testid^="part-"][data-due]')).to_have_count(2)
    await expect(floor.get_by_test_id("part-1")).to_contain_text("$5.50")
    await expect(floor.get_by_test_id("part-2")).to_contain_text("$12.45")

    # no line has a seat: splitting by seat is offered but explained, and cannot be sent
    await floor.get_by_test_id("split-check").click()
    await floor.get_by_test_id("split-mode-seats").click()
    await expect(floor.get_by_test_id("split-confirm")).to_be_disabled()
    assert errors == []
