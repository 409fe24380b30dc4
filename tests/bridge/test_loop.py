"""The upload loop against the hub's real store (written by the hub's `Store`, read by the
bridge read-only) and a fake cloud, with a fake clock and instant sleeps: outages and
backoff, acks, partial acks, parking, splitting, priority, shedding and restarts."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import random
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from cloud_bridge.config import BridgeConfig
from cloud_bridge.cursor import (
    PRUNE_ACKED_SQL,
    PRUNE_SHED_SQL,
    BridgeState,
    acked_upto,
    prune_plan,
    read_state,
)
from cloud_bridge.errors import BatchRejected, BatchTooLarge, CloudUnavailable, HubDbReplaced
from cloud_bridge.tail import PRIORITY, TELEMETRY, OutboxTail
from cloud_bridge.uploader import Ack, Batch, Uploader
from hub.store.db import Store, Tx
from plumbing.clock import iso_from_ms
from tests.bridge.conftest import bridge_config, wait_for
from tests.samples import thing


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def now_ms(self) -> int:
        return 1_795_370_591_000 + int(self.t * 1000)

    def now_iso(self) -> str:
        return iso_from_ms(self.now_ms())

    def monotonic_ms(self) -> int:
        return int(self.t * 1000)


Answer = Ack | Exception | Callable[[Batch], Ack | Exception] | None


class FakeCloud:
    """Test verbs: `fail_next(exc, times)`, `.received` (every request), `.stored` (by seq)."""

    def __init__(self) -> None:
        self.script: list[Answer] = []
        self.received: list[dict[str, Any]] = []
        self.keys: list[str] = []
        self.stored: dict[int, dict[str, Any]] = {}
        self.shed: list[dict[str, Any]] = []

    def fail_next(self, exc: Exception, times: int = 1) -> None:
        self.script += [exc] * times

    async def post(self, batch: Batch) -> Ack:
        doc = json.loads(gzip.decompress(batch.gzipped()))
        self.received.append(doc)
        self.keys.append(batch.key)
        step = self.script.pop(0) if self.script else None
        if callable(step):
            step = step(batch)
        if isinstance(step, Exception):
            raise step
        for e in doc["events"]:
            self.stored.setdefault(e["seq"], e)
        self.shed += doc["shed"]
        return step if isinstance(step, Ack) else Ack(batch.seqs, None)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(
        tmp_path / "hub" / "tablehub.db", clock=lambda: "2026-11-22T18:03:11.123Z"
    ) as s:
        yield s


async def emit(store: Store, *events: tuple[str, int]) -> None:
    """emit(store, ("orders", 3), ("telemetry", 5)): that many events of each, in order."""

    async def unit(tx: Tx) -> None:
        for stream, n in events:
            for i in range(n):
                tx.emit(thing(stream, i, "p" * 100))

    await store.write(unit)


class Rig:
    def __init__(self, config: BridgeConfig, tail: OutboxTail, state: BridgeState) -> None:
        self.config, self.tail, self.state = config, tail, state
        self.cloud = FakeCloud()
        self.clock = FakeClock()
        self.sleeps: list[float] = []
        self.up = self.uploader()

    async def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.clock.t += s
        await asyncio.sleep(0)

    def uploader(self) -> Uploader:
        return Uploader(
            self.config,
            self.tail,
            self.state,
            self.cloud,
            clock=self.clock,
            rng=random.Random(3),
            sleep=self.sleep,
        )

    async def drain(self, steps: int = 50) -> None:
        for _ in range(steps):
            await self.up.step()
            if not self.cloud.script and await self.pending() == 0:
                return

    async def meter_is_true(self) -> None:
        """The running count of the backlog equals a count made from scratch."""
        self.up._next_budget_check = 0
        await self.up.check_budget()
        snap = await self.tail.read(self.state.cursors, 10**6, exclude=self.state.parked_seqs)
        rows = [r for lane in snap.lanes.values() for r in lane.rows]
        meter = self.up.meter
        assert meter is not None
        assert (meter.total_events, meter.total_bytes) == (len(rows), sum(r.nbytes for r in rows))

    async def pending(self) -> int:
        snap = await self.tail.read(self.state.cursors, 10**6, exclude=self.state.parked_seqs)
        return sum(len(lane.rows) for lane in snap.lanes.values())


@contextlib.asynccontextmanager
async def rig_of(tmp_path: Path, store: Store, **settings: Any) -> AsyncIterator[Rig]:
    """A rig on `store` whose bridge has `settings` (its endpoint is never dialled: the
    rig's cloud is the fake)."""
    cfg = bridge_config(
        tmp_path,
        hub_db=store.path,
        endpoint="http://127.0.0.1:9",
        budget_check_seconds=5,
        **settings,
    )
    async with (
        OutboxTail(store.path) as tail,
        BridgeState(cfg.state_db, store_id="demo", now_ms=lambda: 1_795_370_591_000) as state,
    ):
        yield Rig(cfg, tail, state)


@pytest.fixture
async def rig(tmp_path: Path, store: Store) -> AsyncIterator[Rig]:
    settings = {"batch_max_events": 10, "backoff_base_ms": 1000, "backoff_cap_ms": 60000}
    async with rig_of(tmp_path, store, **settings) as r:
        yield r


async def test_everything_goes_once_each_lane_in_seq_order_and_the_cursors_follow_acks(
    rig: Rig, store: Store
) -> None:
    await emit(store, ("orders", 25), ("telemetry", 5))

    await rig.drain()

    assert sorted(rig.cloud.stored) == list(range(1, 31))
    sent = [(e["stream"], e["seq"]) for doc in rig.cloud.received for e in doc["events"]]
    assert [q for s, q in sent if s == "orders"] == list(range(1, 26))
    assert [q for s, q in sent if s == "telemetry"] == list(range(26, 31))
    # orders first: telemetry has a tenth of each batch while they are behind
    assert [s for s, _ in sent[:10]] == ["orders"] * 9 + ["telemetry"]
    assert rig.state.cursors == {PRIORITY: 30, TELEMETRY: 30}
    assert acked_upto(rig.state.path) == 30
    await rig.meter_is_true()


async def test_orders_go_before_a_telemetry_backlog(rig: Rig, store: Store) -> None:
    await emit(store, ("telemetry", 30))
    await emit(store, ("orders", 12))

    await rig.drain()

    first = [e["stream"] for e in rig.cloud.received[0]["events"]]
    second = [e["stream"] for e in rig.cloud.received[1]["events"]]
    # nine tenths of the batch are orders while they are behind, the oldest telemetry the rest
    assert sorted(first) == ["orders"] * 9 + ["telemetry"]
    # the last three orders, and telemetry fills the room left (in seq order within the batch)
    assert sorted(second) == ["orders"] * 3 + ["telemetry"] * 7
    assert len(rig.cloud.stored) == 42


async def test_a_stream_of_orders_that_fills_every_batch_does_not_keep_telemetry_out(
    rig: Rig, store: Store
) -> None:
    """Orders that come faster than a batch carries them (here 12 before each batch of 10; a
    live 100 orders/s against 256 KB batches in a store) keep the priority lane behind for as
    long as they come. Telemetry still gets its tenth of each batch, oldest first."""
    await emit(store, ("telemetry", 3))
    for _ in range(4):
        await emit(store, ("orders", 12))
        await rig.up.step()

    batches = [[e["stream"] for e in doc["events"]] for doc in rig.cloud.received]
    assert len(batches) == 4
    # a tenth each while telemetry waits; once it has none waiting, orders have it all
    assert [(b.count("orders"), b.count("telemetry")) for b in batches] == [(9, 1)] * 3 + [(10, 0)]
    telemetry = [
        e["seq"] for d in rig.cloud.received for e in d["events"] if e["stream"] == "telemetry"
    ]
    assert telemetry == [1, 2, 3]
    assert rig.state.cursors[TELEMETRY] >= 3


async def test_a_telemetry_event_too_large_for_the_cloud_is_parked_not_carried_in_every_batch(
    rig: Rig, store: Store
) -> None:
    """It fits the bridge's tenth of a batch but not the cloud's body limit: the batch it rides
    in is refused as too large; it then goes alone, is refused alone and parked, and orders
    flow on at the full batch size."""
    await emit(store, ("telemetry", 1))

    def too_large(batch: Batch) -> Ack | Exception:
        if 1 in batch.seqs:
            return BatchTooLarge("body over the cloud's limit", status=413, error="too_large")
        return Ack(batch.seqs, None)

    rig.cloud.script += [too_large] * 40
    for _ in range(6):
        await emit(store, ("orders", 12))
        await rig.up.step()

    assert 1 not in rig.cloud.stored
    assert rig.state.parked_seqs == {1}
    assert [len(d["events"]) for d in rig.cloud.received[:2]] == [10, 1]  # refused, then alone
    orders = sorted(q for q in rig.cloud.stored)
    assert orders == list(range(2, 2 + len(orders)))  # in order, none lost
    assert len(orders) >= 10 * 3  # back at full batches once it is parked


async def test_an_outage_backs_off_with_jitter_resends_the_same_batch_then_recovers(
    rig: Rig, store: Store
) -> None:
    await emit(store, ("orders", 3))
    rig.cloud.fail_next(CloudUnavailable("connection refused"), times=8)

    await rig.drain()

    backoffs = [s for s in rig.sleeps if s >= 1.0]
    assert len(backoffs) == 8
    assert all(1.0 <= s <= 60.0 for s in backoffs)
    assert len(set(rig.cloud.keys)) == 1  # the very same batch, same Idempotency-Key
    assert sorted(rig.cloud.stored) == [1, 2, 3]
    st = read_state(rig.state.path)
    assert st["last_error"] == "connection refused"
    assert st["last_success_at"] is not None
    assert st["cloud_online"] is True


async def test_the_cursor_does_not_move_without_an_ack(rig: Rig, store: Store) -> None:
    await emit(store, ("orders", 3))
    seen: list[int] = []

    def fail(batch: Batch) -> Exception:
        seen.append(rig.state.cursors[PRIORITY])
        return CloudUnavailable("timeout")

    def crash(batch: Batch) -> Exception:
        return RuntimeError("the process dies here")

    rig.cloud.script += [fail, fail, crash]
    with pytest.raises(RuntimeError):
        await rig.up.step()
    assert seen == [0, 0]
    assert rig.state.cursors[PRIORITY] == 0

    # a restarted bridge (new uploader, same state) sends the same batch again
    rig.up = rig.uploader()
    await rig.drain()
    assert rig.state.cursors[PRIORITY] == 3
    assert set(rig.cloud.keys) == {"demo-1-3-3"}


async def test_a_partial_ack_resends_the_rest(rig: Rig, store: Store) -> None:
    await emit(store, ("orders", 5))
    rig.cloud.script.append(Ack((1, 2), 2))

    await rig.drain()

    assert [len(d["events"]) for d in rig.cloud.received] == [5, 3]
    assert rig.state.cursors[PRIORITY] == 5
    await rig.meter_is_true()


async def test_bad_events_are_parked_alerted_and_the_rest_flows(rig: Rig, store: Store) -> None:
    await emit(store, ("orders", 6))
    rig.cloud.fail_next(
        BatchRejected("unknown stream", status=422, error="invalid_events", bad_seqs=(3, 4))
    )

    await rig.drain()

    assert sorted(rig.cloud.stored) == [1, 2, 5, 6]
    st = read_state(rig.state.path)
    assert [(p["first_seq"], p["last_seq"], p["count"]) for p in st["parked"]] == [(3, 4, 2)]
    assert st["alerts"]
    assert "unknown stream" in st["alerts"][0]
    # the hub must keep the parked rows: acked_upto stops below them, the plan keeps them
    assert acked_upto(rig.state.path) == 2
    assert prune_plan(rig.state.path).keep == (3, 4)
    await rig.meter_is_true()

    # an operator fixed the cloud and releases them
    assert await rig.state.release() == 1
    await rig.drain()
    assert sorted(rig.cloud.stored) == [1, 2, 3, 4, 5, 6]
    assert read_state(rig.state.path)["parked"] == []
    assert acked_upto(rig.state.path) == 6


async def test_a_bad_request_without_named_events_is_retried_then_parked_whole(
    rig: Rig, store: Store
) -> None:
    await emit(store, ("orders", 2))
    rig.cloud.fail_next(BatchRejected("bad gzip", status=400, error="bad_encoding"), times=3)
    await emit(store, ("orders", 1))

    await rig.drain()

    st = read_state(rig.state.path)
    assert len(rig.cloud.received) >= 3
    assert [p["count"] for p in st["parked"]] in ([2], [3])
    await rig.up.step()  # an idle round: the lane has only parked rows left
    assert rig.state.cursors[PRIORITY] == 3
    assert acked_upto(rig.state.path) == 0  # but the parked rows are kept


async def test_too_large_halves_the_batch(rig: Rig, store: Store) -> None:
    await emit(store, ("orders", 8))
    rig.cloud.fail_next(BatchTooLarge("too big", status=413, error="too_large"))

    await rig.drain()

    assert [len(d["events"]) for d in rig.cloud.received][:2] == [8, 4]
    assert sorted(rig.cloud.stored) == list(range(1, 9))


async def test_over_budget_the_oldest_telemetry_is_shed_counted_and_reported(
    tmp_path: Path, store: Store
) -> None:
    await emit(store, ("telemetry", 40))
    await emit(store, ("orders", 10))
    await emit(store, ("telemetry", 10))
    async with rig_of(tmp_path, store, batch_max_events=100, backlog_budget_bytes=4000) as r:
        r.cloud.fail_next(CloudUnavailable("down"), times=2)

        await r.drain()

        shed = [s for n in r.cloud.shed for lo, hi in n["ranges"] for s in range(lo, hi + 1)]
        kept = sorted(s for s, e in r.cloud.stored.items() if e["stream"] == "telemetry")
        orders = sorted(s for s, e in r.cloud.stored.items() if e["stream"] == "orders")
        assert orders == list(range(41, 51))  # never shed
        assert shed
        assert max(shed) < min(kept)
        assert sorted(shed + kept) == [*range(1, 41), *range(51, 61)]
        assert sum(n["count"] for n in r.cloud.shed) == len(shed)
        st = read_state(r.state.path)
        assert st["shed"]["events"] == len(shed)
        assert st["shed"]["unreported_notices"] == 0
        plan = prune_plan(r.state.path)
        assert plan.shed == ((1, max(shed)),)
        await r.meter_is_true()


async def test_the_prune_sql_deletes_acked_and_shed_rows_and_keeps_parked_ones(
    rig: Rig, store: Store
) -> None:
    await emit(store, ("orders", 6), ("telemetry", 4))
    rig.cloud.fail_next(BatchRejected("bad", status=422, error="invalid_events", bad_seqs=(2,)))
    await rig.drain()
    await rig.state.shed([7, 8], 10)  # pretend: shed two already-sent seqs, only to test SQL
    plan = prune_plan(rig.state.path)

    async def prune(tx: Tx) -> None:
        # the hub's Tx.execute is typed for "?" parameters; sqlite3 takes named ones too
        acked: Any = {"upto": plan.upto, "cutoff": "9999", "keep": plan.keep_json}
        await tx.execute(PRUNE_ACKED_SQL, acked)
        for lo, hi in plan.shed:
            shed: Any = {"lo": lo, "hi": hi}
            await tx.execute(PRUNE_SHED_SQL, shed)

    async def cursor(tx: Tx) -> None:  # the hub's own MQTT relay has delivered everything
        await tx.execute("INSERT INTO cursors(name, seq) VALUES ('mqtt', 10)")

    await store.write(cursor)
    await store.write(prune)

    left = [r[0] for r in sqlite3.connect(store.path).execute("SELECT seq FROM outbox")]
    assert left == [2]


async def test_a_replaced_hub_database_is_an_alert_not_a_silent_stall(
    rig: Rig, store: Store
) -> None:
    await emit(store, ("orders", 3))
    await rig.drain()
    await rig.state.move_cursors({PRIORITY: 500})

    with pytest.raises(HubDbReplaced, match="replaced"):
        await rig.up.step()


async def test_a_state_db_of_another_store_is_refused(rig: Rig) -> None:
    from cloud_bridge.errors import StateError

    with pytest.raises(StateError, match="belongs to store 'demo'"):
        async with BridgeState(rig.state.path, store_id="other", now_ms=lambda: 0):
            pass


async def test_the_backlog_meter_follows_new_rows_acks_parks_and_sheds(
    rig: Rig, store: Store
) -> None:
    await emit(store, ("telemetry", 8), ("orders", 4))
    rig.up._next_budget_check = 0
    await rig.up.check_budget()
    await rig.meter_is_true()
    assert rig.up.meter is not None
    assert rig.up.meter.events == {PRIORITY: 4, TELEMETRY: 8}

    rig.cloud.script.append(Ack((9, 10), None))  # orders first; only two of them acked
    await rig.up.step()
    await emit(store, ("orders", 2))
    await rig.meter_is_true()

    rig.cloud.fail_next(BatchRejected("bad", status=422, error="invalid_events", bad_seqs=(11,)))
    await rig.drain()
    await rig.meter_is_true()
    assert rig.up.meter.total_events == 0
    assert read_state(rig.state.path)["backlog"]["events"] == 0


async def test_a_bridge_started_before_the_hub_waits_for_its_store(tmp_path: Path) -> None:
    db = tmp_path / "hub" / "tablehub.db"
    cfg = bridge_config(tmp_path, hub_db=db, endpoint="http://127.0.0.1:9")
    cloud = FakeCloud()
    async with BridgeState(cfg.state_db, store_id="demo", now_ms=lambda: 0) as state:
        tail = OutboxTail(db)
        up = Uploader(cfg, tail, state, cloud, rng=random.Random(1))
        stop = asyncio.Event()
        task = asyncio.create_task(up.run(stop))
        try:

            async def alerted() -> bool:
                return any("does not exist" in a for a in read_state(cfg.state_db)["alerts"])

            await wait_for(alerted, timeout=5, what="the missing store to be alerted")
            async with Store(db, clock=lambda: "2026-11-22T18:03:11.123Z") as store:
                await emit(store, ("orders", 3))

                async def arrived() -> bool:
                    return sorted(cloud.stored) == [1, 2, 3]

                await wait_for(arrived, timeout=5, what="the events")
        finally:
            stop.set()
            await task
            await tail.close()
    assert read_state(cfg.state_db)["alerts"] == []


def _data_version(conn: sqlite3.Connection) -> int:
    """Moves when another connection commits a change to the file (SQLite's data_version)."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


async def test_an_idle_bridge_does_not_rewrite_its_state_every_budget_check(
    rig: Rig, store: Store
) -> None:
    # the budget check runs every `budget_check_seconds` all day; an idle store's bridge
    # wrote the same backlog numbers (with a new time) each time: a write every 10 s
    await emit(store, ("orders", 3))
    await rig.drain()
    rig.up._next_budget_check = 0
    await rig.up.check_budget()
    watcher = sqlite3.connect(rig.state.path)
    try:
        before, at = _data_version(watcher), read_state(rig.state.path)["backlog"]["at"]
        for _ in range(20):  # 20 checks over 100 s of the rig's clock, nothing new
            rig.clock.t += rig.config.budget_check_seconds
            await rig.up.check_budget()
        assert _data_version(watcher) == before, "the state was written with nothing new"
        assert read_state(rig.state.path)["backlog"]["at"] == at
        # new events: the next check writes the new count
        await emit(store, ("telemetry", 2))
        rig.clock.t += rig.config.budget_check_seconds
        await rig.up.check_budget()
        assert _data_version(watcher) != before
        backlog = read_state(rig.state.path)["backlog"]
        assert backlog["events"] == 2
        assert backlog["at"] != at
        # and with nothing new again, its time is brought up to date every ten minutes
        moved = _data_version(watcher)
        rig.clock.t += 600
        await rig.up.check_budget()
        assert _data_version(watcher) != moved
    finally:
        watcher.close()


@pytest.mark.parametrize("seed", range(12))
async def test_whatever_the_cloud_answers_nothing_is_lost_and_each_lane_arrives_in_order(
    tmp_path: Path, seed: int
) -> None:
    """Events come while the cloud answers at random: outages, partial acks, a bad event named,
    batches too large; batches of 1 to 30 events and 1 to 64 KB, so that telemetry's share is
    tried at every size. Then the cloud is calm. Every event is in the cloud or parked, each
    lane's events first arrived in seq order, and nothing is left to send."""
    rnd = random.Random(seed)
    settings = {
        "batch_max_events": rnd.choice([1, 2, 5, 10, 30]),
        "batch_max_bytes": rnd.choice([1024, 4096, 65536]),
        "backoff_base_ms": 1000,
        "backoff_cap_ms": 60000,
    }

    def answer(batch: Batch) -> Ack | Exception:
        r = rnd.random()
        if r < 0.1:
            return CloudUnavailable("timeout")
        if r < 0.2:
            return Ack(tuple(s for s in batch.seqs if rnd.random() < 0.5), None)
        if r < 0.25 and batch.seqs:
            bad = (rnd.choice(batch.seqs),)
            return BatchRejected("bad", status=422, error="invalid_events", bad_seqs=bad)
        if r < 0.3:
            return BatchTooLarge("too big", status=413, error="too_large")
        return Ack(batch.seqs, None)

    async with (
        Store(tmp_path / "hub" / "tablehub.db", clock=lambda: "2026-11-22T18:03:11.123Z") as store,
        rig_of(tmp_path, store, **settings) as rig,
    ):
        emitted = 0
        for _ in range(40):
            if rnd.random() < 0.6:
                orders, telemetry = rnd.randint(0, 15), rnd.randint(0, 5)
                await emit(store, ("orders", orders), ("telemetry", telemetry))
                emitted += orders + telemetry
            rig.cloud.script.append(answer)
            await rig.up.step()
        rig.cloud.script.clear()
        await rig.drain(steps=2000)

        assert await rig.pending() == 0
        assert set(rig.cloud.stored) | rig.state.parked_seqs == set(range(1, emitted + 1))
        first: dict[str, list[int]] = {"orders": [], "telemetry": []}
        seen: set[int] = set()
        for doc in rig.cloud.received:
            for e in doc["events"]:
                if e["seq"] not in seen:
                    seen.add(e["seq"])
                    first[e["stream"]].append(e["seq"])
        assert all(q == sorted(q) for q in first.values()), first
