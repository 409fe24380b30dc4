"""`make bench-floods`: another table's order latency while the hub is flooded with stalled
order bodies (the heads of `POST /api/v1/orders` with a Content-Length, then nothing).

    python -m bench.floods [--seconds 20] [--rate 20] [--hub-cpu 1]

The hub runs as in production (its own process pinned to one core, its own Mosquitto, the
production connection limits of hub.toml [http]). Three phases, each `--seconds` long, with
orders from 127.0.0.1 to one table at `--rate` per second (open loop):

- `quiet`: nothing else;
- `stalled-one-address`: 256 connections from 127.0.0.2 each send an order's head and no body,
  and are opened again a second after the hub closes one (as its Retry-After asks);
- `stalled-256-addresses`: the same from 256 addresses (127.0.1.1 ...), one connection each:
  the per-address cap does not apply, the body timeout and the in-flight rule do;
- `reconnect-storm-one-address`: as `stalled-one-address` but opened again at once, as fast as
  the hub refuses them (thousands a second): a connection-rate flood, which the connection
  caps answer cheaply but do not throttle.

Prints and writes bench/results/floods.json: per phase p50/p99/max of the orders' latency,
their statuses, and what the stalled connections got; with the CPU model."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import resource
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.procs import REPO, Children, HubUnderTest, start_broker

STALLED = 256
HEAD = (
    b"POST /api/v1/orders HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n"
)


def cpu_model() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


async def stalled_connection(
    url_port: int, address: str, until: float, got: dict[str, int], reopen_s: float
) -> None:
    """One attacker slot: send a head, wait to be closed, `reopen_s` later do it again, until
    `until`."""
    for _ in range(100_000):
        if time.monotonic() >= until:
            return
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", url_port, local_addr=(address, 0)
            )
        except OSError:
            got["connect_failed"] = got.get("connect_failed", 0) + 1
            await asyncio.sleep(0.1)
            continue
        writer.write(HEAD)
        try:
            async with asyncio.timeout(max(0.0, until - time.monotonic())):
                answer = await reader.read()
            status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "closed"
        except TimeoutError:
            status = "open at the end"
        except ConnectionResetError:
            status = "reset"
        got[status] = got.get(status, 0) + 1
        writer.close()
        await asyncio.sleep(min(reopen_s, max(0.0, until - time.monotonic())))


async def orders(url: str, token: str, rate: float, seconds: float, tag: str) -> dict[str, Any]:
    took: list[float] = []
    statuses: dict[str, int] = {}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:

        async def one(i: int) -> None:
            body = {
                "table": token,
                "idempotency_key": f"{tag}-{i:06d}",
                "lines": [{"item": "sea-salt-edamame", "qty": 1}],
            }
            t = time.perf_counter()
            status = "error"
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.post(url + "/api/v1/orders", json=body) as r:
                    await r.read()
                    status = str(r.status)
            took.append(time.perf_counter() - t)
            statuses[status] = statuses.get(status, 0) + 1

        t0 = time.monotonic()
        tasks = []
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return {
        "orders": len(took),
        "status": statuses,
        "p50_ms": round(pct(took, 0.5) * 1000, 1),
        "p99_ms": round(pct(took, 0.99) * 1000, 1),
        "max_ms": round(max(took) * 1000, 1),
    }


async def phase(
    hub: HubUnderTest,
    token: str,
    name: str,
    addresses: list[str],
    args: argparse.Namespace,
    reopen_s: float = 1.0,
) -> dict[str, Any]:
    until = time.monotonic() + args.seconds + 1.0
    got: dict[str, int] = {}
    attack = [
        asyncio.create_task(
            stalled_connection(hub.port, addresses[i % len(addresses)], until, got, reopen_s)
        )
        for i in range(STALLED if addresses else 0)
    ]
    if attack:
        await asyncio.sleep(1.0)  # the flood in place before the orders start
    result = await orders(hub.url, token, args.rate, args.seconds, name)
    await asyncio.gather(*attack)
    result["stalled"] = got
    print(f"{name:24s} {json.dumps(result)}", flush=True)
    return result


async def run(hub: HubUnderTest, token: str, args: argparse.Namespace) -> dict[str, Any]:
    one = ["127.0.0.2"]
    many = [f"127.0.1.{k}" for k in range(1, 255)] + ["127.0.2.1", "127.0.2.2"]
    return {
        "quiet": await phase(hub, token, "quiet", [], args),
        "stalled-one-address": await phase(hub, token, "stalled-one-address", one, args),
        "stalled-256-addresses": await phase(hub, token, "stalled-256-addresses", many, args),
        "reconnect-storm-one-address": await phase(
            hub, token, "reconnect-storm-one-address", one, args, reopen_s=0.0
        ),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.floods", description=__doc__)
    p.add_argument("--seconds", type=float, default=20.0, help="length of each phase")
    p.add_argument("--rate", type=float, default=20.0, help="orders per second from 127.0.0.1")
    p.add_argument("--hub-cpu", default="1", help="core the hub runs on")
    p.add_argument("--out", default=str(REPO / "bench" / "results" / "floods.json"))
    args = p.parse_args(argv)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp, Children() as kids:
        root = Path(tmp)
        broker = start_broker(kids, root / "mq", {0})
        hub = HubUnderTest(root / "hub", broker.port, cpus=args.hub_cpu, production_http=True)
        hub.start(kids)
        token = hub.table_tokens()[1][1]
        phases = asyncio.run(run(hub, token, args))
        hub.stop()
    doc = {
        "cpu": cpu_model(),
        "hub_cpus": args.hub_cpu,
        "rate": args.rate,
        "seconds": args.seconds,
        "stalled_connections": STALLED,
        "phases": phases,
    }
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"cpu: {doc['cpu']}; written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
