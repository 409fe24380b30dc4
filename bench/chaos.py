"""`make chaos`: faults while a steady load runs, each repeated, each followed by a check.

    python -m bench.chaos [--short] [--reps N] [--rate 50] [--only hub-kill,disk-full]

Scenarios (each on its own hub, broker and data dir; the load is 50 orders/s with a small
dining room, phones retrying a failed order with its idempotency key as the page does):

- `hub-kill`     kill -9 of the hub mid-load, restarted at once
- `broker-kill`  kill -9 of Mosquitto, restarted after 1 s
- `cloud-outage` the cloud unreachable for 5 s, then back (only if cloud_bridge imports)
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

After each repetition `bench.checker` compares every 201 the generator got with the store,
an expo snapshot and the MQTT subscriber. `--short` (CI) is 1-2 repetitions, under 3
minutes. Writes docs/reliability.md (the short run: bench/results/reliability-short.md) and
bench/results/chaos[-short].json."""

from __future__ import annotations

import argparse
import contextlib
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

from bench import checker
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
from hub.mosquitto import Mosquitto, free_port

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
    """A small file system for the hub's data dir: tmpfs, else ext4 on a loop file."""

    def __init__(self, mount: Path, size_mb: int, scratch: Path) -> None:
        self.mount = mount
        self.filler = mount / "filler.bin"
        self.image = scratch / "disk.img"
        self.kind = ""
        self.reasons: list[str] = []
        mount.mkdir(parents=True, exist_ok=True)
        tries = [
            ("tmpfs", ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(mount)]),
        ]
        for kind, cmd in tries:
            r = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if r.returncode == 0:
                self.kind = f"tmpfs of {size_mb} MB"
                return
            self.reasons.append(f"{kind}: {(r.stderr or r.stdout).strip()}")
        steps = [
            ["truncate", "-s", f"{size_mb}M", str(self.image)],
            ["mkfs.ext4", "-q", "-F", str(self.image)],
            ["mount", "-o", "loop", str(self.image), str(mount)],
        ]
        for cmd in steps:
            r = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if r.returncode != 0:
                self.reasons.append(f"loop ext4 ({cmd[0]}): {(r.stderr or r.stdout).strip()}")
                return
        self.kind = f"ext4 on a {size_mb} MB loop file"

    @property
    def ok(self) -> bool:
        return bool(self.kind)

    def fill(self) -> int:
        """Write until ENOSPC (bounded by the disk's size); returns the bytes written."""
        written = 0
        st = os.statvfs(self.mount)
        budget = st.f_blocks * st.f_frsize + (1 << 20)
        with open(self.filler, "ab", buffering=0) as fh:
            for chunk in (1 << 20, 1 << 12):
                block = b"\0" * chunk
                while written < budget:
                    try:
                        fh.write(block)
                    except OSError:
                        break
                    written += chunk
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


