"""GET /metrics over real HTTP, read back with prometheus_client's own parser: the numbers
move after an order reaches a kitchen screen (orders, order→KDS latency, open tickets, print
queue, store commits); device presence and printer state show; only loopback or staff may
scrape."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from unittest import mock

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from prometheus_client.parser import text_string_to_metric_families

from hub.app import RunningHub, running_hub
from hub.config import HubConfig, PrinterConfig
from hub.errors import AuthError
from hub.services import staff
from hub.web.keys import SERVICES
from hub.web.metrics import get_metrics
from tests.conftest import order_body, printing_hub_from, table_token
from tests.integration.test_live import kds_url, recv
from tests.waiting import until

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
PRINTERS = (PrinterConfig(id="cold-1", stations=("cold",)),)


async def scrape(http: aiohttp.ClientSession, hub: RunningHub, **kw: Any) -> Samples:
    async with http.get(f"{hub.url}/metrics", **kw) as r:
        assert r.status == 200, await r.text()
        assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = await r.text()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def test_metrics_move_after_an_order_reaches_the_kitchen(
    hub: RunningHub, http: aiohttp.ClientSession, kitchen_token: str
) -> None:
    before = await scrape(http, hub)
    assert value(before, "tablehub_orders_placed_total") == 0
    assert value(before, "tablehub_open_tickets", station="cold") == 0
    assert value(before, "tablehub_order_to_kds_seconds_count") == 0
    assert value(before, "tablehub_store_file_bytes", file="db") > 0
    assert value(before, "tablehub_store_written_bytes_total") >= 0

    auth = {"Authorization": f"Bearer {kitchen_token}"}
    async with http.ws_connect(kds_url(hub, "cold"), headers=auth) as ws:
        await recv(ws, "snapshot")
        body = order_body(table_token(hub, "T2"), "metrics-order-1")
        async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
            assert r.status == 201
        ticket = await recv(ws, "ticket")
        assert ticket["ticket"]["station"] == "cold"
        after = await scrape(http, hub)

    assert value(after, "tablehub_orders_placed_total") == 1
    assert value(after, "tablehub_open_tickets", station="cold") == 1
    assert value(after, "tablehub_open_tickets", station="grill") == 0  # every station shows
    assert value(after, "tablehub_order_to_kds_seconds_count") == 1
    latency = value(after, "tablehub_order_to_kds_seconds_sum")
    assert 0 <= latency < 30
    assert value(after, "tablehub_order_to_kds_seconds_bucket", le="+Inf") == 1
    assert value(after, "tablehub_store_commits_total") > value(
        before, "tablehub_store_commits_total"
    )
    assert value(after, "tablehub_live_screens") >= 1


async def test_printer_state_print_queue_and_devices(
    hub_config: HubConfig, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    async with printing_hub_from(hub_config, menu_doc, PRINTERS) as hub:
        await hub.services.devices.report("scale-1", "online", "scale", None)
        await hub.services.devices.report("button-T3", "offline", "button", None)
        body = order_body(table_token(hub, "T4"), "metrics-print-1")
        async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
            assert r.status == 201
        # no agent answers here: the chit waits in the queue
        got: Samples = {}

        async def queued() -> bool:
            nonlocal got
            got = await scrape(http, hub)
            pending = [
                value(got, "tablehub_print_queue_jobs", printer="cold-1", state=state)
                for state in ("queued", "sent")
            ]
            return sum(pending) == 1

        await until(queued, "the chit in the print queue", state=lambda: got)
        assert ("tablehub_printer_up", (("printer", "cold-1"),)) in got
        assert value(got, "tablehub_device_online", device="scale-1", kind="scale") == 1
        assert value(got, "tablehub_device_online", device="button-T3", kind="button") == 0


async def test_only_loopback_or_staff_may_scrape(hub: RunningHub) -> None:
    """A scrape from another machine needs a staff token (the request is built by hand with a
    documentation address as its peer: nothing is sent anywhere)."""

    app = web.Application()
    app[SERVICES] = hub.services

    def from_lan(headers: dict[str, str]) -> web.Request:
        transport = mock.Mock()
        transport.get_extra_info.side_effect = lambda key, default=None: (
            ("192.0.2.10", 40000) if key == "peername" else default
        )
        return make_mocked_request("GET", "/metrics", headers=headers, app=app, transport=transport)

    with pytest.raises(AuthError):
        await get_metrics(from_lan({}))
    token = await staff.issue(hub.services.store, "kitchen", "prometheus")
    answer = await get_metrics(from_lan({"Authorization": f"Bearer {token}"}))
    assert isinstance(answer, web.Response)
    assert answer.status == 200
    assert isinstance(answer.body, bytes)
    assert b"tablehub_orders_placed_total" in answer.body


async def test_a_scrape_without_a_broker_or_bridge_still_works(
    hub_config: HubConfig, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    async with running_hub(replace(hub_config, broker=None), seed_menu=menu_doc) as hub:
        got = await scrape(http, hub)
    assert ("tablehub_broker_connected", ()) not in got
    assert ("tablehub_bridge_backlog", ()) not in got


async def test_the_cloud_bridge_backlog_and_its_age(
    linked_hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    """A hub linked to a cloud bridge that has not run yet: every new event is backlog, and
    the oldest unsent one ages."""
    hub = linked_hub
    got: Samples = {}

    async def bridge_seen() -> bool:
        nonlocal got
        got = await scrape(http, hub)
        return ("tablehub_bridge_backlog_events", ()) in got

    await until(bridge_seen, "the bridge's numbers", state=lambda: got)
    before = value(got, "tablehub_bridge_backlog_events")
    body = order_body(table_token(hub, "T6"), "metrics-bridge-1")
    async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
        assert r.status == 201

    async def grew() -> bool:
        nonlocal got
        got = await scrape(http, hub)
        return value(got, "tablehub_bridge_backlog_events") > before

    await until(grew, "the order's events in the bridge backlog", state=lambda: got)
    assert value(got, "tablehub_bridge_oldest_unsent_age_seconds") >= 0
    assert value(got, "tablehub_bridge_parked") == 0
    assert ("tablehub_bridge_last_success_age_seconds", ()) not in got  # never uploaded yet
