"""Kitchen pacing on the screens, in headless chromium: a two-course order shows its mains HELD
on the expo and absent from the grill until fired from the expo; the floor's check fires a
held course; a paced ticket counts down "start in" on its station; the diner's order page
shows an ETA that moves when the kitchen falls behind; a station over its load limit shows
its longer wait on the diner's menu, and a paused one says so. Real hub, real broker, real
SQLite; the hub's clock is the wall clock plus a step the test can add."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from hub.app import RunningHub, running_hub
from hub.config import HubConfig, PacingConfig, StationPacing
from hub.domain.ports import iso_from_ms
from hub.services import staff
from tests.conftest import table_token
from tests.e2e.conftest import screenshot_dir
from tests.samples import with_courses
from tests.waiting import until

pytestmark = pytest.mark.browser

PHONE: ViewportSize = {"width": 390, "height": 844}
KDS: ViewportSize = {"width": 1280, "height": 800}
PI: ViewportSize = {"width": 800, "height": 480}
STARTER = "chicken-satay"  # grill, starters
MAIN = "korean-short-ribs"  # grill, mains
COLD = "sea-salt-edamame"  # cold, starters


class SteppedClock:
    """The wall clock plus a step the test adds (the kitchen "falls behind" by an hour's
    worth of nobody bumping); monotonic time is the real one."""

    def __init__(self) -> None:
        self.step_ms = 0

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000 + self.step_ms

    def now_iso(self) -> str:
        return iso_from_ms(self.now_ms())

    def monotonic_ms(self) -> int:
        return time.monotonic_ns() // 1_000_000


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock()


def pacing(**grill: Any) -> PacingConfig:
    """Courses fired by hand (a tap on the expo or floor), the grill with one cook."""
    return PacingConfig(auto_fire="manual", stations={"grill": StationPacing(cooks=1, **grill)})


async def start(
    hub_config: HubConfig, menu_doc: dict[str, Any], clock: SteppedClock, config: PacingConfig
) -> AsyncIterator[RunningHub]:
    async with running_hub(
        replace(hub_config, pacing=config), seed_menu=with_courses(menu_doc), clock=clock
    ) as running:
        yield running


@pytest.fixture
async def hub(
    hub_config: HubConfig, menu_doc: dict[str, Any], clock: SteppedClock
) -> AsyncIterator[RunningHub]:
    async for running in start(hub_config, menu_doc, clock, pacing()):
        yield running


async def shot(page: Page, name: str) -> None:
    folder = screenshot_dir()
    if folder is not None:
        await page.screenshot(path=str(Path(folder) / f"{name}.png"))


async def screen(
    browser: Browser, hub: RunningHub, path: str, errors: list[str], role: str = "kitchen",
    viewport: ViewportSize = KDS,
) -> Page:  # fmt: skip
    token = await staff.issue(hub.services.store, role, f"e2e {path}")
    page = await (await browser.new_context(viewport=viewport, locale="en-US")).new_page()
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    await page.goto(f"{hub.url}/pair?token={token}&next={path}")
    await expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "online")
    return page


async def phone(browser: Browser, hub: RunningHub, table: str, errors: list[str]) -> Page:
    ctx = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="en-US")
    page = await ctx.new_page()
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    await page.goto(f"{hub.url}/t/{table_token(hub, table)}")
    await expect(page.get_by_test_id(f"item-{COLD}")).to_be_visible()
    return page


async def add(page: Page, item: str) -> None:
    await page.get_by_test_id(f"item-{item}").click()
    await page.get_by_test_id("add-to-cart").click()
    await expect(page.get_by_test_id("sheet-close")).to_be_hidden()


async def order(hub: RunningHub, table: str, key: str, *items: str) -> dict[str, Any]:
    body = {
        "table": table_token(hub, table),
        "idempotency_key": key,
        "lines": [{"item": i, "qty": 1} for i in items],
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{hub.url}/api/v1/orders", json=body) as r,
    ):
        assert r.status == 201, await r.text()
        got: dict[str, Any] = await r.json()
        return got


def board_names(page: Page) -> Any:
    return page.locator("#board .tk-item-name")


async def test_two_course_order_mains_held_on_expo_and_absent_from_grill_until_fired(
    hub: RunningHub, browser: Browser
) -> None:
    errors: list[str] = []
    expo = await screen(browser, hub, "/kds/expo", errors)
    grill = await screen(browser, hub, "/kds/grill", errors)
    diner = await phone(browser, hub, "T3", errors)

    # the diner orders a starter and a main: the cart offers "all together", left off
    await add(diner, STARTER)
    await add(diner, MAIN)
    await diner.get_by_test_id("cart-button").click()
    together = diner.get_by_test_id("all-together")
    await expect(together).not_to_be_checked()
    await expect(diner.get_by_test_id("all-together-row")).to_contain_text("Starters → Mains")
    await diner.get_by_test_id("place-order").click()
    await expect(diner.locator('[data-testid^="order-"][data-status]')).to_have_count(1)

    # expo: table 3's mains HELD, its starters fired; the order card shows the held section
    row = expo.get_by_test_id("courses-T3")
    await expect(row.get_by_test_id("course-T3-mains")).to_have_attribute("data-state", "held")
    await expect(row.get_by_test_id("course-T3-mains")).to_contain_text("Held")
    await expect(row.get_by_test_id("course-T3-starters")).to_have_attribute("data-state", "fired")
    held = expo.locator('.expo-station[data-status="held"]')
    await expect(held).to_have_count(1)
    await expect(held).to_contain_text("HELD")
    await expect(held).to_contain_text("Mains")

    # the grill has the starter only: no short rib, no held ticket, nothing greyed
    await expect(grill.locator('[data-testid^="ticket-"]')).to_have_count(1)
    await expect(board_names(grill)).to_have_text(["Chicken Satay Skewers"])
    await expect(grill.locator(".ticket.is-held")).to_have_count(0)

    # another table waits on its mains too, for the pictures
    await order(hub, "T5", "t5-two-courses", COLD, MAIN)
    await expect(expo.get_by_test_id("courses-T5")).to_be_visible()
    await shot(expo, "expo-held-courses-1280x800")
    pi = await screen(browser, hub, "/kds/expo", errors, viewport=PI)
    await expect(pi.get_by_test_id("fire-T3")).to_be_visible()
    # the page never scrolls sideways (the courses row and the board scroll inside themselves)
    await until(
        lambda: pi.evaluate(
            "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        ),
        "the expo to fit 800 px across",
    )
    await shot(pi, "expo-held-courses-800x480")

    # one tap fires table 3's mains: the grill gets the short rib, the expo shows it fired
    await expo.get_by_test_id("fire-T3").click()
    await expect(board_names(grill)).to_have_text(
        ["Chicken Satay Skewers", "Korean BBQ Short Ribs"]
    )
    await expect(row.get_by_test_id("course-T3-mains")).to_have_attribute("data-state", "fired")
    await expect(expo.get_by_test_id("fire-T3")).to_have_count(0)
    await expect(expo.get_by_test_id("fire-T5")).to_be_visible()  # T5's still held
    fired = await hub.services.store.read_all(
        "SELECT COUNT(*) FROM tickets WHERE station = 'grill' AND status = 'open'"
    )
    assert fired[0][0] == 2  # T3's starter and main (T5's main is still held)
    assert errors == []


async def test_the_floor_fires_a_held_course_from_the_tables_check(
    hub: RunningHub, browser: Browser
) -> None:
    errors: list[str] = []
    await order(hub, "T4", "t4-two-courses", STARTER, MAIN)
    floor = await screen(browser, hub, "/floor", errors, role="floor", viewport=PHONE)
    await floor.get_by_test_id("tab-tables").click()
    await expect(floor.get_by_test_id("table-course-T4")).to_have_text("Mains held")
    await floor.get_by_test_id("table-T4").click()
    courses = floor.get_by_test_id("check-courses")
    await expect(courses.get_by_test_id("check-course-mains")).to_have_attribute(
        "data-state", "held"
    )
    await expect(courses.get_by_test_id("check-course-starters")).to_have_attribute(
        "data-state", "fired"
    )
    await shot(floor, "floor-check-courses")
    await floor.get_by_test_id("check-fire").click()
    await expect(courses.get_by_test_id("check-course-mains")).to_have_attribute(
        "data-state", "fired"
    )
    await expect(floor.get_by_test_id("check-fire")).to_have_count(0)
    rows = await hub.services.store.read_all(
        "SELECT status, COUNT(*) FROM tickets WHERE station = 'grill' GROUP BY status"
    )
    assert {str(s): int(n) for s, n in rows} == {"open": 2}  # fired once: nothing held
    assert errors == []


async def test_diner_eta_moves_when_the_kitchen_falls_behind_and_the_grill_counts_down(
    hub: RunningHub, browser: Browser, clock: SteppedClock
) -> None:
    """One cook on the grill, a short rib (10 min) ahead: the diner's short rib is quoted about
    20 min and waits its turn on the grill; a rib and a kung pao ordered together count down
    "start in" on the wok. Nobody bumps the
    first for 25 minutes: the kitchen is behind, and the diner's ETA moves later without a
    reload."""
    errors: list[str] = []
    await order(hub, "T1", "ahead-of-t3", MAIN)
    grill = await screen(browser, hub, "/kds/grill", errors)
    diner = await phone(browser, hub, "T3", errors)
    # no quote settled yet: waits are told as 0.75 to 1.25 of the projection
    await expect(diner.get_by_test_id("wait-now")).to_contain_text(
        re.compile(r"Kitchen wait \d+–\d+ min")
    )
    await add(diner, MAIN)
    await diner.get_by_test_id("cart-button").click()
    await expect(diner.get_by_test_id("cart-wait")).to_contain_text("Ready in 15–25 min")
    await diner.get_by_test_id("place-order").click()
    card = diner.locator('[data-testid^="order-"][data-status]')
    await expect(card).to_have_count(1)
    order_id = (await card.get_attribute("data-testid") or "").removeprefix("order-")
    eta = diner.get_by_test_id(f"eta-{order_id}")
    await expect(eta).to_contain_text("Ready in 15–25 min")
    before = int(await eta.get_attribute("data-eta-ms") or "0")
    await shot(diner, "diner-eta")

    # the grill: the second short rib waits its turn behind the first, no countdown (its
    # queue holds it back anyway, and it keeps its place); a course over two stations counts
    # down on the station that would be done first
    await expect(grill.locator(".ticket")).to_have_count(2)
    await expect(grill.locator('[data-testid^="start-in-"]')).to_have_count(0)
    await order(hub, "T4", "paced-t4-0001", MAIN, "kung-pao-chicken")
    wok = await screen(browser, hub, "/kds/wok", errors)
    start_in = wok.locator('[data-testid^="start-in-"]')
    await expect(start_in).to_have_count(1)
    await expect(start_in).to_contain_text(re.compile(r"start in \d+:\d\d"))
    await shot(wok, "kds-start-in")

    clock.step_ms += 25 * 60_000  # nobody bumped: both short ribs are late now
    await until(
        lambda: _eta_later(diner, order_id, before),
        "the diner's ETA to move later",
    )
    moved = int(await eta.get_attribute("data-eta-ms") or "0")
    assert moved - before >= 10 * 60_000, (before, moved)
    await expect(eta).not_to_contain_text("15–25 min")

    # the grill cook taps Start on the first short rib: the hub has it started, the card
    # says so, and its Start button is gone
    await grill.locator("button.tk-start").first.click()
    await expect(grill.locator(".tk-started")).to_have_count(1)
    await expect(grill.locator("button.tk-start")).to_have_count(2)  # T3's and T4's ribs
    started = [t for t in hub.services.pacer.jobs.values() if t.started_ms]
    assert [t.station for t in started] == ["grill"]
    assert errors == []


async def _eta_later(page: Page, order_id: str, before: int) -> bool:
    got = await page.get_by_test_id(f"eta-{order_id}").get_attribute("data-eta-ms")
    return int(got or "0") > before


@pytest.fixture
async def busy_hub(
    hub_config: HubConfig, menu_doc: dict[str, Any], clock: SteppedClock
) -> AsyncIterator[RunningHub]:
    """The grill warns diners past 15 min of projected wait."""
    async for running in start(hub_config, menu_doc, clock, pacing(wait_limit_s=900)):
        yield running


async def test_a_throttled_station_shows_its_longer_wait_on_the_diners_menu(
    busy_hub: RunningHub, browser: Browser
) -> None:
    hub = busy_hub
    errors: list[str] = []
    for n in range(3):  # 30 min of short ribs for one cook
        await order(hub, f"T{n + 1}", f"load-order-{n}", MAIN)
    diner = await phone(browser, hub, "T6", errors)
    tag = diner.get_by_test_id(f"item-wait-{MAIN}")
    await expect(tag).to_have_attribute("data-busy", "true")
    await expect(tag).to_contain_text("Busy · about 40 min")
    await expect(diner.get_by_test_id(f"item-wait-{COLD}")).to_have_count(0)  # the usual wait
    fits = "() => document.documentElement.scrollWidth <= innerWidth"
    assert await diner.evaluate(fits)  # the busy tags wrap: the phone never zooms out
    await shot(diner, "diner-wait")
    await diner.get_by_test_id(f"item-{MAIN}").click()
    await expect(diner.get_by_test_id("item-busy-notice")).to_contain_text("about 40 min")
    await diner.get_by_test_id("add-to-cart").click()
    await diner.get_by_test_id("cart-button").click()
    await expect(diner.get_by_test_id("cart-wait")).to_contain_text("Ready in 30–50 min")
    assert errors == []


@pytest.fixture
async def pausing_hub(
    hub_config: HubConfig, menu_doc: dict[str, Any], clock: SteppedClock
) -> AsyncIterator[RunningHub]:
    """The grill pauses its items past 15 min of projected wait."""
    async for running in start(hub_config, menu_doc, clock, pacing(wait_limit_s=900, pause=True)):
        yield running


async def test_a_paused_station_says_so_on_the_open_menu(
    pausing_hub: RunningHub, browser: Browser
) -> None:
    hub = pausing_hub
    errors: list[str] = []
    diner = await phone(browser, hub, "T6", errors)
    await expect(diner.get_by_test_id(f"item-paused-{MAIN}")).to_have_count(0)
    # load the grill until it pauses: the pacer's tick, once a second, pauses it as soon as
    # the projected wait passes the limit, which may come before the third order
    for n in range(5):
        body = {
            "table": table_token(hub, f"T{n + 1}"),
            "idempotency_key": f"load-order-{n}",
            "lines": [{"item": MAIN, "qty": 1}],
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{hub.url}/api/v1/orders", json=body) as r,
        ):
            if r.status == 409:
                assert (await r.json())["error"] == "sold_out"
                break
            assert r.status == 201, await r.text()
    assert n >= 1  # a paused grill took at least two orders first
    card = diner.get_by_test_id(f"item-{MAIN}")
    await expect(card).to_have_attribute("data-paused", "true")  # pushed to the open page
    await expect(diner.get_by_test_id(f"item-paused-{MAIN}")).to_have_text("Paused")
    await card.click()
    await expect(diner.get_by_test_id("item-paused-notice")).to_contain_text("very busy")
    await expect(diner.get_by_test_id("add-to-cart")).to_be_disabled()
    await expect(diner.get_by_test_id(f"item-{COLD}")).not_to_have_attribute("data-paused", "true")
    assert errors == []


@pytest.fixture
async def greying_hub(
    hub_config: HubConfig, menu_doc: dict[str, Any], clock: SteppedClock
) -> AsyncIterator[RunningHub]:
    """The grill's screens show held courses greyed; the satay takes 3 s (menu prep time)."""
    doc = with_courses(menu_doc)
    for item in doc["items"]:
        if item["id"] == STARTER:
            item["prep_s"] = 3
    config = PacingConfig(
        auto_fire="manual", stations={"grill": StationPacing(cooks=1, show_held=True)}
    )
    async with running_hub(replace(hub_config, pacing=config), seed_menu=doc, clock=clock) as hub:
        yield hub


