"""The cloud is down while two thousand orders (and a telemetry backlog) happen; then it comes
back. Everything arrives exactly once; the backlog's orders go before its telemetry; live
orders keep being taken by the hub, and keep reaching the cloud, during the catch-up. The
bridge runs as its own process, as on a store box. Prints the drain rate."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from hub.app import RunningHub
from tests.bridge.conftest import (
    STORE,
    Receiver,
    assert_exactly_once,
    bridge_toml,
    caught_up,
    emit_telemetry,
    place_orders,
    wait_for,
)
from tests.bridge.faultproxy import FaultProxy

ORDERS = 2000
TELEMETRY = 10_000
LIVE_RATE = 20  # orders per second during the catch-up


def start_bridge(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "cloud_bridge", "bridge", "--config", str(config)],
            stdout=fh,
            stderr=subprocess.STDOUT,
        )


async def live_orders(
    hub: RunningHub, stop: asyncio.Event, latencies: list[float], ids: list[int]
) -> None:
    token = hub.services.catalog.token_for("T3")
    async with aiohttp.ClientSession() as http:
        i = 0
        while not stop.is_set() and i < 60 * LIVE_RATE:
            body = {
                "table": token,
                "idempotency_key": f"live-{i:05d}",
                "lines": [{"item": "sea-salt-edamame", "qty": 2}],
            }
            t0 = time.monotonic()
            async with http.post(hub.url + "/api/v1/orders", json=body) as r:
                assert r.status == 201
                ids.append((await r.json())["order_id"])
            latencies.append(time.monotonic() - t0)
            i += 1
            await asyncio.sleep(1 / LIVE_RATE)


@pytest.mark.slow
async def test_a_cloud_outage_during_two_thousand_orders(
    tmp_path: Path, hub: RunningHub, receiver: Receiver
) -> None:
    proxy = await FaultProxy([("127.0.0.1", int(receiver.url.rsplit(":", 1)[1]))]).start()
    proxy.down = True
    cfg = bridge_toml(
        tmp_path,
        hub_db=hub.services.store.path,
        endpoint=proxy.url,
        batch_max_age_ms=200,
        poll_ms=50,
        backoff_base_ms=100,
        backoff_cap_ms=1000,
    )
    log = tmp_path / "bridge.log"
    bridge = start_bridge(cfg, log)
    stop_live = asyncio.Event()
    latencies: list[float] = []
    live_ids: list[int] = []
    try:
        t0 = time.monotonic()
        await asyncio.gather(
            place_orders(hub, ORDERS, concurrency=32), emit_telemetry(hub, TELEMETRY)
        )
        produced_s = time.monotonic() - t0
        backlog_high = hub.services.store.committed_seq
        assert (await receiver.status())["events"] == 0  # nothing got through the outage
        assert proxy.seen["refused"] > 0

        proxy.down = False
        t1 = time.monotonic()
        live = asyncio.create_task(live_orders(hub, stop_live, latencies, live_ids))

        first_in: list[float] = []

        async def backlog_in() -> bool:
            s = await receiver.status()
            if s["events"] and not first_in:
                first_in.append(time.monotonic())
            return int(s["contiguous_seq"]) >= backlog_high

        drain_s = await wait_for(backlog_in, timeout=60, what="the backlog to drain", every=0.05)
        await asyncio.sleep(0.5)
        stop_live.set()
        await live
        await wait_for(lambda: caught_up(receiver, hub), timeout=20, what="live orders to arrive")
    finally:
        stop_live.set()
        bridge.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(bridge.wait, 10)
        if bridge.poll() is None:
            bridge.kill()
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
        telemetry_before = await con.fetchval(
            "SELECT count(*) FROM events WHERE store_id = $1 AND stream = 'telemetry' AND rid < $2",
            STORE,
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
    # the backlog's orders went first: telemetry only rode along in the last order batch
    assert telemetry_before <= 500
    # live orders placed during the catch-up overtook the telemetry backlog
    assert live_ahead > 0
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 2 else latencies[0]
    assert p99 < 1.0, f"order p99 {p99:.3f} s during catch-up"
    from_first = backlog_high / (t1 + drain_s - first_in[0])
    print(
        f"\noutage: {ORDERS} orders + {TELEMETRY} telemetry -> {backlog_high} events "
        f"in {produced_s:.1f} s; backlog drained {drain_s:.2f} s after the cloud came back "
        f"({backlog_high / drain_s:,.0f} events/s; {from_first:,.0f}"
        f" events/s from the first event in); {len(live_ids)} live orders during catch-up, "
        f"HTTP p50 {statistics.median(latencies) * 1000:.1f} ms p99 {p99 * 1000:.1f} ms; "
        f"{live_ahead} live events overtook telemetry; {status['duplicates']} duplicates; "
        f"bridge up {time.monotonic() - t1:.1f} s"
    )
