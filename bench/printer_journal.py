"""What one kitchen printer's journal writes per job at a rush:
`python -m bench.printer_journal [--jobs 500] [--rate 100] [--chit-ms 20]`.

A printer agent (the real one: MQTT through a real Mosquitto, its SQLite journal, the
python-escpos driver) prints `--jobs` kitchen chits sent at `--rate` jobs/s to a fake network
printer that takes `--chit-ms` per chit (it answers the status request after a write only once
the chits before it are "on paper"), so at a rush jobs wait in the agent's queue as they do at
a real printer. The process runs under the fsync shim of the durability tests
(tests/durability/fsyncshim.c), which logs every fsync and pwrite: the figures are the
journal's fsyncs and its bytes as 4 KB pages (`bench.writes`) per job, and the printer
connections per job.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

PREFIX = "tablehub/v1/bench"
CHIT = {
    "kind": "kitchen",
    "copy": "ORIGINAL",
    "banner": None,
    "store": "Golden Lantern",
    "station": "grill",
    "table": "Table 4",
    "round": 1,
    "time": "2026-11-22T18:03:11Z",
    "lang": "en",
}


async def _run(args: argparse.Namespace, work: Path) -> dict[str, float]:
    import aiomqtt

    from devices.agent import MqttSettings
    from devices.printers.agent import PrinterAgent, PrinterSettings
    from devices.printers.driver import EscposDriver
    from devices.printers.fake import FakeNetworkPrinter
    from hub.ops.mosquitto import Mosquitto

    chit_s = args.chit_ms / 1000

    class SlowPrinter(FakeNetworkPrinter):
        """Takes `chit_s` per chit: a status request waits for the chits sent before it."""

        def _answer(self, conn: object, buf: bytes) -> bytes:
            cuts = buf.count(b"\x1dV")
            if cuts:
                time.sleep(cuts * chit_s)
            return super()._answer(conn, buf)  # type: ignore[arg-type]

    broker = Mosquitto(work / "mosquitto")
    broker.start()
    printer = SlowPrinter().start()
    agent = PrinterAgent(
        "grill",
        "bench",
        EscposDriver(printer.address, timeout=5.0),
        MqttSettings(port=broker.port, keepalive=30),
        work / "state",
        settings=PrinterSettings(poll_interval=30.0, retry_interval=0.5),
    )
    ok: set[str] = set()
    failed: list[dict[str, object]] = []
    try:
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier="bench-hub") as client:
            await client.subscribe(f"{PREFIX}/printers/grill/acks", qos=1)
            done = asyncio.Event()

            async def acks() -> None:
                async for message in client.messages:
                    assert isinstance(message.payload, bytes)
                    body = json.loads(message.payload)
                    if body["ok"]:
                        ok.add(body["job_id"])
                    else:
                        failed.append(body)
                    if len(ok) == args.jobs or failed:
                        done.set()

            reader = asyncio.create_task(acks())
            async with agent:
                await asyncio.wait_for(agent.link.connected.wait(), 10)
                t0 = time.monotonic()
                for n in range(args.jobs):
                    doc = {
                        **CHIT,
                        "number": n + 1,
                        "items": [{"qty": 1, "name": f"Dish {n + 1}", "modifiers": ["Hot"]}],
                    }
                    payload = json.dumps({"job_id": f"j{n}", "doc": doc})
                    await client.publish(f"{PREFIX}/printers/grill/jobs", payload, qos=1)
                    await asyncio.sleep(max(0.0, t0 + (n + 1) / args.rate - time.monotonic()))
                await asyncio.wait_for(done.wait(), 60 + args.jobs * chit_s * 2)
                elapsed = time.monotonic() - t0
            reader.cancel()
    finally:
        await agent.close()
        printer.close()
        broker.stop()
    return {
        "jobs": args.jobs,
        "acked_ok": len(ok),
        "seconds": round(elapsed, 2),
        "connections": len(printer.connections),
        "failed": len(failed),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.printer_journal", description=__doc__)
    p.add_argument("--jobs", type=int, default=500)
    p.add_argument("--rate", type=float, default=100.0, help="jobs sent per second")
    p.add_argument("--chit-ms", type=float, default=20.0, help="the printer's time per chit")
    args = p.parse_args(argv)
    if "FSYNCSHIM_LOG" not in os.environ:  # run again under the shim
        from bench.storeday import build_shim

        work = Path(tempfile.mkdtemp(prefix="printer-journal-"))
        env = dict(
            os.environ,
            LD_PRELOAD=str(build_shim(work)),
            FSYNCSHIM_LOG=str(work / "agent.fsync"),
            FSYNCSHIM_WRITES=str(work / "agent.writes"),
        )
        argv = [sys.executable, "-m", "bench.printer_journal", *(argv or sys.argv[1:])]
        return os.spawnve(os.P_WAIT, sys.executable, argv, env)
    work = Path(os.environ["FSYNCSHIM_LOG"]).parent
    result = asyncio.run(_run(args, work))
    from bench.writes import attribute

    journal = [r for r in attribute(work, "agent") if r[0].startswith("printer-grill.sqlite")]
    fsyncs = sum(r[4] for r in journal)
    paged = sum(r[1] for r in journal)
    jobs = result["jobs"]
    print(json.dumps(result))
    print(f"journal fsyncs: {fsyncs} ({fsyncs / jobs:.2f} per job)")
    print(
        f"journal written as 4 KB pages: {paged / 1024:.0f} KB"
        f" ({paged / 1024 / jobs:.2f} KB per job)"
    )
    print(
        f"printer connections: {result['connections']} ({result['connections'] / jobs:.2f} per job)"
    )
    print(f"kept: {work}")
    return 0 if result["acked_ok"] == jobs else 1


if __name__ == "__main__":
    raise SystemExit(main())