async def test_a_station_that_shows_held_courses_greys_them_and_colours_by_expected_time(
    greying_hub: RunningHub, browser: Browser
) -> None:
    """The satay is expected in 3 s: its ticket turns late long before the grill's fixed
    limits (5 and 10 min); the held short ribs show greyed, HELD, with nothing to bump."""
    hub = greying_hub
    errors: list[str] = []
    grill = await screen(browser, hub, "/kds/grill", errors)
    placed = await order(hub, "T2", "greyed-held-order", STARTER, MAIN)
    rows = await hub.services.store.read_all(
        "SELECT id, status FROM tickets WHERE order_id=? ORDER BY id", (placed["order_id"],)
    )
    ids = {status: int(tid) for tid, status in rows}
    assert set(ids) == {"open", "held"}
    held = grill.get_by_test_id(f"ticket-{ids['held']}")
    await expect(held).to_have_class(re.compile(r"\bis-held\b"))
    await expect(held.get_by_test_id(f"held-{ids['held']}")).to_contain_text("HELD")
    await expect(held.get_by_test_id(f"held-{ids['held']}")).to_contain_text("Mains")
    await expect(grill.get_by_test_id(f"bump-{ids['held']}")).to_have_count(0)
    await expect(grill.get_by_test_id("open-count")).to_have_text("1 open")
    satay = grill.get_by_test_id(f"ticket-{ids['open']}")
    await expect(satay).to_have_attribute("data-state", "late", timeout=15_000)
    elapsed = await satay.get_by_test_id(f"elapsed-{ids['open']}").text_content()
    assert (elapsed or "").startswith("0:"), elapsed  # well under 5 min
    await shot(grill, "kds-held-greyed")

    # fired from the floor's API: the greyed ticket becomes a live one, bumpable
    tok = await staff.issue(hub.services.store, "floor", "e2e floor")
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{hub.url}/api/v1/tables/T2/fire",
            json={"course": "mains", "id": "fire-t2-mains"},
            headers={"Authorization": f"Bearer {tok}"},
        ) as r,
    ):
        assert r.status == 200, await r.text()
    await expect(held).not_to_have_class(re.compile(r"\bis-held\b"))
    await expect(grill.get_by_test_id(f"bump-{ids['held']}")).to_be_visible()
    await expect(grill.get_by_test_id("open-count")).to_have_text("2 open")
    assert errors == []


