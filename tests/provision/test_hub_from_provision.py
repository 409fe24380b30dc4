"""The hub started from the written hub.toml on the written broker takes orders from the URLs
on the printed QR sheet; adding a table keeps the printed codes valid; rotating one table
invalidates that table's code and no other."""

from __future__ import annotations

import asyncio
import copy
import io
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import zxingcpp
from PIL import Image

from hub.app import RunningHub, running_hub
from hub.config import load_config
from hub.domain import tokens
from tests.conftest import order_body
from tests.provision.conftest import (
    PUBLIC_URL,
    WrittenBroker,
    run_provision,
    runnable_hub_toml,
)

SHEET = "etc/tablehub/qr/tables.png"
# what a run that changes the tables of a store that exists rewrites: the sheet and the store
SHEET_AND_STORE = [
    "/etc/tablehub/qr/tables.pdf",
    "/etc/tablehub/qr/tables.png",
    "/var/lib/tablehub/tablehub.db",
]


def sheet_urls(root: Path) -> dict[str, str]:
    """Every QR code on the printed sheet, decoded: table id -> URL."""
    image = Image.open(io.BytesIO((root / SHEET).read_bytes())).convert("L")
    secret = bytes.fromhex((root / "var/lib/tablehub/secret.key").read_text())
    found: dict[str, str] = {}
    for code in zxingcpp.read_barcodes(image):
        assert code.text.startswith(f"{PUBLIC_URL}/t/"), code.text
        table, _ = tokens.read_table(secret, code.text.rsplit("/", 1)[1])
        assert table not in found
        found[table] = code.text
    return found


def token(url: str) -> str:
    return url.rsplit("/", 1)[1]


HubOf = Callable[[], AbstractAsyncContextManager[RunningHub]]


@pytest.fixture
def hub_of(provisioned: Path, written_broker: WrittenBroker, tmp_path: Path) -> HubOf:
    """Starts the hub the provisioned files describe, on the broker they configure."""

    @asynccontextmanager
    async def start() -> AsyncIterator[RunningHub]:
        toml = runnable_hub_toml(provisioned, written_broker.port, tmp_path / "hub.toml")
        async with running_hub(load_config(toml)) as hub:
            yield hub

    return start


async def first_run(hub_of: HubOf, root: Path, doc: dict[str, Any]) -> None:
    """The hub's first run makes the store. A hub that reads table-versions.json applies it
    itself; otherwise the next provisioning moves it into the store. Nothing else changes."""
    async with hub_of():
        pass
    settled = run_provision(root, doc)
    pending, db = "/var/lib/tablehub/table-versions.json", "/var/lib/tablehub/tablehub.db"
    assert set(settled.paths("removed")) <= {pending}
    assert set(settled.paths("created", "updated")) <= {db}  # pending versions moved in


async def menu_status(http: aiohttp.ClientSession, hub: RunningHub, url: str) -> int:
    async with http.get(f"{hub.url}/api/v1/menu", params={"table": token(url)}) as r:
        return r.status


async def order(http: aiohttp.ClientSession, hub: RunningHub, url: str, key: str) -> int:
    async with http.post(f"{hub.url}/api/v1/orders", json=order_body(token(url), key)) as r:
        return r.status


async def test_every_printed_code_orders(
    provisioned: Path, written_broker: WrittenBroker, hub_of: HubOf, http: aiohttp.ClientSession
) -> None:
    urls = sheet_urls(provisioned)
    assert sorted(urls) == [f"T{i}" for i in range(1, 7)]
    async with hub_of() as hub:
        assert hub.bus is not None
        assert await _wait(hub.bus.connected), written_broker.log
        assert hub.services.catalog.menu is not None
        assert hub.services.catalog.menu.store.id == "harbour"
        for table, url in urls.items():
            assert await order(http, hub, url, f"sheet-{table}") == 201, table
            assert hub.services.catalog.url_for(table) == url


async def _wait(event: asyncio.Event) -> bool:
    try:
        async with asyncio.timeout(5):
            await event.wait()
    except TimeoutError:
        return False
    return True


async def test_adding_a_table_keeps_printed_codes(
    provisioned: Path, answers_doc: dict[str, Any], hub_of: HubOf, http: aiohttp.ClientSession
) -> None:
    printed = sheet_urls(provisioned)
    await first_run(hub_of, provisioned, answers_doc)
    more = copy.deepcopy(answers_doc)
    more["tables"] = {"count": 7}
    report = run_provision(provisioned, more)
    assert sorted(report.changed) == SHEET_AND_STORE
    urls = sheet_urls(provisioned)
    assert {t: urls[t] for t in printed} == printed
    async with hub_of() as hub:
        assert await order(http, hub, urls["T7"], "new-table") == 201
        for url in printed.values():
            assert await menu_status(http, hub, url) == 200


async def test_rotating_a_table_invalidates_only_its_code(
    provisioned: Path, answers_doc: dict[str, Any], hub_of: HubOf, http: aiohttp.ClientSession
) -> None:
    printed = sheet_urls(provisioned)
    await first_run(hub_of, provisioned, answers_doc)
    report = run_provision(provisioned, answers_doc, rotate={"T2"})
    assert sorted(report.changed) == SHEET_AND_STORE
    assert any("restart it if it runs" in n for n in report.notes)
    urls = sheet_urls(provisioned)
    assert urls["T2"] != printed["T2"]
    assert {t: u for t, u in urls.items() if t != "T2"} == {
        t: u for t, u in printed.items() if t != "T2"
    }
    async with hub_of() as hub:
        assert await order(http, hub, printed["T2"], "old-code") == 403
        assert await order(http, hub, urls["T2"], "new-code") == 201
        for table, url in printed.items():
            if table != "T2":
                assert await menu_status(http, hub, url) == 200, table
    again = run_provision(provisioned, answers_doc)
    assert again.changed == []  # rotating is not sticky


async def test_a_rotation_before_the_first_run_reaches_the_store(
    provisioned: Path, answers_doc: dict[str, Any], hub_of: HubOf, http: aiohttp.ClientSession
) -> None:
    pending = provisioned / "var/lib/tablehub/table-versions.json"
    run_provision(provisioned, answers_doc, rotate={"T3"})
    assert '"token_version": 2' in pending.read_text()
    rotated = sheet_urls(provisioned)["T3"]
    await first_run(hub_of, provisioned, answers_doc)
    assert not pending.exists()
    assert sheet_urls(provisioned)["T3"] == rotated
    async with hub_of() as hub:
        assert await order(http, hub, rotated, "rotated-before-first-run") == 201


async def test_first_start_applies_the_rotation_itself(
    provisioned: Path, answers_doc: dict[str, Any], hub_of: HubOf, http: aiohttp.ClientSession
) -> None:
    """No second provisioning run needed: the codes printed before the store existed work
    from the hub's very first start, and the code rotated away before it does not."""
    pending = provisioned / "var/lib/tablehub/table-versions.json"
    first_sheet = sheet_urls(provisioned)
    run_provision(provisioned, answers_doc, rotate={"T3"})
    urls = sheet_urls(provisioned)
    assert urls["T3"] != first_sheet["T3"]
    async with hub_of() as hub:
        assert not pending.exists()
        assert hub.services.catalog.tables["T3"].version == 2
        assert await order(http, hub, urls["T3"], "first-start-rotated") == 201
        assert await order(http, hub, first_sheet["T3"], "first-start-old") == 403
        assert await order(http, hub, urls["T1"], "first-start-t1") == 201
