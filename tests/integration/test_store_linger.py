"""Group commits of writes that may wait (`Store.write(unit, linger_s=...)`) on a real SQLite
file: they share one commit (one fsync) with each other and with the next write that cannot
wait, and each caller is still answered only after the commit that holds its change."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hub.store.db import Store, Tx


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(tmp_path / "hub.db", clock=lambda: "2026-12-06T12:00:00Z") as s:
        yield s


def _meta(key: str, value: str):  # type: ignore[no-untyped-def]
    async def unit(tx: Tx) -> str:
        await tx.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (key, value))
        return value

    return unit


def _on_disk(path: Path, key: str) -> str | None:
    """The value as another connection reads it from the file (committed data only)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    finally:
        conn.close()
    return None if row is None else str(row[0])


async def test_a_lingering_write_alone_is_committed_when_its_time_is_up(store: Store) -> None:
    commits = store.commits
    t0 = time.monotonic()
    got = await store.write(_meta("alone", "1"), linger_s=0.3)
    took = time.monotonic() - t0
    assert got == "1"
    assert took >= 0.3, f"answered after {took:.3f} s, before its linger was up"
    assert took < 10.0
    assert store.commits == commits + 1
    assert _on_disk(store.path, "alone") == "1"  # answered means committed


async def test_lingering_writes_share_one_commit(store: Store) -> None:
    commits = store.commits
    got = await asyncio.gather(
        *(store.write(_meta(f"mark-{i}", str(i)), linger_s=0.2) for i in range(20))
    )
    assert got == [str(i) for i in range(20)]
    assert store.commits == commits + 1, f"{store.commits - commits} commits for 20 marks"
    for i in range(20):
        assert _on_disk(store.path, f"mark-{i}") == str(i)


async def test_a_write_that_cannot_wait_takes_the_lingering_ones_with_it(store: Store) -> None:
    commits = store.commits
    t0 = time.monotonic()
    lazy = asyncio.create_task(store.write(_meta("lazy", "L"), linger_s=60.0))
    await asyncio.sleep(0)  # the lazy one is queued first
    urgent = await store.write(_meta("urgent", "U"))
    got = await asyncio.wait_for(lazy, 10.0)
    assert (urgent, got) == ("U", "L")
    assert time.monotonic() - t0 < 10.0, "the lingering write waited for its own time"
    assert store.commits == commits + 1
    assert _on_disk(store.path, "lazy") == "L"


async def test_a_failing_lingering_unit_is_rolled_back_alone(store: Store) -> None:
    async def boom(tx: Tx) -> None:
        await tx.execute("INSERT INTO meta(key, value) VALUES ('boom', 'x')")
        raise ValueError("no")

    bad = asyncio.create_task(store.write(boom, linger_s=0.2))
    good = asyncio.create_task(store.write(_meta("kept", "K"), linger_s=0.2))
    results = await asyncio.gather(bad, good, return_exceptions=True)
    assert isinstance(results[0], ValueError)
    assert results[1] == "K"
    assert _on_disk(store.path, "boom") is None
    assert _on_disk(store.path, "kept") == "K"


async def test_closing_the_store_commits_a_lingering_write_at_once(tmp_path: Path) -> None:
    """A hub that stops does not wait out its print marks' linger: they are committed then."""
    s = Store(tmp_path / "hub.db", clock=lambda: "2026-12-06T12:00:00Z")
    await s.__aenter__()
    try:
        lazy = asyncio.create_task(s.write(_meta("lazy", "L"), linger_s=60.0))
        await asyncio.sleep(0.05)  # queued, and the writer is waiting for company
        t0 = time.monotonic()
    finally:
        await s.__aexit__(None, None, None)
    assert time.monotonic() - t0 < 10.0, "closing waited for the lingering write's own time"
    assert await asyncio.wait_for(lazy, 1.0) == "L"
    assert _on_disk(tmp_path / "hub.db", "lazy") == "L"


async def test_a_submitted_write_keeps_its_place_before_the_writes_after_it(store: Store) -> None:
    """`submit` queues at once without waiting (a scale's reading from the MQTT handler): it
    goes before what is written after it, in the same commit as the next write that cannot
    wait."""
    order: list[str] = []

    def noting(key: str):  # type: ignore[no-untyped-def]
        async def unit(tx: Tx) -> str:
            order.append(key)
            await tx.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (key, key))
            return key

        return unit

    commits = store.commits
    saved = store.submit(noting("reading"), linger_s=60.0)
    assert await store.write(noting("order")) == "order"
    assert await asyncio.wait_for(saved, 1.0) == "reading"
    assert order == ["reading", "order"]
    assert store.commits == commits + 1
    assert _on_disk(store.path, "reading") == "reading"
