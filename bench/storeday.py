"""A store's day, replayed at accelerated speed, counting what every process writes.

    python -m bench.storeday [--speed 240] [--sd-ms 0] [--out bench/results/storeday.json]

The day (10:00 to 23:00) is 3,000 orders in hourly phases with a lunch and a dinner peak,
every ticket bumped by the kitchen screens, 300 table calls, two scales streaming readings,
five printers (four kitchen stations and a bill printer: fake network printers in this
process), 60 diner phones and 5 kitchen screens open, the cloud bridge uploading to a fake
cloud that is away for one hour of the day (from 18:00). An hour of the day lasts
3600 / speed seconds here.

Each process (hub, broker, bridge) runs under the LD_PRELOAD shim of the durability tests
(tests/durability/fsyncshim.c), which logs every fsync and fdatasync with its file; the
bytes each process caused to be written come from /proc/<pid>/io `write_bytes` (block
layer, after the page cache: what reaches the disk), read at every phase edge. The logs are
what the hub and the bridge print (journald on a store box), counted as they go by.

Two more measurements in the same run, same processes:

- *idle*: the room open with no orders (sockets open, scales at zero, no calls or bumps),
  30 s, from 15 s after the processes started (their start-up writes are not a quiet
  room's): the write rate of a quiet dining room. Time-driven writes (checkpoints, cursor
  saves, the broker's autosave) happen at wall-clock speed, not at the replay's, so the
  day's total is the replay's bytes less its idle share plus the idle rate over 13 real
  hours: day = replay - idle_rate x replay_s + idle_rate x 13 h (the same for fsyncs).
- *100/s*: 10 s of orders at 100/s with the room around them: bytes per order (net of
  idle) at that rate, the target's condition.
- *the rush at its own pace*: the dinner peak's rate (550 orders an hour) played at real
  speed for `RUSH_S`, every ticket bumped: bytes per order (net of idle) as a store's card
  sees them. The replay runs the day 240 times faster, so writes that wait a fixed time for
  company (a print job's marks) find far more of it there than in a store, and 100/s shares
  one commit among many orders: neither is how a real rush's orders come, one every few
  seconds, each with commits of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import stats
from bench.printers import PrinterRig, PrinterSpec
from bench.procs import REPO, BenchBroker, Child, Children, HubUnderTest, http_json, wait_http
from bench.run import _fstype, machine, run_loadgen
from hub.ops.mosquitto import free_port
from hub.provision.broker import AUTOSAVE_INTERVAL

RESULTS = REPO / "bench" / "results"
SHIM_SRC = REPO / "tests" / "durability" / "fsyncshim.c"
# orders per hour of the day, 10:00 .. 22:00 (3,000 in all): lunch and dinner peaks
HOURS = [50, 200, 450, 400, 150, 50, 50, 150, 400, 550, 400, 100, 50]
FIRST_HOUR = 10
OUTAGE_HOUR = 18  # the cloud is away for this hour
DAY_S = len(HOURS) * 3600.0
CALLS = 300
SPEED = 240.0  # day seconds per real second: the 13 hours in ~3.3 minutes
IDLE_S = 30.0
START_SETTLE_S = 15.0  # from the processes' start to the idle window
RATE_S = 10.0
RUSH_S = 180.0  # the dinner peak at real speed: about 27 orders
TARGETS = {"per_order_kb": 8.0, "idle_kb_s": 2.0, "day_mb": 50.0}
PROCS = ("hub", "broker", "bridge")
# every pwrite logged per process (a probe: <root>/<process>.writes, kept with --keep)
WRITES_LOG = bool(os.environ.get("STOREDAY_WRITES"))


def build_shim(work: Path) -> Path:
    """fsyncshim.c built into `work` (the shim every process of the day runs under)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler: the store day builds fsyncshim.c with `cc`")
    out = work / "fsyncshim.so"
    subprocess.run(
        [cc, "-shared", "-fPIC", "-O2", "-o", str(out), str(SHIM_SRC), "-ldl"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


@dataclass
class Probe:
    """Reads every process's counters: /proc io, its fsync log, its log output."""

    pids: dict[str, int] = field(default_factory=dict)
    fsync_logs: dict[str, Path] = field(default_factory=dict)
    logs: dict[str, Path] = field(default_factory=dict)
    gone: dict[str, dict[str, float]] = field(default_factory=dict)  # counters of ended pids

    def read(self) -> dict[str, Any]:
        out: dict[str, Any] = {"t": time.monotonic(), "ns": time.monotonic_ns()}
        for name in PROCS:
            io = _io(self.pids.get(name))
            base = self.gone.get(name, {})
            out[name] = {
                "write_bytes": io.get("write_bytes", 0) + base.get("write_bytes", 0),
                "syscw": io.get("syscw", 0) + base.get("syscw", 0),
                "cpu_s": _cpu(self.pids.get(name)) + base.get("cpu_s", 0.0),
                "fsyncs": _lines(self.fsync_logs.get(name)),
                "log_bytes": _size(self.logs.get(name)),
            }
        return out

    def retire(self, name: str) -> None:
        """The process is about to stop: keep its counters for the totals."""
        now = self.read()[name]
        self.gone[name] = {k: now[k] for k in ("write_bytes", "syscw", "cpu_s")}
        self.pids.pop(name, None)


def _io(pid: int | None) -> dict[str, int]:
    if pid is None:
        return {}
    try:
        text = Path(f"/proc/{pid}/io").read_text()
    except OSError:
        return {}
    return {k: int(v) for k, v in (ln.split(": ") for ln in text.splitlines() if ": " in ln)}


def _cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


def _lines(path: Path | None) -> int:
    if path is None or not path.exists():
        return 0
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def _size(path: Path | None) -> int:
    return path.stat().st_size if path is not None and path.exists() else 0


def delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Counters from snapshot `a` to `b`, per process and in all."""
    out: dict[str, Any] = {"seconds": b["t"] - a["t"]}
    total = {"write_bytes": 0, "fsyncs": 0, "log_bytes": 0, "syscw": 0}
    for name in PROCS:
        d = {k: b[name][k] - a[name][k] for k in a[name]}
        out[name] = d
        for k in total:
            total[k] += d[k]
    out["all"] = total
    return out


def fsync_files(path: Path, since_ns: int = 0, until_ns: int | None = None) -> dict[str, int]:
    """fsyncs per file (the shim's log) between two CLOCK_MONOTONIC instants."""
    counts: dict[str, int] = {}
    if not path.exists():
        return counts
    for line in path.read_text("utf-8", "replace").splitlines():
        parts = line.split(" ", 5)
        if len(parts) < 6:
            continue
        t = int(parts[0])
        if t < since_ns or (until_ns is not None and t > until_ns):
            continue
        name = Path(parts[5]).name
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


class StoreDay:
    def __init__(self, args: argparse.Namespace, name: str, tree: Path, root: Path) -> None:
        self.args = args
        self.speed = float(args.speed)
        self.tree = tree
        self.root = root / name
        self.root.mkdir(parents=True)
        self.shim = root / "fsyncshim.so"
        self.probe = Probe()
        self.results: dict[str, Any] = {"tree": name, "path": str(tree)}

    # ------------------------------------------------------------ processes

    def shim_env(self, name: str) -> dict[str, str]:
        log = self.root / f"{name}.fsync"
        self.probe.fsync_logs[name] = log
        ctl = self.root / "ctl"
        ctl.mkdir(exist_ok=True)
        return {
            "LD_PRELOAD": str(self.shim),
            "FSYNCSHIM_LOG": str(log),
            "FSYNCSHIM_CTL": str(ctl),
            **(
                {
                    "FSYNCSHIM_WRITES": str(self.root / f"{name}.writes"),
                    "FSYNCSHIM_WALPAGES": str(self.root / f"{name}.walpages"),
                }
                if WRITES_LOG
                else {}
            ),
        }

    def autosave_s(self) -> int:
        """The broker's autosave interval that the tree under test provisions a store with."""
        src = (self.tree / "hub" / "provision" / "broker.py").read_text()
        found = re.search(r"^AUTOSAVE_INTERVAL = (\d+)", src, re.M)
        return int(found.group(1)) if found else AUTOSAVE_INTERVAL

    def start_broker(self, kids: Children) -> BenchBroker:
        self.results["autosave_s"] = autosave = self.autosave_s()
        broker = BenchBroker(self.root / "mosquitto", autosave_interval=autosave)
        saved = dict(os.environ)
        os.environ.update(self.shim_env("broker"))
        try:
            broker.start()
        finally:
            os.environ.clear()
            os.environ.update(saved)
        kids.add("mosquitto", broker.stop)
        assert broker.proc is not None
        self.probe.pids["broker"] = broker.proc.pid
        self.probe.logs["broker"] = broker.log_path
        return broker

    def start_hub(self, kids: Children, broker: int) -> HubUnderTest:
        hub = HubUnderTest(self.root / "hub", broker, cpus=self.args.hub_cpu, tree=self.tree)
        hub.env = self.shim_env("hub")
        # a store box's replay window: as provisioning writes it, above the broker's autosave
        replay = f"replay_after_reconnect_s = {self.results['autosave_s'] + 5}\n"
        hub.config.write_text(
            hub.config.read_text().replace("replay_after_reconnect_s = 3\n", replay)
        )
        self.printers = PrinterRig(
            (
                PrinterSpec("kitchen-grill", ("grill",)),
                PrinterSpec("kitchen-wok", ("wok",)),
                PrinterSpec("kitchen-cold", ("cold",)),
                PrinterSpec("bar", ("bar",)),
                PrinterSpec("bills"),
            )
        ).start()
        kids.add("printers", self.printers.close)
        self.printers.add_to(hub.config)
        hub.start(kids, timeout=60)
        assert hub.child is not None
        self.probe.pids["hub"] = hub.pid
        self.probe.logs["hub"] = hub.child.log
        return hub

    def start_cloud(self, kids: Children, hub: HubUnderTest) -> None:
        work = self.root / "cloud"
        work.mkdir()
        token = work / "cloud-token"
        token.write_text("day-store-token-" + "z" * 20)
        token.chmod(0o600)
        self.cloud_port = free_port()
        self.cloud_db = work / "cloud.db"
        self.cloud_token = token
        self.spawn_fakecloud(kids)
        conf = work / "bridge.toml"
        conf.write_text(
            "[bridge]\n"
            f'hub_db = "{hub.db}"\nstate_db = "{work / "bridge.db"}"\nstore_id = "demo"\n'
            f'endpoint = "http://127.0.0.1:{self.cloud_port}"\ntoken_file = "{token}"\n'
            'menu_poll_seconds = 0\nlog_level = "info"\n'
        )
        bridge = kids.spawn(
            "bridge",
            [sys.executable, "-m", "cloud_bridge", "bridge", "run", "--config", str(conf)],
            work / "bridge.log",
            cpus=self.args.gen_cpu,
            env=self.shim_env("bridge"),
            cwd=self.tree,
        )
        self.probe.pids["bridge"] = bridge.pid
        self.probe.logs["bridge"] = bridge.log

    def spawn_fakecloud(self, kids: Children) -> None:
        self.cloud: Child = kids.spawn(
            "fakecloud",
            [
                sys.executable,
                "-m",
                "bench.fakecloud",
                "--port",
                str(self.cloud_port),
                "--db",
                str(self.cloud_db),
                "--token-file",
                str(self.cloud_token),
            ],
            self.root / "cloud" / "cloud.log",
            cpus=self.args.gen_cpu,
        )
        wait_http(f"http://127.0.0.1:{self.cloud_port}/v1/stores/demo/status", self.cloud)

    # ------------------------------------------------------------ the loads

    def spec(self, hub: HubUnderTest, broker: int, **over: Any) -> dict[str, Any]:
        spec = {
            "url": hub.url,
            "mqtt_port": broker,
            "tables": hub.table_tokens(),
            "kitchen_token": hub.kitchen_token(),
            "run_id": f"d{os.getpid()}-{int(time.time())}",
            "diners": 60,
            "kds": ["grill", "wok", "cold", "bar", "expo"],
            "menu_rate": 0.0,
            "stop_when_saturated": False,
            "gap_seconds": 0.0,
            "settle_seconds": 2.0,
            "max_seconds": 3600.0,
        }
        spec.update(over)
        return spec

    def marked_run(
        self, kids: Children, name: str, spec: dict[str, Any], on_phase: Any = None
    ) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
        """The generator with a snapshot of every process at READY and each phase edge."""
        marks: list[tuple[str, dict[str, Any]]] = []

        def on_line(line: str, gen: Child) -> None:
            word = line.split()
            if word and word[0] in ("READY", "PHASE"):
                marks.append((line, self.probe.read()))
                if on_phase is not None:
                    on_phase(line)

        out = run_loadgen(kids, self.root, name, spec, None, self.args.gen_cpu, on_line=on_line)
        marks.append(("DONE", self.probe.read()))
        return out, marks

    def quiet(self, limit_s: float = 90.0) -> dict[str, Any]:
        """Wait until the hub has made no fsync for 3 s (its printers done), at most
        `limit_s`; the snapshot then."""
        until = time.monotonic() + limit_s
        last = self.probe.read()
        still_since = time.monotonic()
        while time.monotonic() < until:
            time.sleep(0.5)
            now = self.probe.read()
            if now["hub"]["fsyncs"] != last["hub"]["fsyncs"]:
                still_since = time.monotonic()
            elif time.monotonic() - still_since >= 3.0:
                return now
            last = now
        return last

    def idle(self, kids: Children, hub: HubUnderTest, broker: int) -> dict[str, Any]:
        spec = self.spec(
            hub,
            broker,
            bump_rate=0.0,
            call_rate=0.0,
            scale_rate=10.0,
            scale_grams=0,
            baseline_seconds=IDLE_S,
            phases=[],
        )
        print(f"storeday: the room idle for {IDLE_S:g} s", flush=True)
        _out, marks = self.marked_run(kids, "idle", spec)
        # READY .. the end of the baseline (no phases: the next mark is DONE, after settle)
        d = delta(marks[0][1], marks[-1][1])
        d["fsync_files"] = {
            name: fsync_files(self.probe.fsync_logs[name], marks[0][1]["ns"], marks[-1][1]["ns"])
            for name in PROCS
        }
        return d

    def at_rate(self, kids: Children, hub: HubUnderTest, broker: int) -> dict[str, Any]:
        spec = self.spec(
            hub,
            broker,
            bump_rate=20.0,
            call_rate=1.0,
            scale_rate=10.0,
            phases=[{"name": "100/s", "rate": 100.0, "seconds": RATE_S}],
        )
        print("storeday: 100 orders/s for 10 s", flush=True)
        out, marks = self.marked_run(kids, "rate", spec)
        start = next(s for line, s in marks if line.startswith("PHASE 0 START"))
        end = self.quiet()  # the chits of these orders printed and marked: theirs too
        d = delta(start, end)
        d["orders"] = sum(1 for o in out["orders"] if o[stats.STATUS] == 201)
        d["fsync_files"] = {
            name: fsync_files(self.probe.fsync_logs[name], start["ns"], end["ns"]) for name in PROCS
        }
        return d

    def rush(self, kids: Children, hub: HubUnderTest, broker: int) -> dict[str, Any]:
        """The dinner peak's orders, bumps and calls at their real rate for `RUSH_S`."""
        rate = max(HOURS) / 3600.0
        spec = self.spec(
            hub,
            broker,
            bump_rate=1.3 * 2 * rate,  # two tickets an order, every one bumped (as the day)
            call_rate=CALLS / DAY_S,
            scale_rate=10.0,
            phases=[{"name": "rush", "rate": rate, "seconds": RUSH_S}],
        )
        print(f"storeday: the dinner rush at real speed for {RUSH_S:g} s", flush=True)
        out, marks = self.marked_run(kids, "rush", spec)
        start = next(s for line, s in marks if line.startswith("PHASE 0 START"))
        end = self.quiet()
        d = delta(start, end)
        d["orders"] = sum(1 for o in out["orders"] if o[stats.STATUS] == 201)
        d["fsync_files"] = {
            name: fsync_files(self.probe.fsync_logs[name], start["ns"], end["ns"]) for name in PROCS
        }
        return d

    def day(self, kids: Children, hub: HubUnderTest, broker: int) -> dict[str, Any]:
        hour_s = 3600.0 / self.speed
        phases = [
            {"name": f"{FIRST_HOUR + i}:00", "rate": n / hour_s, "seconds": hour_s}
            for i, n in enumerate(HOURS)
        ]
        replay_s = hour_s * len(HOURS)
        tickets = sum(HOURS) * 2
        spec = self.spec(
            hub,
            broker,
            bump_rate=1.3 * tickets / replay_s,  # every ticket is bumped, a little behind
            call_rate=CALLS / replay_s,
            scale_rate=10.0,
            phases=phases,
            settle_seconds=5.0,
        )
        outage = OUTAGE_HOUR - FIRST_HOUR
        cloud: dict[str, Any] = {}

        def on_phase(line: str) -> None:
            word = line.split()
            if word[0] != "PHASE" or word[2] != "START":
                return
            if int(word[1]) == outage:
                self.cloud.kill9()
                cloud["down_at"] = time.monotonic()
            elif int(word[1]) == outage + 1:
                self.spawn_fakecloud(kids)
                cloud["up_at"] = time.monotonic()

        print(f"storeday: the day at {self.speed:g}x ({replay_s:.0f} s)", flush=True)
        out, marks = self.marked_run(kids, "day", spec, on_phase)
        # the bridge uploads what waited through the outage (bounded)
        target = int(http_json(hub.url + "/healthz")["store"]["last_seq"])
        until = time.monotonic() + 120
        while time.monotonic() < until:
            with contextlib.suppress(OSError, ValueError):
                st = http_json(f"http://127.0.0.1:{self.cloud_port}/v1/stores/demo/status")
                if st["contiguous_seq"] >= target:
                    cloud["caught_up_s"] = time.monotonic() - cloud.get("up_at", time.monotonic())
                    break
            time.sleep(0.2)
        final = self.quiet()
        start = next(s for line, s in marks if line.startswith("PHASE 0 START"))
        hours = []
        starts = [(ln, s) for ln, s in marks if ln.startswith("PHASE") and "START" in ln]
        ends = [(ln, s) for ln, s in marks if ln.startswith("PHASE") and "END" in ln]
        for (_, a), (_, b), ph in zip(starts, ends, phases, strict=False):
            h = delta(a, b)
            h["name"] = ph["name"]
            hours.append(h)
        d = delta(start, final)
        d["hours"] = hours
        d["orders"] = sum(1 for o in out["orders"] if o[stats.STATUS] == 201)
        d["orders_sent"] = len(out["orders"])
        d["counts"] = out.get("counts", {})
        d["cloud"] = cloud
        d["fsync_files"] = {
            name: fsync_files(self.probe.fsync_logs[name], start["ns"], final["ns"])
            for name in PROCS
        }
        return d

    # ------------------------------------------------------------ the run

    def run(self) -> dict[str, Any]:
        t0 = time.monotonic()
        print(f"storeday: the hub of {self.results['tree']} ({self.tree})", flush=True)
        try:
            with Children() as kids:
                broker = self.start_broker(kids)
                if self.args.sd_ms:
                    (self.root / "ctl" / "delay_ms").write_text(str(self.args.sd_ms))
                hub = self.start_hub(kids, broker.port)
                self.start_cloud(kids, hub)
                # start-up writes are not the idle rate: the bridge makes its first budget
                # check (one write, then only on change) 10 s after it starts
                time.sleep(START_SETTLE_S)
                self.results["idle"] = self.idle(kids, hub, broker.port)
                # the rush before the day and 100/s: run after them, the hub wrote 22 MB in
                # its three minutes where the same rush alone writes 3 MB: what the day left
                # to finish (its checkpoints, most likely), which a store's hours would have
                # done at their own pace long before the dinner rush
                self.results["rush"] = self.rush(kids, hub, broker.port)
                if not self.args.no_day:
                    self.results["day"] = self.day(kids, hub, broker.port)
                self.results["rate"] = self.at_rate(kids, hub, broker.port)
                self.results["db_bytes"] = sum(
                    p.stat().st_size for p in hub.data.rglob("*") if p.is_file()
                )
                hub.stop()
                self.results["store"] = store_size(hub.data / "tablehub.db")
        finally:
            self.results["elapsed_s"] = round(time.monotonic() - t0, 1)
        self.results["summary"] = summarise(self.results, self.speed)
        return self.results


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """Every tree in turn (the same loads, one after another, in this one run)."""
    root = Path(tempfile.mkdtemp(prefix="tablehub-day-", dir=args.tmp))
    info = machine()
    info["data_dir"] = f"{root} ({_fstype(root)})"
    results: dict[str, Any] = {
        "speed": float(args.speed),
        "hours": HOURS,
        "sd_ms": args.sd_ms,
        "machine": info,
        "command": "python -m bench.storeday "
        + " ".join(a for a in sys.argv[1:] if not a.startswith("--tmp")),
        "trees": [],
    }
    trees = [t.split("=", 1) for t in args.tree] or [["this", str(REPO)]]
    try:
        build_shim(root)
        for name, path in trees:
            results["trees"].append(StoreDay(args, name, Path(path).resolve(), root).run())
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return results


def store_size(db: Path) -> dict[str, Any]:
    """What the store holds after the run: the bytes of its pages in use (what a backup
    copies), the outbox's share of them (kept a week once the cloud has it; the business is
    kept `[history] keep_days`) and the orders they are for."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        page = int(conn.execute("PRAGMA page_size").fetchone()[0])
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        by_tree = dict(
            conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
        )
        orders = int(conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0])
        events = int(conn.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
    finally:
        conn.close()
    return {
        "used_bytes": (pages - free) * page,
        "outbox_bytes": int(by_tree.get("outbox", 0)),
        "orders": orders,
        "events": events,
        "largest": sorted(by_tree.items(), key=lambda kv: -int(kv[1]))[:8],
    }


def _per_order(phase: dict[str, Any], name: str, idle: dict[str, float]) -> dict[str, float]:
    """A phase's writes and fsyncs by process `name` per order it answered, net of what the
    idle room does in the same time."""
    n = max(1, phase["orders"])
    d, seconds = phase[name], phase["seconds"]
    return {
        "bytes": d["write_bytes"] / n,
        "net_bytes": (d["write_bytes"] - idle["bytes_s"] * seconds) / n,
        "fsyncs": d["fsyncs"] / n,
        "net_fsyncs": (d["fsyncs"] - idle["fsyncs_s"] * seconds) / n,
    }


def summarise(r: dict[str, Any], speed: float) -> dict[str, Any]:
    idle, rate = r["idle"], r["rate"]
    idle_s = max(1e-9, idle["seconds"])
    s: dict[str, Any] = {"idle": {}, "per_order": {}}
    for name in (*PROCS, "all"):
        s["idle"][name] = {
            "bytes_s": idle[name]["write_bytes"] / idle_s,
            "fsyncs_s": idle[name]["fsyncs"] / idle_s,
            "log_bytes_s": idle[name]["log_bytes"] / idle_s,
        }
        s["per_order"][name] = _per_order(rate, name, s["idle"][name])
    rush = r.get("rush")
    if rush:
        s["rush"] = {name: _per_order(rush, name, s["idle"][name]) for name in (*PROCS, "all")}
        s["rush"]["orders"] = rush["orders"]
        s["rush"]["seconds"] = rush["seconds"]
    day = r.get("day")
    if day:
        replay_s = day["seconds"]
        s["day"] = {}
        for name in (*PROCS, "all"):
            i = s["idle"][name]
            d = day[name]
            s["day"][name] = {
                "write_bytes": d["write_bytes"] + i["bytes_s"] * (DAY_S - replay_s),
                "fsyncs": d["fsyncs"] + i["fsyncs_s"] * (DAY_S - replay_s),
                "log_bytes": d["log_bytes"] + i["log_bytes_s"] * (DAY_S - replay_s),
                "replay_bytes": d["write_bytes"],
            }
        # the busiest hour at real speed: its event-driven bytes spread over 3600 s, plus idle
        peak = max(day["hours"], key=lambda h: h["all"]["write_bytes"])
        hour_s = peak["seconds"]
        idle_all = s["idle"]["all"]["bytes_s"]
        s["peak"] = {
            "hour": peak["name"],
            "bytes_s": (peak["all"]["write_bytes"] - idle_all * hour_s) / (hour_s * speed)
            + idle_all,
            "fsyncs_s": peak["all"]["fsyncs"] / (hour_s * speed)
            + s["idle"]["all"]["fsyncs_s"] * (1 - 1 / speed),
        }
    s["targets"] = {
        "per_order_kb": (s["per_order"]["all"]["net_bytes"] / 1024, TARGETS["per_order_kb"]),
        "idle_kb_s": (s["idle"]["all"]["bytes_s"] / 1024, TARGETS["idle_kb_s"]),
    }
    if day:
        s["targets"]["day_mb"] = (s["day"]["all"]["write_bytes"] / 1e6, TARGETS["day_mb"])
    store = r.get("store")
    if store and store["orders"]:
        n = store["orders"]
        s["store"] = {
            "orders": n,
            "business_per_order": (store["used_bytes"] - store["outbox_bytes"]) / n,
            "outbox_per_order": store["outbox_bytes"] / n,
        }
    return s


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.storeday", description=__doc__)
    p.add_argument("--speed", type=float, default=SPEED, help="day seconds per real second")
    p.add_argument("--sd-ms", type=int, default=0, help="delay every fsync by this much")
    p.add_argument("--no-day", action="store_true", help="only idle and 100/s")
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    p.add_argument("--hub-cpu", default="1")
    p.add_argument("--gen-cpu", default="0")
    p.add_argument("--tmp", default="/var/tmp", help="where data dirs go (a normal disk)")
    p.add_argument(
        "--tree",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="run the hub (and bridge) from this source tree; repeat to compare in one run",
    )
    p.add_argument("--out", type=Path, default=RESULTS / "storeday.json")
    args = p.parse_args(argv)
    results = run_all(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    for tree in results["trees"]:
        print(tree["tree"], json.dumps(tree["summary"]["targets"]))
    print(f"storeday: wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
