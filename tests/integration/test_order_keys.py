"""An order's idempotency key gives that order back to a retry for a day, wherever the order
went since: its check closed or moved to another table, the hub restarted. The keys are kept
in memory (no index of random keys in every order's commit), loaded from the store when the
first order comes, and each is checked against its order's row."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.app import RunningHub, running_hub
from hub.config import HubConfig
from hub.services import staff
from hub.services.ordering import RecentKeys
from hub.store import repos
from hub.store.db import Store, Tx
from tests.clocks import SteppingClock
from tests.conftest import table_token

LINES = [{"item": "sea-salt-edamame", "qty": 1}]
HOUR_MS = 3_600_000


async def post(
    http: aiohttp.ClientSession, hub: RunningHub, table: str, key: str, lines: Any = LINES
) -> tuple[int, dict[str, Any], bool]:
    body = {"table": table_token(hub, table), "idempotency_key": key, "lines": lines}
    async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
        return r.status, await r.json(), r.headers.get("Idempotent-Replayed") == "true"


async def staff_post(
    http: aiohttp.ClientSession, hub: RunningHub, tok: str, path: str, body: Any = None
) -> None:
    headers = {"Authorization": f"Bearer {tok}"}
    async with http.post(f"{hub.url}{path}", json=body or {}, headers=headers) as r:
        assert r.status in (200, 201), await r.text()


async def test_a_retry_gets_its_order_after_a_move_a_close_and_a_restart(
    hub_config: HubConfig, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    config = replace(hub_config, broker=None)
    async with running_hub(config, seed_menu=menu_doc) as hub:
        floor = await staff.issue(hub.services.store, "floor", "floor")
        status, first, replayed = await post(http, hub, "T1", "retried-key-001")
        assert (status, replayed) == (201, False)
        await staff_post(
            http, hub, floor, "/api/v1/tables/T1/move", {"to": "T6", "id": "move-0001"}
        )
        status, again, replayed = await post(http, hub, "T1", "retried-key-001")
        assert (again["order_id"], replayed) == (first["order_id"], True)
        await staff_post(http, hub, floor, "/api/v1/tables/T6/close")
        status, again, replayed = await post(http, hub, "T1", "retried-key-001")
        assert (again["order_id"], replayed) == (first["order_id"], True)
        # another table's same key is its own order; a different body under the key is refused
        status, other, replayed = await post(http, hub, "T2", "retried-key-001")
        assert (status, replayed) == (201, False)
        assert other["order_id"] != first["order_id"]
        status, err, _ = await post(
            http, hub, "T1", "retried-key-001", [{"item": "sea-salt-edamame", "qty": 2}]
        )
        assert (status, err["field"]) == (409, "idempotency_key")
    async with running_hub(config) as hub:  # the keys come back from the store
        status, again, replayed = await post(http, hub, "T1", "retried-key-001")
        assert (again["order_id"], replayed) == (first["order_id"], True)
        rows = await hub.services.store.read_all(
            "SELECT COUNT(*) FROM orders WHERE idempotency_key='retried-key-001'"
        )
        assert rows[0][0] == 2  # T1's and T2's, nothing doubled


async def test_a_day_old_key_is_forgotten_past_the_newest_orders(
    hub_config: HubConfig, menu_doc: dict[str, Any], http: aiohttp.ClientSession
) -> None:
    """Past the window and past the newest `at_least` orders, a key names a new order (the
    window is a day in a store; three orders here)."""
    clock = SteppingClock()
    config = replace(hub_config, broker=None)
    async with running_hub(config, seed_menu=menu_doc, clock=clock) as hub:
        hub.services.ordering.keys = RecentKeys(window_ms=24 * HOUR_MS, at_least=3)
        _, old, _ = await post(http, hub, "T1", "yesterdays-key-1")
        clock.advance(23 * HOUR_MS)
        _, again, replayed = await post(http, hub, "T1", "yesterdays-key-1")
        assert (again["order_id"], replayed) == (old["order_id"], True)
        clock.advance(2 * HOUR_MS)
        for n in range(3):
            await post(http, hub, "T2", f"later-order-{n:04d}")
        status, new, replayed = await post(http, hub, "T1", "yesterdays-key-1")
        assert (status, replayed) == (201, False)
        assert new["order_id"] != old["order_id"]


@pytest.mark.parametrize("wrong", ["id", "table", "key"])
async def test_a_key_is_trusted_only_as_its_orders_row_says(tmp_path: Path, wrong: str) -> None:
    """A key noted by a write that then failed names a row that is not there (or is another
    order's, when its id was given again): the row decides."""

    def clock() -> str:
        return "2026-12-07T12:00:00.000Z"

    async with Store(tmp_path / "hub.db", clock=clock) as store:

        async def fill(tx: Tx) -> None:
            await tx.execute("INSERT INTO tables(id, name, position) VALUES ('T1', 'T1', 1)")
            await tx.execute("INSERT INTO checks(id, table_id, opened_at) VALUES (1, 'T1', 'x')")
            await tx.execute(
                "INSERT INTO orders(id, check_id, table_id, round, idempotency_key, "
                "request_hash, status, total_cents, body, created_at, updated_at) "
                "VALUES (7, 1, 'T1', 1, 'key-00000007', 'h', 'received', 1, '{}', ?, ?)",
                (tx.now, tx.now),
            )

        await store.write(fill)
        keys = RecentKeys()
        await keys.load(store, 1_796_644_800_000)
        assert keys.get("T1", "key-00000007") == 7
        asked = {"id": (8, "T1", "key-00000007"), "table": (7, "T2", "key-00000007")}
        asked["key"] = (7, "T1", "key-00000008")
        assert await repos.read_order_by_key(store, *asked[wrong]) is None
        assert await repos.read_order_by_key(store, 7, "T1", "key-00000007") is not None


def test_the_window_keeps_a_day_and_the_newest_and_at_most_its_limit() -> None:
    keys = RecentKeys(window_ms=10, at_least=2, limit=4)
    for n in range(4):
        keys.add("T1", f"k{n}", n, n)  # ms 0..3: all within 10 ms
    assert len(keys) == 4
    keys.add("T1", "k4", 4, 4)  # over the limit: the oldest goes
    assert keys.get("T1", "k0") is None
    assert keys.get("T1", "k1") == 1
    keys.add("T1", "k5", 5, 100)  # the rest are too old, but the newest two stay
    assert [keys.get("T1", f"k{n}") for n in range(6)] == [None, None, None, None, 4, 5]
