"""The hub's side of the cloud bridge: it prunes its outbox by what the bridge's state says
(acknowledged and old rows in chunks, shed telemetry at once, never parked or undelivered
rows), shows the bridge in /healthz and /api/v1/bridge with alerts raised once per episode,
records scale readings as telemetry, and every stream it writes is one the cloud accepts."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import pytest

from cloud_bridge.cli import run_bridge
from cloud_bridge.cursor import BridgeState, ms_from_iso
from cloud_bridge.receiver import accepted_streams
from cloud_bridge.tail import TELEMETRY, lane_of
from hub.app import RunningHub
from hub.config import CloudLinkConfig, load_config
from hub.consumers.bridge_health import BridgeHealth
from hub.consumers.outbox_prune import OutboxPruner
from hub.domain import events
from hub.domain.events import JobInfo, PrintQueued
from hub.domain.ports import SystemClock, iso_from_ms
from hub.ops.mosquitto import Mosquitto
from hub.services import staff
from hub.services.devices import Devices
from hub.store.db import Tx
from plumbing.packed import unpack
from tests.bridge.conftest import (
    STORE,
    Receiver,
    assert_exactly_once,
    bridge_config,
    caught_up,
    place_orders,
    wait_for,
)
from tests.samples import emit, seqs_in

DAY_MS = 24 * 3600 * 1000
CLOCK = SystemClock()


def state_of(path: Path) -> BridgeState:
    return BridgeState(path, store_id=STORE, now_ms=CLOCK.now_ms)


async def set_consumer_cursor(hub: RunningHub, name: str, seq: int) -> None:
    async def unit(tx: Tx) -> None:
        await tx.execute(
            "INSERT INTO cursors(name, seq) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET seq = excluded.seq",
            (name, seq),
        )

    await hub.services.store.write(unit)


# ---------------------------------------------------------------- pruning


async def test_prune_deletes_only_acked_old_rows_in_chunks(
    lone_hub: RunningHub, tmp_path: Path
) -> None:
    hub = lone_hub
    db = hub.services.store.path
    seqs = await emit(hub, ["payments"] * 60 + ["telemetry"] * 20 + ["payments"] * 20)
    before = seqs_in(db)
    first = before[0]
    acked = seqs[69]  # the cloud has everything up to here
    parked = [seqs[9], seqs[10]]
    delivered = seqs[49]  # an in-hub consumer has delivered up to here
    state_db = tmp_path / "bridge" / "bridge.db"
    async with state_of(state_db) as st:
        await st.commit_ack({"priority": acked, "telemetry": acked}, events=acked)
        await st.park(parked, http_status=422, error="invalid_events", message="bad")
    await set_consumer_cursor(hub, "kds-test", delivered)

    # within the retention period (the bridge's 168 h): nothing goes
    now_pruner = OutboxPruner(hub.services.store, state_db, now_ms=CLOCK.now_ms, chunk_rows=7)
    assert (await now_pruner.prune_once()).acked == 0
    assert seqs_in(db) == before

    later = OutboxPruner(
        hub.services.store, state_db, now_ms=lambda: CLOCK.now_ms() + 8 * DAY_MS, chunk_rows=7
    )
    result = await later.prune_once()
    gone = [s for s in before if s <= delivered and s not in parked]
    assert result.acked == len(gone) == delivered - first + 1 - 2
    assert result.writes == -(-(delivered - first + 1) // 7)  # chunks of at most 7 seqs
    assert seqs_in(db) == [s for s in before if s not in gone]

    # the consumer catches up: everything acknowledged goes, parked rows stay
    await set_consumer_cursor(hub, "kds-test", seqs[-1])
    result = await later.prune_once()
    assert result.acked == acked - delivered
    assert seqs_in(db) == [*parked, *range(acked + 1, seqs[-1] + 1)]

    # the cloud acknowledges everything: the newest row stays (new seqs follow it)
    async with state_of(state_db) as st:
        await st.commit_ack({"priority": seqs[-1], "telemetry": seqs[-1]})
    await later.prune_once()
    assert seqs_in(db) == [*parked, seqs[-1]]
    more = await emit(hub, ["payments"])
    assert more == [seqs[-1] + 1]


async def test_a_big_backlog_is_pruned_in_many_small_writes(
    lone_hub: RunningHub, tmp_path: Path
) -> None:
    hub = lone_hub
    for _ in range(6):
        await emit(hub, ["payments"] * 2000)
    high = hub.services.store.committed_seq
    state_db = tmp_path / "bridge.db"
    async with state_of(state_db) as st:
        await st.commit_ack({"priority": high, "telemetry": high})
    pruner = OutboxPruner(hub.services.store, state_db, now_ms=lambda: CLOCK.now_ms() + 8 * DAY_MS)
    units = hub.services.store.units
    result = await pruner.prune_once()
    assert result.acked == high - 1
    assert result.writes == -(-(high - 1) // 5000) == 3
    assert hub.services.store.units - units == 3
    assert seqs_in(hub.services.store.path) == [high]


async def test_shed_telemetry_is_deleted_at_once_and_nothing_else(
    lone_hub: RunningHub, tmp_path: Path
) -> None:
    hub = lone_hub
    db = hub.services.store.path
    seqs = await emit(hub, ["telemetry", "payments"] * 10 + ["telemetry"] * 4)
    before = seqs_in(db)
    tele = [s for i, s in enumerate(seqs) if i % 2 == 0 and i < 20]
    shed = tele[:6]  # the oldest unsent telemetry, given up under the disk budget
    state_db = tmp_path / "bridge.db"
    async with state_of(state_db) as st:
        await st.shed(shed, nbytes=600)
    pruner = OutboxPruner(hub.services.store, state_db, now_ms=CLOCK.now_ms, chunk_rows=4)
    result = await pruner.prune_once()
    assert (result.shed, result.acked) == (6, 0)
    assert seqs_in(db) == [s for s in before if s not in shed]
    # a range already pruned is not looked at again
    assert (await pruner.prune_once()).writes == 0


async def test_no_bridge_state_yet_prunes_nothing(lone_hub: RunningHub, tmp_path: Path) -> None:
    await emit(lone_hub, ["payments"] * 3)
    before = seqs_in(lone_hub.services.store.path)
    pruner = OutboxPruner(
        lone_hub.services.store,
        tmp_path / "missing.db",
        now_ms=lambda: CLOCK.now_ms() + 8 * DAY_MS,
    )
    assert (await pruner.prune_once()).writes == 0
    assert seqs_in(lone_hub.services.store.path) == before


# ---------------------------------------------------------------- config


def test_the_bridge_section_and_a_bridge_toml_beside_the_config(tmp_path: Path) -> None:
    hub_toml = tmp_path / "hub.toml"
    hub_toml.write_text('[store]\ndata_dir = "data"\n')
    assert load_config(hub_toml).bridge is None
    (tmp_path / "bridge.toml").write_text('[bridge]\nstate_db = "state/bridge.db"\n')
    link = load_config(hub_toml).bridge
    assert link == CloudLinkConfig(state_db=tmp_path / "state" / "bridge.db")
    hub_toml.write_text(
        '[store]\ndata_dir = "data"\n[bridge]\nstate_db = "/srv/b.db"\nretention_hours = 24\n'
        "prune_every_seconds = 600\nprune_chunk_rows = 1000\nhealth_every_seconds = 2\n"
        "stale_after_seconds = 60\n"
    )
    assert load_config(hub_toml).bridge == CloudLinkConfig(
        state_db=Path("/srv/b.db"),
        retention_hours=24.0,
        prune_every_s=600.0,
        prune_chunk_rows=1000,
        health_every_s=2.0,
        stale_after_s=60.0,
    )


# ---------------------------------------------------------------- health and the admin API


async def get(http: aiohttp.ClientSession, url: str, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.get(url, headers=headers) as r:
        return r.status, await r.json()


async def test_healthz_and_the_admin_api_show_the_bridge_and_a_parked_batch(
    linked_hub: RunningHub, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    hub = linked_hub
    admin = await staff.issue(hub.services.store, "admin", "test admin")
    kitchen = await staff.issue(hub.services.store, "kitchen", "test kds")

    async def healthz_bridge() -> dict[str, Any]:
        status, body = await get(http, f"{hub.url}/healthz")
        assert status == 200
        entry: dict[str, Any] = body.get("cloud_bridge") or {}
        return entry

    async def shows(state: str) -> bool:
        return (await healthz_bridge()).get("state") == state

    # no state file: the bridge has not run yet, which is no error
    await wait_for(lambda: shows("not_running_yet"), timeout=5, what="not running yet")
    seqs = await emit(hub, ["payments"] * 5)
    state_db = tmp_path / "bridge" / "bridge.db"
    async with state_of(state_db) as st:
        await st.commit_ack({"priority": seqs[1], "telemetry": seqs[1]}, events=2)
        parked_id = await st.park([seqs[2]], http_status=422, error="invalid_events", message="x")
        await st.record_error("cloud answered 503")

    async def settled() -> bool:  # the health is refreshed every 2 s, maybe between writes
        h = await healthz_bridge()
        return h.get("state") == "ok" and h.get("parked") == 1

    await wait_for(settled, timeout=10, what="the bridge's state with its parked batch")
    h = await healthz_bridge()
    assert h["parked"] == 1
    assert h["acked_upto"] == seqs[1]
    # the cloud's own error text is for staff; anyone on the Wi-Fi sees that there is one
    assert h["last_error"] == "(ask with a staff token)"
    _, staff_view = await get(http, f"{hub.url}/healthz", kitchen)
    assert staff_view["cloud_bridge"]["last_error"] == "cloud answered 503"
    assert h["last_success_at"] is not None
    assert h["backlog"]["unacked_seqs"] == hub.services.store.committed_seq - seqs[1]
    # the oldest unsent row is the one after the parked one
    created = (
        await hub.services.store.read_one("SELECT created_at FROM outbox WHERE seq = ?", (seqs[3],))
    )[0]
    assert h["backlog"]["oldest_unsent_at"] == created
    _, body = await get(http, f"{hub.url}/healthz")
    alerts = [a for a in body["alerts"] if f"batch {parked_id} parked" in a]
    assert len(alerts) == 1
    assert "tablehub bridge unpark" in alerts[0]

    status, doc = await get(http, f"{hub.url}/api/v1/bridge", admin)
    assert status == 200
    assert doc["configured"] is True
    assert [p["first_seq"] for p in doc["parked"]] == [seqs[2]]
    assert doc["cursors"] == {"priority": seqs[1], "telemetry": seqs[1]}
    assert any("parked" in a for a in doc["alerts"])
    assert (await get(http, f"{hub.url}/api/v1/bridge"))[0] == 401
    assert (await get(http, f"{hub.url}/api/v1/bridge", kitchen))[0] == 403

    # the batch is sent again and acknowledged: the alert ends
    async with state_of(state_db) as st:
        await st.unpark_done(parked_id)

    async def alert_over() -> bool:
        _, body = await get(http, f"{hub.url}/healthz")
        return not any("parked" in a for a in body.get("alerts", []))

    await wait_for(alert_over, timeout=5, what="the parked alert to end")
    assert (await healthz_bridge())["parked"] == 0


async def test_alerts_are_logged_once_per_episode(
    lone_hub: RunningHub, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hub = lone_hub
    seqs = await emit(hub, ["payments"] * 3)
    state_db = tmp_path / "bridge.db"
    extra: dict[str, Any] = {"alerts": ["the store was damaged"]}
    later = CLOCK.now_ms() + 900_000  # the events have waited 15 minutes
    health = BridgeHealth(
        hub.services.store, state_db, extra, now_ms=lambda: later, stale_after_s=300
    )
    caplog.set_level(logging.INFO, "tablehub.bridge_health")
    # no bridge ever ran and events wait: stale
    status = await health.refresh()
    assert status["state"] == "stale"
    assert "has not run yet" in status["alerts"][0]
    async with state_of(state_db) as st:
        await st.park([seqs[0]], http_status=422, error="invalid_events", message="bad total")
        await st.put_many({"last_success_at": iso_from_ms(later - 600_000)})
    for _ in range(5):
        status = await health.refresh()
    assert status["state"] == "stale"
    assert len(status["alerts"]) == 2
    assert extra["alerts"][0] == "the store was damaged"
    assert extra["alerts"][1:] == status["alerts"]
    assert extra["cloud_bridge"]["parked"] == 1
    started = [r.message for r in caplog.records if r.message.startswith("ALERT")]
    # stale (the same episode, though the bridge has run since) and the parked batch, once
    assert len(started) == 2
    assert sum("parked" in m for m in started) == 1
    assert status["backlog"]["oldest_unsent_age_s"] == pytest.approx(
        (later - ms_from_iso(status["backlog"]["oldest_unsent_at"])) / 1000, abs=0.2
    )

    # the bridge catches up: both alerts end, each logged once; other alerts stay
    async with state_of(state_db) as st:
        parked = await st.parked()
        await st.unpark_done(parked[0].id)
        await st.commit_ack({"priority": seqs[-1], "telemetry": seqs[-1]})
    for _ in range(3):
        status = await health.refresh()
    assert status["state"] == "ok"
    assert status["alerts"] == []
    assert extra["alerts"] == ["the store was damaged"]
    over = [r.message for r in caplog.records if "alert over" in r.message]
    assert len(over) == 2


async def test_the_oldest_unsent_row_is_found_after_an_empty_lane_was_skipped(
    lone_hub: RunningHub, tmp_path: Path
) -> None:
    """A lane found empty is not sought from its cursor again (a store without scales has no
    telemetry: that read went through the whole outbox every round); a row that comes to
    it later, or a parked row released, is still the oldest unsent one."""
    hub = lone_hub
    state_db = tmp_path / "bridge.db"
    later = CLOCK.now_ms() + 60_000
    health = BridgeHealth(hub.services.store, state_db, {}, now_ms=lambda: later)
    orders = await emit(hub, ["payments"] * 4)
    async with state_of(state_db) as st:
        await st.commit_ack({"priority": orders[-1], "telemetry": 0})
    status = await health.refresh()
    assert status["backlog"]["oldest_unsent_at"] is None  # orders sent, no telemetry at all
    more = await emit(hub, ["payments"] * 3)  # more rows the telemetry lane has nothing in
    async with state_of(state_db) as st:
        await st.commit_ack({"priority": more[-1], "telemetry": 0})
    assert (await health.refresh())["backlog"]["oldest_unsent_at"] is None
    (reading,) = await emit(hub, ["telemetry"])
    status = await health.refresh()
    created = await hub.services.store.read_one(
        "SELECT created_at FROM outbox WHERE seq=?", (reading,)
    )
    assert created is not None
    assert status["backlog"]["oldest_unsent_at"] == created[0]
    # parked, it is not waiting to be sent; released, it is again
    async with state_of(state_db) as st:
        await st.park([reading], http_status=422, error="invalid_events", message="bad")
    assert (await health.refresh())["backlog"]["oldest_unsent_at"] is None
    async with state_of(state_db) as st:
        await st.unpark_done((await st.parked())[0].id)
    assert (await health.refresh())["backlog"]["oldest_unsent_at"] == created[0]


# ---------------------------------------------------------------- telemetry


async def test_stable_scale_readings_become_telemetry_rate_limited(
    hub: RunningHub, broker: Mosquitto
) -> None:
    assert hub.bus is not None
    await asyncio.wait_for(hub.bus.connected.wait(), 5)
    topic = f"tablehub/v1/{STORE}/scales/deli-1/weight"
    devices = hub.services.devices
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="test-scale") as scale:
        for grams, stable in [(300, False), (512, True), (512, True), (530, True), (0, True)]:
            await scale.publish(topic, json.dumps({"grams": grams, "stable": stable}), qos=1)

        async def seen() -> bool:
            return hub.services.live.weights.get("deli-1") == (0, True)

        await wait_for(seen, timeout=5, what="the scale's readings")

    async def saved() -> list[Any]:
        # this scale's rows only: the session's broker may hold other tests' retained weights
        rows = await hub.services.store.read_all(
            "SELECT stream, kind, key, body FROM outbox WHERE stream = 'telemetry' AND key = ? "
            "ORDER BY seq",
            ("deli-1",),
        )
        return [(r[0], r[1], r[2], json.loads(unpack(r[3]))) for r in rows]

    # a reading waits up to 5 s to share a commit (devices.SCALE_LINGER_S)
    await wait_for(lambda: _any(saved), timeout=15, what="the reading saved")
    got = await saved()
    assert got == [
        ("telemetry", "scale.reading", "deli-1", {"scale": "deli-1", "grams": 512, "stable": True})
    ]
    assert lane_of(got[0][0]) == TELEMETRY
    assert devices.readings_dropped == 1  # 530: too soon


# ---------------------------------------------------------------- every stream reaches the cloud


async def test_every_stream_the_hub_writes_reaches_the_cloud(
    tmp_path: Path, hub: RunningHub, receiver: Receiver
) -> None:
    await place_orders(hub, 3)
    await hub.services.calls.open("T1", "water", "test")
    await hub.services.catalog.set_open("T2", True, None)
    await hub.services.devices.weight("deli-1", 750, True)

    async def printed(tx: Tx) -> None:  # what the print queue writes (no printer here)
        tx.emit(PrintQueued(job=JobInfo("job-1", "queued")))

    await hub.services.store.write(printed)
    streams = {r[0] for r in await hub.services.store.read_all("SELECT stream FROM outbox")}
    assert {"orders", "tickets", "calls", "tables", "print", "telemetry"} <= streams
    cfg = bridge_config(tmp_path, hub_db=hub.services.store.path, endpoint=receiver.url)
    stop = asyncio.Event()
    bridge = asyncio.create_task(run_bridge(cfg, stop, rng=random.Random(5)))
    try:
        await wait_for(lambda: caught_up(receiver, hub), timeout=15, what="the cloud")
    finally:
        stop.set()
        await bridge
    await assert_exactly_once(receiver, hub.services.store.path)


def test_the_reference_cloud_accepts_every_stream_the_hub_writes() -> None:
    """A new stream in the hub without the cloud knowing it would park every batch: the hub
    writes only events of its catalogue, and the cloud accepts the catalogue's streams."""
    written = {cls.stream for cls in events.classes()}
    assert {"orders", "tickets", "calls", "print", "tables", "telemetry"} <= written
    assert written == accepted_streams()
    assert "loyalty" not in accepted_streams()


