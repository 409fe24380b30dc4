"""A store's closed business leaves the hub once it is older than `keep_days` and the cloud
has it, and only then: orders placed, bumped, served and closed over real HTTP on a hub whose
clock the test moves on by months, the cloud bridge's state written as the bridge writes it."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cloud_bridge.cursor import BridgeState
from hub.app import RunningHub, running_hub
from hub.config import HubConfig
from hub.consumers.history_prune import DAY_MS, HistoryPruner
from hub.domain.ports import SystemClock
from hub.services import staff
from hub.store.db import Tx
from plumbing.clock import iso_from_ms
from plumbing.outbox import LANES
from tests.clocks import SteppingClock
from tests.conftest import order_body, table_token

CLOCK = SystemClock()
EDAMAME = {"item": "sea-salt-edamame", "qty": 2}


class Room:
    def __init__(self, hub: RunningHub, http: aiohttp.ClientSession, tokens: dict[str, str]):
        self.hub, self.http, self.tokens = hub, http, tokens

    async def call(self, role: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"}
        async with self.http.request(method, self.hub.url + path, json=body, headers=headers) as r:
            return r.status, await r.json()

    async def order(self, table: str, key: str) -> int:
        body = order_body(table_token(self.hub, table), key, [EDAMAME])
        async with self.http.post(self.hub.url + "/api/v1/orders", json=body) as r:
            assert r.status == 201, await r.text()
            return int((await r.json())["order_id"])

    async def diner_order(self, table: str, order_id: int) -> int:
        params = {"table": table_token(self.hub, table)}
        url = f"{self.hub.url}/api/v1/orders/{order_id}"
        async with self.http.get(url, params=params) as r:
            return r.status

    async def bump_all(self, table: str) -> int:
        status, found = await self.call("kitchen", "GET", "/api/v1/stations/expo/tickets")
        assert status == 200, found
        mine = [t for t in found["tickets"] if t["table"]["id"] == table]
        for t in mine:
            status, body = await self.call("kitchen", "POST", f"/api/v1/tickets/{t['id']}/bump", {})
            assert status == 200, body
        return len(mine)

    async def serve(self, order_id: int) -> None:
        status, body = await self.call("kitchen", "POST", f"/api/v1/orders/{order_id}/serve", {})
        assert status == 200, body

    async def guest_call(self, table: str) -> None:
        """A diner's call: an event of today that is no check's."""
        body = {"table": table_token(self.hub, table), "kind": "water"}
        async with self.http.post(self.hub.url + "/api/v1/calls", json=body) as r:
            assert r.status in (200, 201), await r.text()

    async def done(self, table: str, key: str) -> int:
        """A party's whole visit: an order, cooked, served, the check closed."""
        oid = await self.order(table, key)
        assert await self.bump_all(table) == 1
        await self.serve(oid)
        await self.close(table)
        return oid

    async def close(self, table: str) -> None:
        status, body = await self.call("floor", "POST", f"/api/v1/tables/{table}/close")
        assert status == 200, body
        assert body["open"] is False


async def room_of(hub: RunningHub, http: aiohttp.ClientSession) -> Room:
    store = hub.services.store
    tokens = {r: await staff.issue(store, r, f"test {r}") for r in ("kitchen", "floor")}
    return Room(hub, http, tokens)


async def cloud_has(state_db: Path, upto: int) -> None:
    """The bridge's own record that the cloud acknowledged every event up to `upto`."""
    async with BridgeState(state_db, store_id="demo", now_ms=CLOCK.now_ms) as st:
        await st.commit_ack(dict.fromkeys(LANES, upto), events=upto)


def counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {
            t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
            for t in ("checks", "orders", "tickets", "actions")
        }
    finally:
        conn.close()


def later(days: float) -> Any:
    return lambda: CLOCK.now_ms() + int(days * DAY_MS)


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()


@pytest.fixture
async def aged_hub(
    hub_config: HubConfig, menu_doc: dict[str, Any], clock: SteppingClock
) -> AsyncIterator[RunningHub]:
    """A hub without MQTT whose wall clock the test moves (months, between visits)."""
    async with running_hub(replace(hub_config, broker=None), seed_menu=menu_doc, clock=clock) as h:
        yield h


