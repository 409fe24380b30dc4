"""The kitchen screen on the wall beeps for the first ticket, with nobody touching it: Chromium
is started with exactly the flags of systemd/tablehub-kiosk@.service (plus what headless needs
here), opens the KDS, and a new ticket plays the alert. The same browser without the unit's
autoplay flag shows "Tap to enable sound" and stays silent, which is what a missing flag
looks like in a kitchen."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright, expect

from hub.app import RunningHub
from hub.domain.orders import LineRequest
from hub.services import staff
from tests.conftest import table_token
from tests.e2e.conftest import CHROMIUM
from tests.waiting import until

pytestmark = pytest.mark.browser

UNIT = Path(__file__).parents[2] / "systemd" / "tablehub-kiosk@.service"
AUTOPLAY = "--autoplay-policy=no-user-gesture-required"
# what this test machine needs on top of the unit's flags: no display, running as root
HEADLESS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0"]
# counts the notes the page starts: an alert that plays is heard through these
COUNT_NOTES = """
(() => {
  window.__notes = 0;
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (...args) {
    window.__notes += 1;
    return start.apply(this, args);
  };
})();
"""


def unit_flags() -> list[str]:
    """The Chromium flags of the kiosk unit's ExecStart, in order, as the shell passes them."""
    exec_line = next(
        line for line in UNIT.read_text().splitlines() if line.startswith("ExecStart=")
    )
    script = shlex.split(exec_line.removeprefix("ExecStart="))[-1]  # /bin/sh -c '<script>'
    command = script.split("exec ", 1)[1]
    words = shlex.split(re.sub(r"^\"\$\$\(.*?\)\"", "CHROMIUM", command))
    assert words[0] == "CHROMIUM", words
    return [w for w in words[1:] if w.startswith("--")]


def test_the_kiosk_unit_lets_the_page_play_sound_unasked() -> None:
    flags = unit_flags()
    assert AUTOPLAY in flags
    assert "--kiosk" in flags
    assert any(f.startswith("--app=") for f in flags)


@asynccontextmanager
async def kiosk(tmp_path: Path, url: str, flags: list[str]) -> AsyncIterator[Page]:
    """Chromium run as the unit runs it (profile and page substituted), driven over CDP."""
    profile = tmp_path / "profile"
    args = [f"--user-data-dir={profile}" if f.startswith("--user-data-dir=") else f for f in flags]
    args = [f"--app={url}" if f.startswith("--app=") else f for f in args]
    log = (tmp_path / "chromium.log").open("wb")
    proc = subprocess.Popen([CHROMIUM, *args, *HEADLESS], stdout=log, stderr=log)
    port_file = profile / "DevToolsActivePort"
    try:
        await until(
            lambda: port_file.exists() and port_file.read_text().count("\n") >= 1,
            "chromium to listen for DevTools",
            state=lambda: proc.poll(),
        )
        port = int(port_file.read_text().splitlines()[0])
        async with async_playwright() as p:
            browser = await p.chromium.connect_over_cdp(f"http://127.0.0.1:{port}")
            context = browser.contexts[0]
            await until(lambda: bool(context.pages), "the kiosk's window")
            page = context.pages[0]
            await page.add_init_script(COUNT_NOTES)
            await page.wait_for_url(re.compile(r"/kds/cold$"))
            await page.reload()  # with the note counter in place; a reload is no tap
            yield page
            await browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


async def place(hub: RunningHub, key: str) -> None:
    """An order for the cold kitchen."""
    lines = [LineRequest("sea-salt-edamame", 1)]
    await hub.services.ordering.place(table_token(hub, "T3"), key, lines)


async def test_the_kiosk_beeps_for_the_first_ticket_untouched(
    hub: RunningHub, tmp_path: Path
) -> None:
    token = await staff.issue(hub.services.store, "kitchen", "wall screen")
    url = f"{hub.url}/pair?token={token}&next=/kds/cold"
    async with kiosk(tmp_path, url, unit_flags()) as page:
        await expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "online")
        assert await page.evaluate("document.querySelector('#sound-btn').hidden") is True
        await expect(page.get_by_test_id("enable-sound")).to_be_hidden()
        assert await page.evaluate("window.__notes") == 0
        await place(hub, "kiosk-first")
        await expect(page.locator('[data-testid^="ticket-"]')).to_have_count(1)
        await until(lambda: page.evaluate("window.__notes > 0"), "the first ticket's alert to play")


async def test_without_the_flag_the_screen_asks_for_a_tap_and_stays_silent(
    hub: RunningHub, tmp_path: Path
) -> None:
    token = await staff.issue(hub.services.store, "kitchen", "wall screen")
    url = f"{hub.url}/pair?token={token}&next=/kds/cold"
    flags = [f for f in unit_flags() if f != AUTOPLAY]
    async with kiosk(tmp_path, url, flags) as page:
        await expect(page.get_by_test_id("conn-status")).to_have_attribute("data-state", "online")
        await expect(page.get_by_test_id("enable-sound")).to_be_visible()
        await place(hub, "kiosk-silent")
        await expect(page.locator('[data-testid^="ticket-"]')).to_have_count(1)
        assert await page.evaluate("window.__notes") == 0
