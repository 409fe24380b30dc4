"""Pruning shed telemetry keeps the outbox's newest row, as pruning acknowledged rows does:
the store numbers new events from the highest seq it has, so deleting the newest row could
hand its seq out again to an event the bridge and the in-hub consumers have already passed."""

from __future__ import annotations

from pathlib import Path

from cloud_bridge.cursor import BridgeState
from hub.app import RunningHub
from hub.consumers.outbox_prune import OutboxPruner
from hub.domain.ports import SystemClock
from tests.samples import emit, seqs_in

CLOCK = SystemClock()


async def test_shed_pruning_keeps_the_newest_row_until_it_is_not_the_newest(
    lone_hub: RunningHub, tmp_path: Path
) -> None:
    hub = lone_hub
    db = hub.services.store.path
    tele = await emit(hub, ["telemetry"] * 5)  # the newest rows are all shed telemetry
    state_db = tmp_path / "bridge.db"
    async with BridgeState(state_db, store_id="demo", now_ms=CLOCK.now_ms) as st:
        await st.shed(tele, nbytes=500)
    pruner = OutboxPruner(hub.services.store, state_db, now_ms=CLOCK.now_ms, chunk_rows=2)

    result = await pruner.prune_once()
    assert result.shed == 4
    assert seqs_in(db)[-1] == tele[-1] == hub.services.store.committed_seq

    # once newer events follow, the last shed row goes too
    more = await emit(hub, ["payments"])
    assert more == [tele[-1] + 1]
    assert (await pruner.prune_once()).shed == 1
    assert tele[-1] not in seqs_in(db)
    assert seqs_in(db)[-1] == more[0]
    assert (await pruner.prune_once()).writes == 0
