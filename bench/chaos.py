"""`make chaos`: faults while a steady load runs, each repeated, each followed by a check.

    python -m bench.chaos [--short] [--reps N] [--rate 50] [--only hub-kill,disk-full]

Scenarios (each on its own hub, broker and data dir; the load is 50 orders/s with a small
dining room, phones retrying a failed order with its idempotency key as the page does):

- `hub-kill`     kill -9 of the hub mid-load, restarted at once
- `broker-kill`  kill -9 of Mosquitto, restarted after 1 s
- `cloud-outage` the cloud unreachable for 5 s, then back (fails if cloud_bridge does not
                 import)
- `disk-full`    the data dir's file system filled to ENOSPC for 4 s, then freed: the hub
                 must answer 503 `unavailable` with a JSON body and recover by itself
- `clock-jump`   the hub's wall clock stepped by an hour (back, then forward), as an NTP
                 step would (bench/clockshim.py; the monotonic clock does not move)
- `printer-offline` two kitchen printers taken away (even repetitions: unplugged,
                 connections time out; odd: connections refused), then back: grill-1 (no
                 backup) for 5 s, it must print its queue when it is back; wok-1 for 8 s,
                 its jobs move to wok-2 (backup after 2 s) with a BACKUP banner

The hub-kill and printer-offline hubs print every grill (and wok) ticket on fake network
printers (bench/printers.py, agents inside the hub as on a store box), and the checker also
reads what came out of them: every chit once, a second copy only with a REPRINT or BACKUP bar.

After each repetition `bench.checker` derives every order, ticket, MQTT message and chit
that must exist from the generator's own record (each 201: key, order id and number, the
lines it sent) and the run's routing (the menu given to the hub: item -> station; the
printers: station -> printer), and checks the store, an expo snapshot, the MQTT subscriber
and the printers against it. `bench.chaos_verdict.judge` then decides the run: a failed
check, a fault that was not run (disk-full without a mountable small disk fails, it is never
skipped), could not be injected or never recovered, or a failed cloud check fails it. The
exit status is that verdict (0 pass, 1 fail), and the report says the same. `--short` (CI)
is 1-2 repetitions, 3-5 minutes. Writes docs/reliability.md (the short run:
bench/results/reliability-short.md) and bench/results/chaos[-short].json."""

from __future__ import annotations

import argparse
import contextlib
import errno
import itertools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import chaos_verdict, checker
from bench.printers import PrinterRig, PrinterSpec
from bench.procs import (
    REPO,
    Child,
    Children,
    HubUnderTest,
    http_json,
    pin,
    start_broker,
    wait_http,
)
from bench.run import machine, run_loadgen
from hub.ops.mosquitto import Mosquitto, free_port
from plumbing.packed import unpack

RESULTS = REPO / "bench" / "results"
SCENARIOS = (
    "hub-kill",
    "broker-kill",
    "cloud-outage",
    "disk-full",
    "clock-jump",
    "printer-offline",
)
# grill-1 prints every grill ticket; wok-1 every wok ticket, with wok-2 as its backup
GRILL = PrinterSpec("grill-1", ("grill",))
WOK = PrinterSpec("wok-1", ("wok",), backup="wok-2", backup_after_s=2)
WOK_BACKUP = PrinterSpec("wok-2")
PRINTER_DOWN_S = 5.0  # grill-1: shorter than it takes to notice and fail over
WOK_DOWN_S = 8.0  # wok-1: long enough for its jobs to move to wok-2 while it is away
DRAIN_WAIT_S = 60.0  # after the load: how long the printers may take to catch up


# ---------------------------------------------------------------- a small disk