async def test_the_admin_page_shows_the_quoted_wait_error_per_hour(
    hub: RunningHub, browser: Browser
) -> None:
    """Two grill orders quoted 10 and 20 min, both ready at once: errors of 10 and 20 min."""
    for n in range(2):
        await order(hub, f"T{n + 1}", f"quoted-order-{n}", STARTER)
    for (tid,) in await hub.services.store.read_all("SELECT id FROM tickets ORDER BY id"):
        await hub.services.kitchen.bump(int(tid), None, None)
    token = await staff.issue(hub.services.store, "admin", "manager tablet")
    errors: list[str] = []
    admin = await (await browser.new_context(viewport=KDS, locale="en-US")).new_page()
    admin.on("pageerror", lambda e: errors.append(str(e)))
    await admin.goto(f"{hub.url}/pair?token={token}&next=/admin")
    summary = admin.get_by_test_id("quote-summary")
    await expect(summary).to_contain_text(
        re.compile(r"2 quotes · error p50 (9:5\d|10:00), p90 (19:5\d|20:00)")
    )
    await expect(admin.locator('[data-testid="chart-quotes"] rect.bar')).to_have_count(2)
    cells = admin.get_by_test_id("table-quotes").locator("tbody td")
    await expect(cells.first).to_have_text("2")
    await admin.get_by_test_id("quote-errors").scroll_into_view_if_needed()
    await shot(admin, "admin-quote-errors")
    assert errors == []


