"""Fixtures of the printer agent's tests: a printer id of their own and the hub's MQTT side
of that printer (the fake network printer itself, `printer`, is in tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from hub.ops.mosquitto import Mosquitto
from tests.printing_side import Hub, listening


@pytest.fixture
def printer_id() -> str:
    return f"p{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def printer_hub(broker: Mosquitto, printer_id: str) -> AsyncIterator[Hub]:
    """The hub's side of printer `printer_id`: publishes its jobs, records its acks and
    status. Not the `hub` fixture (a running hub)."""
    async with listening(broker, printer_id) as side:
        yield side