class SmallDisk:
    """A small file system for the hub's data dir: tmpfs, else ext4 on a loop file (both
    need root). `kind` says which; `reasons` why neither could be made."""

    def __init__(self, mount: Path, size_mb: int, scratch: Path) -> None:
        self.mount = mount
        self.filler = mount / "filler.bin"
        self.image = scratch / "disk.img"
        self.size_mb = size_mb
        self.kind = ""
        self.reasons: list[str] = []
        mount.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            self.reasons.append(
                f"mounting a file system needs root (running as uid {os.geteuid()})"
            )
            return
        tmpfs = ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(mount)]
        if self._run("tmpfs", [tmpfs]) and self._mounted("tmpfs"):
            self.kind = f"tmpfs of {size_mb} MB"
            return
        steps = [
            ["truncate", "-s", f"{size_mb}M", str(self.image)],
            ["mkfs.ext4", "-q", "-F", str(self.image)],
            ["mount", "-o", "loop", str(self.image), str(mount)],
        ]
        if self._run("loop ext4", steps) and self._mounted("loop ext4"):
            self.kind = f"ext4 on a {size_mb} MB loop file"

    def _run(self, kind: str, cmds: list[list[str]]) -> bool:
        for cmd in cmds:
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
            except (OSError, subprocess.TimeoutExpired) as exc:
                self.reasons.append(f"{kind} ({cmd[0]}): {exc}")
                return False
            if r.returncode != 0:
                self.reasons.append(f"{kind} ({cmd[0]}): {(r.stderr or r.stdout).strip()}")
                return False
        return True

    def _mounted(self, kind: str) -> bool:
        """The mount is really there and small (else filling it would fill the host's disk)."""
        st = os.statvfs(self.mount)
        size = st.f_blocks * st.f_frsize
        if os.path.ismount(self.mount) and size <= 2 * self.size_mb << 20:
            return True
        self.reasons.append(f"{kind}: {self.mount} is not a {self.size_mb} MB mount ({size} B)")
        subprocess.run(["umount", str(self.mount)], capture_output=True, check=False)
        return False

    @property
    def ok(self) -> bool:
        return bool(self.kind)

    def fill(self) -> int:
        """Write until ENOSPC (bounded by the disk's size); returns the bytes written.
        Raises if the writes stop for another reason or never run out of space: then the
        fault was not injected."""
        written = 0
        st = os.statvfs(self.mount)
        budget = st.f_blocks * st.f_frsize + (1 << 20)
        with open(self.filler, "ab", buffering=0) as fh:
            for chunk in (1 << 20, 1 << 12):
                block = b"\0" * chunk
                while written < budget:
                    try:
                        written += fh.write(block) or 0
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break
                else:
                    raise RuntimeError(f"{written} B written to {self.mount} and still no ENOSPC")
        return written

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def close(self) -> None:
        self.free()
        if self.kind:
            r = subprocess.run(["umount", str(self.mount)], capture_output=True, check=False)
            if r.returncode != 0:
                subprocess.run(["umount", "-l", str(self.mount)], capture_output=True, check=False)
        self.image.unlink(missing_ok=True)


# ---------------------------------------------------------------- the suite


@dataclass
class Ctx:
    """What a fault can touch in one scenario."""

    kids: Children
    work: Path
    broker: Mosquitto
    hub: HubUnderTest
    cloud: dict[str, Any] = field(default_factory=dict)
    disk: SmallDisk | None = None
    clock_file: Path | None = None
    printers: PrinterRig | None = None
    tables: list[tuple[str, str]] = field(default_factory=list)  # (table id, its token)
    token: str = ""  # the kitchen's
    routing: checker.Routing = field(default_factory=lambda: checker.Routing({}))
    every: dict[str, checker.Acked] = field(default_factory=dict)  # acknowledged so far


Fault = Callable[[Ctx, int], dict[str, Any]]


def put_on_small_disk(ctx: Ctx) -> str:
    """Mount a 64 MB file system and move the hub's data dir onto it; "" when done, else
    why it could not be (the scenario is then not run, and that fails the verdict)."""
    ctx.disk = SmallDisk(ctx.work / "disk", 64, ctx.work)
    ctx.kids.add("small disk", ctx.disk.close)
    if not ctx.disk.ok:
        return "could not mount a small disk for the data dir: " + "; ".join(ctx.disk.reasons)
    hub = ctx.hub
    old = str(hub.data)
    hub.data = ctx.disk.mount / "data"
    hub.config.write_text(hub.config.read_text().replace(old, str(hub.data)))
    return ""


