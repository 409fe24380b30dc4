"""The floor: the least a durable order pipeline can do with the hub's own libraries, so
the hub's numbers can be read as ratios to it.

    python -m bench.floor --port P --db FILE --mqtt-port M [--store demo]

aiohttp `POST /api/v1/orders` -> aiosqlite: one order row and one outbox row per order in
one transaction (WAL, synchronous=FULL), with a simple group commit (one writer task takes
every request waiting and commits them together) -> `201 {"order_id"}` once committed ->
a relay task publishes each committed outbox row with aiomqtt at QoS 1 to
`tablehub/v1/<store>/kds/<station>/events` (the hub's topic and payload shape) -> the load
generator's subscriber. No menu, no pricing, no tickets, no screens: that is the point."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp.web as web
import aiomqtt
import aiosqlite

from plumbing.tasks import stop_event

STATIONS = {
    "sea-salt-edamame": "cold",
    "smashed-cucumber-salad": "cold",
    "chicken-satay": "grill",
    "miso-glazed-salmon": "grill",
    "veggie-spring-rolls": "wok",
    "kung-pao-chicken": "wok",
    "hot-jasmine-tea": "bar",
    "tsingtao-lager": "bar",
}
SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY, table_id TEXT NOT NULL, idempotency_key TEXT NOT NULL,
    body TEXT NOT NULL, created_at TEXT NOT NULL, UNIQUE (table_id, idempotency_key));
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, stream TEXT NOT NULL, kind TEXT NOT NULL,
    key TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL);
"""
Pending = tuple[dict[str, Any], "asyncio.Future[int]"]


class Floor:
    def __init__(self, db: Path, store: str) -> None:
        self.db = db
        self.store = store
        self.queue: asyncio.Queue[Pending] = asyncio.Queue(2048)
        self.relay: asyncio.Queue[tuple[int, str, bytes]] = asyncio.Queue(100_000)
        self.conn: aiosqlite.Connection | None = None
        self.client: aiomqtt.Client | None = None
        self.commits = 0
        self.published = 0

    async def open(self) -> None:
        self.conn = await aiosqlite.connect(self.db, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=FULL"):
            await self.conn.execute(f"PRAGMA {pragma}")
        await self.conn.executescript(SCHEMA)

    async def writer(self) -> None:
        conn = self.conn
        assert conn is not None
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty() and len(batch) < 512:
                batch.append(self.queue.get_nowait())
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            out: list[tuple[asyncio.Future[int], int, str, bytes]] = []
            try:
                await conn.execute("BEGIN IMMEDIATE")
                for doc, fut in batch:
                    table, key = str(doc["table"]), str(doc["idempotency_key"])
                    cur = await conn.execute(
                        "INSERT OR IGNORE INTO orders(table_id, idempotency_key, body, created_at)"
                        " VALUES (?, ?, ?, ?)",
                        (table, key, json.dumps(doc), now),
                    )
                    if cur.rowcount == 0:  # a repeated key: the first order
                        async with conn.execute(
                            "SELECT id FROM orders WHERE table_id=? AND idempotency_key=?",
                            (table, key),
                        ) as c:
                            row = await c.fetchone()
                        out.append((fut, int(row[0]) if row else 0, "", b""))
                        continue
                    order_id = int(cur.lastrowid or 0)
                    station = STATIONS.get(doc["lines"][0]["item"], "grill")
                    body = json.dumps(
                        {"ticket": {"id": order_id, "order_id": order_id, "station": station}}
                    )
                    cur = await conn.execute(
                        "INSERT INTO outbox(stream, kind, key, body, created_at) "
                        "VALUES ('tickets', 'ticket.created', ?, ?, ?)",
                        (str(order_id), body, now),
                    )
                    seq = int(cur.lastrowid or 0)
                    payload = b'{"seq":%d,"kind":"ticket.created",' % seq + body[1:].encode()
                    out.append((fut, order_id, station, payload))
                await conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    await conn.execute("ROLLBACK")
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            self.commits += 1
            for fut, order_id, station, payload in out:
                if not fut.done():
                    fut.set_result(order_id)
                if station:
                    await self.relay.put((order_id, station, payload))

    async def publisher(self, port: int) -> None:
        """Publish committed rows in order, QoS 1, reconnecting (bounded backoff)."""
        pending: tuple[int, str, bytes] | None = None
        delay = 0.1
        while True:
            try:
                async with aiomqtt.Client(
                    "127.0.0.1",
                    port,
                    identifier="bench-floor",
                    # as the hub's own sessions (plumbing/mqtt.py): no Nagle delay
                    socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
                ) as client:
                    delay = 0.1
                    while True:
                        pending = pending or await self.relay.get()
                        topic = f"tablehub/v1/{self.store}/kds/{pending[1]}/events"
                        await client.publish(topic, pending[2], qos=1)
                        self.published += 1
                        pending = None
            except aiomqtt.MqttError:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def post_order(self, request: web.Request) -> web.Response:
        try:
            doc = json.loads(await request.read())
            if not isinstance(doc, dict) or not doc.get("lines"):
                raise ValueError("lines")
        except ValueError:
            return web.json_response({"error": "invalid", "field": None}, status=422)
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        await self.queue.put((doc, fut))
        try:
            order_id = await fut
        except sqlite3.Error:
            return web.json_response({"error": "unavailable", "field": None}, status=503)
        return web.json_response({"order_id": order_id, "status": "received"}, status=201)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "ok", "commits": self.commits, "published": self.published}
        )


async def serve(port: int, db: Path, mqtt_port: int, store: str) -> None:
    floor = Floor(db, store)
    await floor.open()
    app = web.Application()
    app.router.add_post("/api/v1/orders", floor.post_order)
    app.router.add_get("/healthz", floor.healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    tasks = [
        asyncio.create_task(floor.writer(), name="floor-writer"),
        asyncio.create_task(floor.publisher(mqtt_port), name="floor-publisher"),
    ]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await stop_event().wait()
    finally:
        await runner.cleanup()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if floor.conn is not None:
            await floor.conn.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--mqtt-port", type=int, required=True)
    p.add_argument("--store", default="demo")
    a = p.parse_args(argv)
    asyncio.run(serve(a.port, Path(a.db), a.mqtt_port, a.store))
    return 0


if __name__ == "__main__":
    sys.exit(main())
