"""`kill -9` of the bridge process in the middle of uploads, ten times, while the hub keeps
taking orders: nothing is lost, and what the bridge sends twice the cloud drops.

Half the kills land exactly between the cloud's commit and the bridge hearing the ack (the
receiver holds its answer and signals the test), the worst moment; the others at a random
moment while uploads are going on."""

from __future__ import annotations

import asyncio
import random
import signal
from pathlib import Path

import pytest

from cloud_bridge.cursor import read_state
from hub.app import RunningHub
from tests.bridge.conftest import (
    Receiver,
    assert_exactly_once,
    bridge_acked,
    bridge_toml,
    caught_up,
    emit_telemetry,
    place_orders,
    start_bridge,
    start_receiver,
    stop_bridge,
    wait_for,
)
from tests.waiting import event

KILLS = 10


class KillSwitch:
    """The receiver's after-commit hook: when armed, tells the test to kill the bridge
    and holds the answer until the test says the bridge is dead, so the batch is committed
    in the cloud and its answer never reaches the bridge."""

    def __init__(self) -> None:
        self.armed = False
        self.fire = asyncio.Event()
        self.killed = asyncio.Event()
        self.commits = 0

    async def __call__(self, store: str, key: str) -> None:
        self.commits += 1
        if self.armed:
            self.armed = False
            self.fire.set()
            await event(self.killed, "the test to kill the bridge")


async def produce(hub: RunningHub, stop: asyncio.Event) -> int:
    rounds = 0
    while not stop.is_set() and rounds < 200:
        await place_orders(hub, 15, concurrency=5, prefix=f"k{rounds}")
        await emit_telemetry(hub, 20, chunk=20)
        rounds += 1
        await asyncio.sleep(0.05)  # the pace of the load, not a wait
    return rounds


@pytest.mark.slow
async def test_kill_9_of_the_bridge_loses_nothing_and_doubles_nothing(
    tmp_path: Path, hub: RunningHub, pg_dsn: str
) -> None:
    switch = KillSwitch()
    receiver: Receiver = await start_receiver(pg_dsn, after_commit=switch)
    cfg = bridge_toml(
        tmp_path,
        hub_db=hub.services.store.path,
        endpoint=receiver.url,
        batch_max_events=30,
        batch_max_age_ms=20,
    )
    log = tmp_path / "bridge.log"
    rng = random.Random(99)
    stop = asyncio.Event()
    producer = asyncio.create_task(produce(hub, stop))
    bridge = start_bridge(cfg, log)
    try:
        for kill in range(KILLS):
            before = switch.commits

            async def uploading(before: int = before) -> bool:
                return switch.commits > before + 1

            await wait_for(uploading, timeout=15, what="the bridge to upload")
            if kill % 2 == 0:
                switch.fire.clear()
                switch.killed.clear()
                switch.armed = True
                await event(switch.fire, "a committed batch to hold")
            else:
                # a kill at an arbitrary moment is the scenario here, not a wait for anything
                await asyncio.sleep(rng.uniform(0.0, 0.15))
            bridge.send_signal(signal.SIGKILL)
            await asyncio.to_thread(bridge.wait, 5)
            switch.killed.set()
            bridge = start_bridge(cfg, log)
        stop.set()
        await producer
        await wait_for(lambda: caught_up(receiver, hub), timeout=30, what="the bridge to catch up")
        state_db = tmp_path / "bridge" / "bridge.db"
        await wait_for(bridge_acked(state_db, hub), timeout=30, what="the acks to be recorded")
    finally:
        stop.set()
        await stop_bridge(bridge)
        await producer
        await receiver.runner.cleanup()
        receiver = await start_receiver(pg_dsn)
    try:
        status = await assert_exactly_once(receiver, hub.services.store.path)
    finally:
        await receiver.runner.cleanup()
    assert status["duplicates"] >= KILLS // 2  # each worst-moment kill made a resend
    assert "Traceback" not in log.read_text()
    state = read_state(tmp_path / "bridge" / "bridge.db")
    assert state["acked_upto"] == hub.services.store.committed_seq
    print(
        f"\n{KILLS} kills: {status['events']} events once each, {status['duplicates']} "
        f"duplicates dropped by the receiver, {status['batches']} batches"
    )