class Suite:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.short = args.short
        self.reps = args.reps or (2 if args.short else 5)
        self.pre = 1.5 if args.short else 3.0
        self.post = 2.0 if args.short else 3.0
        self.root = Path(tempfile.mkdtemp(prefix="tablehub-chaos-", dir=args.tmp))
        self.tag = f"c{os.getpid() % 100000}"
        self.results: dict[str, Any] = {
            "mode": "short" if args.short else "full",
            "command": command_line(args),
            "reps": self.reps,
            "rate": args.rate,
            "scenarios": {},
        }

    def spec(self, hub: HubUnderTest, broker: int, tables: Any, token: str, run_id: str) -> Any:
        return {
            "url": hub.url,
            "mqtt_port": broker,
            "tables": tables,
            "kitchen_token": token,
            "run_id": run_id,
            "phases": [{"name": "steady", "rate": self.args.rate, "seconds": 90}],
            "diners": 20,
            "kds": ["expo", "grill", "wok", "cold", "bar"],
            "menu_rate": 2.0,
            "bump_rate": 0.0,  # the checker wants every acknowledged ticket still open
            "call_rate": 0.5,
            "scale_rate": 2.0,
            "timeout_s": 5.0,
            "retry": True,
            "retry_max_s": 60.0,
            "stop_when_saturated": False,
            "settle_seconds": 2.0,
            "max_seconds": 150.0,
            "record_mqtt": True,
            "record_acked": True,
        }

    def scenario(
        self,
        name: str,
        fault: Fault,
        reps: int,
        *,
        disk: bool = False,
        clock: bool = False,
        cloud: bool = False,
        printers: tuple[PrinterSpec, ...] = (),
    ) -> dict[str, Any]:
        print(f"chaos: {name} x{reps}", flush=True)
        work = self.root / name
        work.mkdir()
        out: dict[str, Any] = {"reps": []}
        with Children() as kids:
            broker = start_broker(kids, work / "mosquitto", {0})
            ctx = Ctx(kids, work, broker, HubUnderTest(work / "hub", broker.port, cpus="1"))
            if disk:
                reason = put_on_small_disk(ctx)
                if reason:
                    return {"not_run": reason}
                assert ctx.disk is not None
                out["disk"] = ctx.disk.kind
            if clock:
                ctx.clock_file = work / "clock-offset"
                ctx.clock_file.write_text("+0\n")
                ctx.hub.shim = ["-m", "bench.clockshim", str(ctx.clock_file)]
            if printers:
                ctx.printers = PrinterRig(printers).start()
                kids.add("printers", ctx.printers.close)
                ctx.printers.add_to(ctx.hub.config)
            ctx.hub.start(kids)
            ctx.tables, ctx.token = ctx.hub.table_tokens(), ctx.hub.kitchen_token()
            # where every order's lines go, from the menu and printers the hub was given
            ctx.routing = checker.Routing.from_menu(
                json.loads(ctx.hub.menu_file.read_text()),
                ctx.printers.station_printers() if ctx.printers else {},
            )
            if cloud:
                start_cloud(ctx)
            try:
                for rep in range(reps):
                    verdict = self.repetition(ctx, name, fault, rep)
                    out["reps"].append(verdict)
                    print(f"chaos: {name} #{rep}: {summary_line(name, rep, verdict)}", flush=True)
                if cloud:
                    out["cloud"] = cloud_check(ctx)
            except Exception as exc:  # the repetitions so far stay in the report
                print(f"chaos: {name} stopped: {exc!r}", flush=True)
                out["error"] = repr(exc)[:2000]
            out["hub_log"] = log_errors(work / "hub" / "hub.log")
        return out

    def repetition(self, ctx: Ctx, name: str, fault: Fault, rep: int) -> dict[str, Any]:
        """One load run with the fault injected in its middle, and the checker's verdict."""
        hub = ctx.hub
        prefix = f"{self.tag}-{name}-"
        spec = self.spec(hub, ctx.broker.port, ctx.tables, ctx.token, f"{prefix}{rep}")
        info: dict[str, Any] = {}

        def on_line(line: str, gen: Child) -> None:
            if line.startswith("READY"):
                # the screens' MQTT sessions are on the broker's disk before the load, as
                # those of a store's screens are long before a rush: a broker kill then
                # tests what the hub hands over, not a subscription made 1 s ago
                ctx.broker.save()
                return
            if not line.startswith("PHASE 0 START"):
                return
            time.sleep(self.pre)
            info.update(inject(fault, ctx, rep))
            time.sleep(self.post)
            with contextlib.suppress(ProcessLookupError):
                os.kill(gen.pid, signal.SIGTERM)

        res = run_loadgen(
            ctx.kids, ctx.work, f"rep{rep}", spec, None, "0", on_line=on_line, timeout=240
        )
        ctx.every.update(checker.acked(res))
        verdict = checker.check(
            res, hub.db, hub.url, ctx.token, prefix, ctx.every, ctx.routing, info.get("t_fault")
        )
        if ctx.printers:
            checker.add_chits(verdict, printer_check(ctx, res))
        verdict.update({k: v for k, v in info.items() if not k.startswith("t_") and k != "after"})
        verdict["fault_injected"] = bool(info.get("fault_injected"))
        if info.get("after"):
            verdict.update(info["after"](res, info))
        return verdict

    def run(self) -> Path:
        only = [s for s in SCENARIOS if not self.args.only or s in self.args.only.split(",")]
        self.results["wanted"] = only
        self.results["machine"] = machine()
        t0 = time.monotonic()
        try:
            for name in only:
                self.results["scenarios"][name] = self.run_one(name)
        finally:
            self.results["elapsed_s"] = round(time.monotonic() - t0, 1)
            RESULTS.mkdir(exist_ok=True)
            partial = "-partial" if self.args.only else ""
            self.results["partial"] = bool(partial)
            name = ("chaos-short" if self.short else "chaos") + partial + ".json"
            (RESULTS / name).write_text(json.dumps(self.results, indent=1, default=str))
            if not self.args.keep:
                shutil.rmtree(self.root, ignore_errors=True)
        from bench import chaos_report

        # docs/ holds the full run's figures: a partial (--only) or short (CI) run leaves it alone
        if self.args.only:
            target = RESULTS / "reliability-partial.md"
        elif self.short:
            target = RESULTS / "reliability-short.md"
        else:
            target = REPO / "docs" / "reliability.md"
        return chaos_report.write(self.results, target)

    def run_one(self, name: str) -> dict[str, Any]:
        """One scenario; an exception in it is its failure (the next one still runs)."""
        n = 1 if self.short else self.reps
        try:
            if name == "hub-kill":
                return self.scenario(name, hub_kill, self.reps, printers=(GRILL,))
            if name == "broker-kill":
                return self.scenario(name, broker_kill, self.reps)
            if name == "cloud-outage":
                try:
                    import cloud_bridge.cli  # noqa: F401
                except Exception as exc:
                    return {"not_run": f"cloud_bridge is not importable: {exc!r}"}
                return self.scenario(name, cloud_outage, n, cloud=True)
            if name == "disk-full":
                return self.scenario(name, disk_full, n, disk=True)
            if name == "clock-jump":
                return self.scenario(name, clock_jump, 2, clock=True)
            return self.scenario(
                name, printer_offline, self.reps, printers=(GRILL, WOK, WOK_BACKUP)
            )
        except Exception as exc:
            print(f"chaos: {name} stopped: {exc!r}", flush=True)
            return {"error": repr(exc)[:2000], "reps": []}


