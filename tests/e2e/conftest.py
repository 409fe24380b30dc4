"""Headless Debian chromium driven by Playwright (no browser download: /usr/bin/chromium)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from hub.ops.mosquitto import Mosquitto

CHROMIUM = os.environ.get("TABLEHUB_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """A broker of the pages' own, per module: the session's broker keeps the retained
    statuses of every device the other tests started ("printer p3404cff985 offline"), and
    a screen shows them in its header, changing what fits there."""
    mq = Mosquitto(tmp_path_factory.mktemp("mosquitto-e2e"))
    mq.start()
    yield mq
    mq.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is not installed: run `make setup`")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        await b.close()


def screenshot_dir() -> Path | None:
    """`make screenshots` sets TABLEHUB_SCREENSHOTS=docs to refresh the README's pictures."""
    target = os.environ.get("TABLEHUB_SCREENSHOTS")
    if not target:
        return None
    path = Path(target) / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path
