"""Child processes for the bench: spawning (pinned, optionally CPU-limited), reading their
/proc counters, stopping them by PID, and the hub under test started from a TOML config.

Nothing here kills by name: every process is remembered by the `Children` registry that
started it and is stopped by its PID when the registry closes (always, in a `finally`)."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.ops.mosquitto import Mosquitto, free_port

CLK_TCK = os.sysconf("SC_CLK_TCK")
REPO = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- /proc


@dataclass(frozen=True, slots=True)
class ProcSample:
    """One reading of a process's counters (whole thread group)."""

    t: float  # time.monotonic()
    rss_kb: int
    hwm_kb: int
    cpu_s: float  # utime + stime
    write_bytes: int  # bytes this process caused to be sent to the block layer
    read_bytes: int


def sample(pid: int) -> ProcSample | None:
    """The process's counters now, or None if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        stat = Path(f"/proc/{pid}/stat").read_text()
        io = Path(f"/proc/{pid}/io").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = {}
    for line in status.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    # the command name may hold spaces: the fields start after the last ')'
    rest = stat.rsplit(")", 1)[1].split()
    utime, stime = int(rest[11]), int(rest[12])
    iof = dict(line.split(": ") for line in io.splitlines() if ": " in line)
    return ProcSample(
        t=time.monotonic(),
        rss_kb=int(fields.get("VmRSS", "0 kB").split()[0]),
        hwm_kb=int(fields.get("VmHWM", "0 kB").split()[0]),
        cpu_s=(utime + stime) / CLK_TCK,
        write_bytes=int(iof.get("write_bytes", 0)),
        read_bytes=int(iof.get("read_bytes", 0)),
    )


# ---------------------------------------------------------------- CPU limit


# The CFS period of a CPU limit. A Pi's core is slow all the time; a CFS quota is the full
# core until the period's share is spent, then nothing until the period ends. With the
# kernel's default 100 ms period a hub that spends its 20 ms early waits 80 ms with a request
# in hand, which no Pi does (the stalls containers with CPU limits are known for). A 10 ms
# period bounds that wait at 8 ms, and keeps the quota (2 ms at a fifth) above the kernel's
# 1 ms floor. `python -m bench.run --cpu-period-ms 100` gives the old emulation.
CPU_PERIOD_MS = 10


class CpuLimit:
    """Run a child on a share of one core: cgroup v2 `cpu.max`, else the cgroup v1 CFS
    quota (the same scheduler mechanism), else `systemd-run --scope -p CPUQuota=`, else
    nothing, with `reason` saying why. `how` names the mechanism that will be used."""

    def __init__(self, share: float, name: str, period_ms: int = CPU_PERIOD_MS) -> None:
        self.share = share
        self.name = f"tablehub-bench-{name}-{os.getpid()}"
        self.period_us = period_ms * 1000
        self.quota_us = int(share * self.period_us)
        self.how: str | None = None
        self.reason = ""
        self._dir: Path | None = None
        self._wrap: list[str] = []
        self._pick()

    def __repr__(self) -> str:
        return f"<CpuLimit {self.share:.0%} via {self.how or 'nothing'}>"

    def _pick(self) -> None:
        tried = []
        v2 = Path("/sys/fs/cgroup")
        controllers = v2 / "cgroup.controllers"
        if controllers.exists() and "cpu" in controllers.read_text().split():
            try:
                with contextlib.suppress(OSError):
                    (v2 / "cgroup.subtree_control").write_text("+cpu")
                d = v2 / self.name
                d.mkdir()
                (d / "cpu.max").write_text(f"{self.quota_us} {self.period_us}")
                self._dir, self.how = d, f'cgroup v2 cpu.max "{self.quota_us} {self.period_us}"'
                return
            except OSError as exc:
                tried.append(f"cgroup v2 cpu.max: {exc.strerror}")
        else:
            tried.append("cgroup v2: no cpu controller in /sys/fs/cgroup/cgroup.controllers")
        v1 = Path("/sys/fs/cgroup/cpu")
        if (v1 / "cpu.cfs_quota_us").exists():
            try:
                d = v1 / self.name
                d.mkdir()
                (d / "cpu.cfs_period_us").write_text(str(self.period_us))
                (d / "cpu.cfs_quota_us").write_text(str(self.quota_us))
                self._dir = d
                self.how = (
                    f"cgroup v1 cpu.cfs_quota_us={self.quota_us} cfs_period_us={self.period_us}"
                )
                return
            except OSError as exc:
                tried.append(f"cgroup v1 cpu: {exc.strerror}")
        else:
            tried.append("cgroup v1: no cpu hierarchy")
        if shutil.which("systemd-run"):
            probe = subprocess.run(
                ["systemd-run", "--scope", "--quiet", "-p", "CPUQuota=20%", "true"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            if probe.returncode == 0:
                pct = round(self.share * 100)
                period = f"CPUQuotaPeriodSec={self.period_us // 1000}ms"
                self._wrap = ["systemd-run", "--scope", "--quiet", "-p", f"CPUQuota={pct}%"]
                self._wrap += ["-p", period]
                self.how = f"systemd-run --scope -p CPUQuota={pct}% -p {period}"
                return
            tried.append(f"systemd-run: {(probe.stderr or probe.stdout).strip().splitlines()[0]}")
        else:
            tried.append("systemd-run: not installed")
        self.reason = "; ".join(tried)

    def wrap(self, cmd: list[str]) -> list[str]:
        return [*self._wrap, *cmd]

    def preexec(self) -> Callable[[], None] | None:
        """For Popen: the child puts itself into the cgroup before it runs anything."""
        if self._dir is None:
            return None
        procs = str(self._dir / "cgroup.procs")

        def enter() -> None:
            with open(procs, "w") as fh:
                fh.write(str(os.getpid()))

        return enter

    def throttled(self) -> dict[str, int]:
        """The cgroup's cpu.stat (nr_throttled, throttled time), for the report."""
        if self._dir is None:
            return {}
        with contextlib.suppress(OSError):
            text = (self._dir / "cpu.stat").read_text()
            return {k: int(v) for k, v in (ln.split() for ln in text.splitlines() if ln)}
        return {}

    def close(self) -> None:
        if self._dir is not None:
            for _ in range(50):  # empty once its process has been reaped
                try:
                    self._dir.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
            self._dir = None


