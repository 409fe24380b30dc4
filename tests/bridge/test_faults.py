"""A real hub, the bridge, a fault-injecting proxy and the receiver over PostgreSQL: while
the proxy drops connections, answers 500, stalls and cuts requests and answers in the middle,
orders and telemetry keep coming; once the faults stop, the cloud holds every event exactly
once, in order."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from cloud_bridge.cli import run_bridge
from cloud_bridge.cursor import read_state
from hub.app import RunningHub
from tests.bridge.conftest import (
    Receiver,
    assert_exactly_once,
    bridge_acked,
    bridge_config,
    caught_up,
    emit_telemetry,
    place_orders,
    wait_for,
)
from tests.bridge.faultproxy import FAULTS, FaultProxy
from tests.waiting import until

MAX_ROUNDS = 60  # of orders and telemetry with faults on; it ends once each fault came twice


async def test_after_any_fault_every_event_arrives_exactly_once_in_order(
    tmp_path: Path, hub: RunningHub, receiver: Receiver
) -> None:
    rng = random.Random(20261122)
    weights = [40, 12, 12, 12, 12, 12]  # pass, drop, http500, stall, cut_request, cut_response
    proxy = await FaultProxy(
        [("127.0.0.1", int(receiver.url.rsplit(":", 1)[1]))],
        faults=lambda: rng.choices(FAULTS, weights)[0],
        stall_s=1.2,
    ).start()
    cfg = bridge_config(
        tmp_path,
        hub_db=hub.services.store.path,
        endpoint=proxy.url,
        batch_max_events=40,
        request_timeout_ms=800,
    )
    stop = asyncio.Event()
    bridge = asyncio.create_task(run_bridge(cfg, stop, rng=random.Random(5)))
    try:
        for rounds in range(1, MAX_ROUNDS + 1):
            requests = proxy.seen.total()
            await place_orders(hub, 40, concurrency=8, prefix=f"f{rounds}")
            await emit_telemetry(hub, 60)
            # the bridge tries at least one more upload through the faults before the next
            # round (counted per request, however long this machine takes)
            await until(lambda r=requests: proxy.seen.total() > r, "the bridge's next upload")
            if rounds >= 6 and all(proxy.seen[f] >= 2 for f in FAULTS):
                break
        assert all(proxy.seen[f] >= 1 for f in FAULTS), proxy.seen
        proxy.faults = None  # the network heals
        await wait_for(lambda: caught_up(receiver, hub), timeout=30, what="the bridge to catch up")
        await wait_for(bridge_acked(cfg.state_db, hub), timeout=30, what="the acks to be recorded")
    finally:
        stop.set()
        await bridge
        await proxy.stop()

    status = await assert_exactly_once(receiver, hub.services.store.path)
    # answers cut after the cloud committed made the bridge send again: the cloud dropped them
    assert status["duplicates"] > 0
    state = read_state(cfg.state_db)
    assert state["parked"] == []
    assert state["acked_upto"] == hub.services.store.committed_seq
    print(
        f"\nfaults {dict(proxy.seen)}; {status['events']} events, "
        f"{status['duplicates']} duplicates dropped, {status['replayed_batches']} batches replayed"
    )
