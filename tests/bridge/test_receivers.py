"""Two receiver processes behind a load balancer over one PostgreSQL; one is killed (-9)
while a batch is on its way through it. Nothing is lost or doubled, and the survivor serves
the whole store because no receiver keeps state in memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from cloud_bridge.cli import run_bridge
from hub.app import RunningHub
from hub.ops.mosquitto import free_port
from tests.bridge.conftest import (
    Receiver,
    assert_exactly_once,
    bridge_config,
    caught_up,
    emit_telemetry,
    place_orders,
    start_receiver,
    wait_for,
)
from tests.bridge.faultproxy import FaultProxy
from tests.conftest import run_module


def start_receiver_process(dsn: str, tokens: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    args = ("--dsn", dsn, "--token-file", str(tokens), "--port", str(port))
    return run_module(log, "cloud_bridge", "cloud-receiver", *args, "--log-level", "warning")


async def serving(port: int) -> bool:
    with contextlib.suppress(aiohttp.ClientError, OSError):
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/healthz") as r:
            return r.status == 200
    return False


@pytest.mark.slow
async def test_one_of_two_receivers_killed_during_upload(
    tmp_path: Path, hub: RunningHub, pg_dsn: str, tokens_file: Path, checker: Receiver
) -> None:
    ports = [free_port(), free_port()]
    logs = [tmp_path / f"receiver{i}.log" for i in range(2)]
    procs = [
        start_receiver_process(pg_dsn, tokens_file, p, log)
        for p, log in zip(ports, logs, strict=True)
    ]
    proxy = await FaultProxy([("127.0.0.1", p) for p in ports], per_request=True).start()
    forwarded = [0, 0]
    killed = asyncio.Event()

    def on_forward(index: int) -> None:
        forwarded[index] += 1
        if index == 0 and forwarded[0] >= 5 and not killed.is_set():
            os.kill(procs[0].pid, signal.SIGKILL)  # the request is inside receiver 0 now
            killed.set()

    proxy.on_forward = on_forward
    stop = asyncio.Event()
    cfg = bridge_config(
        tmp_path, hub_db=hub.services.store.path, endpoint=proxy.url, batch_max_events=25
    )
    bridge = None
    try:
        for port in ports:

            async def up(port: int = port) -> bool:
                return await serving(port)

            await wait_for(up, timeout=15, what=f"receiver on {port}")
        bridge = asyncio.create_task(run_bridge(cfg, stop, rng=random.Random(2)))
        for i in range(6):
            await place_orders(hub, 60, concurrency=8, prefix=f"r{i}")
            await emit_telemetry(hub, 40)
        await asyncio.wait_for(killed.wait(), 20)
        await place_orders(hub, 60, prefix="after")
        await wait_for(lambda: caught_up(checker, hub), timeout=30, what="catch-up")
    finally:
        stop.set()
        if bridge is not None:
            await bridge
        await proxy.stop()
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                await asyncio.to_thread(proc.wait, 10)
    assert procs[0].returncode == -signal.SIGKILL
    assert procs[1].returncode == 0, logs[1].read_text()[-2000:]
    assert forwarded[1] > forwarded[0]  # the survivor carried the rest
    status = await assert_exactly_once(checker, hub.services.store.path)
    print(
        f"\nforwarded {forwarded}, proxy {dict(proxy.seen)}, {status['events']} events, "
        f"{status['duplicates']} duplicates dropped"
    )


@pytest.fixture
async def checker(pg_dsn: str) -> AsyncIterator[Receiver]:
    """An in-process receiver on the same database, for status and content checks."""
    rec = await start_receiver(pg_dsn)
    yield rec
    await rec.runner.cleanup()
