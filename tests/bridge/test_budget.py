"""The disk budget: during an outage the backlog outgrows its budget; the bridge sheds the
oldest telemetry (and only telemetry), counts it, tells the cloud, and no order is lost."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from cloud_bridge.cli import run_bridge
from cloud_bridge.cursor import prune_plan, read_state
from hub.app import RunningHub
from tests.bridge.conftest import (
    STORE,
    Receiver,
    assert_exactly_once,
    bridge_config,
    caught_up,
    emit_telemetry,
    outbox,
    place_orders,
    wait_for,
)

BUDGET = 400_000


async def test_over_budget_telemetry_is_shed_and_counted_and_no_order_is_dropped(
    tmp_path: Path, hub: RunningHub, receiver: Receiver
) -> None:
    proxy = await receiver.behind_proxy()
    proxy.down = True
    cfg = bridge_config(
        tmp_path,
        hub_db=hub.services.store.path,
        endpoint=proxy.url,
        backlog_budget_bytes=BUDGET,
        budget_check_seconds=0.2,
    )
    stop = asyncio.Event()
    bridge = asyncio.create_task(run_bridge(cfg, stop, rng=random.Random(4)))
    try:
        for i in range(4):
            await emit_telemetry(hub, 1000, pad=200)
            await place_orders(hub, 30, prefix=f"b{i}")

        async def shed_to_budget() -> bool:
            state = read_state(cfg.state_db)
            backlog = state["backlog"] or {"bytes": BUDGET + 1, "counted_upto": 0}
            return bool(
                state["shed"]["events"] > 0
                and backlog["counted_upto"] == hub.services.store.committed_seq
                and backlog["bytes"] <= BUDGET
            )

        await wait_for(shed_to_budget, timeout=10, what="telemetry shed down to the budget")
        proxy.down = False
        await wait_for(lambda: caught_up(receiver, hub), timeout=30, what="catch-up")
    finally:
        stop.set()
        await bridge
        await proxy.stop()

    status = await assert_exactly_once(receiver, hub.services.store.path, shed_ok=True)
    state = read_state(cfg.state_db)
    assert status["shed"] == status["shed_rows"] == state["shed"]["events"] > 0
    assert state["shed"]["unreported_notices"] == 0
    rows = outbox(hub.services.store.path)
    async with receiver.pool.acquire() as con:
        shed_seqs = [
            r[0]
            for r in await con.fetch(
                "SELECT seq FROM events WHERE store_id = $1 AND shed ORDER BY seq", STORE
            )
        ]
        notices = await con.fetchval("SELECT count(*) FROM shed_notices WHERE store_id = $1", STORE)
    kept = [r[0] for r in rows if r[1] == "telemetry" and r[0] not in set(shed_seqs)]
    assert max(shed_seqs) < min(kept)  # oldest first
    assert all(r[1] == "telemetry" for r in rows if r[0] in set(shed_seqs))
    assert notices >= 1
    plan = prune_plan(cfg.state_db)
    assert plan.shed
    assert plan.shed[0][0] == shed_seqs[0]
    assert plan.shed[-1][1] == shed_seqs[-1]
    assert plan.upto == hub.services.store.committed_seq
