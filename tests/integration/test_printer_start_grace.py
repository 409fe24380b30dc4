"""A printer found down while the hub starts (the `offline` its agent left retained at the last
stop, read before its new `online`) is no warning unless it is still down once the start is
over; after the start a printer going down is warned about at once."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from hub.app import RunningHub, running_hub
from hub.config import HubConfig, PrinterConfig
from tests.waiting import until

PRINTERS = (
    PrinterConfig(id="cold-1", stations=("cold",)),
    PrinterConfig(id="bar-1", stations=("bar",), bills=True),
)


@pytest.fixture
async def printing_hub(
    hub_config: HubConfig, menu_doc: dict[str, Any]
) -> AsyncIterator[RunningHub]:
    """Printers and no broker: no retained status of another test's agents comes in."""
    config = replace(hub_config, broker=None, printers=PRINTERS)
    async with running_hub(config, seed_menu=menu_doc) as running:
        yield running


def warnings_about(caplog: pytest.LogCaptureFixture, printer: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "tablehub.printing"
        and r.levelno >= logging.WARNING
        and f"printer {printer} " in r.getMessage()
    ]


async def test_down_at_start_warns_only_if_it_stays_down(
    printing_hub: RunningHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tablehub.printing")
    printing = printing_hub.services.printing
    clock = printing_hub.services.clock
    # the start is over 0.5 s from now
    printing.start_grace_s = (clock.monotonic_ms() - printing.started_ms) / 1000 + 0.5

    printing.on_device_status("printer-cold-1", "offline", {})  # and stays so
    printing.on_device_status("printer-bar-1", "offline", {})  # the old retained status...
    printing.on_device_status("printer-bar-1", "online", {})  # ...then the agent is back
    assert not printing.health["cold-1"].up
    assert printing.health["bar-1"].up
    assert warnings_about(caplog, "cold-1") == []
    assert any("printer cold-1 not back yet" in r.getMessage() for r in caplog.records)

    await until(
        lambda: warnings_about(caplog, "cold-1") != [],
        "a warning for the printer still down after the start",
    )
    assert warnings_about(caplog, "cold-1") == ["printer cold-1 unavailable: agent_offline"]
    assert warnings_about(caplog, "bar-1") == []

    # after the start: down is a warning at once
    printing.on_device_status("printer-bar-1", "online", {"paper": "out"})
    assert warnings_about(caplog, "bar-1") == ["printer bar-1 unavailable: paper_out"]
