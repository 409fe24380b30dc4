"""A hub whose worker dies is not left running half-deaf: it stops with a failure, which the
service manager (Restart=on-failure) answers by starting it again."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from hub.app import WorkerDied, serve_forever
from hub.bus.client import BrokerConfig
from hub.config import HubConfig
from hub.dispatch import OutboxRelay
from hub.mosquitto import Mosquitto


async def test_a_dead_worker_stops_the_hub_with_a_failure(
    tmp_path: Path,
    menu_doc: dict[str, Any],
    broker: Mosquitto,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(self: OutboxRelay) -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError("relay bug")

    monkeypatch.setattr(OutboxRelay, "run", broken)
    config = HubConfig(
        data_dir=tmp_path / "data",
        http_port=0,
        broker=BrokerConfig(port=broker.port, client_id="hub-supervised"),
    )
    stop = asyncio.Event()
    with pytest.raises(WorkerDied):
        await asyncio.wait_for(serve_forever(config, stop=stop, seed_menu=menu_doc), 20)
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("mqtt-relay died" in m and "relay bug" in m for m in messages), messages


async def test_a_requested_stop_is_not_a_failure(
    tmp_path: Path, menu_doc: dict[str, Any], broker: Mosquitto
) -> None:
    config = HubConfig(
        data_dir=tmp_path / "data",
        http_port=0,
        broker=BrokerConfig(port=broker.port, client_id="hub-stopped"),
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, stop.set)
    await asyncio.wait_for(serve_forever(config, stop=stop, seed_menu=menu_doc), 20)
