"""The bridge's state file is written in 1 KB pages: each acknowledged batch commits two small
leaves (its lane's cursor, the status page's counters), which in SQLite's default 4 KB pages
made 8 KB of WAL a batch, one batch an order at a store's pace. A file from before, in 4 KB
pages, is rewritten in 1 KB pages when the bridge opens it, with everything in it kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from cloud_bridge.cursor import SCHEMA, STATE_PAGE_SIZE, BridgeState
from plumbing.outbox import PRIORITY, TELEMETRY

FRAME = 1024 + 24  # a WAL frame of a 1 KB page: its header and the page


def pragma(path: Path, name: str) -> object:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


async def test_a_batch_acknowledged_writes_a_few_small_pages(tmp_path: Path) -> None:
    path = tmp_path / "bridge.db"
    async with BridgeState(path, store_id="demo", now_ms=lambda: 1_795_370_591_000) as state:
        assert pragma(path, "page_size") == STATE_PAGE_SIZE
        assert pragma(path, "journal_mode") == "wal"
        wal = Path(f"{path}-wal")
        before = wal.stat().st_size
        for n in range(1, 51):
            await state.commit_ack({PRIORITY: n, TELEMETRY: n}, events=2)
        grown = wal.stat().st_size - before
    # two leaves a commit (three when one splits): in 4 KB pages this was 50 x 2 x 4120 bytes
    assert grown <= 50 * 3 * FRAME, grown


async def test_a_state_file_in_4_kb_pages_is_rewritten_in_small_ones_with_all_it_held(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bridge.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        conn.execute("INSERT INTO lanes(lane, seq) VALUES (?, 41), (?, 17)", (PRIORITY, TELEMETRY))
        conn.execute("INSERT INTO state(key, value) VALUES ('store_id', '\"demo\"')")
        conn.execute("INSERT INTO state(key, value) VALUES ('sent_events', '1234')")
    finally:
        conn.close()
    assert pragma(path, "page_size") == 4096
    async with BridgeState(path, store_id="demo", now_ms=lambda: 1_795_370_591_000) as state:
        assert state.cursors == {PRIORITY: 41, TELEMETRY: 17}
        assert await state.get("sent_events") == 1234
        await state.commit_ack({PRIORITY: 42}, events=1)
    assert pragma(path, "page_size") == STATE_PAGE_SIZE
    assert pragma(path, "journal_mode") == "wal"
    async with BridgeState(path, store_id="demo", now_ms=lambda: 1_795_370_591_000) as state:
        assert state.cursors == {PRIORITY: 42, TELEMETRY: 17}
        assert await state.get("sent_events") == 1235