def command_line(args: argparse.Namespace) -> str:
    """The command as given, for the report (`python -m bench.chaos --short ...`)."""
    parts = ["python -m bench.chaos"]
    if args.short:
        parts.append("--short")
    if args.reps:
        parts.append(f"--reps {args.reps}")
    if args.rate != 50.0:
        parts.append(f"--rate {args.rate:g}")
    if args.only:
        parts.append(f"--only {args.only}")
    return " ".join(parts)


def inject(fault: Fault, ctx: Ctx, rep: int) -> dict[str, Any]:
    """Run one fault: what it reports, with `fault_injected`; or `fault_error` when it
    raised (the fault may then be half done: the verdict fails either way)."""
    try:
        info = fault(ctx, rep)
    except Exception as exc:
        return {"fault_injected": False, "fault_error": repr(exc)[:2000]}
    return {**info, "fault_injected": True}


def summary_line(name: str, rep: int, v: dict[str, Any]) -> str:
    """One repetition on the terminal, ending with its verdict (`chaos_verdict`)."""
    keys = (
        "acked",
        "lost",
        "duplicated_orders",
        "store_tickets_missing",
        "kds_missing",
        "kds_duplicates",
        "mqtt_missing",
        "mqtt_marked_duplicates",
        "mqtt_unmarked_duplicates",
        "chits_missing",
        "chits_dup_marked",
        "chits_dup_unmarked",
        "recovery_s",
    )
    shown = (k for k in keys if k in v or not k.startswith("chits"))
    why = chaos_verdict.rep_reasons(name, rep, v)
    return " ".join(f"{k}={v.get(k)}" for k in shown) + (
        f"  FAIL: {'; '.join(why)}" if why else "  pass"
    )