async def test_a_fire_whose_answer_is_lost_is_sent_again_with_its_id_and_fires_once(
    hub: RunningHub, browser: Browser
) -> None:
    """The hub fires the course but the expo never hears back: the expo sends the same action
    id again, the hub answers what it did, and the course was fired once."""
    errors: list[str] = []
    await order(hub, "T7", "t7-lost-answer", STARTER, MAIN)
    expo = await screen(browser, hub, "/kds/expo", errors)
    sent: list[dict[str, Any]] = []

    async def lose_first_answer(route: Any) -> None:
        sent.append(route.request.post_data_json)
        if len(sent) == 1:
            await route.fetch()  # the hub does it...
            await route.abort("connectionreset")  # ...and the answer is lost
        else:
            await route.continue_()

    await expo.route("**/api/v1/tables/T7/fire", lose_first_answer)
    await expo.get_by_test_id("fire-T7").click()
    row = expo.get_by_test_id("courses-T7")
    await expect(row.get_by_test_id("course-T7-mains")).to_have_attribute("data-state", "fired")
    await expect(expo.get_by_test_id("fire-T7")).to_have_count(0)
    await until(lambda: len(sent) == 2, "the expo to send the fire again", state=lambda: sent)
    await expect(expo.locator("#toast")).to_contain_text("Mains fired for Table 7")
    assert len(sent) == 2, sent
    assert sent[0] == sent[1] == {"course": "mains", "id": sent[0]["id"]}
    assert hub.services.pacer.fired == 1
    assert errors == []


