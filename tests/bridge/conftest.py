"""Fixtures for the cloud bridge: a PostgreSQL database of its own per test, the reference
receiver serving on a free loopback port, bridge config files, and helpers that produce
orders through a real hub and compare the hub's outbox with what the cloud holds."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import signal
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from cloud_bridge.config import BridgeConfig, load_config
from cloud_bridge.cursor import read_state
from cloud_bridge.receiver import POOL, AfterCommit, Tokens, build_app
from hub.app import RunningHub
from hub.store.db import Tx
from plumbing.packed import unpack
from tests.bridge.faultproxy import FaultProxy
from tests.conftest import run_module
from tests.samples import thing
from tests.waiting import until

PG_ADMIN = os.environ.get("TABLEHUB_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
STORE = "demo"  # the demo menu's store id
STORE_TOKEN = "store-token-" + "a" * 20
ADMIN_TOKEN = "chain-admin-" + "b" * 20


def write_secret(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


@contextlib.asynccontextmanager
async def scratch_database(*, create: bool = True) -> AsyncIterator[str]:
    """The DSN of a database `tablehub_test_<random>`, made here unless `create` is False
    (the code under test makes it then); dropped afterwards either way."""
    name = f"tablehub_test_{secrets.token_hex(6)}"
    try:
        admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN}: {exc}")
    try:
        if create:
            await admin.execute(f'CREATE DATABASE "{name}"')
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def pg_dsn() -> AsyncIterator[str]:
    """A fresh database, dropped afterwards."""
    async with scratch_database() as dsn:
        yield dsn


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    return write_secret(
        tmp_path / "receiver-tokens.toml",
        f'admin = "{ADMIN_TOKEN}"\n[stores]\n{STORE} = "{STORE_TOKEN}"\n',
    )


@dataclass
class Receiver:
    url: str
    runner: web.AppRunner
    app: web.Application

    @property
    def pool(self) -> asyncpg.Pool:
        return self.app[POOL]

    async def behind_proxy(self) -> FaultProxy:
        """A fault proxy, started, that forwards to this receiver: the tests' way to take
        the cloud down and up again."""
        return await FaultProxy([("127.0.0.1", int(self.url.rsplit(":", 1)[1]))]).start()

    async def status(self) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession() as s,
            s.get(
                f"{self.url}/v1/stores/{STORE}/status",
                headers={"Authorization": f"Bearer {STORE_TOKEN}"},
            ) as r,
        ):
            if r.status == 404:
                return {"contiguous_seq": 0, "max_seq": 0, "events": 0, "missing": 0}
            assert r.status == 200, await r.text()
            doc: dict[str, Any] = await r.json()
            return doc


async def start_receiver(dsn: str, after_commit: AfterCommit | None = None) -> Receiver:
    tokens = Tokens(ADMIN_TOKEN, {STORE: STORE_TOKEN})
    app = build_app(dsn, tokens, after_commit=after_commit)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return Receiver(f"http://127.0.0.1:{port}", runner, app)


@pytest.fixture
async def receiver(pg_dsn: str) -> AsyncIterator[Receiver]:
    rec = await start_receiver(pg_dsn)
    yield rec
    await rec.runner.cleanup()


def bridge_toml(
    tmp_path: Path,
    *,
    hub_db: Path,
    endpoint: str,
    hub_url: str = "",
    admin_token: str = "",
    **over: Any,
) -> Path:
    """Write a bridge config (fast test timings) and its secret files; returns its path."""
    write_secret(tmp_path / "cloud-token", STORE_TOKEN)
    values: dict[str, Any] = {
        "hub_db": str(hub_db),
        "state_db": str(tmp_path / "bridge" / "bridge.db"),
        "store_id": STORE,
        "endpoint": endpoint,
        "token_file": str(tmp_path / "cloud-token"),
        "batch_max_events": 500,
        "batch_max_age_ms": 50,
        "poll_ms": 20,
        "request_timeout_ms": 1500,
        "backoff_base_ms": 20,
        "backoff_cap_ms": 300,
        "budget_check_seconds": 0.5,
        "menu_poll_seconds": 0,
    }
    if hub_url:
        write_secret(tmp_path / "hub-admin-token", admin_token)
        values |= {
            "hub_url": hub_url,
            "hub_admin_token_file": str(tmp_path / "hub-admin-token"),
            "menu_poll_seconds": 0.1,
        }
    values |= over
    lines = ["[bridge]"] + [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    path = tmp_path / "bridge.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def start_bridge(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """The bridge command on the file `config`, logging to `log`."""
    return run_module(log, "cloud_bridge", "bridge", "--config", str(config))


async def stop_bridge(bridge: subprocess.Popen[bytes]) -> None:
    """SIGTERM, ten seconds to exit, then SIGKILL: a test never leaves a bridge behind."""
    bridge.send_signal(signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        await asyncio.to_thread(bridge.wait, 10)
    if bridge.poll() is None:
        bridge.kill()


def bridge_config(tmp_path: Path, **kw: Any) -> BridgeConfig:
    return load_config(bridge_toml(tmp_path, **kw))


# ---------------------------------------------------------------- producing events


async def place_orders(
    hub: RunningHub,
    n: int,
    *,
    concurrency: int = 16,
    prefix: str = "o",
    item: str = "sea-salt-edamame",
) -> list[int]:
    """Place `n` orders through the hub's HTTP API, `concurrency` phones at a time."""
    tables = list(hub.services.catalog.tables)
    tokens = {t: hub.services.catalog.token_for(t) for t in tables}
    ids: list[int] = []
    queue = list(range(n))

    async def phone(http: aiohttp.ClientSession) -> None:
        while queue:
            i = queue.pop()
            body = {
                "table": tokens[tables[i % len(tables)]],
                "idempotency_key": f"{prefix}-{i:06d}-{secrets.token_hex(4)}",
                "lines": [{"item": item, "qty": 1 + i % 3}],
            }
            async with http.post(hub.url + "/api/v1/orders", json=body) as r:
                assert r.status == 201, await r.text()
                ids.append((await r.json())["order_id"])

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(phone(http) for _ in range(concurrency)))
    return ids