Fault = Callable[[Ctx, int], dict[str, Any]]


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
            hub = HubUnderTest(work / "hub", broker.port, cpus="1")
            ctx = Ctx(kids, work, broker, hub)
            if disk:
                ctx.disk = SmallDisk(work / "disk", 64, work)
                kids.add("small disk", ctx.disk.close)
                if not ctx.disk.ok:
                    return {
                        "not_run": "could not make a small disk: " + "; ".join(ctx.disk.reasons)
                    }
                hub.data = ctx.disk.mount / "data"
                hub.config.write_text(
                    hub.config.read_text().replace(str(work / "hub" / "data"), str(hub.data))
                )
                out["disk"] = ctx.disk.kind
            if clock:
                ctx.clock_file = work / "clock-offset"
                ctx.clock_file.write_text("+0\n")
                hub.shim = ["-m", "bench.clockshim", str(ctx.clock_file)]
            if printers:
                ctx.printers = PrinterRig(printers).start()
                kids.add("printers", ctx.printers.close)
                ctx.printers.add_to(hub.config)
            hub.start(kids)
            tables, token = hub.table_tokens(), hub.kitchen_token()
            if cloud:
                start_cloud(ctx)
            every: dict[str, tuple[int, str, float]] = {}
            for rep in range(reps):
                run_id = f"{self.tag}-{name}-{rep}"
                spec = self.spec(hub, broker.port, tables, token, run_id)
                info: dict[str, Any] = {}

                def on_line(
                    line: str, gen: Child, info: dict[str, Any] = info, rep: int = rep
                ) -> None:
                    if line.startswith("READY"):
                        # the screens' MQTT sessions are on the broker's disk before the load,
                        # as those of a store's screens are long before a rush: a broker kill
                        # then tests what the hub hands over, not a subscription made 1 s ago
                        ctx.broker.save()
                        return
                    if not line.startswith("PHASE 0 START"):
                        return
                    time.sleep(self.pre)
                    try:
                        info.update(fault(ctx, rep))
                    except Exception as exc:
                        info["fault_error"] = repr(exc)
                    time.sleep(self.post)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(gen.pid, signal.SIGTERM)

                res = run_loadgen(
                    kids, work, f"rep{rep}", spec, None, "0", on_line=on_line, timeout=240
                )
                every.update(checker.acked(res))
                chits = printer_check(ctx, res, f"{self.tag}-{name}-") if printers else {}
                verdict = checker.check(
                    res, hub.db, hub.url, token, f"{self.tag}-{name}-", every, info.get("t_fault")
                )
                if chits:
                    verdict.update(chits)
                    verdict["ok"] = verdict["ok"] and chits["chits_ok"]
                verdict.update({k: v for k, v in info.items() if not k.startswith("t_")})
                extra = info.get("after")
                if extra:
                    verdict.update(extra(res, info))
                verdict.pop("after", None)
                out["reps"].append(verdict)
                print(f"chaos: {name} #{rep}: {summary_line(verdict)}", flush=True)
            if cloud:
                out["cloud"] = cloud_check(ctx, hub)
        out["hub_log"] = log_errors(work / "hub" / "hub.log")
        return out

    def run(self) -> Path:
        only = set(self.args.only.split(",")) if self.args.only else set(SCENARIOS)
        self.results["machine"] = machine()
        t0 = time.monotonic()
        try:
            sc = self.results["scenarios"]
            if "hub-kill" in only:
                sc["hub-kill"] = self.scenario("hub-kill", hub_kill, self.reps, printers=(GRILL,))
            if "broker-kill" in only:
                sc["broker-kill"] = self.scenario("broker-kill", broker_kill, self.reps)
            if "cloud-outage" in only:
                try:
                    import cloud_bridge.cli  # noqa: F401
                except Exception as exc:
                    sc["cloud-outage"] = {"not_run": f"cloud_bridge is not importable: {exc!r}"}
                else:
                    n = 1 if self.short else self.reps
                    sc["cloud-outage"] = self.scenario("cloud-outage", cloud_outage, n, cloud=True)
            if "disk-full" in only:
                n = 1 if self.short else self.reps
                sc["disk-full"] = self.scenario("disk-full", disk_full, n, disk=True)
            if "clock-jump" in only:
                sc["clock-jump"] = self.scenario("clock-jump", clock_jump, 2, clock=True)
            if "printer-offline" in only:
                sc["printer-offline"] = self.scenario(
                    "printer-offline", printer_offline, self.reps, printers=(GRILL, WOK, WOK_BACKUP)
                )
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
            target = REPO / "docs"
        return chaos_report.write(
            self.results, target if target.suffix == ".md" else target / "reliability.md"
        )


def summary_line(v: dict[str, Any]) -> str:
    keys = (
        "acked",
        "lost",
        "duplicated_orders",
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
    return " ".join(f"{k}={v.get(k)}" for k in shown) + ("" if v.get("ok") else "  NOT OK")


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


def printer_check(ctx: Ctx, out: dict[str, Any], prefix: str) -> dict[str, Any]:
    """After the load: wait (bounded) until every acknowledged ticket of a station with a
    printer has come out, then count copies (`checker.check_chits`)."""
    rig = ctx.printers
    assert rig is not None
    stations = rig.station_printers()
    _orders, tickets = checker.store_rows(ctx.hub.db, prefix)
    expected = checker.expected_chits(checker.acked(out), tickets, stations)
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
    """(time of the 201, time its chit first came out or None, on the backup) per
    acknowledged ticket of `station` in this repetition."""
    rig = ctx.printers
    assert rig is not None
    stations = rig.station_printers()
    _orders, tickets = checker.store_rows(ctx.hub.db, out["spec"]["run_id"] + "-")
    expected = checker.expected_chits(checker.acked(out), tickets, {station: stations[station]})
    first: dict[int, tuple[float, bool]] = {}
    for c in rig.chits():
        if c.complete and c.printer in stations[station]:
            seen = first.get(c.number)
            if seen is None or c.t < seen[0]:
                first[c.number] = (c.t, c.printer != stations[station][0])
    return [
        (t_ack, first[oid][0] if oid in first else None, first.get(oid, (0.0, False))[1])
        for (oid, _st), t_ack in expected.items()
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


def cloud_check(ctx: Ctx, hub: HubUnderTest) -> dict[str, Any]:
    """After the load: the cloud holds every outbox event once, with the hub's body."""
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
    missing = [r[0] for r in hub_rows if r[0] not in cloud_map]
    differ = [
        r[0]
        for r in hub_rows
        if r[0] in cloud_map
        and (r[1:4] != cloud_map[r[0]][1:4] or json.loads(r[4]) != json.loads(cloud_map[r[0]][4]))
    ]
    return {
        "hub_events": len(hub_rows),
        "cloud_events": len(cloud_rows),
        "missing": len(missing),
        "differ": len(differ),
        "resent_and_dropped_by_seq": st.get("duplicates"),
        "ok": not missing and not differ and len(cloud_rows) == len(hub_rows),
    }


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
    if os.geteuid() != 0:
        print("chaos: disk-full needs root to mount a small file system; it will say so")
    suite = Suite(args)
    path = suite.run()
    print(f"chaos: wrote {path}")
    bad = [
        name
        for name, sc in suite.results["scenarios"].items()
        if "reps" in sc and not all(r.get("ok") for r in sc["reps"])
    ]
    if bad:
        print(f"chaos: FAILED: {', '.join(bad)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
