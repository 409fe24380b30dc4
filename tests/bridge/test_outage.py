"""The cloud is down while two thousand orders (and a telemetry backlog) happen; then it comes
back. Everything arrives exactly once; the backlog's orders go before its telemetry; live
orders keep being taken by the hub, and keep reaching the cloud, during the catch-up. The
bridge runs as its own process, as on a store box. How fast it drains is measured by the
bench, not here."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from hub.app import RunningHub
from plumbing.outbox import LATER_SHARE
from tests.bridge.conftest import (
    STORE,
    Receiver,
    assert_exactly_once,
    bridge_toml,
    caught_up,
    emit_telemetry,
    place_orders,
    start_bridge,
    start_receiver,
    stop_bridge,
    wait_for,
)
from tests.waiting import until

ORDERS = 2000
TELEMETRY = 10_000
LIVE_RATE = 20  # orders per second during the catch-up


async def live_orders(hub: RunningHub, stop: asyncio.Event, ids: list[int]) -> None:
    token = hub.services.catalog.token_for("T3")
    async with aiohttp.ClientSession() as http:
        i = 0
        while not stop.is_set() and i < 60 * LIVE_RATE:
            body = {
                "table": token,
                "idempotency_key": f"live-{i:05d}",
                "lines": [{"item": "sea-salt-edamame", "qty": 2}],
            }
            async with http.post(hub.url + "/api/v1/orders", json=body) as r:
                assert r.status == 201
                ids.append((await r.json())["order_id"])
            i += 1
            await asyncio.sleep(1 / LIVE_RATE)  # the pace of a dining room, not a wait


class TelemetryWaitsForALiveOrder:
    """The receiver's after-commit hook: while the hub has taken no live order yet, a batch
    that brought telemetry is not answered until it has.

    Whether a live order overtakes the telemetry backlog would otherwise depend on how fast
    this machine drains it. With the hold, a live order is in the hub's outbox before the
    first telemetry batch is acked, so the bridge's next read finds it in the priority lane;
    if the bridge sends it before the rest of the telemetry (as it must), a live event lands
    ahead of the backlog's last telemetry, every run."""

    def __init__(self, live_ids: list[int]) -> None:
        self.live_ids = live_ids
        self.receiver: Receiver | None = None
        self.held = 0

    async def __call__(self, store: str, key: str) -> None:
        if self.live_ids or self.receiver is None:
            return
        async with self.receiver.pool.acquire() as con:
            telemetry = await con.fetchval(
                "SELECT count(*) FROM events WHERE store_id = $1 AND stream = 'telemetry'", store
            )
        if telemetry:
            self.held += 1
            await until(lambda: bool(self.live_ids), "a live order during the catch-up")


@pytest.mark.slow
async def test_a_cloud_outage_during_two_thousand_orders(
    tmp_path: Path, hub: RunningHub, pg_dsn: str
) -> None:
    live_ids: list[int] = []
    hold = TelemetryWaitsForALiveOrder(live_ids)
    receiver = hold.receiver = await start_receiver(pg_dsn, after_commit=hold)
    try:
        await outage_and_catch_up(tmp_path, hub, receiver, hold, live_ids)
    finally:
        await receiver.runner.cleanup()


async def outage_and_catch_up(
    tmp_path: Path,
    hub: RunningHub,
    receiver: Receiver,
    hold: TelemetryWaitsForALiveOrder,
    live_ids: list[int],
) -> None:
    proxy = await receiver.behind_proxy()
    proxy.down = True
    cfg = bridge_toml(
        tmp_path,
        hub_db=hub.services.store.path,
        endpoint=proxy.url,
        batch_max_age_ms=200,
        poll_ms=50,
        backoff_base_ms=100,
        backoff_cap_ms=1000,
        request_timeout_ms=60_000,  # a held answer is slow, not lost
    )
    log = tmp_path / "bridge.log"
    bridge = start_bridge(cfg, log)
    stop_live = asyncio.Event()
    try:
        await asyncio.gather(
            place_orders(hub, ORDERS, concurrency=32), emit_telemetry(hub, TELEMETRY)
        )
        backlog_high = hub.services.store.committed_seq
        assert (await receiver.status())["events"] == 0  # nothing got through the outage
        assert proxy.seen["refused"] > 0

        proxy.down = False
        live = asyncio.create_task(live_orders(hub, stop_live, live_ids))

        async def backlog_in() -> bool:
            s = await receiver.status()
            return int(s["contiguous_seq"]) >= backlog_high

        await wait_for(backlog_in, timeout=300, what="the backlog to drain", every=0.05)
        during = len(live_ids)
        await until(lambda: len(live_ids) > during, "the hub to take a live order after it")
        stop_live.set()
        await live
        await wait_for(lambda: caught_up(receiver, hub), timeout=60, what="live orders to arrive")
    finally:
        stop_live.set()
        await stop_bridge(bridge)
        await proxy.stop()
    assert bridge.returncode == 0, log.read_text()[-2000:]
    assert "Traceback" not in log.read_text()

    status = await assert_exactly_once(receiver, hub.services.store.path)
    async with receiver.pool.acquire() as con:
        last_backlog_order = await con.fetchval(
            "SELECT max(rid) FROM events "
            "WHERE store_id = $1 AND seq <= $2 AND stream != 'telemetry'",
            STORE,
            backlog_high,
        )
        # The bridge formed one batch during the outage and resends it until it is answered,
        # byte for byte; when the telemetry came first that batch holds it. The lane order is
        # about the batches formed once the cloud was back, so the count starts after it.
        first_batch = await con.fetchval(
            "SELECT events FROM batches WHERE store_id = $1 ORDER BY received_at LIMIT 1", STORE
        )
        first_rid = await con.fetchval("SELECT min(rid) FROM events WHERE store_id = $1", STORE)
        telemetry_before, catch_up = await con.fetchrow(
            "SELECT count(*) FILTER (WHERE stream = 'telemetry'), count(*) FROM events "
            "WHERE store_id = $1 AND rid >= $2 AND rid < $3",
            STORE,
            first_rid + first_batch,
            last_backlog_order,
        )
        last_backlog_telemetry = await con.fetchval(
            "SELECT max(rid) FROM events "
            "WHERE store_id = $1 AND seq <= $2 AND stream = 'telemetry'",
            STORE,
            backlog_high,
        )
        live_ahead = await con.fetchval(
            "SELECT count(*) FROM events WHERE store_id = $1 AND seq > $2 AND rid < $3",
            STORE,
            backlog_high,
            last_backlog_telemetry,
        )
    # the backlog's orders went first: telemetry had its tenth of each batch
    # (plumbing.outbox.LATER_SHARE) and the room the last order batch left
    assert telemetry_before <= catch_up // LATER_SHARE + 500, (first_batch, telemetry_before)
    assert telemetry_before < TELEMETRY // 2  # most of the telemetry backlog came after
    # live orders placed during the catch-up overtook the telemetry backlog
    assert live_ahead > 0
    print(
        f"\noutage: {ORDERS} orders + {TELEMETRY} telemetry -> {backlog_high} events; "
        f"{len(live_ids)} live orders during the catch-up, {live_ahead} live events "
        f"overtook telemetry ({hold.held} answers held for one); "
        f"{status['duplicates']} duplicates; the outage's batch held {first_batch} events, "
        f"{telemetry_before} telemetry rode along after it"
    )
