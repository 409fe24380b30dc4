"""Headless Debian chromium driven by Playwright (no browser download: /usr/bin/chromium)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

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
