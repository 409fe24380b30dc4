"""A store's closed business leaves the hub once it is older than `keep_days` and the cloud
has it, and only then: orders placed, bumped and closed over real HTTP, the cloud bridge's
state written as the bridge writes it, the pruner run with its clock moved on."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import aiohttp

from cloud_bridge.cursor import BridgeState
from hub.app import RunningHub
from hub.consumers.history_prune import DAY_MS, HistoryPruner
from hub.domain.ports import SystemClock
from hub.services import staff
from hub.store.db import Tx
from plumbing.clock import iso_from_ms
from plumbing.outbox import LANES
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


async def test_closed_checks_the_cloud_has_go_after_keep_days_and_the_rest_stays(
    lone_hub: RunningHub, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    hub = lone_hub
    room = await room_of(hub, http)
    db = hub.services.store.path
    gone_orders = [await room.order("T1", "hist-0001"), await room.order("T2", "hist-0002")]
    assert await room.bump_all("T1") == 1
    assert await room.bump_all("T2") == 1
    await room.close("T1")
    await room.close("T2")
    still_cooking = await room.order("T4", "hist-0004")  # closed, its ticket still on screens
    await room.close("T4")
    open_check = await room.order("T3", "hist-0003")  # the party is still seated
    before = counts(db)
    state_db = tmp_path / "bridge.db"
    await cloud_has(state_db, hub.services.store.committed_seq)

    # within keep_days nothing goes, cloud or not
    assert (
        await HistoryPruner(hub.services.store, state_db, now_ms=CLOCK.now_ms).prune_once()
    ).rows == 0
    assert counts(db) == before

    pruner = HistoryPruner(hub.services.store, state_db, now_ms=later(91), chunk_checks=1)
    result = await pruner.prune_once()
    assert (result.checks, result.orders, result.tickets) == (2, 2, 2)
    assert result.kept_open == 1
    assert result.writes >= 3  # one check per write, and the rest in writes of their own
    after = counts(db)
    assert after["checks"] == before["checks"] - 2
    assert after["orders"] == before["orders"] - 2
    assert after["tickets"] == before["tickets"] - 2
    for table, oid in zip(("T1", "T2"), gone_orders, strict=True):
        assert await room.diner_order(table, oid) == 404
    assert await room.diner_order("T3", open_check) == 200
    assert await room.diner_order("T4", still_cooking) == 200

    # the store is whole and the hub goes on: the same tables order again
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    assert await room.order("T1", "hist-0005") > max(gone_orders)
    assert (await pruner.prune_once()).checks == 0  # a second round finds nothing more
    told = pruner.health["history"]
    assert told["deleted_rows"] == result.rows
    assert told["before"] is not None
    assert told["kept_because"] is None
    assert told["last_round_ms"] is not None


async def test_nothing_the_cloud_lacks_goes_and_without_a_cloud_the_business_stays(
    lone_hub: RunningHub, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    hub = lone_hub
    room = await room_of(hub, http)
    db = hub.services.store.path
    first = await room.order("T1", "hist-0101")
    await room.bump_all("T1")
    await room.close("T1")
    acked = hub.services.store.committed_seq  # the cloud has T1's check, closing and all
    second = await room.order("T2", "hist-0102")
    await room.bump_all("T2")
    await room.close("T2")
    before = counts(db)

    # no bridge on the box: the store is the only copy
    alone = HistoryPruner(hub.services.store, None, now_ms=later(400))
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
    assert (
        await HistoryPruner(hub.services.store, broken, now_ms=later(400)).prune_once()
    ).checks == 0

    # the cloud is behind: the horizon stops at its first missing event, T2's order
    state_db = tmp_path / "bridge.db"
    await cloud_has(state_db, acked)
    behind = HistoryPruner(hub.services.store, state_db, now_ms=later(400))
    horizon = await behind.horizon()
    assert horizon is not None
    assert "seq" in horizon.why
    result = await behind.prune_once()
    assert (result.checks, result.orders) == (1, 1)
    assert await room.diner_order("T1", first) == 404
    assert await room.diner_order("T2", second) == 200

    # once the cloud has the rest, T2's check goes too
    await cloud_has(state_db, hub.services.store.committed_seq)
    assert (await behind.prune_once()).checks == 1
    assert await room.diner_order("T2", second) == 404


async def test_keep_days_zero_keeps_the_business_and_still_forgets_old_action_ids(
    lone_hub: RunningHub, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    hub = lone_hub
    room = await room_of(hub, http)
    db = hub.services.store.path
    await room.order("T1", "hist-0201")
    await room.bump_all("T1")
    # a station's recall names no ticket: its action id is kept store-wide
    status, body = await room.call("kitchen", "POST", "/api/v1/stations/cold/recall", {"id": "r-1"})
    assert status == 200, body
    await room.bump_all("T1")
    await room.close("T1")
    state_db = tmp_path / "bridge.db"
    await cloud_has(state_db, hub.services.store.committed_seq)
    before = counts(db)
    forever = HistoryPruner(hub.services.store, state_db, now_ms=later(3650), keep_days=0)
    assert before["actions"] == 1
    result = await forever.prune_once()
    assert (result.checks, result.orders) == (0, 0)
    assert counts(db)["orders"] == before["orders"]
    assert result.actions == before["actions"]
    assert counts(db)["actions"] == 0


async def test_printed_jobs_go_after_keep_days_and_a_job_still_to_print_stays(
    lone_hub: RunningHub, tmp_path: Path
) -> None:
    hub = lone_hub
    store = hub.services.store
    now = CLOCK.now_ms()
    old, recent = iso_from_ms(now - 100 * DAY_MS), iso_from_ms(now - 10 * DAY_MS)
    jobs = [(f"job-{n}", "printed", old) for n in range(30)]
    jobs += [("job-stuck", "queued", old), ("job-new", "printed", recent)]

    async def fill(tx: Tx) -> None:
        await tx.executemany(
            "INSERT INTO print_jobs(id, printer, origin, kind, copy, doc, state, "
            "created_at, updated_at) VALUES (?, 'grill-1', 'grill-1', 'kitchen', 'ORIGINAL', "
            "'{}', ?, ?, ?)",
            [(j, state, at, at) for j, state, at in jobs],
        )

    await store.write(fill)
    state_db = tmp_path / "bridge.db"
    await cloud_has(state_db, store.committed_seq)
    pruner = HistoryPruner(store, state_db, now_ms=CLOCK.now_ms, chunk_rows=7)
    result = await pruner.prune_once()
    assert result.print_jobs == 30
    left = {r[0] for r in await store.read_all("SELECT id FROM print_jobs")}
    assert left == {"job-stuck", "job-new"}