async def test_a_table_waiting_too_long_for_its_next_course_is_flagged(
    hub: RunningHub, browser: Browser, clock: SteppedClock
) -> None:
    """T3's starters are ready and its mains held: 12 minutes on (past the 10 minute flag), the
    expo's row for T3 turns red and the floor's check says how long it has waited."""
    errors: list[str] = []
    placed = await order(hub, "T3", "t3-slow-table", STARTER, MAIN)
    await order(hub, "T5", "t5-on-time", COLD, MAIN)
    expo = await screen(browser, hub, "/kds/expo", errors, viewport=PI)
    await expect(expo.get_by_test_id("courses-T3")).to_have_attribute("data-flagged", "false")
    rows = await hub.services.store.read_all(
        "SELECT id FROM tickets WHERE order_id=? AND status='open'", (placed["order_id"],)
    )
    for (tid,) in rows:
        await hub.services.kitchen.bump(int(tid), None, None)
    clock.step_ms += 12 * 60_000
    await order(hub, "T8", "t8-news-for-the-expo", COLD)  # any news re-reads the tables
    t3 = expo.get_by_test_id("courses-T3")
    await expect(t3).to_have_attribute("data-flagged", "true")
    await expect(t3.get_by_test_id("course-T3-starters")).to_have_attribute("data-state", "ready")
    await expect(t3.get_by_test_id("course-wait-T3")).to_contain_text("12:")
    await expect(expo.get_by_test_id("courses-T5")).to_have_attribute("data-flagged", "false")
    first = await expo.locator("#expo-courses > li").first.get_attribute("data-table")
    assert first == "T3"  # the flagged table first
    await shot(expo, "expo-flagged-800x480")

    floor = await screen(browser, hub, "/floor", errors, role="floor", viewport=PHONE)
    await floor.get_by_test_id("tab-tables").click()
    await expect(floor.get_by_test_id("table-course-T3")).to_have_class(re.compile("is-flagged"))
    await floor.get_by_test_id("table-T3").click()
    await expect(floor.get_by_test_id("check-course-flag")).to_contain_text("Waiting 12:")
    assert errors == []