def log_errors(path: Path) -> dict[str, Any]:
    """Error lines and tracebacks in the hub's log (JSON lines), with a few examples."""
    errors, tracebacks = 0, 0
    examples: list[str] = []
    if path.exists():
        for line in path.read_text("utf-8", "replace").splitlines():
            if '"level": "error"' in line or '"level": "critical"' in line:
                errors += 1
                if len(examples) < 3:
                    examples.append(line[:300])
            if "Traceback" in line:
                tracebacks += 1
    return {"errors": errors, "tracebacks": tracebacks, "examples": examples}


# ---------------------------------------------------------------- faults


def hub_kill(ctx: Ctx, rep: int) -> dict[str, Any]:
    t = time.monotonic()
    ctx.hub.kill9()
    restart = ctx.hub.start(ctx.kids)

    def after(out: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        oks = sorted(r[3] for r in out["orders"] if r[4] == 201 and r[3] > t)
        return {"recovery": ("killed → first 201", round(oks[0] - t, 3) if oks else None)}

    return {"t_fault": t, "restart_s": round(restart, 3), "after": after}


def broker_kill(ctx: Ctx, rep: int) -> dict[str, Any]:
    t = time.monotonic()
    ctx.broker.kill9()
    time.sleep(1.0)
    ctx.broker.start()
    if ctx.broker.proc is not None:
        pin(ctx.broker.proc.pid, {0})
    back = time.monotonic()

    def after(out: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        firsts = sorted(e[5] for e in out.get("mqtt_events", []) if e[5] > back)
        gap = round(firsts[0] - back, 3) if firsts else None
        return {
            "mqtt_after_broker_back_s": gap,
            "recovery": ("broker back → first kds event on MQTT", gap),
        }

    return {"t_fault": t, "broker_down_s": round(back - t, 2), "after": after}


def disk_full(ctx: Ctx, rep: int) -> dict[str, Any]:
    assert ctx.disk is not None
    t = time.monotonic()
    filled = ctx.disk.fill()
    t_full = time.monotonic()
    time.sleep(4.0)
    t_free = time.monotonic()
    ctx.disk.free()

    def after(out: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        during = [f for f in out.get("failures", []) if t <= f[0] <= t_free + 0.5]
        unavailable = [f for f in during if f[1] == 503 and f[2] == "unavailable"]
        other = sorted(
            {f"{f[1]} {f[2]}" for f in during if not (f[1] == 503 and f[2] == "unavailable")}
        )
        oks = sorted(r[3] for r in out["orders"] if r[4] == 201 and r[3] > t_free)
        refused = bool(unavailable)
        first_503 = min((f[0] for f in unavailable), default=None)
        back = round(oks[0] - t_free, 3) if oks else None
        return {
            "filled_bytes": filled,
            "disk_full_after_s": round(t_full - t, 3),
            "first_503_after_full_s": None if first_503 is None else round(first_503 - t_full, 3),
            "recovery": ("space freed → first 201", back),
            "answers_503_unavailable": len(unavailable),
            "other_failures_while_full": other,
            "recovered_after_free_s": back,
            "refused_with_503_json": refused,
            "ok_disk": refused and not other and bool(oks),
        }

    return {"t_fault": t, "after": after}


def clock_jump(ctx: Ctx, rep: int) -> dict[str, Any]:
    assert ctx.clock_file is not None
    # even repetitions step the clock back an hour, odd ones forward again to true time
    offset = -3600 if rep % 2 == 0 else 0
    step = -3600 if rep % 2 == 0 else 3600
    t = time.monotonic()
    ctx.clock_file.write_text(f"{offset:+d}\n")
    time.sleep(1.0)
    health = http_json(ctx.hub.url + "/healthz")
    time.sleep(2.0)

    def after(out: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        conn = sqlite3.connect(f"file:{ctx.hub.db}?mode=ro", uri=True)
        try:
            rows = conn.execute(
                "SELECT created_at FROM orders WHERE idempotency_key LIKE ? ORDER BY id",
                (out["spec"]["run_id"] + "-%",),
            ).fetchall()
        finally:
            conn.close()
        stamps = [r[0] for r in rows]
        backwards = sum(1 for a, b in itertools.pairwise(stamps) if b < a)
        oks = sorted(r[3] for r in out["orders"] if r[4] == 201 and r[3] > t)
        return {
            "recovery": ("step → first 201", round(oks[0] - t, 3) if oks else None),
            "healthz_uptime_s_after_jump": health.get("uptime_s"),
            "created_at_first_last": [stamps[0], stamps[-1]] if stamps else [],
            "created_at_went_backwards": backwards,
        }

    return {"t_fault": t, "jump": f"{step:+d} s", "after": after}


# ---------------------------------------------------------------- printers


def printer_check(ctx: Ctx, out: dict[str, Any]) -> dict[str, Any]:
    """After the load: wait (bounded) until every chit this repetition's orders must print
    (from the generator's record and the run's routing) has come out, then count copies
    (`checker.check_chits`)."""
    rig = ctx.printers
    assert rig is not None
    stations = ctx.routing.printers
    expected = ctx.routing.chits(checker.acked(out).values())
    t0 = time.monotonic()
    while time.monotonic() - t0 < DRAIN_WAIT_S:
        if checker.missing_chits(expected, rig.chits(), stations) == 0:
            break
        time.sleep(0.2)
    waited = time.monotonic() - t0
    time.sleep(1.0)  # a late second copy would come now
    result = checker.check_chits(expected, rig.chits(), stations)
    result["chits_drained_after_load_s"] = round(waited, 2)
    return result


def first_prints(
    ctx: Ctx, out: dict[str, Any], station: str
) -> list[tuple[float, float | None, bool]]:
    """(time of the 201, time its chit first came out or None, on the backup) per chit of
    `station` this repetition's orders must print."""
    rig = ctx.printers
    assert rig is not None
    printers = ctx.routing.printers[station]
    expected = ctx.routing.chits(checker.acked(out).values())
    first: dict[int, tuple[float, bool]] = {}
    for c in rig.chits():
        if c.complete and c.printer in printers:
            seen = first.get(c.number)
            if seen is None or c.t < seen[0]:
                first[c.number] = (c.t, c.printer != printers[0])
    return [
        (t_ack, first[n][0] if n in first else None, first.get(n, (0.0, False))[1])
        for (n, st), t_ack in expected.items()
        if st == station
    ]


def printer_offline(ctx: Ctx, rep: int) -> dict[str, Any]:
    """grill-1 (no backup) goes away for 5 s, wok-1 (backup wok-2 after 2 s) for 8 s."""
    rig = ctx.printers
    assert rig is not None
    how = "unplugged (connects time out)" if rep % 2 == 0 else "switched off (refused)"
    t = time.monotonic()
    for pid in (GRILL.id, WOK.id):
        if rep % 2 == 0:
            rig.fakes[pid].unplug()
        else:
            rig.fakes[pid].switch_off()
    time.sleep(PRINTER_DOWN_S)
    back = time.monotonic()
    rig.fakes[GRILL.id].plug()
    time.sleep(WOK_DOWN_S - PRINTER_DOWN_S)
    wok_back = time.monotonic()
    rig.fakes[WOK.id].plug()

    def after(out: dict[str, Any], info: dict[str, Any]) -> dict[str, Any]:
        grill = first_prints(ctx, out, "grill")
        waiting = [p for a, p, _ in grill if a < back]
        drained = None
        if waiting and all(p is not None for p in waiting):
            drained = round(max(0.0, max(p for p in waiting if p is not None) - back), 3)
        queued = sum(1 for a, p, _ in grill if a < back and (p is None or p >= t))
        firsts = sorted(p for _a, p, _b in grill if p is not None and p >= back)
        wok = first_prints(ctx, out, "wok")
        on_backup = sorted(p for _a, p, b in wok if b and p is not None)
        wok_after = [p for _a, p, b in wok if not b and p is not None and p >= wok_back]
        return {
            "printer_fault": how,
            "printer_down_s": round(back - t, 2),
            "wok_down_s": round(wok_back - t, 2),
            "grill_chits_waiting_at_back": queued,
            "grill_first_chit_after_back_s": round(firsts[0] - back, 3) if firsts else None,
            "grill_queue_drained_after_back_s": drained,
            "wok_first_on_backup_after_fault_s": round(on_backup[0] - t, 3) if on_backup else None,
            "wok_chits_on_backup": len(on_backup),
            "wok_chits_on_wok_1_after_back": len(wok_after),
            "recovery": ("printer back → its queue printed", drained),
        }

    return {"t_fault": t, "after": after}


# ---------------------------------------------------------------- the cloud


def start_cloud(ctx: Ctx) -> None:
    work = ctx.work
    token = work / "cloud-token"
    token.write_text("chaos-store-token-" + "y" * 20)
    token.chmod(0o600)
    port = free_port()
    ctx.cloud.update(port=port, token=token, db=work / "cloud.db")
    spawn_cloud(ctx)
    conf = work / "bridge.toml"
    conf.write_text(
        "[bridge]\n"
        f'hub_db = "{ctx.hub.db}"\nstate_db = "{work / "bridge.db"}"\nstore_id = "demo"\n'
        f'endpoint = "http://127.0.0.1:{port}"\ntoken_file = "{token}"\n'
        'menu_poll_seconds = 0\nlog_level = "info"\n'
    )
    ctx.cloud["bridge"] = ctx.kids.spawn(
        "bridge",
        [sys.executable, "-m", "cloud_bridge", "bridge", "run", "--config", str(conf)],
        work / "bridge.log",
        cpus="0",
    )


def spawn_cloud(ctx: Ctx) -> None:
    c = ctx.cloud
    c["child"] = ctx.kids.spawn(
        "fakecloud",
        [
            sys.executable,
            "-m",
            "bench.fakecloud",
            "--port",
            str(c["port"]),
            "--db",
            str(c["db"]),
            "--token-file",
            str(c["token"]),
        ],
        ctx.work / "cloud.log",
        cpus="0",
    )
    wait_http(f"http://127.0.0.1:{c['port']}/v1/stores/demo/status", c["child"])


def cloud_status(ctx: Ctx) -> dict[str, Any]:
    doc: dict[str, Any] = http_json(f"http://127.0.0.1:{ctx.cloud['port']}/v1/stores/demo/status")
    return doc


def cloud_outage(ctx: Ctx, rep: int) -> dict[str, Any]:
    t = time.monotonic()
    ctx.cloud["child"].kill9()
    time.sleep(5.0)
    spawn_cloud(ctx)
    back = time.monotonic()
    target = int(http_json(ctx.hub.url + "/healthz")["store"]["last_seq"])
    caught = None
    until = time.monotonic() + 90
    while time.monotonic() < until:
        with contextlib.suppress(OSError, ValueError):
            if cloud_status(ctx)["contiguous_seq"] >= target:
                caught = time.monotonic() - back
                break
        time.sleep(0.1)
    caught = caught and round(caught, 2)
    return {
        "t_fault": t,
        "cloud_down_s": 5.0,
        "cloud_caught_up_after_back_s": caught,
        "recovery": ("cloud back → cloud caught up", caught),
    }


def cloud_check(ctx: Ctx) -> dict[str, Any]:
    """After the load: the cloud holds every outbox event once, with the hub's body, and an
    `order.created` for every order the generator was answered 201 for and a
    `ticket.created` for every ticket its lines route to (`checker.check_cloud`)."""
    hub = ctx.hub
    target = int(http_json(hub.url + "/healthz")["store"]["last_seq"])
    until = time.monotonic() + 90
    while time.monotonic() < until:
        with contextlib.suppress(OSError, ValueError):
            if cloud_status(ctx)["contiguous_seq"] >= target:
                break
        time.sleep(0.2)
    st = cloud_status(ctx)
    hub_rows = _rows(
        hub.db, "SELECT seq, stream, kind, key, body FROM outbox WHERE seq <= ?", target
    )
    cloud_rows = _rows(
        ctx.cloud["db"], "SELECT seq, stream, kind, key, body FROM events WHERE seq <= ?", target
    )
    cloud_map = {r[0]: r for r in cloud_rows}
    hub_seqs = {r[0] for r in hub_rows}
    missing = [r[0] for r in hub_rows if r[0] not in cloud_map]
    differ = [
        r[0]
        for r in hub_rows
        if r[0] in cloud_map
        and (
            r[1:4] != cloud_map[r[0]][1:4]
            or json.loads(unpack(r[4])) != json.loads(cloud_map[r[0]][4])
        )
    ]
    expected = checker.check_cloud(ctx.every, ctx.routing, (r[2:5] for r in cloud_rows))
    result = {
        "hub_events": len(hub_rows),
        "cloud_events": len(cloud_rows),
        "missing": len(missing),
        "differ": len(differ),
        "extra": sum(1 for seq in cloud_map if seq not in hub_seqs),
        **expected,
        "resent_and_dropped_by_seq": st.get("duplicates"),
    }
    counts = ("missing", "differ", "extra", *expected)
    result["ok"] = not any(result[k] for k in counts)
    return result


def _rows(db: Path, sql: str, arg: int) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return list(conn.execute(sql, (arg,)))
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    p.add_argument("--short", action="store_true", help="1-2 repetitions, < 3 minutes (CI)")
    p.add_argument("--reps", type=int, default=0, help="repetitions per fault")
    p.add_argument("--rate", type=float, default=50.0, help="steady orders/s")
    p.add_argument("--only", default="", help=f"comma-separated subset of {','.join(SCENARIOS)}")
    p.add_argument("--keep", action="store_true", help="keep the temp dir")
    p.add_argument("--tmp", default="/var/tmp")
    args = p.parse_args(argv)
    unknown = sorted(set(args.only.split(",")) - set(SCENARIOS)) if args.only else []
    if unknown:
        p.error(f"--only: no fault named {', '.join(unknown)} (there are {', '.join(SCENARIOS)})")
    if os.geteuid() != 0 and (not args.only or "disk-full" in args.only.split(",")):
        print("chaos: disk-full needs root to mount a small file system; without it, it fails")
    suite = Suite(args)
    path = suite.run()
    print(f"chaos: wrote {path}")
    verdict = chaos_verdict.judge(suite.results)
    for name, why in verdict.reasons.items():
        print(f"chaos: {name}: " + ("pass" if not why else "FAIL: " + "; ".join(why)))
    print(f"chaos: {verdict.line()}")
    return verdict.exit_code


if __name__ == "__main__":
    sys.exit(main())
