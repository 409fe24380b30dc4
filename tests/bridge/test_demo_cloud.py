"""`tablehub demo --cloud-dsn` runs the whole chain on this machine, as a user starts it: the
hub, the reference receiver on a PostgreSQL database it makes, and a bridge between them. An
order placed through the HTTP API lands in PostgreSQL once, /healthz shows the bridge live,
and SIGTERM stops it all cleanly. Without PostgreSQL the demo says so and starts nothing."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import aiohttp
import asyncpg
import pytest

from hub.ops.mosquitto import free_port
from plumbing.packed import unpack
from tests.bridge.conftest import STORE, scratch_database

BANNER_TIMEOUT_S = 40.0
ARRIVAL_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0
BANNER_END = "Press Ctrl+C to stop."


@pytest.fixture
async def new_db_dsn() -> AsyncIterator[str]:
    """The DSN of a database that does not exist yet (the demo makes it); dropped afterwards."""
    async with scratch_database(create=False) as dsn:
        yield dsn


@dataclass
class Banner:
    hub_url: str
    table_token: str
    receiver_url: str
    store_token: str


def parse_banner(lines: list[str]) -> Banner:
    text = "\n".join(lines)

    def find(pattern: str) -> str:
        m = re.search(pattern, text, re.MULTILINE)
        assert m is not None, f"no match for {pattern!r} in the demo's banner:\n{text}"
        return m.group(1)

    return Banner(
        hub_url=find(r"is open at (http://\S+)$"),
        table_token=find(r"^\s+Table 1\s+http://\S+/t/(\S+)$"),
        receiver_url=find(r"^\s+Cloud receiver (http://127\.0\.0\.1:\d+)\s"),
        store_token=find(r"Authorization: Bearer (\S+)'"),
    )


async def read_banner(proc: asyncio.subprocess.Process, err: Path) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(BANNER_TIMEOUT_S):
            while not lines or lines[-1].strip() != BANNER_END:
                raw = await proc.stdout.readline()
                if not raw:
                    await proc.wait()
                    break
                lines.append(raw.decode().rstrip("\n"))
    except TimeoutError:
        pass
    done = bool(lines) and lines[-1].strip() == BANNER_END
    assert done, (
        f"the demo did not print its URLs (exit {proc.returncode}); stdout:\n"
        + "\n".join(lines)
        + f"\nstderr:\n{err.read_text()[-4000:]}"
    )
    return lines


async def start_demo(
    data: Path, port: int, dsn: str, stderr: int | IO[bytes]
) -> asyncio.subprocess.Process:
    """`tablehub demo` keeping its files in `data`, serving on `port`, with the cloud at
    `dsn`; its output (the banner) is piped to the test."""
    args = ("--data", str(data), "--port", str(port), "--cloud-dsn", dsn)
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub", "demo", *args, stdout=asyncio.subprocess.PIPE, stderr=stderr
    )


async def stop(proc: asyncio.subprocess.Process) -> int | None:
    """SIGTERM, then the exit code; None when it did not exit in time (it is killed then)."""
    if proc.returncode is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(STOP_TIMEOUT_S):
            return await proc.wait()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return None


def order_rows(db: Path, order_id: int) -> list[tuple[int, str, str, str, Any]]:
    """The hub's outbox rows about this order, read-only."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT seq, stream, kind, key, body FROM outbox "
            "WHERE stream = 'orders' AND key = ? ORDER BY seq",
            (str(order_id),),
        ).fetchall()
    finally:
        conn.close()
    return [(r[0], r[1], r[2], r[3], json.loads(unpack(r[4]))) for r in rows]


async def poll(check: Any, *, timeout: float, what: str) -> Any:
    t0 = time.monotonic()
    while True:
        got = await check()
        if got:
            return got
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.2)


