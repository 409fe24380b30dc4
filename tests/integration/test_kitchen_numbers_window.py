"""The kitchen's numbers read a window of orders and tickets by primary key (bisecting the
ids by time), and get the same rows as reading every row would."""

from __future__ import annotations

import random
from pathlib import Path

from hub.domain.ports import iso_from_ms
from hub.store import repos
from hub.store.db import Store, Tx

T0 = 1_780_000_000_000  # ms


async def fill(store: Store, n: int, open_every: int) -> None:
    rnd = random.Random(7)

    async def unit(tx: Tx) -> None:
        await tx.execute("INSERT INTO tables(id, name, position) VALUES ('t1', 'T1', 1)")
        await tx.execute("INSERT INTO checks(id, table_id, opened_at) VALUES (1, 't1', 'x')")
        ms = T0
        for i in range(1, n + 1):
            ms += rnd.randint(0, 90_000)  # times only grow, sometimes not at all
            at = iso_from_ms(ms)
            await tx.execute(
                "INSERT INTO orders(id, check_id, table_id, round, idempotency_key, "
                "request_hash, status, total_cents, body, created_at, updated_at) "
                "VALUES (?, 1, 't1', 1, ?, 'h', 'served', 100, '{}', ?, ?)",
                (i, f"key-{i:08d}", at, at),
            )
            status = "open" if i % open_every == 0 else "bumped"
            await tx.execute(
                "INSERT INTO tickets(id, order_id, station, status, items, body, created_at, "
                "created_ms, bumped_at) VALUES (?, ?, 'grill', ?, '[]', '{}', ?, ?, ?)",
                (i, i, status, at, ms, None if status == "open" else iso_from_ms(ms + 300_000)),
            )

    await store.write(unit)


async def test_a_window_reads_the_same_rows_as_a_full_read(tmp_path: Path) -> None:
    async with Store(tmp_path / "hub.db", clock=lambda: "x") as store:
        await fill(store, 3_000, open_every=97)
        every_order = [str(r[0]) for r in await store.read_all("SELECT created_at FROM orders")]
        every_ticket = await store.read_all(
            "SELECT station, created_ms, status, bumped_at FROM tickets"
        )
        last = max(int(r[1]) for r in every_ticket)
        for since_ms in (T0 - 1, T0 + 1, last // 2 + T0 // 2, last - 3_600_000, last, last + 1):
            since = iso_from_ms(since_ms)
            got = await repos.read_order_times(store, since)
            assert sorted(got) == sorted(a for a in every_order if a >= since)
            want = sorted(
                (str(r[0]), int(r[1]), r[3] if r[2] == "bumped" else None)
                for r in every_ticket
                if int(r[1]) >= since_ms or r[2] == "open"
            )
            assert sorted(await repos.read_ticket_times(store, since_ms), key=str) == sorted(
                want, key=str
            )


async def test_an_empty_store_has_no_numbers(tmp_path: Path) -> None:
    async with Store(tmp_path / "hub.db", clock=lambda: "x") as store:
        assert await repos.read_order_times(store, "2026-01-01T00:00:00.000Z") == []
        assert await repos.read_ticket_times(store, 0) == []


async def test_the_quotes_window_reads_the_same_quotes_as_a_full_read(tmp_path: Path) -> None:
    """Quotes are read by time through their order id (no index on the time): the same
    quotes as a read of every one, from before the first to after the last."""
    rnd = random.Random(11)
    async with Store(tmp_path / "hub.db", clock=lambda: "x") as store:
        await fill(store, 600, open_every=5)

        async def quotes(tx: Tx) -> None:
            ms = T0
            for order_id in range(1, 601):
                if rnd.random() < 0.2:
                    continue  # not every order is quoted (nothing fired: all drinks)
                ms += rnd.randint(0, 90_000)
                ready = None if rnd.random() < 0.1 else ms + rnd.randint(60_000, 1_800_000)
                await repos.insert_quote(
                    tx,
                    order_id=order_id,
                    table_id="t1",
                    quoted_ms=ms,
                    ready_by_ms=ms + 600_000,
                    tickets=[order_id],
                )
                if ready is not None:
                    await repos.resolve_quote(tx, order_id, ready)

        await store.write(quotes)
        every = await store.read_all(
            "SELECT quoted_ms, ready_by_ms, ready_ms FROM orders WHERE quoted_ms IS NOT NULL "
            "ORDER BY id"
        )
        assert len(every) > 400
        last = int(every[-1][0])
        for since in (T0 - 1, T0 + 1, int(every[200][0]), last - 3_600_000, last, last + 1):
            want = [
                (int(r[0]), int(r[1]), None if r[2] is None else int(r[2]))
                for r in every
                if int(r[0]) >= since
            ]
            assert await repos.read_quotes(store, since) == want, since
        assert await repos.read_quotes(store, last + 1) == []


async def test_no_quotes_read_as_none(tmp_path: Path) -> None:
    async with Store(tmp_path / "hub.db", clock=lambda: "x") as store:
        assert await repos.read_quotes(store, 0) == []