# ---------------------------------------------------------------- children


class Child:
    """A process we started; its output goes to `log` through a pipe (so the child's own
    disk writes are only its own), and `lines` gets each line as it comes."""

    def __init__(
        self,
        name: str,
        cmd: Sequence[str],
        log: Path,
        *,
        cpus: str | None = None,
        env: dict[str, str] | None = None,
        preexec: Callable[[], None] | None = None,
        wrap: Callable[[list[str]], list[str]] | None = None,
        keep_lines: bool = False,
        cwd: Path = REPO,
    ) -> None:
        self.name = name
        self.log = log
        argv = list(cmd)
        if cpus is not None:
            argv = ["taskset", "-c", cpus, *argv]
        if wrap is not None:
            argv = wrap(argv)
        self.argv = argv
        self.lines: queue.Queue[str] | None = queue.Queue() if keep_lines else None
        self.t_spawn = time.monotonic()
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            preexec_fn=preexec,
            cwd=cwd,
        )
        self.pid = self.proc.pid
        self._pump = threading.Thread(target=self._copy, name=f"log-{name}", daemon=True)
        self._pump.start()

    def __repr__(self) -> str:
        return f"<Child {self.name} pid={self.pid} {'running' if self.alive else 'exited'}>"

    def _copy(self) -> None:
        assert self.proc.stdout is not None
        with self.log.open("ab") as fh:
            for raw in self.proc.stdout:
                fh.write(raw)
                fh.flush()
                if self.lines is not None:
                    self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def expect(self, prefix: str, timeout: float) -> str:
        """The next output line that starts with `prefix` (other lines are skipped)."""
        assert self.lines is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=min(0.5, max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                if not self.alive and self.lines.empty():
                    self._pump.join(2)
                    if self.lines.empty():
                        raise RuntimeError(f"{self.name} exited ({self.proc.returncode})") from None
                continue
            if line.startswith(prefix):
                return line
        raise TimeoutError(f"{self.name}: no '{prefix}' line within {timeout} s")

    def kill9(self) -> None:
        if self.alive:
            os.kill(self.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._pump.join(5)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.proc.wait(10)
        self._pump.join(5)
        return self.proc.returncode


@dataclass
class Children:
    """Everything the harness started, stopped by PID on exit (in reverse order)."""

    stoppers: list[tuple[str, Callable[[], Any]]] = field(default_factory=list)

    def __enter__(self) -> Children:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, name: str, stop: Callable[[], Any]) -> None:
        self.stoppers.append((name, stop))

    def spawn(self, name: str, cmd: Sequence[str], log: Path, **kw: Any) -> Child:
        child = Child(name, cmd, log, **kw)
        self.add(name, lambda: child.stop(5))
        return child

    def close(self) -> None:
        while self.stoppers:
            name, stop = self.stoppers.pop()
            try:
                stop()
            except Exception as exc:  # cleanup goes on whatever one stopper does
                print(f"bench: stopping {name} failed: {exc!r}", file=sys.stderr)


def pin(pid: int, cpus: set[int]) -> None:
    """Pin an already running process (Mosquitto) to `cpus` when the machine has them."""
    have = os.sched_getaffinity(0) | set(range(os.cpu_count() or 1))
    if cpus <= have:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(pid, cpus)


class BenchBroker(Mosquitto):
    """The test broker with the store box's `set_tcp_nodelay true`
    (systemd/mosquitto/tablehub.conf)."""

    def _write_config(self) -> Path:
        conf = super()._write_config()
        conf.write_text(conf.read_text() + "set_tcp_nodelay true\n")
        return conf


def start_broker(kids: Children, workdir: Path, cpus: set[int]) -> Mosquitto:
    broker = BenchBroker(workdir)
    broker.start()
    kids.add("mosquitto", broker.stop)
    if broker.proc is not None:
        pin(broker.proc.pid, cpus)
    return broker


# ---------------------------------------------------------------- HTTP probes


def http_json(url: str, *, timeout: float = 2.0, headers: dict[str, str] | None = None) -> Any:
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def wait_http(url: str, child: Child | None, timeout: float = 30.0) -> float:
    """Seconds until `url` answers 200 (polled every 10 ms), measured from `child`'s
    spawn when given. Raises if the child exits or the time runs out."""
    t0 = child.t_spawn if child is not None else time.monotonic()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and not child.alive:
            tail = child.log.read_text("utf-8", "replace")[-3000:] if child.log.exists() else ""
            raise RuntimeError(f"{child.name} exited while starting:\n{tail}")
        with (
            contextlib.suppress(OSError, urllib.error.URLError, ValueError),
            urllib.request.urlopen(url, timeout=0.5) as r,
        ):
            if r.status == 200:
                return time.monotonic() - t0
        time.sleep(0.01)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


# ---------------------------------------------------------------- the hub under test


def bench_menu(tables: int = 50) -> dict[str, Any]:
    """The demo menu with `tables` tables: 200 phones are then ~4 per table, as in a room."""
    from hub.cli import demo_menu

    doc = demo_menu()
    doc["tables"] = {"count": tables}
    return doc


BENCH_HTTP = "connections_per_address = 8192\nmax_connections = 8192\n"


@dataclass
class HubUnderTest:
    """One hub process (`python -m hub run --config`), its data dir and config."""

    workdir: Path
    broker_port: int
    cpus: str | None = "1"
    limit: CpuLimit | None = None
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    tables: int = 50
    log_level: str = "info"
    limits: bool = False  # the production rate limits (per table, per phone address)
    # the load generator is a whole dining room on 127.0.0.1 (200 diners' sockets, 10 screens,
    # orders in flight): the per-address connection cap a real store needs (each phone its own
    # address) is raised for it; True keeps the production connection limits (bench/floods.py)
    production_http: bool = False
    shim: list[str] = field(default_factory=list)  # e.g. ["-m", "bench.clockshim", FILE]
    # the source tree the hub runs from (`python -m hub` in it): another checkout's code can
    # be measured against this one's in the same run (bench/storeday.py --tree)
    tree: Path = REPO
    child: Child | None = None
    starts: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data = self.workdir / "data"
        self.config = self.workdir / "hub.toml"
        # the menu the hub is given: the fault suite's checker routes orders by it too
        self.menu_file = menu = self.workdir / "menu.json"
        menu.write_text(json.dumps(bench_menu(self.tables)))
        self.config.write_text(
            f'[store]\ndata_dir = "{self.data}"\nmenu_file = "{menu}"\n'
            f'[http]\nhost = "127.0.0.1"\nport = {self.port}\n'
            + ("" if self.production_http else BENCH_HTTP)
            + f'[broker]\nport = {self.broker_port}\nclient_id = "bench-hub-{self.port}"\n'
            # its broker (hub.ops.mosquitto) saves every second: replay a little more than that
            "replay_after_reconnect_s = 3\n"
            f'[log]\nlevel = "{self.log_level}"\n'
            f"[limits]\nenabled = {'true' if self.limits else 'false'}\n"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db(self) -> Path:
        return self.data / "tablehub.db"

    @property
    def pid(self) -> int:
        assert self.child is not None
        return self.child.pid

    def start(self, kids: Children, timeout: float = 30.0) -> float:
        """Spawn and wait for the first 200 on /healthz; returns that time in seconds."""
        self.child = kids.spawn(
            "hub",
            [sys.executable, *self.shim, "-m", "hub", "run", "--config", str(self.config)],
            self.workdir / "hub.log",
            cpus=self.cpus,
            env=self.env,
            preexec=self.limit.preexec() if self.limit else None,
            wrap=self.limit.wrap if self.limit else None,
            cwd=self.tree,
        )
        took = wait_http(self.url + "/healthz", self.child, timeout)
        self.starts.append(took)
        return took

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop(10)

    def kill9(self) -> None:
        if self.child is not None:
            self.child.kill9()

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "hub", *args, "--data", str(self.data)],
            check=True,
            capture_output=True,
            text=True,
            cwd=self.tree,  # the tree's own CLI: another tree's would give its store its schema
            timeout=60,
        )
        return out.stdout.strip()

    def table_tokens(self) -> list[tuple[str, str]]:
        rows = json.loads(self.cli("tables", "--json"))
        return [(r["table"], r["url"].rsplit("/", 1)[1]) for r in rows]

    def kitchen_token(self) -> str:
        return self.cli("token", "--role", "kitchen", "--label", "bench")


@contextlib.contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    t0 = time.monotonic()
    yield lambda: time.monotonic() - t0