async def test_closed_checks_the_cloud_has_go_after_keep_days_and_the_rest_stays(
    aged_hub: RunningHub, clock: SteppingClock, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    hub = aged_hub
    room = await room_of(hub, http)
    store = hub.services.store
    db = store.path
    gone = [await room.done("T1", "hist-0001"), await room.done("T2", "hist-0002")]
    cooking = await room.order("T4", "hist-0004")  # closed, its ticket still on the screens
    await room.close("T4")
    unserved = await room.order("T5", "hist-0005")  # cooked, closed, never served: on expo
    await room.bump_all("T5")
    await room.close("T5")
    state_db = tmp_path / "bridge.db"
    await cloud_has(state_db, store.committed_seq)
    before = counts(db)
    # a clock set ten years ahead finds nothing old: the store's newest event is today
    ahead = HistoryPruner(store, state_db, now_ms=later(3650))
    assert (await ahead.prune_once()).checks == 0

    clock.advance(36 * DAY_MS)  # five weeks and a day later a party sits down at T3
    seated = await room.order("T3", "hist-0003")
    await cloud_has(state_db, store.committed_seq)
    # with a quarter kept nothing goes yet
    quarter = HistoryPruner(store, state_db, now_ms=clock.now_ms, keep_days=90)
    assert (await quarter.prune_once()).checks == 0
    assert counts(db)["orders"] == before["orders"] + 1

    pruner = HistoryPruner(store, state_db, now_ms=clock.now_ms, chunk_checks=1)
    result = await pruner.prune_once()
    assert (result.checks, result.orders, result.tickets) == (2, 2, 2)
    assert result.kept_open == 2  # T4's open ticket, T5's order not served
    assert result.writes >= 4  # one check per write, and the rest in writes of their own
    after = counts(db)
    assert after["checks"] == before["checks"] + 1 - 2
    assert after["orders"] == before["orders"] + 1 - 2
    assert after["tickets"] == before["tickets"] + 1 - 2
    for table, oid in zip(("T1", "T2"), gone, strict=True):
        assert await room.diner_order(table, oid) == 404
    for table, oid in (("T3", seated), ("T4", cooking), ("T5", unserved)):
        assert await room.diner_order(table, oid) == 200, table

    # the store is whole and the hub goes on: the same tables order again
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    assert await room.order("T1", "hist-0006") > seated
    assert (await pruner.prune_once()).checks == 0  # a second round finds nothing more
    told = pruner.health["history"]
    assert told["deleted_rows"] == result.rows
    assert told["before"] is not None
    assert told["kept_because"] is None
    assert told["last_round_ms"] == clock.now_ms()


async def test_the_newest_check_stays_so_no_id_is_ever_given_twice(
    aged_hub: RunningHub, clock: SteppingClock, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """SQLite numbers a new row from the highest id there is: were the newest check, order
    or ticket deleted, a new one would get its id again, and the cloud, which keys them by
    id, would take it for the old one."""
    hub = aged_hub
    room = await room_of(hub, http)
    store = hub.services.store
    first = await room.done("T1", "hist-0011")
    clock.advance(60 * DAY_MS)
    await room.guest_call("T2")  # the store's newest event: today, no check's
    state_db = tmp_path / "bridge.db"
    await cloud_has(state_db, store.committed_seq)
    result = await HistoryPruner(store, state_db, now_ms=clock.now_ms).prune_once()
    assert (result.checks, result.orders, result.kept_open) == (0, 0, 0)  # no warning: it is
    assert await room.diner_order("T1", first) == 200  # the rule, not a check still live
    assert await room.order("T1", "hist-0012") == first + 1


async def test_nothing_the_cloud_lacks_goes_and_without_a_cloud_the_business_stays(
    aged_hub: RunningHub, clock: SteppingClock, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    hub = aged_hub
    room = await room_of(hub, http)
    store = hub.services.store
    db = store.path
    first = await room.done("T1", "hist-0101")
    acked = store.committed_seq  # the cloud has T1's check, closing and all
    clock.advance(60_000)
    second = await room.done("T2", "hist-0102")
    clock.advance(400 * DAY_MS)
    newest = await room.order("T3", "hist-0103")
    before = counts(db)

    # no bridge on the box: the store is the only copy
    alone = HistoryPruner(store, None, now_ms=clock.now_ms)
    assert await alone.horizon() is None
    result = await alone.prune_once()
    assert (result.checks, result.orders) == (0, 0)
    assert counts(db)["orders"] == before["orders"]
    assert "no cloud bridge" in alone.health["history"]["kept_because"]
    # the hub's own pruner says so on /healthz from its start: the fixture has no bridge
    async with http.get(f"{hub.url}/healthz") as r:
        history = (await r.json())["history"]
    assert history["keep_days"] == 35
    assert history["last_round_ms"] is None  # its first round is 15 minutes after the start

    # a bridge whose state cannot be read: the same
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database at all" * 100)
    assert (await HistoryPruner(store, broken, now_ms=clock.now_ms).prune_once()).checks == 0

    # the cloud is behind: the horizon stops at its first missing event, T2's order
    state_db = tmp_path / "bridge.db"
    await cloud_has(state_db, acked)
    behind = HistoryPruner(store, state_db, now_ms=clock.now_ms)
    horizon = await behind.horizon()
    assert horizon is not None
    assert "seq" in horizon.why
    result = await behind.prune_once()
    assert (result.checks, result.orders) == (1, 1)
    assert await room.diner_order("T1", first) == 404
    assert await room.diner_order("T2", second) == 200

    # once the cloud has the rest, T2's check goes too; T3's party is still seated
    await cloud_has(state_db, store.committed_seq)
    assert (await behind.prune_once()).checks == 1
    assert await room.diner_order("T2", second) == 404
    assert await room.diner_order("T3", newest) == 200


async def test_keep_days_zero_keeps_the_business_and_still_forgets_old_action_ids(
    aged_hub: RunningHub, clock: SteppingClock, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    hub = aged_hub
    room = await room_of(hub, http)
    store = hub.services.store
    db = store.path
    oid = await room.order("T1", "hist-0201")
    await room.bump_all("T1")
    # a station's recall names no ticket: its action id is kept store-wide
    status, body = await room.call("kitchen", "POST", "/api/v1/stations/cold/recall", {"id": "r-1"})
    assert status == 200, body
    await room.bump_all("T1")
    await room.serve(oid)
    await room.close("T1")
    clock.advance(8 * DAY_MS)
    await room.guest_call("T2")
    state_db = tmp_path / "bridge.db"
    await cloud_has(state_db, store.committed_seq)
    before = counts(db)
    assert before["actions"] == 1
    forever = HistoryPruner(store, state_db, now_ms=clock.now_ms, keep_days=0)
    result = await forever.prune_once()
    assert (result.checks, result.orders) == (0, 0)
    assert counts(db)["orders"] == before["orders"]
    assert result.actions == 1
    assert counts(db)["actions"] == 0


async def test_printed_jobs_go_after_keep_days_and_a_job_still_to_print_stays(
    lone_hub: RunningHub, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    hub = lone_hub
    store = hub.services.store
    room = await room_of(hub, http)
    await room.order("T1", "hist-0301")  # its ticket is on the screens: its chits stay
    ticket = await store.read_one("SELECT MAX(id) FROM tickets")
    assert ticket is not None
    now = CLOCK.now_ms()
    old, recent = iso_from_ms(now - 100 * DAY_MS), iso_from_ms(now - 10 * DAY_MS)
    # (a job printed recently first: a clock put right makes rowids and times disagree)
    jobs = [("job-new", "printed", recent, None)]
    jobs += [(f"job-{n}", "printed", old, None) for n in range(30)]
    jobs += [
        ("job-stuck", "queued", old, None),  # never printed: it is still to print
        ("job-of-a-live-ticket", "printed", old, int(ticket[0])),
        ("job-last", "printed", old, None),  # the highest rowid: new jobs number from it
    ]

    async def fill(tx: Tx) -> None:
        await tx.executemany(
            "INSERT INTO print_jobs(id, printer, origin, kind, copy, doc, state, ticket_id, "
            "created_at, updated_at) VALUES (?, 'grill-1', 'grill-1', 'kitchen', 'ORIGINAL', "
            "'{}', ?, ?, ?, ?)",
            [(j, state, tid, at, at) for j, state, at, tid in jobs],
        )

    await store.write(fill)
    state_db = tmp_path / "bridge.db"
    await cloud_has(state_db, store.committed_seq)
    pruner = HistoryPruner(store, state_db, now_ms=CLOCK.now_ms, chunk_rows=7)
    result = await pruner.prune_once()
    assert result.print_jobs == 30
    left = {r[0] for r in await store.read_all("SELECT id FROM print_jobs")}
    assert left == {"job-stuck", "job-of-a-live-ticket", "job-new", "job-last"}
