"""`make bench`: the benchmark orchestrator.

    python -m bench.run [--quick] [--only hub,drain,floor,pi,day,history,profile] [--skip ...]

In one run, on this machine: the hub's start-up time; a sweep of offered order rates
against the hub (pinned to one core, its own Mosquitto, data dir on the normal disk) with a
whole dining room around the orders; the same sweep against the floor (bench/floor.py);
the cloud bridge draining a backlog while orders go on; the sweep again with the hub held
to a fifth of a core (a Raspberry Pi estimate); py-spy profiles where a target is missed.
Writes bench/results/<mode>.json, docs/benchmarks.md and docs/bench/latency.png."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import history, report, shift, stats
from bench.procs import (
    CPU_PERIOD_MS,
    REPO,
    Child,
    Children,
    CpuLimit,
    HubUnderTest,
    http_json,
    sample,
    start_broker,
    wait_http,
)
from hub.ops.mosquitto import free_port

RESULTS = REPO / "bench" / "results"

FULL: dict[str, Any] = {
    "rates": [50, 100, 200, 500, 1000, 2000, 3000],
    "seconds": 5.0,
    "pi_rates": [10, 20, 50, 100, 200, 400, 800],
    "backlog": 100_000,
    "drain_max_s": 120.0,
    "warm_starts": 3,
    "profile_s": 10.0,
}
QUICK: dict[str, Any] = {
    "rates": [50, 100, 500, 1000, 2000],
    "seconds": 2.0,
    "pi_rates": [20, 50, 100, 200, 400],
    "backlog": 100_000,
    "drain_max_s": 60.0,
    "warm_starts": 2,
    "profile_s": 5.0,
}
# the dining room around the orders (fixed rates, whatever the order rate)
ROOM: dict[str, Any] = {
    "diners": 200,
    "kds": ["grill", "wok", "cold", "bar", "expo"] * 2,
    "menu_rate": 10.0,
    "bump_rate": 20.0,
    "call_rate": 1.0,
    "scale_rate": 10.0,
}
STEPS = ("hub", "drain", "floor", "flood", "pi", "sd", "day", "history", "profile", "shift")
# An SD card's fsync, for the "sd" step (the Pi sweep again with every fsync of the hub this
# much slower). Published 4 KB random-write rates of microSD cards in a Raspberry Pi
# (pidramble.com/wiki/benchmarks/microsd-cards: 0.2-3.0 MB/s, i.e. ~50-730 writes/s, most
# cards ~1 MB/s = ~4 ms a write; the A1 class promises >= 500 writes/s, 2 ms) and a WAL
# commit's fsync being the frames plus ext4's journal commit (2-3 such writes): ~10 ms.
SD_FSYNC_MS = 10
# one phone floods orders while the other tables order normally, with the hub's own limits
FLOOD: dict[str, Any] = {
    "tables": 121,  # table 0 floods; 120 tables order, each from its own address
    "rate": 10.0,  # 1 order per table per 12 s: under the per-table limit (6/min)
    "seconds": 20.0,
    "quick_seconds": 12.0,
    "flood_rate": 500.0,
    "flood_in_flight": 64,
}
RSS_RATE = 100  # RSS is read at the end of this phase: 200 phones and 10 screens open


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.plan = dict(QUICK if args.quick else FULL)
        if args.rates:
            self.plan["rates"] = [float(r) for r in args.rates.split(",")]
        self.hub_cpu = str(args.hub_cpu)
        self.gen_cpu = str(args.gen_cpu)
        self.root = Path(tempfile.mkdtemp(prefix="tablehub-bench-", dir=args.tmp))
        self.results: dict[str, Any] = {"mode": "quick" if args.quick else "full"}
        self.steps = set(args.only.split(",")) if args.only else set(STEPS)
        self.steps -= set(args.skip.split(",")) if args.skip else set()
        if self.steps != set(STEPS):
            self.results["mode"] += "-partial"

    # ------------------------------------------------------------ load generator

    def loadgen(
        self,
        kids: Children,
        name: str,
        spec: dict[str, Any],
        watch: int | None,
        *,
        on_line: Any = None,
        timeout: float = 900.0,
    ) -> dict[str, Any]:
        return run_loadgen(
            kids, self.root, name, spec, watch, self.gen_cpu, on_line=on_line, timeout=timeout
        )

    def room_spec(self, url: str, broker: int, tables: Any, token: str, **over: Any) -> Any:
        spec = {
            "url": url,
            "mqtt_port": broker,
            "tables": tables,
            "kitchen_token": token,
            "run_id": f"b{os.getpid()}-{int(time.time())}",
            "phases": [],
            "baseline_seconds": 2.0,
            **ROOM,
        }
        spec.update(over)
        return spec

    def phases(self, rates: list[float]) -> list[dict[str, Any]]:
        return [{"name": f"{r:g}/s", "rate": r, "seconds": self.plan["seconds"]} for r in rates]

    # ------------------------------------------------------------ steps

    def hub_sweep(self, kids: Children, broker: int, name: str, limit: CpuLimit | None) -> Any:
        hub = HubUnderTest(self.root / name, broker, cpus=self.hub_cpu, limit=limit)
        started = hub.start(kids)
        tables, token = hub.table_tokens(), hub.kitchen_token()
        rates = self.plan["pi_rates" if limit else "rates"]
        spec = self.room_spec(hub.url, broker, tables, token, phases=self.phases(rates))
        print(f"bench: {name}: sweep {rates}", flush=True)
        out = self.loadgen(kids, name, spec, hub.pid)
        out["start_cold_s"] = started
        out["db_bytes"] = _size(hub.data)
        if limit is None:
            warm = []
            for _ in range(self.plan["warm_starts"]):
                hub.stop()
                warm.append(hub.start(kids))
            out["start_warm_s"] = warm
        else:
            out["cpu_limit"] = {"how": limit.how, "throttled": limit.throttled()}
        hub.stop()
        return out, hub

    def floor_sweep(self, kids: Children, broker: int) -> Any:
        port = free_port()
        work = self.root / "floor"
        work.mkdir()
        child = kids.spawn(
            "floor",
            [
                sys.executable,
                "-m",
                "bench.floor",
                "--port",
                str(port),
                "--db",
                str(work / "floor.db"),
                "--mqtt-port",
                str(broker),
            ],
            work / "floor.log",
            cpus=self.hub_cpu,
        )
        wait_http(f"http://127.0.0.1:{port}/healthz", child)
        tables = [[f"T{i}", f"T{i}"] for i in range(1, 51)]
        spec = self.room_spec(
            f"http://127.0.0.1:{port}",
            broker,
            tables,
            "",
            mode="floor",
            phases=self.phases(self.plan["rates"]),
            diners=0,
            kds=[],
        )
        print(f"bench: floor: sweep {self.plan['rates']}", flush=True)
        out = self.loadgen(kids, "floor", spec, child.pid)
        child.stop()
        return out

    def profile(self, kids: Children, broker: int, rate: float) -> dict[str, Any]:
        """py-spy on the hub while it takes `rate` orders/s with the dining room around."""
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(spy).exists():
            return {"error": "py-spy is not installed (pip install py-spy)"}
        hub = HubUnderTest(self.root / f"profile-{rate:g}", broker, cpus=self.hub_cpu)
        hub.start(kids)
        tables, token = hub.table_tokens(), hub.kitchen_token()
        secs = self.plan["profile_s"]
        spec = self.room_spec(
            hub.url,
            broker,
            tables,
            token,
            stop_when_saturated=False,
            phases=[{"name": f"{rate:g}/s", "rate": rate, "seconds": secs}],
        )
        raw = RESULTS / f"profile-{self.results['mode']}-{rate:g}.txt"
        spy_proc: list[subprocess.Popen[bytes]] = []

        def start_spy(line: str, gen: Child) -> None:
            if line.startswith("PHASE 0 START"):
                spy_proc.append(
                    subprocess.Popen(
                        [
                            spy,
                            "record",
                            "--pid",
                            str(hub.pid),
                            "--duration",
                            str(int(secs)),
                            "--rate",
                            "200",
                            "--threads",
                            "--format",
                            "raw",
                            "-o",
                            str(raw),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
                kids.add("py-spy", lambda: _stop_popen(spy_proc[0]))

        print(f"bench: profiling the hub at {rate:g} orders/s", flush=True)
        out = self.loadgen(kids, f"profile-{rate:g}", spec, hub.pid, on_line=start_spy)
        if spy_proc:
            with contextlib.suppress(subprocess.TimeoutExpired):
                spy_proc[0].wait(secs + 30)
        hub.stop()
        summary = stats.phase_summary(
            out["orders"], rate, secs, _ids(out["kds_ws"]), _ids(out["kds_mqtt"])
        )
        prof = report.read_profile(raw) if raw.exists() else {"error": "py-spy wrote nothing"}
        return {"rate": rate, "summary": summary, "profile": prof, "raw": str(raw.name)}

    def sd_sweep(self, kids: Children, broker: int) -> dict[str, Any]:
        """The Pi sweep with every fsync of the hub slowed to an SD card's (an LD_PRELOAD
        shim, tests/durability/fsyncshim.c)."""
        from bench.storeday import build_shim

        limit = CpuLimit(0.2, "sd", self.args.cpu_period_ms)
        kids.add("cgroup-sd", limit.close)
        if limit.how is None:
            return {"error": f"could not limit the CPU: {limit.reason}"}
        work = self.root / "sd"
        work.mkdir()
        ctl = work / "ctl"
        ctl.mkdir()
        (ctl / "delay_ms").write_text(str(SD_FSYNC_MS))
        hub = HubUnderTest(work / "hub", broker, cpus=self.hub_cpu, limit=limit)
        hub.env = {
            "LD_PRELOAD": str(build_shim(work)),
            "FSYNCSHIM_CTL": str(ctl),
            "FSYNCSHIM_LOG": str(work / "fsync.log"),
        }
        hub.start(kids)
        tables, token = hub.table_tokens(), hub.kitchen_token()
        rates = self.plan["pi_rates"]
        spec = self.room_spec(hub.url, broker, tables, token, phases=self.phases(rates))
        print(f"bench: sd: sweep {rates} on a fifth of a core, fsyncs +{SD_FSYNC_MS} ms")
        out = self.loadgen(kids, "sd", spec, hub.pid)
        out["cpu_limit"] = {"how": limit.how, "throttled": limit.throttled()}
        out["sd_fsync_ms"] = SD_FSYNC_MS
        hub.stop()
        log = work / "fsync.log"
        out["fsyncs"] = sum(1 for _ in log.open()) if log.exists() else 0
        return out

    def store_day(self) -> dict[str, Any]:
        """bench/storeday.py: this tree's hub, and `--day-before DIR`'s first if given."""
        from bench import storeday

        trees = [f"before={self.args.day_before}"] if self.args.day_before else []
        args = argparse.Namespace(
            speed=storeday.SPEED,
            sd_ms=0,
            no_day=False,
            keep=False,
            hub_cpu=self.hub_cpu,
            gen_cpu=self.gen_cpu,
            tmp=str(self.root),
            tree=[*trees, f"this={REPO}"],
        )
        print("bench: a store's day", flush=True)
        return storeday.run_all(args)

    def flood(self, kids: Children, broker: int) -> dict[str, Any]:
        """Normal orders from 120 tables (each its own phone address), first alone, then
        while one more phone floods orders at its table; limits on, as in a store."""
        hub = HubUnderTest(
            self.root / "flood", broker, cpus=self.hub_cpu, tables=FLOOD["tables"], limits=True
        )
        hub.start(kids)
        tables, token = hub.table_tokens(), hub.kitchen_token()
        secs = FLOOD["quick_seconds" if self.args.quick else "seconds"]
        rate = FLOOD["rate"]
        spec = self.room_spec(
            hub.url,
            broker,
            tables,
            token,
            diners=20,
            kds=["grill", "wok", "cold", "bar", "expo"],
            menu_rate=2.0,
            bump_rate=5.0,
            call_rate=0.0,
            scale_rate=0.0,
            stop_when_saturated=False,
            per_table_addr=True,
            flood_table=0,
            flood_rate=FLOOD["flood_rate"],
            flood_in_flight=FLOOD["flood_in_flight"],
            phases=[
                {"name": "no flood", "rate": rate, "seconds": secs},
                {"name": "flood", "rate": rate, "seconds": secs, "flood": True},
            ],
        )
        print(f"bench: flood: {rate:g} orders/s from 120 tables, then with a flood", flush=True)
        out = self.loadgen(kids, "flood", spec, hub.pid)
        hub.stop()
        return out

    def bridge_drain(self, kids: Children, broker: int) -> dict[str, Any]:
        try:
            import cloud_bridge.cli  # noqa: F401  (only asks: is it there and importable?)
        except Exception as exc:
            return {"measured": False, "reason": f"not measured: bridge not present ({exc!r})"}
        n = int(self.plan["backlog"])
        hub = HubUnderTest(self.root / "drain", broker, cpus=self.hub_cpu)
        hub.start(kids)
        tables, token = hub.table_tokens(), hub.kitchen_token()
        seed = self.room_spec(
            hub.url,
            broker,
            tables,
            token,
            diners=0,
            kds=[],
            baseline_seconds=0,
            phases=[{"name": "seed", "rate": 50, "seconds": 2}],
        )
        self.loadgen(kids, "drain-seed", seed, None)
        hub.stop()
        first, last = make_backlog(hub.db, n)
        work = self.root / "drain"
        token_file = work / "cloud-token"
        token_file.write_text("bench-store-token-" + "x" * 20)
        token_file.chmod(0o600)
        cport = free_port()
        cloud = kids.spawn(
            "fakecloud",
            [
                sys.executable,
                "-m",
                "bench.fakecloud",
                "--port",
                str(cport),
                "--db",
                str(work / "cloud.db"),
                "--token-file",
                str(token_file),
            ],
            work / "cloud.log",
            cpus=self.gen_cpu,
        )
        status_url = f"http://127.0.0.1:{cport}/v1/stores/demo/status"
        wait_http(status_url, cloud)
        conf = work / "bridge.toml"
        conf.write_text(
            "[bridge]\n"
            f'hub_db = "{hub.db}"\nstate_db = "{work / "bridge.db"}"\nstore_id = "demo"\n'
            f'endpoint = "http://127.0.0.1:{cport}"\ntoken_file = "{token_file}"\n'
            'menu_poll_seconds = 0\nlog_level = "warning"\n'
        )
        hub.start(kids)
        live = self.room_spec(
            hub.url,
            broker,
            tables,
            token,
            stop_when_saturated=False,
            phases=[
                {"name": "live, no bridge", "rate": 100, "seconds": 4},
                {"name": "live + drain", "rate": 100, "seconds": self.plan["drain_max_s"]},
            ],
        )
        drain: dict[str, Any] = {"measured": True, "backlog": n, "first": first, "last": last}

        def on_line(line: str, gen: Child) -> None:
            if not line.startswith("PHASE 1 START"):
                return
            bridge = kids.spawn(
                "bridge",
                [sys.executable, "-m", "cloud_bridge", "bridge", "run", "--config", str(conf)],
                work / "bridge.log",
                cpus=self.args.bridge_cpu,
            )
            drain["t_bridge"] = bridge.t_spawn
            until = time.monotonic() + self.plan["drain_max_s"]
            while time.monotonic() < until and bridge.alive:
                with contextlib.suppress(OSError, ValueError):
                    st = http_json(status_url)
                    if st["contiguous_seq"] >= last:
                        drain["t_caught_up"] = time.monotonic()
                        drain["cloud"] = st
                        break
                time.sleep(0.05)
            drain["bridge_alive"] = bridge.alive
            time.sleep(1.0)
            with contextlib.suppress(ProcessLookupError):
                os.kill(gen.pid, 15)  # end the live phase: drained (or gave up)
            bridge.stop()

        print(f"bench: bridge drain of {n} events with live orders", flush=True)
        out = self.loadgen(kids, "drain", live, hub.pid, on_line=on_line)
        hub.stop()
        cloud.stop()
        drain["live"] = out
        t0, t1 = drain.get("t_bridge"), drain.get("t_caught_up")
        if t0 and t1:
            first_ms = (drain.get("cloud") or {}).get("first_batch_ms")
            drain["seconds_from_spawn"] = t1 - t0
            drain["rate_from_spawn"] = (last - first + 1) / (t1 - t0)
            if first_ms:
                drain["rate_from_first_ack"] = (last - first + 1) / max(1e-3, t1 - first_ms / 1000)
        return drain

    # ------------------------------------------------------------ the run

    def run(self) -> Path:
        info = machine()
        info["tmp"] = f"{self.root} ({_fstype(self.root)})"
        info["load_before"] = os.getloadavg()
        info["fsync_before"] = fsync_probe(self.root)
        self.results["machine"] = info
        self.results["plan"] = self.plan
        self.results["command"] = "python -m bench.run" + " ".join(
            [""] + [a for a in sys.argv[1:] if not a.startswith("--tmp")]
        )
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        RESULTS.mkdir(exist_ok=True)
        t0 = time.monotonic()
        try:
            with Children() as kids:
                broker = start_broker(kids, self.root / "mosquitto", {int(self.gen_cpu)})
                if "hub" in self.steps:
                    self.results["hub"], _ = self.hub_sweep(kids, broker.port, "hub", None)
                if "drain" in self.steps:
                    self.results["drain"] = self.bridge_drain(kids, broker.port)
                if "floor" in self.steps:
                    self.results["floor"] = self.floor_sweep(kids, broker.port)
                if "flood" in self.steps:
                    self.results["flood"] = self.flood(kids, broker.port)
                if "pi" in self.steps:
                    limit = CpuLimit(0.2, "pi", self.args.cpu_period_ms)
                    kids.add("cgroup", limit.close)
                    if limit.how is None:
                        self.results["pi"] = {"error": f"could not limit the CPU: {limit.reason}"}
                    else:
                        self.results["pi"], _ = self.hub_sweep(kids, broker.port, "pi", limit)
                if "shift" in self.steps:  # the pacing simulation (bench/shift.py)
                    self.results["shift"] = asyncio.run(shift.simulate(shift.defaults()))
                    over = shift.defaults(peak=shift.OVERLOAD)
                    self.results["shift_overload"] = asyncio.run(shift.simulate(over))
                if "sd" in self.steps:
                    self.results["sd"] = self.sd_sweep(kids, broker.port)
                if "day" in self.steps:
                    self.results["day"] = self.store_day()
                if "history" in self.steps:  # what pruning a day of business writes
                    self.results["history"] = asyncio.run(history.measure(history.ORDERS))
                summary = report.summarise(self.results)
                if "profile" in self.steps:
                    self.results["profiles"] = [
                        self.profile(kids, broker.port, rate)
                        for rate in report.profile_rates(summary)
                    ]
        finally:
            self.results["machine"]["load_after"] = os.getloadavg()
            try:  # the run's results are written whatever the disk says now
                self.results["machine"]["fsync_after"] = fsync_probe(self.root)
            except OSError as exc:
                self.results["machine"]["fsync_after"] = {"error": str(exc)}
            self.results["elapsed_s"] = round(time.monotonic() - t0, 1)
            out = RESULTS / f"{self.results['mode']}.json"
            out.write_text(json.dumps(self.results, separators=(",", ":")))
            if not self.args.keep:
                shutil.rmtree(self.root, ignore_errors=True)
        return report.write(self.results, REPO / "docs", RESULTS)


def run_loadgen(
    kids: Children,
    root: Path,
    name: str,
    spec: dict[str, Any],
    watch: int | None,
    cpus: str | None,
    *,
    on_line: Any = None,
    timeout: float = 900.0,
) -> dict[str, Any]:
    """Run the generator to its end (bounded by `timeout`); /proc samples of `watch` at
    READY and at every phase edge; `on_line(line, child)` sees each line as it comes."""
    spec_path, out = root / f"{name}.spec.json", root / f"{name}.out.json"
    spec_path.write_text(json.dumps(spec))
    gen = kids.spawn(
        f"loadgen-{name}",
        [sys.executable, "-m", "bench.loadgen", "--spec", str(spec_path), "--out", str(out)],
        root / f"{name}.loadgen.log",
        cpus=cpus,
        keep_lines=True,
    )
    marks: list[tuple[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            line = gen.expect("", max(1.0, deadline - time.monotonic()))
            word = line.split()
            if not word:
                continue
            if word[0] in ("READY", "PHASE"):
                smp = sample(watch) if watch else None
                marks.append((line, dataclasses.asdict(smp) if smp else None))
            if on_line is not None:
                on_line(line, gen)
            if word[0] == "DONE":
                break
    finally:
        gen.stop(30)
    result: dict[str, Any] = json.loads(out.read_text())
    result["marks"] = marks
    return result


def make_backlog(db: Path, n: int) -> tuple[int, int]:
    """Add `n` outbox rows (copies of real order and ticket events) to a stopped hub's
    store; move the hub's MQTT cursor past them so only the bridge sees them.
    Returns (first seq, last seq) of everything the bridge has to send."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        rows = conn.execute(
            "SELECT stream, kind, key, body FROM outbox WHERE stream IN ('orders', 'tickets') "
            "ORDER BY seq LIMIT 500"
        ).fetchall()
        if not rows:
            raise RuntimeError("the seed run left no order events to copy")
        high = conn.execute("SELECT MAX(seq) FROM outbox").fetchone()[0]
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO outbox(seq, stream, kind, key, body, created_at) VALUES (?,?,?,?,?,?)",
            ((high + 1 + i, *rows[i % len(rows)], now) for i in range(n)),
        )
        conn.execute(
            "INSERT INTO cursors(name, seq) VALUES ('mqtt', ?) "
            "ON CONFLICT(name) DO UPDATE SET seq = excluded.seq",
            (high + n,),
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        first = conn.execute("SELECT MIN(seq) FROM outbox").fetchone()[0]
    finally:
        conn.close()
    return int(first), int(high + n)


def fsync_probe(where: Path, n: int = 300, every_s: float = 0.01) -> dict[str, Any]:
    """The disk alone: `n` 4 KB writes to one file in `where`, each fsync'd, `every_s` apart
    (a commit's pace at 100 orders/s). Every latency figure of the run that waits on a commit
    has this disk's fsync in it: its tail is a floor under those p99s."""
    path = where / "fsync-probe"
    took: list[float] = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for i in range(n):
            os.pwrite(fd, os.urandom(4096), (i % 64) * 4096)
            t0 = time.perf_counter()
            os.fsync(fd)
            took.append(time.perf_counter() - t0)
            time.sleep(every_s)
    finally:
        os.close(fd)
        path.unlink()
    return stats.dist(took)


def machine() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for mod in ("aiohttp", "aiosqlite", "aiomqtt", "paho.mqtt", "msgspec"):
        with contextlib.suppress(Exception):
            m = __import__(mod, fromlist=["__version__"])
            versions[mod] = getattr(m, "__version__", "?")
    mosq = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True, check=False)
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "mosquitto": (mosq.stdout or mosq.stderr).splitlines()[0] if mosq else "?",
        "libraries": versions,
    }


