"""`kill -9` of the hub while orders are in flight: every acknowledged order survives, once,
and the kitchen screens show exactly what was open."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.ops.mosquitto import Mosquitto, free_port
from tests.conftest import run_module
from tests.waiting import until

ROUNDS = 3
CLIENTS = 8
ACKED_PER_ROUND = 8  # times the round's number: later rounds kill later in the burst


def write_config(tmp: Path, port: int, broker_port: int, menu: dict[str, Any]) -> Path:
    (tmp / "menu.json").write_text(json.dumps(menu))
    cfg = tmp / "hub.toml"
    cfg.write_text(f"""
[store]
data_dir = "{tmp / "data"}"
menu_file = "{tmp / "menu.json"}"
[http]
host = "127.0.0.1"
port = {port}
[broker]
port = {broker_port}
client_id = "crash-hub"
[log]
level = "warning"
[limits]
enabled = false
""")
    return cfg


def start_hub(cfg: Path, log: Path) -> subprocess.Popen[bytes]:
    return run_module(log, "hub", "run", "--config", str(cfg))


async def wait_serving(
    http: aiohttp.ClientSession, url: str, proc: subprocess.Popen[bytes], log: Path
) -> None:
    async def serving() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"hub exited: {log.read_text()[-3000:]}")
        with contextlib.suppress(aiohttp.ClientError):
            async with http.get(url + "/healthz") as r:
                return r.status == 200
        return False

    await until(serving, "the hub to answer /healthz", every=0.05)


def token_cli(data: Path, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "hub", *args, "--data", str(data)],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


async def shoot(
    http: aiohttp.ClientSession,
    url: str,
    tables: list[dict[str, Any]],
    prefix: str,
    acked: dict[str, tuple[int, dict[str, Any]]],
    stop: asyncio.Event,
    n: int,
) -> None:
    """One phone: orders until told to stop or its connection dies; records every 201."""
    i = 0
    while not stop.is_set():
        key = f"{prefix}-{n}-{i:05d}"
        table = tables[(n + i) % len(tables)]["url"].rsplit("/", 1)[1]
        body = {
            "table": table,
            "idempotency_key": key,
            "lines": [{"item": "sea-salt-edamame", "qty": 1 + i % 3}],
        }
        try:
            async with http.post(url + "/api/v1/orders", json=body) as r:
                if r.status == 201:
                    acked[key] = ((await r.json())["order_id"], body)
        except (TimeoutError, aiohttp.ClientError):
            return
        i += 1


@pytest.mark.slow
async def test_kill_9_loses_no_acknowledged_order(
    tmp_path: Path, broker: Mosquitto, menu_doc: dict[str, Any]
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cfg = write_config(tmp_path, port, broker.port, menu_doc)
    log = tmp_path / "hub.log"
    acked: dict[str, tuple[int, dict[str, Any]]] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        proc = start_hub(cfg, log)
        await wait_serving(http, url, proc, log)
        tables = json.loads(token_cli(tmp_path / "data", "tables", "--json"))
        staff = token_cli(tmp_path / "data", "token", "--role", "kitchen")
        for rnd in range(ROUNDS):
            stop = asyncio.Event()
            phones = [
                asyncio.create_task(shoot(http, url, tables, f"r{rnd}", acked, stop, n))
                for n in range(CLIENTS)
            ]
            # mid-burst, whatever the machine's pace: some orders of this round are
            # acknowledged and the phones keep sending
            taken = len(acked) + ACKED_PER_ROUND * (rnd + 1)
            await until(
                lambda taken=taken: len(acked) >= taken,
                f"{ACKED_PER_ROUND * (rnd + 1)} orders acknowledged in round {rnd}",
                every=0.005,
            )
            proc.send_signal(signal.SIGKILL)  # requests are in flight
            proc.wait(5)
            stop.set()
            await asyncio.gather(*phones)
            proc = start_hub(cfg, log)
            await wait_serving(http, url, proc, log)
        try:
            # every acknowledged order is there, exactly once, with its ticket open on the KDS
            auth = {"Authorization": f"Bearer {staff}"}
            async with http.get(url + "/api/v1/stations/cold/tickets", headers=auth) as r:
                tickets = (await r.json())["tickets"]
            on_screen = [t["order_id"] for t in tickets]
            assert len(on_screen) == len(set(on_screen))
            assert {oid for oid, _ in acked.values()} <= set(on_screen)
            for key, (order_id, body) in acked.items():
                async with http.get(f"{url}/api/v1/orders/{order_id}", headers=auth) as r:
                    assert r.status == 200, key
                    assert (await r.json())["lines"][0]["qty"] == body["lines"][0]["qty"]
            # a phone retrying an acknowledged order after the crash gets it back, not a twin
            for order_id, body in list(acked.values())[:: max(1, len(acked) // 20)]:
                async with http.post(url + "/api/v1/orders", json=body) as r:
                    assert r.status == 201
                    assert r.headers["Idempotent-Replayed"] == "true"
                    assert (await r.json())["order_id"] == order_id
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
    assert len(acked) > 20, f"the burst acknowledged only {len(acked)} orders"
    assert "Traceback" not in log.read_text()
    assert os.path.exists(tmp_path / "data" / "tablehub.db")


async def test_a_damaged_store_is_refused_and_left_as_it_was(
    tmp_path: Path, menu_doc: dict[str, Any]
) -> None:
    """A damaged store is no longer moved aside for a fresh one: a fresh store loses the
    orders and staff tokens and brings rotated tables' old QR codes back, so the hub refuses
    to start and the file stays as it was, for `tablehub restore` or a recovery
    (tests/integration/test_hardening_files.py runs the same through `tablehub run`)."""
    from hub.app import running_hub
    from hub.config import HubConfig
    from hub.store.db import StoreDamaged

    config = HubConfig(data_dir=tmp_path / "data", http_port=0, broker=None)
    async with running_hub(config, seed_menu=menu_doc):
        pass
    db = tmp_path / "data" / "tablehub.db"
    with db.open("r+b") as fh:  # a power cut on a bad card: garbage over the first pages
        fh.seek(100)
        fh.write(os.urandom(8192))
    damaged = db.read_bytes()
    with pytest.raises(StoreDamaged, match="fails its check"):
        async with running_hub(config, seed_menu=menu_doc):
            pass
    assert db.read_bytes() == damaged
    assert not list((tmp_path / "data").glob("tablehub.db.*")), "nothing is moved aside"