async def test_all_together_sends_every_course_at_once(hub: RunningHub, browser: Browser) -> None:
    errors: list[str] = []
    diner = await phone(browser, hub, "T9", errors)
    await add(diner, STARTER)
    await add(diner, MAIN)
    await diner.get_by_test_id("cart-button").click()
    await expect(diner.get_by_test_id("cart-wait")).to_contain_text("First course in")
    await diner.get_by_test_id("all-together").check()
    await expect(diner.get_by_test_id("all-together-row")).to_contain_text("served together")
    await expect(diner.get_by_test_id("cart-wait")).to_contain_text("Ready in")
    await diner.get_by_test_id("place-order").click()
    card = diner.locator('[data-testid^="order-"][data-status]')
    await expect(card).to_have_count(1)
    rows = await hub.services.store.read_all("SELECT status FROM tickets ORDER BY id")
    assert [r[0] for r in rows] == ["open", "open"]  # starters and mains: nothing held
    order_id = (await card.get_attribute("data-testid") or "").removeprefix("order-")
    courses = diner.locator(f'[data-testid^="order-course-{order_id}-"]')
    await expect(courses).to_have_count(2)
    for state in await courses.evaluate_all("(ns) => ns.map((n) => n.dataset.state)"):
        assert state == "fired"
    assert errors == []


async def test_the_expos_bump_bar_key_fires_the_selected_tables_next_course(
    hub: RunningHub, browser: Browser
) -> None:
    errors: list[str] = []
    await order(hub, "T6", "t6-key-fire", STARTER, MAIN)
    expo = await screen(browser, hub, "/kds/expo", errors)
    course = expo.get_by_test_id("course-T6-mains")
    await expect(course).to_have_attribute("data-state", "held")
    await expo.keyboard.press("f")  # nothing selected: the first order's table
    await expect(course).to_have_attribute("data-state", "fired")
    await expo.keyboard.press("f")  # nothing held any more: said, nothing sent
    await expect(expo.locator("#toast")).to_contain_text("Nothing is held")
    assert hub.services.pacer.fired == 1
    assert errors == []