def _fstype(path: Path) -> str:
    best, kind = "", "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            mnt = parts[1]
            if str(path).startswith(mnt) and len(mnt) > len(best):
                best, kind = mnt, f"{parts[2]} on {parts[0]}"
    return kind


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _ids(d: dict[str, float]) -> dict[int, float]:
    return {int(k): v for k, v in d.items()}


def _stop_popen(p: subprocess.Popen[bytes]) -> None:
    if p.poll() is None:
        p.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(10)
        if p.poll() is None:
            p.kill()


def _period_ms(text: str) -> int:
    """A CFS period the kernel takes with a fifth of it as the quota: 5 to 1,000 ms."""
    try:
        ms = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of ms") from None
    if not 5 <= ms <= 1000:
        raise argparse.ArgumentTypeError(
            f"{ms} ms: the kernel takes periods of 1 to 1,000 ms and quotas of at least 1 ms, "
            "so a fifth of a core needs 5 to 1,000"
        )
    return ms


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument("--quick", action="store_true", help="a few seconds per point, fewer points")
    p.add_argument("--rates", default="", help="comma-separated offered order rates")
    p.add_argument("--only", default="", help=f"comma-separated steps of {','.join(STEPS)}")
    p.add_argument("--skip", default="", help="comma-separated steps to leave out")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, databases)")
    p.add_argument("--hub-cpu", type=int, default=1, help="core the hub (and floor) run on")
    p.add_argument("--gen-cpu", type=int, default=0, help="core of generator and broker")
    p.add_argument("--bridge-cpu", default="0", help="core(s) of the cloud bridge")
    p.add_argument(
        "--cpu-period-ms",
        type=_period_ms,
        default=CPU_PERIOD_MS,
        help="CFS period of the Pi steps' fifth of a core (the quota is a fifth of it; 100 is "
        "the kernel's default, whose 80 ms waits a Pi does not have)",
    )
    p.add_argument("--tmp", default="/var/tmp", help="where data dirs go (a normal disk)")
    p.add_argument(
        "--day-before",
        default="",
        metavar="DIR",
        help="the store day also runs the hub of this source tree (an export of an older "
        "commit), in the same run, for a before/after",
    )
    args = p.parse_args(argv)
    if (os.cpu_count() or 1) < 2:
        print("bench: needs at least 2 cores (hub on one, generator on another)")
        return 2
    path = Bench(args).run()
    print(f"bench: wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
