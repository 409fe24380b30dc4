"""A loopback stand-in for the chain's cloud (docs/cloud-protocol.md), for the bridge's
drain benchmark and the fault suite: it stores every event by seq in its own SQLite file
(so it keeps what it acknowledged across a kill and restart), acknowledges what it holds,
and counts duplicates. It is not the reference receiver (that needs PostgreSQL); it is as
cheap as a cloud can be, so the drain rate measured against it is the bridge's.

    python -m bench.fakecloud --port P --db FILE --token-file FILE [--store demo]

`GET /v1/stores/<store>/status` -> {"contiguous_seq", "events", "duplicates", "batches",
"first_batch_ms", "last_batch_ms"} (monotonic milliseconds of this machine)."""

from __future__ import annotations

import argparse
import asyncio
import gzip
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp.web as web
import msgspec

from cloud_bridge.receiver import EventIn
from plumbing.tasks import stop_event


class Batch(msgspec.Struct):
    events: list[EventIn] = []  # an event as the reference receiver reads it
    shed: list[dict[str, Any]] = []


class Cloud:
    def __init__(self, db: Path, store: str, token: str) -> None:
        self.store = store
        self.token = token
        self.conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, stream TEXT, "
            "kind TEXT, key TEXT, body TEXT, shed INTEGER NOT NULL DEFAULT 0)"
        )
        self.conn.execute("CREATE TABLE IF NOT EXISTS stat (k TEXT PRIMARY KEY, v INTEGER)")
        self.seqs: set[int] = {r[0] for r in self.conn.execute("SELECT seq FROM events")}
        self.contiguous = 0
        self._advance()
        stat = dict(self.conn.execute("SELECT k, v FROM stat").fetchall())
        self.duplicates = int(stat.get("duplicates", 0))
        self.batches = int(stat.get("batches", 0))
        self.first_batch_ms: float | None = None
        self.last_batch_ms: float | None = None
        self.lock = asyncio.Lock()  # one batch at a time on the SQLite connection

    def _advance(self) -> None:
        while self.contiguous + 1 in self.seqs:
            self.contiguous += 1

    def store_batch(self, batch: Batch) -> tuple[list[int], int]:
        rows = [
            (e.seq, e.stream, e.kind, e.key, bytes(e.body).decode(), 0)
            for e in batch.events
            if e.store == self.store and e.seq not in self.seqs
        ]
        shed = [
            (seq, "telemetry", "shed", "", "{}", 1)
            for n in batch.shed
            for lo, hi in n.get("ranges", [])
            for seq in range(int(lo), int(hi) + 1)
            if seq not in self.seqs
        ]
        dups = len(batch.events) - len(rows)
        self.conn.execute("BEGIN")
        self.conn.executemany("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?)", rows + shed)
        self.duplicates += dups
        self.batches += 1
        self.conn.executemany(
            "INSERT OR REPLACE INTO stat VALUES (?, ?)",
            [("duplicates", self.duplicates), ("batches", self.batches)],
        )
        self.conn.execute("COMMIT")
        self.seqs.update(r[0] for r in rows + shed)
        self._advance()
        return [e.seq for e in batch.events], dups

    async def events(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorized"}, status=401)
        if request.match_info["store"] != self.store:
            return web.json_response({"error": "not_found"}, status=404)
        raw = await request.read()  # aiohttp has already undone Content-Encoding: gzip
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        try:
            batch = msgspec.json.decode(raw, type=Batch)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return web.json_response({"error": "invalid_events", "message": str(exc)}, status=422)
        async with self.lock:
            acked, dups = await asyncio.to_thread(self.store_batch, batch)
        now = time.monotonic() * 1000
        self.first_batch_ms = self.first_batch_ms or now
        self.last_batch_ms = now
        return web.json_response(
            {
                "acked": acked,
                "contiguous_seq": self.contiguous,
                "replayed": False,
                "duplicates": dups,
            }
        )

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "store": self.store,
                "contiguous_seq": self.contiguous,
                "events": len(self.seqs),
                "duplicates": self.duplicates,
                "batches": self.batches,
                "first_batch_ms": self.first_batch_ms,
                "last_batch_ms": self.last_batch_ms,
            }
        )

    async def menu(self, request: web.Request) -> web.Response:
        return web.json_response({"error": "not_found"}, status=404)


async def serve(port: int, cloud: Cloud) -> None:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/stores/{store}/events", cloud.events)
    app.router.add_get("/v1/stores/{store}/status", cloud.status)
    app.router.add_get("/v1/stores/{store}/menu", cloud.menu)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await stop_event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.fakecloud", description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--token-file", required=True)
    p.add_argument("--store", default="demo")
    a = p.parse_args(argv)
    token = Path(a.token_file).read_text().strip()
    asyncio.run(serve(a.port, Cloud(Path(a.db), a.store, token)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
