"""Every station's newest bumps (the expo's recall and recent list, what prep times are learnt
from) are read station by station from tickets_bumped: the same tickets, in the same order,
as a read of every bumped ticket, with a few stations or more than one read takes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from hub.store import repos
from hub.store.db import Store, Tx


async def fill(store: Store, stations: int, tickets: int) -> None:
    rnd = random.Random(stations)
    seqs = rnd.sample(range(1, tickets * 3), tickets)  # bump order unrelated to ids or names

    async def unit(tx: Tx) -> None:
        await tx.execute("INSERT INTO tables(id, name, position) VALUES ('t1', 'T1', 1)")
        await tx.execute("INSERT INTO checks(id, table_id, opened_at) VALUES (1, 't1', 'x')")
        await tx.execute(
            "INSERT INTO orders(id, check_id, table_id, round, idempotency_key, request_hash, "
            "status, total_cents, body, created_at, updated_at) "
            "VALUES (1, 1, 't1', 1, 'k', 'h', 'ready', 100, '{}', 'x', 'x')"
        )
        for i, seq in enumerate(seqs, start=1):
            status = "open" if i % 9 == 0 else "bumped"
            await tx.execute(
                "INSERT INTO tickets(id, order_id, station, status, items, body, created_at, "
                "created_ms, bumped_at, bumped_seq) VALUES (?, 1, ?, ?, '[]', '{}', 'x', 0, ?, ?)",
                (
                    i,
                    f"st-{rnd.randrange(stations):03d}",
                    status,
                    None if status == "open" else "x",
                    None if status == "open" else seq,
                ),
            )

    await store.write(unit)


@pytest.mark.parametrize("stations", [1, 4, 700])  # 700: past SQLite's 500 terms a SELECT
async def test_the_newest_bumps_of_every_station_match_a_full_read(
    tmp_path: Path, stations: int
) -> None:
    async with Store(tmp_path / "hub.db", clock=lambda: "x") as store:
        await fill(store, stations, 2_400)
        every = await store.read_all(
            "SELECT id FROM tickets WHERE status='bumped' ORDER BY bumped_seq DESC, id DESC"
        )
        newest = [int(r[0]) for r in every]
        for limit in (1, 10, 300):
            # what read_recent_bumped(None) and read_last_bumped read (their rows here are
            # bare: only the ids are compared)
            got = await repos._newest_bumped(store.read_all, "id", limit)
            assert [int(r["id"]) for r in got] == newest[:limit], limit

        async def last(tx: Tx) -> int | None:
            return await repos.last_bumped(tx, None)

        assert await store.write(last) == newest[0]


async def test_no_bumps_read_as_none(tmp_path: Path) -> None:
    async with Store(tmp_path / "hub.db", clock=lambda: "x") as store:
        assert await repos._newest_bumped(store.read_all, "id", 10) == []

        async def last(tx: Tx) -> int | None:
            return await repos.last_bumped(tx, None)

        assert await store.write(last) is None
