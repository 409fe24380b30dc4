"""Checkpoints run beside the writer, not inside its COMMIT: while the WAL's pages are being
copied into the file (seconds of random writes on an SD card at the end of a rush), orders
still commit; and with commits going on all the time the WAL still starts again from its
beginning after each checkpoint, so its file does not grow through a rush. On a real SQLite
file; the checkpoint is held open with an event, not timed."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.app import RunningHub
from hub.store import db
from hub.store.db import Store, Tx
from tests.waiting import until

FRAME = 1024 + 24  # a WAL frame: the store's 1 KB page and its header


def _put(key: str) -> Callable[[Tx], Any]:
    async def unit(tx: Tx) -> None:
        await tx.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (key, "v" * 200))

    return unit


def _count(path: Path, prefix: str) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(
            conn.execute("SELECT COUNT(*) FROM meta WHERE key LIKE ?", (prefix + "%",)).fetchone()[
                0
            ]
        )
    finally:
        conn.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(
        tmp_path / "hub.db", clock=lambda: "2026-12-06T12:00:00Z", checkpoint_pages=60
    ) as s:
        yield s


async def test_orders_commit_while_a_checkpoint_is_copying(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = threading.Event(), threading.Event()
    real = db.checkpoint_passive

    def held(conn: sqlite3.Connection) -> tuple[int, int, int]:
        if threading.current_thread().name.startswith("store-checkpoint"):
            started.set()
            release.wait(30)
        return real(conn)

    monkeypatch.setattr(db, "checkpoint_passive", held)
    try:
        for i in range(400):  # bounded: 60 frames wait after a few dozen commits
            await store.write(_put(f"before-{i}"))
            if started.is_set():
                break
        assert started.is_set(), "no checkpoint began beside the writer"
        # the checkpoint is held mid-copy: the writer goes on committing
        for i in range(100):
            await asyncio.wait_for(store.write(_put(f"during-{i}")), 10)
        assert not release.is_set()
        assert _count(store.path, "during-") == 100
        assert store.checkpoints == 0
    finally:
        release.set()
    await until(lambda: store.checkpoints == 1, "the held checkpoint to finish")


async def test_the_wal_starts_again_through_a_rush(store: Store) -> None:
    wal = Path(f"{store.path}-wal")
    largest = 0
    for i in range(1500):  # back to back: never a quiet moment for the checkpointer
        await store.write(_put(f"rush-{i}"))
        largest = max(largest, wal.stat().st_size)
    waiting = store.wal_frames_waiting()
    assert waiting is not None
    assert waiting < 60 * 4, waiting
    assert store.checkpoints >= 10, store.checkpoints
    # a WAL that never started again would hold the whole rush (~3 frames a commit)
    assert largest < 60 * 8 * FRAME, largest
    assert _count(store.path, "rush-") == 1500


@pytest.mark.parametrize(
    "problem",
    [
        sqlite3.OperationalError("database or disk is full"),
        OSError(5, "Input/output error"),  # not SQLite's: once it went unsaid until the close
    ],
    ids=["disk-full", "io-error"],
)
async def test_a_failing_checkpoint_is_said_once_retried_after_a_pause_and_orders_go_on(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    problem: Exception,
) -> None:
    broken = threading.Event()
    broken.set()
    tries: list[float] = []
    real = db.checkpoint_passive

    def failing(conn: sqlite3.Connection) -> tuple[int, int, int]:
        if threading.current_thread().name.startswith("store-checkpoint"):
            tries.append(time.monotonic())
            if broken.is_set():
                raise problem
        return real(conn)

    monkeypatch.setattr(db, "checkpoint_passive", failing)
    async with Store(
        tmp_path / "hub.db",
        clock=lambda: "2026-12-06T12:00:00Z",
        checkpoint_pages=60,
        checkpoint_retry_s=0.5,
    ) as store:
        # every commit past the first try finds the WAL over 60 pages; bounded in count and time
        deadline, written = time.monotonic() + 10, 0
        while len(tries) < 2 and written < 20_000 and time.monotonic() < deadline:
            await store.write(_put(f"full-{written}"))
            written += 1
        assert store.checkpoint_failing == str(problem)
        assert store.checkpoints == 0
        # a try a commit would be hundreds; after a failure the next waits its pause
        assert len(tries) >= 2, tries
        assert tries[1] - tries[0] >= 0.5, tries
        said = [r for r in caplog.records if "checkpoint failed" in r.getMessage()]
        assert len(said) == 1, [r.getMessage() for r in said]
        assert _count(store.path, "full-") == written
        broken.clear()
        # the next try comes with a commit after the pause
        deadline, after = time.monotonic() + 10, 0
        while store.checkpoint_failing and after < 20_000 and time.monotonic() < deadline:
            await store.write(_put(f"after-{after}"))
            after += 1
        await until(lambda: store.checkpoint_failing is None, "checkpoints to work again")
        assert store.checkpoints >= 1
        waiting = store.wal_frames_waiting()
        assert waiting is not None
        assert waiting < 60 * 4, waiting


async def test_healthz_shows_what_waits_in_the_wal(
    hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{hub.url}/healthz") as r:
        store = (await r.json())["store"]
    waiting = hub.services.store.wal_frames_waiting()
    assert isinstance(store["wal_frames_waiting"], int)
    assert waiting is not None
    assert abs(store["wal_frames_waiting"] - waiting) < 200, (store, waiting)
    assert store["checkpoints"] == hub.services.store.checkpoints
    assert "checkpoint_problem" not in store