async def emit_telemetry(hub: RunningHub, n: int, *, pad: int = 150, chunk: int = 250) -> None:
    """`n` telemetry events (scale readings) through the hub's store, as devices would."""
    done = 0
    while done < n:
        k = min(chunk, n - done)
        start = done

        async def unit(tx: Tx, start: int = start, k: int = k) -> None:
            for i in range(start, start + k):
                # the store packs bodies: a pad that does not shrink keeps each row's size
                tx.emit(thing("telemetry", i, _noise(i, pad)))

        await hub.services.store.write(unit)
        done += k


def _noise(i: int, n: int) -> str:
    """`n` hex digits that deflate cannot shrink (the same for the same `i`)."""
    out, k = [], 0
    while len(out) * 64 < n:
        out.append(hashlib.sha256(f"{i}-{k}".encode()).hexdigest())
        k += 1
    return "".join(out)[:n]


async def wait_for(
    check: Callable[[], Awaitable[bool]], *, timeout: float, what: str, every: float = 0.05
) -> None:
    """Poll an async check until true; fail naming `what` after `timeout` (a deadline for a
    failing test, never a statement about speed)."""
    await until(check, what, timeout=timeout, every=every)


async def caught_up(rec: Receiver, hub: RunningHub) -> bool:
    s = await rec.status()
    return int(s["contiguous_seq"]) >= hub.services.store.committed_seq


def bridge_acked(state_db: Path, hub: RunningHub) -> Callable[[], Awaitable[bool]]:
    """A check: the bridge has recorded the cloud's ack of everything the hub committed."""

    async def check() -> bool:
        if not state_db.exists():
            return False
        return bool(read_state(state_db)["acked_upto"] >= hub.services.store.committed_seq)

    return check


# ---------------------------------------------------------------- checking


def outbox(db: Path) -> list[tuple[int, str, str, str, Any]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT seq, stream, kind, key, body FROM outbox ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()
    return [(r[0], r[1], r[2], r[3], json.loads(unpack(r[4]))) for r in rows]


async def assert_exactly_once(rec: Receiver, db: Path, *, shed_ok: bool = False) -> dict[str, Any]:
    """The cloud holds every outbox event once, with its content, in order per lane."""
    hub_rows = outbox(db)
    async with rec.pool.acquire() as con:
        cloud = await con.fetch(
            "SELECT seq, stream, kind, key, body::text AS body, shed FROM events "
            "WHERE store_id = $1 ORDER BY seq",
            STORE,
        )
        for lane_sql in ("stream != 'telemetry'", "stream = 'telemetry' AND NOT shed"):
            arrival = [
                r["seq"]
                for r in await con.fetch(
                    f"SELECT seq FROM events WHERE store_id = $1 AND {lane_sql} ORDER BY rid", STORE
                )
            ]
            assert arrival == sorted(arrival), f"lane {lane_sql} arrived out of order"
    assert [r["seq"] for r in cloud] == [r[0] for r in hub_rows], "seqs differ"
    shed = 0
    for c, h in zip(cloud, hub_rows, strict=True):
        if c["shed"]:
            assert shed_ok, f"seq {h[0]} was shed"
            assert h[1] == "telemetry", f"seq {h[0]} ({h[1]}) was shed"
            shed += 1
            continue
        assert (c["stream"], c["kind"], c["key"]) == h[1:4], f"seq {h[0]} differs"
        assert json.loads(c["body"]) == h[4], f"seq {h[0]} body differs"
    status = await rec.status()
    assert status["contiguous_seq"] == hub_rows[-1][0]
    assert status["missing"] == 0
    assert status["gaps"] == []
    return status | {"shed_rows": shed}
