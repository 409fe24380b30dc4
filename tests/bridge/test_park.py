"""An event the cloud calls bad is parked and alerted (status command, log line), the gap
is visible in the cloud, and everything else flows. The `bridge status` command prints a
readable table or JSON; `bridge unpark` sends a parked batch again."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import subprocess
import sys
from pathlib import Path

import pytest

from cloud_bridge.cli import run_bridge
from cloud_bridge.config import load_config
from cloud_bridge.cursor import read_state
from hub.app import RunningHub
from hub.store.db import Tx
from tests.bridge.conftest import Receiver, bridge_toml, caught_up, place_orders, wait_for
from tests.samples import thing


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cloud_bridge", "bridge", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


async def test_a_bad_event_is_parked_alerted_and_the_rest_flows(
    tmp_path: Path, hub: RunningHub, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    path = bridge_toml(tmp_path, hub_db=hub.services.store.path, endpoint=receiver.url)
    cfg = load_config(path)
    await place_orders(hub, 5)

    async def bogus(tx: Tx) -> None:
        tx.emit(thing("loyalty", 7))  # a stream the cloud refuses

    await hub.services.store.write(bogus)
    bad_seq = hub.services.store.committed_seq
    await place_orders(hub, 5, prefix="after")
    stop = asyncio.Event()
    bridge = asyncio.create_task(run_bridge(cfg, stop, rng=random.Random(3)))
    try:

        async def rest_in() -> bool:
            s = await receiver.status()
            return bool(s["max_seq"] == hub.services.store.committed_seq and s["missing"] == 1)

        await wait_for(rest_in, timeout=10, what="everything but the bad event")
        s = await receiver.status()
        assert s["contiguous_seq"] == bad_seq - 1
        assert s["gaps"] == [[bad_seq, bad_seq]]
        assert any(
            "ALERT" in r.message and "parked" in r.message
            for r in caplog.records
            if r.levelno >= logging.ERROR
        )

        async def bridge_saw_the_ack() -> bool:
            state = read_state(cfg.state_db)
            return (
                state["acked_upto"] == bad_seq - 1 and (state["backlog"] or {}).get("events") == 0
            )

        await wait_for(bridge_saw_the_ack, timeout=10, what="the bridge to record the ack")
        out = cli("status", "--config", str(path))
        assert out.returncode == 0, out.stderr
        assert "parked" in out.stdout
        assert f"seq {bad_seq}..{bad_seq}" in out.stdout
        assert "ALERT" in out.stdout
        assert "unknown stream 'loyalty'" in out.stdout
        doc = json.loads(cli("status", "--config", str(path), "--json").stdout)
        assert doc["acked_upto"] == bad_seq - 1
        assert doc["backlog"]["events"] == 0
        assert doc["last_success_at"]
        assert [p["first_seq"] for p in doc["parked"]] == [bad_seq]

        # live orders still flow past the parked one
        await place_orders(hub, 3, prefix="live")
        await wait_for(
            lambda: _max_seq_is(receiver, hub.services.store.committed_seq),
            timeout=10,
            what="live orders",
        )

        # released, it is refused again (the cloud has not changed): parked once more
        out = cli("unpark", "--config", str(path))
        assert out.returncode == 0
        assert "1 parked batch" in out.stdout

        async def reparked() -> bool:
            parked = read_state(cfg.state_db)["parked"]
            return bool(parked) and parked[0]["tries"] == 2 and parked[0]["status"] == "parked"

        await wait_for(reparked, timeout=10, what="the batch to be parked again")
    finally:
        stop.set()
        await bridge
    assert not await caught_up(receiver, hub)  # the gap stays visible


async def _max_seq_is(receiver: Receiver, seq: int) -> bool:
    return int((await receiver.status())["max_seq"]) == seq


def test_status_on_a_bridge_that_never_ran_is_a_clear_error(tmp_path: Path) -> None:
    path = bridge_toml(tmp_path, hub_db=tmp_path / "nope.db", endpoint="http://127.0.0.1:9")

    out = cli("status", "--config", str(path))

    assert out.returncode == 2
    assert "the bridge has not run yet" in out.stderr
    bad = cli("status", "--config", str(tmp_path / "missing.toml"))
    assert bad.returncode == 2
    assert "missing.toml: cannot read: No such file" in bad.stderr
