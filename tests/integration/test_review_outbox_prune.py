"""Pruning shed telemetry keeps the outbox's newest row, as pruning acknowledged rows does:
the store numbers new events from the highest seq it has, so deleting the newest row could
hand its seq out again to an event the bridge and the in-hub consumers have already passed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cloud_bridge.cursor import BridgeState
from hub.app import RunningHub, running_hub
from hub.config import HubConfig
from hub.consumers.outbox_prune import OutboxPruner
from hub.domain.ports import SystemClock
from tests.samples import emit, seqs_in

CLOCK = SystemClock()


@pytest.fixture
async def lone_hub(hub_config: HubConfig, menu_doc: dict[str, Any]) -> AsyncIterator[RunningHub]:
    async with running_hub(replace(hub_config, broker=None), seed_menu=menu_doc) as running:
        yield running


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
