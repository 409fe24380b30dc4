"""Shared fixtures: a real Mosquitto on a free loopback port, a real SQLite file, a real hub
serving HTTP on a free port, and staff tokens."""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from devices.printers.fake import FakeNetworkPrinter
from hub.app import RunningHub, running_hub
from hub.bus.client import BrokerConfig
from hub.cli import demo_menu
from hub.config import CloudLinkConfig, HttpLimits, HubConfig, Limits, PrinterConfig
from hub.domain.ports import Clock
from hub.ops.mosquitto import Mosquitto
from hub.services import staff
from tests.waiting import event

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.fail("mosquitto is not installed: run `make setup`")
    mq = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    mq.start()
    yield mq
    mq.stop()


@pytest.fixture
def printer() -> Iterator[FakeNetworkPrinter]:
    """A fake network receipt printer on a free loopback port."""
    with FakeNetworkPrinter() as fake:
        yield fake


@pytest.fixture
def menu_doc() -> dict[str, Any]:
    return copy.deepcopy(demo_menu())


@pytest.fixture
def hub_config(tmp_path: Path, broker: Mosquitto) -> HubConfig:
    # every request of the tests comes from 127.0.0.1: no per-phone limits here, neither on
    # requests (tests/integration/test_limits.py checks them) nor on connections (a test's
    # burst of 120 orders at once; tests/integration/test_connection_floods.py checks those)
    return HubConfig(
        data_dir=tmp_path / "data",
        http_host="127.0.0.1",
        http_port=0,
        broker=BrokerConfig(port=broker.port, client_id=f"hub-{tmp_path.name}"),
        limits=Limits(enabled=False),
        http_limits=HttpLimits(connections_per_address=1024),
    )


@pytest.fixture
async def hub(hub_config: HubConfig, menu_doc: dict[str, Any]) -> AsyncIterator[RunningHub]:
    async with running_hub(hub_config, seed_menu=menu_doc) as running:
        yield running


@contextlib.asynccontextmanager
async def printing_hub_from(
    config: HubConfig,
    menu_doc: dict[str, Any],
    printers: tuple[PrinterConfig, ...],
    clock: Clock | None = None,
    **fields: Any,
) -> AsyncIterator[RunningHub]:
    """The hub of `config` with `printers` (a job unacked for a second is sent again) and
    any other `fields`, handed out once it is connected to the broker."""
    config = replace(config, printers=printers, ack_timeout_s=1.0, **fields)
    async with running_hub(config, seed_menu=menu_doc, clock=clock) as running:
        assert running.bus is not None
        await event(running.bus.connected, "the hub to connect to the broker")
        yield running


def run_module(log: Path, *args: str) -> subprocess.Popen[bytes]:
    """`python -m ARGS` in a process of its own, its output added to the end of `log`."""
    with log.open("ab") as fh:
        return subprocess.Popen([sys.executable, "-m", *args], stdout=fh, stderr=subprocess.STDOUT)


@pytest.fixture
async def printing_hub(
    hub_config: HubConfig, menu_doc: dict[str, Any], printers: tuple[PrinterConfig, ...]
) -> AsyncIterator[RunningHub]:
    """`printing_hub_from` with the `printers` fixture, which a module of print tests defines."""
    async with printing_hub_from(hub_config, menu_doc, printers) as running:
        yield running


@pytest.fixture
async def lone_hub(hub_config: HubConfig, menu_doc: dict[str, Any]) -> AsyncIterator[RunningHub]:
    """A hub with no MQTT (so no in-hub consumer keeps a cursor unless a test writes one)."""
    async with running_hub(replace(hub_config, broker=None), seed_menu=menu_doc) as running:
        yield running


@pytest.fixture
async def linked_hub(
    hub_config: HubConfig, menu_doc: dict[str, Any], tmp_path: Path
) -> AsyncIterator[RunningHub]:
    """A hub linked to a cloud bridge whose state file is under `tmp_path`; its health is
    read every 50 ms."""
    link = CloudLinkConfig(state_db=tmp_path / "bridge" / "bridge.db", health_every_s=0.05)
    async with running_hub(replace(hub_config, bridge=link), seed_menu=menu_doc) as running:
        yield running


@pytest.fixture
async def pin_hub(hub_config: HubConfig, menu_doc: dict[str, Any]) -> AsyncIterator[RunningHub]:
    """A hub without MQTT whose tables staff must open, and whose diners give the table's PIN."""
    config = replace(hub_config, broker=None, tables_require_open=True, tables_require_pin=True)
    async with running_hub(config, seed_menu=menu_doc) as running:
        yield running


@pytest.fixture
async def device(broker: Mosquitto) -> AsyncIterator[aiomqtt.Client]:
    """A stand-in for a KDS or bump bar: a real MQTT client on the test broker."""
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, identifier="test-device", protocol=aiomqtt.ProtocolVersion.V5
    ) as client:
        yield client


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def kitchen_token(hub: RunningHub) -> str:
    return await staff.issue(hub.services.store, "kitchen", "test kds")


@pytest.fixture
async def admin_token(hub: RunningHub) -> str:
    return await staff.issue(hub.services.store, "admin", "test admin")


def table_token(hub: RunningHub, table_id: str = "T1") -> str:
    return hub.services.catalog.token_for(table_id)


def order_body(token: str, key: str, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "table": token,
        "idempotency_key": key,
        "lines": lines or [{"item": "sea-salt-edamame", "qty": 1}],
    }


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)