async def test_the_same_weight_after_an_empty_scale_is_a_new_reading(lone_hub: RunningHub) -> None:
    now = [0]
    devices = Devices(lone_hub.services.store, now_ms=lambda: now[0], scale_every_s=10)
    assert await devices.weight("deli-1", 400, True)
    now[0] = 20_000
    assert not await devices.weight("deli-1", 400, True)  # still on the scale
    assert not await devices.weight("deli-1", 0, True)  # taken off
    assert await devices.weight("deli-1", 400, True)  # the next portion
    now[0] = 25_000
    assert not await devices.weight("deli-1", 410, True)  # within 10 s: dropped
    assert not await devices.weight("deli-1", 410, False)  # unstable: never
    now[0] = 30_000
    assert await devices.weight("deli-1", 410, True)
    assert (devices.readings_recorded, devices.readings_dropped) == (3, 1)

    async def saved() -> list[int]:  # each waits up to 5 s to share a commit
        rows = await lone_hub.services.store.read_all(
            "SELECT body FROM outbox WHERE stream = 'telemetry' ORDER BY seq"
        )
        return [json.loads(unpack(r[0]))["grams"] for r in rows]

    await wait_for(lambda: _three(saved), timeout=15, what="the three readings saved")
    assert await saved() == [400, 400, 410]


async def _three(rows: Any) -> bool:
    return len(await rows()) >= 3


async def _any(rows: Any) -> bool:
    return bool(await rows())