async def test_the_demo_runs_the_whole_chain_and_an_order_reaches_postgresql_once(
    tmp_path: Path, new_db_dsn: str
) -> None:
    data, err = tmp_path / "data", tmp_path / "demo.err"
    port = free_port()
    with err.open("wb") as err_fh:
        proc = await start_demo(data, port, new_db_dsn, err_fh)
    try:
        banner = parse_banner(await read_banner(proc, err))
        assert banner.hub_url == f"http://127.0.0.1:{port}"
        assert (data / "cloud" / "tokens.toml").stat().st_mode & 0o777 == 0o600
        assert (data / "bridge.toml").exists()

        async with aiohttp.ClientSession() as http:
            body = {
                "table": banner.table_token,
                "idempotency_key": f"demo-cloud-{secrets.token_hex(4)}",
                "lines": [{"item": "sea-salt-edamame", "qty": 2}],
            }
            async with http.post(f"{banner.hub_url}/api/v1/orders", json=body) as r:
                assert r.status == 201, await r.text()
                order_id = (await r.json())["order_id"]
            hub_rows = order_rows(data / "tablehub.db", order_id)
            assert [r[2] for r in hub_rows][:1] == ["order.created"], hub_rows
            last_seq = hub_rows[-1][0]

            con = await asyncpg.connect(new_db_dsn, timeout=5)
            try:

                async def arrived() -> list[asyncpg.Record]:
                    rows: list[asyncpg.Record] = await con.fetch(
                        "SELECT seq, stream, kind, key, body::text AS body FROM events "
                        "WHERE store_id = $1 AND stream = 'orders' AND key = $2 ORDER BY seq",
                        STORE,
                        str(order_id),
                    )
                    return rows

                async def all_arrived() -> bool:
                    return len(await arrived()) >= len(hub_rows)

                await poll(
                    all_arrived,
                    timeout=ARRIVAL_TIMEOUT_S,
                    what=f"order {order_id}'s events in PostgreSQL",
                )
                cloud = await arrived()
                created = await con.fetchval(
                    "SELECT count(*) FROM events WHERE store_id = $1 AND kind = 'order.created' "
                    "AND key = $2",
                    STORE,
                    str(order_id),
                )
            finally:
                await con.close()
            assert created == 1, f"order.created of order {order_id} is in the cloud {created}x"
            assert [
                (c["seq"], c["stream"], c["kind"], c["key"], json.loads(c["body"])) for c in cloud
            ] == hub_rows

            # the receiver's own status endpoint, with the token the banner printed
            status_url = f"{banner.receiver_url}/v1/stores/{STORE}/status"
            auth = {"Authorization": f"Bearer {banner.store_token}"}
            async with http.get(status_url, headers=auth) as r:
                assert r.status == 200, await r.text()
                assert (await r.json())["contiguous_seq"] >= last_seq

            async def bridge_health() -> dict[str, Any] | None:
                async with http.get(f"{banner.hub_url}/healthz") as r:
                    doc = (await r.json()).get("cloud_bridge") or {}
                ok = doc.get("state") == "ok" and (doc.get("acked_upto") or 0) >= last_seq
                return doc if ok else None

            health = await poll(
                bridge_health, timeout=ARRIVAL_TIMEOUT_S, what="/healthz cloud_bridge ok"
            )
            assert health["last_error"] is None
    finally:
        code = await stop(proc)
    log = err.read_text()
    assert code == 0, f"the demo exited with {code} on SIGTERM; stderr:\n{log[-4000:]}"
    assert "Traceback" not in log, log[-4000:]
    assert "bridge stopped" in log


async def test_without_postgresql_the_demo_says_so_and_starts_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    dead = free_port()  # nothing listens there
    dsn = f"postgresql://postgres@127.0.0.1:{dead}/tablehub_demo"
    proc = await start_demo(data, free_port(), dsn, asyncio.subprocess.PIPE)
    try:
        async with asyncio.timeout(STOP_TIMEOUT_S):
            out, errb = await proc.communicate()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        pytest.fail(f"the demo did not give up within {STOP_TIMEOUT_S} s without PostgreSQL")
    assert proc.returncode == 2, (out, errb)
    assert f"PostgreSQL is not reachable at 127.0.0.1:{dead}" in errb.decode()
    assert not (data / "tablehub.db").exists()
    assert not (data / "mosquitto").exists()
