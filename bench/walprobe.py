"""Which pages an order and a bump write: `python -m bench.walprobe [--orders 30] [--tree DIR]`.

A hub (the tree's, this one by default) with its own broker; `--orders` orders of two lines on
two stations are posted one at a time (a store's pace: one commit each), then every ticket is
bumped one at a time. For each phase: the hub's `write_bytes` per order or bump, and the WAL
frames it appended, by the b-tree each frame's page belongs to (`dbstat` on a copy of the
store). Keep the phases under SQLite's checkpoint threshold (the WAL is read from where the
phase began): 30 orders and 60 bumps are.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import sqlite3
import struct
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.procs import REPO, BenchBroker, Children, HubUnderTest


def _call(url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def write_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes"):
            return int(line.split()[1])
    return 0


def wal_pages(wal: Path) -> list[int]:
    """The page number of every frame in the WAL, in order."""
    data = wal.read_bytes() if wal.exists() else b""
    if len(data) < 32:
        return []
    size = struct.unpack(">I", data[8:12])[0]
    out, off = [], 32
    while off + 24 + size <= len(data):
        out.append(struct.unpack(">I", data[off : off + 4])[0])
        off += 24 + size
    return out


def btree_of(db: Path) -> dict[int, str]:
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in ("", "-wal"):
            if Path(f"{db}{suffix}").exists():
                shutil.copy(f"{db}{suffix}", f"{tmp}/copy.db{suffix}")
        conn = sqlite3.connect(f"{tmp}/copy.db")
        try:
            return {int(p): str(n) for n, p in conn.execute("SELECT name, pageno FROM dbstat")}
        finally:
            conn.close()


def _phase(hub: HubUnderTest, n: int, act: Any) -> dict[str, Any]:
    wal = hub.db.with_name("tablehub.db-wal")
    before, w0 = len(wal_pages(wal)), write_bytes(hub.pid)
    for i in range(n):
        act(i)
    time.sleep(0.5)
    pages = wal_pages(wal)
    w1 = write_bytes(hub.pid)
    if len(pages) < before:
        return {"n": n, "kb_each": round((w1 - w0) / n / 1024, 1), "frames": None}
    names = btree_of(hub.db)
    tally = collections.Counter(names.get(p, f"page {p}") for p in pages[before:])
    return {
        "n": n,
        "kb_each": round((w1 - w0) / n / 1024, 1),
        "frames_each": round((len(pages) - before) / n, 1),
        "frames": {k: round(v / n, 2) for k, v in tally.most_common()},
    }


def probe(tree: Path, orders: int) -> dict[str, Any]:
    # two mains of the demo menu on two stations, with no choice to make
    picks = {"grill": "miso-glazed-salmon", "wok": "kung-pao-chicken"}
    lines = [{"item": i, "qty": 1} for i in picks.values()]
    root = Path(tempfile.mkdtemp(prefix="tablehub-walprobe-"))
    kids = Children()
    try:
        broker = BenchBroker(root / "mosquitto")
        broker.start()
        kids.add("mosquitto", broker.stop)
        hub = HubUnderTest(root / "hub", broker.port, cpus=None, tree=tree)
        hub.start(kids)
        tables = hub.table_tokens()
        auth = {"Authorization": f"Bearer {hub.kitchen_token()}"}
        time.sleep(1.0)
        stamp = int(time.time())

        def order(i: int) -> None:
            body = {"table": tables[i % len(tables)][1], "lines": lines}
            _call(f"{hub.url}/api/v1/orders", {**body, "idempotency_key": f"p{stamp}-{i}"})

        placed = _phase(hub, orders, order)
        tickets: list[int] = []
        for station in picks:
            view = _call(f"{hub.url}/api/v1/stations/{station}/tickets", headers=auth)
            tickets += [int(t["id"]) for t in view["tickets"]]

        def bump(i: int) -> None:
            _call(f"{hub.url}/api/v1/tickets/{tickets[i]}/bump", {"id": f"b{stamp}-{i}"}, auth)

        bumped = _phase(hub, len(tickets), bump)
        page = int(sqlite3.connect(hub.db).execute("PRAGMA page_size").fetchone()[0])
        return {"tree": str(tree), "page_size": page, "orders": placed, "bumps": bumped}
    finally:
        kids.close()
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.walprobe", description=__doc__)
    p.add_argument("--orders", type=int, default=30)
    p.add_argument("--tree", type=Path, default=REPO)
    args = p.parse_args(argv)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    print(json.dumps(probe(args.tree, args.orders), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
