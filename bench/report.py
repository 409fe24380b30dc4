"""From a run's raw results to numbers, verdicts, docs/benchmarks.md and the latency plot.

`summarise(results)` turns the load generator's rows and the /proc samples into one
summary per sweep point and the verdict per target; `write(results, docs)` renders them.
The hand-written analysis lives in bench/FINDINGS.md and is included as it is."""

from __future__ import annotations

import contextlib
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from bench import stats
from hub.config import HubConfig

FINDINGS = Path(__file__).with_name("FINDINGS.md")

TARGETS = {
    "throughput": "≥ 2,000 durable orders/s sustained",
    "floor_share": "≥ 40% of the floor's throughput (same run)",
    "kds_p99_100": "p99 order→KDS ≤ 10 ms at 100 orders/s",
    "rss": "RSS ≤ 60 MB with 200 diner and 10 KDS connections",
    "disk": "≤ 8 KB written to disk per order",
    "startup": "serving within 1.5 s of start",
    "drain": "100,000-event backlog drained at ≥ 5,000 events/s, live p99 order→KDS ≤ 50 ms",
    "cpu_ratio": "hub CPU per order ÷ floor CPU per order ≤ 1.2× (100/s, same run)",
    "mqtt_ratio": "order→MQTT p99 ÷ the floor's ≤ 2× (100/s, same run)",
    "day_per_order": "≤ 8 KB written per order at 100/s (store day: every process, printers on)",
    "day_idle": "≤ 2 KB/s written with the room idle (sockets open, scales at zero)",
    "day_total": "a store's day ≤ 50 MB written across all processes",
    "sd_rate": "≥ 400 orders/s sustained, a fifth of a core, SD-card fsyncs",
    "sd_kds_20": "p99 order→KDS ≤ 50 ms at 20/s, a fifth of a core, SD-card fsyncs",
}


# ---------------------------------------------------------------- numbers


def _ids(d: dict[str, float]) -> dict[int, float]:
    return {int(k): v for k, v in d.items()}


def _marks(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """'READY', 'START i', 'END i' -> the /proc sample taken there (and the line)."""
    out: dict[str, dict[str, Any]] = {}
    for line, smp in raw.get("marks", []):
        w = line.split()
        if not smp:
            continue
        if w[0] == "READY":
            out["READY"] = dict(smp, words=w)
        elif w[0] == "PHASE":
            out[f"{w[2]} {w[1]}"] = dict(smp, words=w)
    return out


def sweep(raw: dict[str, Any]) -> dict[str, Any]:
    """Per phase: throughput, latencies, CPU and disk per order, RSS; and the sweep's
    sustained rate (highest offered rate kept up with) and capacity (best achieved)."""
    kds, mqtt = _ids(raw.get("kds_ws", {})), _ids(raw.get("kds_mqtt", {}))
    marks = _marks(raw)
    base = None
    if "READY" in marks and "START 0" in marks:
        a, b = marks["READY"], marks["START 0"]
        dt = max(1e-6, b["t"] - a["t"])
        base = {
            "cpu_per_s": (b["cpu_s"] - a["cpu_s"]) / dt,
            "write_per_s": (b["write_bytes"] - a["write_bytes"]) / dt,
            "rss_kb": a["rss_kb"],
            "diners": int(a["words"][1]),
            "screens": int(a["words"][2]),
        }
    points = []
    for i, ph in enumerate(raw.get("phases", [])):
        rows = [r for r in raw["orders"] if r[stats.PHASE] == i]
        secs = (
            ph["seconds"]
            if ph["sent_schedule"] >= int(ph["rate"] * ph["seconds"])
            else (ph["sent_schedule"] / ph["rate"])
        )
        s = stats.phase_summary(rows, ph["rate"], secs, kds, mqtt if mqtt else None)
        s["name"] = ph["name"]
        if ph.get("relay_behind"):
            s["relay_behind"] = ph["relay_behind"]
        if ph.get("healthz_ms"):
            s["healthz_ms"] = ph["healthz_ms"]
        m0, m1 = marks.get(f"START {i}"), marks.get(f"END {i}")
        if m0 and m1 and s["ok"]:
            a, b = m0, m1
            dt = b["t"] - a["t"]
            dcpu, dw = b["cpu_s"] - a["cpu_s"], b["write_bytes"] - a["write_bytes"]
            s["cpu_ms_per_order"] = round(dcpu / s["ok"] * 1000, 3)
            s["bytes_per_order"] = round(dw / s["ok"])
            if base:
                s["cpu_ms_per_order_net"] = round(
                    max(0.0, dcpu - base["cpu_per_s"] * dt) / s["ok"] * 1000, 3
                )
                s["bytes_per_order_net"] = round(max(0.0, dw - base["write_per_s"] * dt) / s["ok"])
            s["rss_kb"] = b["rss_kb"]
            s["hwm_kb"] = b["hwm_kb"]
            s["diners_open"], s["screens_open"] = int(b["words"][4]), int(b["words"][5])
        points.append(s)
    sustained = 0.0
    for p in points:
        if p["saturated"]:
            break
        sustained = p["offered"]
    return {
        "points": points,
        "baseline": base,
        "sustained": sustained,
        "capacity": max((p["achieved"] for p in points), default=0.0),
        "saturated_at": next((p["offered"] for p in points if p["saturated"]), None),
        "counts": raw.get("counts", {}),
        "max_open": raw.get("max_open", {}),
        "background": raw.get("background", {}),
    }


def _at(sw: dict[str, Any], rate: float) -> dict[str, Any] | None:
    return next((p for p in sw["points"] if p["offered"] == rate), None)


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("hub", "floor", "pi", "sd"):
        raw = results.get(name)
        if raw and "phases" in raw:
            out[name] = sweep(raw)
    hub, floor = out.get("hub"), out.get("floor")
    verdicts: dict[str, tuple[str, bool | None]] = {}
    if hub:
        sat = hub["saturated_at"]
        note = "" if sat else " (never saturated in this sweep)"
        verdicts["throughput"] = (
            f"{hub['sustained']:g}/s sustained; best achieved {hub['capacity']:g}/s{note}",
            hub["sustained"] >= 2000,
        )
        p100 = _at(hub, 100)
        if p100 and "kds_ms" in p100:
            p99 = p100["kds_ms"]["p99"]
            disk = (results.get("machine") or {}).get("fsync_before") or {}
            alone = f"; the disk's fsync alone: p99 {disk['p99']} ms" if disk.get("p99") else ""
            verdicts["kds_p99_100"] = (
                f"{p99} ms (p50 {p100['kds_ms']['p50']} ms{alone})",
                p99 <= 10,
            )
        if p100 and "rss_kb" in p100:
            mb = p100["rss_kb"] / 1024
            peak = max((p.get("hwm_kb", 0) for p in hub["points"]), default=0) / 1024
            verdicts["rss"] = (
                f"{mb:.1f} MB at 100/s with {p100['diners_open']} diner and "
                f"{p100['screens_open']} KDS sockets open (peak {peak:.0f} MB over the sweep)",
                mb <= 60,
            )
        if p100 and "bytes_per_order_net" in p100:
            kb = p100["bytes_per_order_net"] / 1024
            best = min((p.get("bytes_per_order_net", 1e12) for p in hub["points"]), default=0)
            verdicts["disk"] = (
                f"{kb:.1f} KB at 100/s (one order per commit); {best / 1024:.1f} KB at best "
                "(large group commits)",
                kb <= 8,
            )
    if hub and floor:
        share = stats.ratio(hub["capacity"], floor["capacity"])
        fl_note = "" if floor["saturated_at"] else " (floor not saturated: a lower bound)"
        verdicts["floor_share"] = (
            f"{(share or 0) * 100:.0f}% (hub {hub['capacity']:g}/s vs floor "
            f"{floor['capacity']:g}/s{fl_note})",
            share is not None and share >= 0.4,
        )
    if hub and floor:
        verdicts.update(_ratio_verdicts(hub, floor))
    if out.get("sd"):
        verdicts.update(_sd_verdicts(out["sd"], results["sd"]))
    if results.get("day", {}).get("trees"):
        verdicts.update(_day_verdicts(results["day"]))
    raw_hub = results.get("hub") or {}
    starts = [raw_hub.get("start_cold_s"), *list(raw_hub.get("start_warm_s", []))]
    starts = [s for s in starts if s is not None]
    if starts:
        verdicts["startup"] = (
            f"cold {raw_hub['start_cold_s']:.2f} s, restarts "
            + ", ".join(f"{s:.2f}" for s in raw_hub.get("start_warm_s", []))
            + " s",
            max(starts) <= 1.5,
        )
    if results.get("flood") and "phases" in results["flood"]:
        out["flood"] = flood_summary(results["flood"])
    drain = results.get("drain")
    if drain:
        out["drain"] = drain_summary(drain)
        verdicts["drain"] = out["drain"]["verdict"]
    out["verdicts"] = verdicts
    return out


def _ratio_verdicts(hub: dict[str, Any], floor: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    h, f = _at(hub, 100), _at(floor, 100)
    if not h or not f:
        return out
    cpu = stats.ratio(h.get("cpu_ms_per_order_net"), f.get("cpu_ms_per_order_net"))
    if cpu is not None:
        out["cpu_ratio"] = (
            f"{cpu:.2f}× (hub {h['cpu_ms_per_order_net']} ms, floor "
            f"{f['cpu_ms_per_order_net']} ms per order, net of the room)",
            cpu <= 1.2,
        )
    hm, fm = (h.get("mqtt_ms") or {}).get("p99"), (f.get("mqtt_ms") or {}).get("p99")
    mq = stats.ratio(hm, fm)
    if mq is not None:
        out["mqtt_ratio"] = (f"{mq:.2f}× (hub {hm} ms, floor {fm} ms)", mq <= 2)
    return out


def _sd_verdicts(sd: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    ms = raw.get("sd_fsync_ms")
    out: dict[str, Any] = {
        "sd_rate": (
            f"{sd['sustained']:g}/s sustained; best achieved {sd['capacity']:g}/s "
            f"(fsyncs +{ms} ms)",
            sd["sustained"] >= 400,
        )
    }
    p20 = _at(sd, 20)
    if p20 and "kds_ms" in p20:
        p99 = p20["kds_ms"]["p99"]
        out["sd_kds_20"] = (f"{p99} ms (p50 {p20['kds_ms']['p50']} ms)", p99 <= 50)
    return out


def _day_verdicts(day: dict[str, Any]) -> dict[str, Any]:
    this = day["trees"][-1]["summary"]
    before = day["trees"][0]["summary"] if len(day["trees"]) > 1 else None

    def was(key: str, scale: float, unit: str) -> str:
        if before is None:
            return ""
        return f" (before: {before['targets'][key][0] * scale:,.1f} {unit})"

    t = this["targets"]
    out: dict[str, Any] = {
        "day_per_order": (
            f"{t['per_order_kb'][0]:.1f} KB{was('per_order_kb', 1, 'KB')}",
            t["per_order_kb"][0] <= 8,
        ),
        "day_idle": (
            f"{t['idle_kb_s'][0]:.2f} KB/s{was('idle_kb_s', 1, 'KB/s')}",
            t["idle_kb_s"][0] <= 2,
        ),
    }
    if "day_mb" in t:
        out["day_total"] = (
            f"{t['day_mb'][0]:,.0f} MB{was('day_mb', 1, 'MB')}",
            t["day_mb"][0] <= 50,
        )
    return out


def flood_summary(raw: dict[str, Any]) -> dict[str, Any]:
    """The normal tables' orders without and with one phone flooding, and what the
    flooding phone was answered."""
    kds = _ids(raw.get("kds_ws", {}))
    phases = []
    for idx, ph in enumerate(raw.get("phases", [])):
        rows = [r for r in raw["orders"] if r[stats.PHASE] == idx]
        summ = stats.phase_summary(rows, ph["rate"], ph["seconds"], kds)
        flood = next((f for f in raw.get("flood", []) if f["phase"] == idx), None)
        phases.append({"name": ph["name"], "summary": summ, "flood": flood})
    return {"phases": phases, "spec": raw.get("spec", {})}


def flood_section(fl: dict[str, Any] | None) -> list[str]:
    out = ["## One phone flooding orders while the other tables order", ""]
    if not fl or not fl["phases"]:
        return [*out, "Not run in this run.", ""]
    spec = fl["spec"]
    out += [
        "The hub with its production rate limits (per table 6 orders then 6/min; per phone "
        "address 30 then 60/min). 120 tables order at "
        f"{spec.get('phases', [{}])[0].get('rate', '?')} orders/s in all (one per table every "
        "12 s, each table from its own loopback address, as phones are), with 20 diner "
        "sockets, 5 kitchen screens and bumps around them; in the second phase one more "
        f"phone (its own address and table) sends {spec.get('flood_rate', 0):g} orders/s "
        f"(at most {spec.get('flood_in_flight', '?')} unanswered). Latency of the *other* "
        "tables' orders, from the scheduled send:",
        "",
        "| phase | normal orders ok / sent | POST→201 p50 / p99 ms | order→KDS p50 / p99 ms "
        "| gen lag p99 ms | flooding phone: sent, answers | flood answer p50 / p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for ph in fl["phases"]:
        s, f = ph["summary"], ph["flood"]
        kds = s.get("kds_ms") or {}
        if f:
            answers = ", ".join(f"{k}: {v}" for k, v in sorted(f["status"].items()))
            fl_cells = f"{f['sent']} ({f['sent'] / max(1e-9, f['seconds']):.0f}/s); {answers}"
            fl_ms = f"{_ms(f['answer_ms'], 'p50')} / {_ms(f['answer_ms'], 'p99')}"
        else:
            fl_cells, fl_ms = "—", "—"
        out.append(
            f"| {ph['name']} | {s['ok']} / {s['scheduled']} | {_ms(s['post_201_ms'], 'p50')} / "
            f"{_ms(s['post_201_ms'], 'p99')} | {_ms(kds, 'p50')} / {_ms(kds, 'p99')} | "
            f"{_ms(s['gen_lag_ms'], 'p99')} | {fl_cells} | {fl_ms} |"
        )
    n = fl["phases"][0]["summary"]["ok"]
    out += [
        "",
        f"About {n} orders per phase: the p99 is close to the slowest few; read it as a "
        "tail, not a precise percentile.",
        "",
    ]
    return out


def drain_summary(drain: dict[str, Any]) -> dict[str, Any]:
    if not drain.get("measured"):
        return {"verdict": (drain.get("reason", "not measured"), None)}
    live = drain["live"]
    kds = _ids(live.get("kds_ws", {}))
    t0, t1 = drain.get("t_bridge"), drain.get("t_caught_up")
    res: dict[str, Any] = {
        "backlog": drain["backlog"],
        "events": drain["last"] - drain["first"] + 1,
    }
    before = [r for r in live["orders"] if r[stats.PHASE] == 0]
    res["before"] = stats.phase_summary(before, 100, 4, kds)
    if not (t0 and t1):
        res["verdict"] = (
            f"did not catch up within the time allowed (bridge alive: {drain.get('bridge_alive')})",
            False,
        )
        return res
    during = [r for r in live["orders"] if t0 <= r[stats.T_SCHED] <= t1]
    res["during"] = stats.phase_summary(during, 100, t1 - t0, kds)
    rate = drain.get("rate_from_spawn", 0.0)
    steady = drain.get("rate_from_first_ack")
    p99 = res["during"]["kds_ms"]["p99"]
    res["rate_from_spawn"], res["rate_from_first_ack"] = rate, steady
    res["seconds"] = drain["seconds_from_spawn"]
    res["cloud"] = drain.get("cloud", {})
    res["verdict"] = (
        f"{res['events']:,} events in {res['seconds']:.1f} s from spawn = {rate:,.0f} events/s"
        + (f" ({steady:,.0f}/s from the first ack)" if steady else "")
        + f"; live p99 order→KDS {p99} ms during the drain",
        rate >= 5000 and p99 is not None and p99 <= 50,
    )
    return res


def profile_rates(summary: dict[str, Any]) -> list[float]:
    """Where to point py-spy: the hub's saturation point when throughput is missed, and
    100 orders/s when the latency target is missed."""
    hub = summary.get("hub")
    if not hub:
        return []
    v = summary["verdicts"]
    rates = []
    if v.get("throughput", ("", True))[1] is False:
        rates.append(hub["saturated_at"] or max(p["offered"] for p in hub["points"]))
    if v.get("kds_p99_100", ("", True))[1] is False and 100.0 not in rates:
        rates.append(100.0)
    return rates


# ---------------------------------------------------------------- py-spy


_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^:()]*)(?::(?P<line>\d+))?\)$")
# a leaf on one of these source lines is a thread waiting, not working
_WAITING = re.compile(r"\.get\(|\.wait\(|\.select\(|\.acquire\(|\.poll\(|sleep\(")


def _split(f: str) -> tuple[str, str, int]:
    m = _FRAME.match(f.strip())
    if not m:
        return f.strip(), "", 0
    path = m["file"]
    for cut in ("site-packages/", "lib/python3.11/", "/work/main/"):
        if cut in path:
            path = path.split(cut, 1)[1]
    return m["fn"], path, int(m["line"] or 0)


def _source_line(path: str, line: int, cache: dict[tuple[str, int], str]) -> str:
    key = (path, line)
    if key not in cache:
        cache[key] = ""
        for base in sys.path:
            candidate = Path(base) / path
            if line and candidate.is_file():
                with contextlib.suppress(OSError, IndexError):
                    cache[key] = candidate.read_text("utf-8", "replace").splitlines()[line - 1]
                break
    return cache[key]


def _owner(frames: list[tuple[str, str, int]], main: bool) -> str:
    """Who a sample is charged to: the deepest frame in hub code (not the CLI entry), else
    the first library frame of the callback the loop was running."""
    for fn, path, _ in reversed(frames):
        if path.startswith("hub/") and path != "hub/cli.py" and fn != "<module>":
            return f"{fn} ({path})"
    if not main:
        return (
            "SQLite statements (aiosqlite worker thread)"
            if any(p.startswith("aiosqlite/") for _, p, _ in frames)
            else f"worker thread: {frames[-1][0]} ({frames[-1][1]})"
        )
    seen_loop = False
    for fn, path, _ in frames:
        if fn in ("Handle._run", "BaseEventLoop._run_once"):
            seen_loop = True
            continue
        if seen_loop and not path.startswith(("asyncio/", "selectors")):
            return f"{fn} ({path}) [outside hub code]"
    return f"{frames[-1][0]} ({frames[-1][1]}) [event loop]" if frames else "?"


def read_profile(path: Path, top: int = 15) -> dict[str, Any]:
    """py-spy raw (collapsed) stacks -> working samples per thread, the hub function each
    is charged to, and the top leaf frames. Samples of a thread blocked on a queue or a
    lock (py-spy cannot always tell) are counted apart as waiting."""
    threads: Counter[str] = Counter()
    owners: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    cache: dict[tuple[str, int], str] = {}
    total = waiting = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        raw = stack.split(";")
        main = bool(raw) and raw[0].endswith("MainThread")
        frames = [_split(f) for f in raw if not f.startswith(("thread ", "process "))]
        if not frames:
            continue
        fn, leaf_path, leaf_line = frames[-1]
        if _WAITING.search(_source_line(leaf_path, leaf_line, cache)):
            waiting += count
            continue
        total += count
        threads["event loop (MainThread)" if main else "worker threads"] += count
        owners[_owner(frames, main)] += count
        leaves[f"{fn} ({leaf_path})"] += count
    return {
        "samples": total,
        "waiting": waiting,
        "threads": dict(threads),
        "owners": owners.most_common(top + 5),
        "self": leaves.most_common(top),
    }


# ---------------------------------------------------------------- markdown


def _ms(d: dict[str, Any] | None, key: str) -> str:
    if not d or d.get(key) is None:
        return "–"
    v = d[key]
    return f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def _verdict(ok: bool | None) -> str:
    return {True: "**pass**", False: "**miss**", None: "not measured"}[ok]


def sweep_table(sw: dict[str, Any], *, kds: bool) -> list[str]:
    head = (
        "| offered/s | achieved/s | POST→201 p50 / p99 / p99.9 ms | "
        + ("order→KDS (WS) p50 / p99 / p99.9 ms | " if kds else "")
        + "order→MQTT p50 / p99 ms | "
        + ("MQTT relay behind p50 / max events | " if kds else "")
        + "errors | gen lag p99 ms | /healthz p50 / max ms | CPU ms/order (net) | "
        "disk KB/order (net) | RSS MB |"
    )
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for p in sw["points"]:
        post, k, mq = p["post_201_ms"], p.get("kds_ms"), p.get("mqtt_ms")
        flags = (" saturated" if p["saturated"] else "") + (
            " gen-limited" if p["generator_limited"] else ""
        )
        cells = [
            f"{p['offered']:g}{flags}",
            f"{p['achieved']:g}",
            f"{_ms(post, 'p50')} / {_ms(post, 'p99')} / {_ms(post, 'p999')}",
        ]
        if kds:
            cells.append(f"{_ms(k, 'p50')} / {_ms(k, 'p99')} / {_ms(k, 'p999')}")
        cells.append(f"{_ms(mq, 'p50')} / {_ms(mq, 'p99')}")
        if kds:
            rb = p.get("relay_behind")
            cells.append(f"{rb['p50']} / {rb['max']}" if rb else "–")
        cells += [
            f"{p['errors']}" + (f" ({', '.join(p['error_kinds'])})" if p["error_kinds"] else ""),
            _ms(p["gen_lag_ms"], "p99"),
            _healthz(p.get("healthz_ms")),
            _num(p.get("cpu_ms_per_order")) + " (" + _num(p.get("cpu_ms_per_order_net")) + ")",
            _kb(p.get("bytes_per_order")) + " (" + _kb(p.get("bytes_per_order_net")) + ")",
            f"{p['rss_kb'] / 1024:.0f}" if p.get("rss_kb") else "–",
        ]
        out.append("| " + " | ".join(cells) + " |")
    return out


def _fsync(d: dict[str, Any] | None) -> str:
    return "–" if not d else f"{_ms(d, 'p50')} / {_ms(d, 'p99')} / {_ms(d, 'max')}"


def _healthz(d: dict[str, Any] | None) -> str:
    return "–" if not d else f"{_ms(d, 'p50')} / {_ms(d, 'max')}"


def _num(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f}"


def _kb(v: float | None) -> str:
    return "–" if v is None else f"{v / 1024:.1f}"


def ratio_table(hub: dict[str, Any], floor: dict[str, Any]) -> list[str]:
    out = [
        "| offered/s | achieved hub/floor | POST→201 p99 hub/floor | order→MQTT p99 hub/floor "
        "| CPU per order hub/floor | disk per order hub/floor |",
        "|---|---|---|---|---|---|",
    ]
    for p in hub["points"]:
        f = _at(floor, p["offered"])
        if not f:
            continue

        def r(a: Any, b: Any) -> str:
            v = stats.ratio(a, b)
            return "–" if v is None else f"{v:g}×"

        out.append(
            f"| {p['offered']:g} | {r(p['achieved'], f['achieved'])} | "
            f"{r(p['post_201_ms']['p99'], f['post_201_ms']['p99'])} | "
            f"{r((p.get('mqtt_ms') or {}).get('p99'), (f.get('mqtt_ms') or {}).get('p99'))} | "
            f"{r(p.get('cpu_ms_per_order'), f.get('cpu_ms_per_order'))} | "
            f"{r(p.get('bytes_per_order'), f.get('bytes_per_order'))} |"
        )
    return out


def profile_section(profiles: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for pr in profiles:
        prof = pr.get("profile", {})
        out.append(f"#### py-spy at {pr.get('rate', 0):g} orders/s offered")
        if "error" in pr or "error" in prof:
            out.append(f"Not profiled: {pr.get('error') or prof.get('error')}")
            continue
        s = pr["summary"]
        total = max(1, prof["samples"])
        out.append(
            f"Achieved {s['achieved']:g}/s under the profiler (POST→201 p99 "
            f"{s['post_201_ms']['p99']} ms); {prof['samples']} working samples at 200 Hz, "
            f"{prof['waiting']} more of threads blocked on a queue or lock left out (raw "
            f"stacks: `bench/results/{pr['raw']}`, for speedscope or flamegraph.pl). "
            "Working samples by thread: "
            + ", ".join(f"{k} {v * 100 / total:.0f}%" for k, v in prof["threads"].items())
            + "."
        )
        out += [
            "",
            "| charged to (deepest hub frame, else the library callback) | share |",
            "|---|---|",
        ]
        out += [f"| `{k}` | {v * 100 / total:.1f}% |" for k, v in prof["owners"]]
        out += ["", "| leaf frame (self time) | share |", "|---|---|"]
        out += [f"| `{k}` | {v * 100 / total:.1f}% |" for k, v in prof["self"][:10]]
        out.append("")
    return out


def markdown(results: dict[str, Any], summary: dict[str, Any]) -> str:
    m = results["machine"]
    v = summary["verdicts"]
    quick = results["mode"] == "quick"
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m bench.run`) — do not edit by hand; the analysis "
        "at the end comes from `bench/FINDINGS.md`.",
        "",
        f"**This run: `{results['command']}`**"
        + (
            " — a *quick* sanity run (2 s per point) on a shared, busy machine: the harness "
            "is right, the numbers are noisy. Re-run `make bench` on a quiet machine before "
            "quoting them."
            if quick
            else ""
        ),
        "",
        "| machine | |",
        "|---|---|",
        f"| date | {m['date']} |",
        f"| nproc | {m['nproc']} |",
        f"| CPU | {m['cpu']} |",
        f"| kernel | {m['kernel']} |",
        f"| Python | {m['python']} (SQLite {m['sqlite']}) |",
        f"| broker | {m['mosquitto']} |",
        f"| libraries | {', '.join(f'{k} {x}' for k, x in m['libraries'].items())} |",
        f"| data dirs | {m.get('tmp', '?')} |",
        f"| load average before / after | {_load(m.get('load_before'))} / "
        f"{_load(m.get('load_after'))} |",
        f"| the disk alone: a 4 KB write fsync'd 100 times a second, p50 / p99 / max ms, "
        f"before / after the run | {_fsync(m.get('fsync_before'))} / "
        f"{_fsync(m.get('fsync_after'))} |",
        f"| run time | {results.get('elapsed_s', '?')} s |",
        "",
        "## Targets",
        "",
        "| target | measured | verdict |",
        "|---|---|---|",
    ]
    for key, text in TARGETS.items():
        got, ok = v.get(key, ("not measured in this run", None))
        lines.append(f"| {text} | {got} | {_verdict(ok)} |")
    lines += ["", "![latency vs offered load](bench/latency.png)", ""]
    hub = summary.get("hub")
    if hub:
        lines += [
            "## Hub sweep",
            "",
            "The hub on one core (`taskset -c 1`), with a dining room around the orders: "
            f"{hub['max_open'].get('diners', 0)} diner status sockets, "
            f"{hub['max_open'].get('kds', 0)} kitchen screens (two per station and two expo), "
            "menu GETs 10/s, bumps 20/s through the API, call buttons 1/s and scale weights "
            "10/s on MQTT. Orders have two lines on two stations (two tickets). Latency is "
            "from the scheduled send time; *order→KDS* is the first arrival of the order's "
            "ticket on any kitchen screen, *order→MQTT* on `kds/+/events` as the generator's "
            "subscriber receives it (on the generator's core, shared with the broker: past "
            "~1,500 orders/s it measures that core too); *MQTT relay behind* is the hub's own "
            "share, sampled from `/healthz` 10 times a second: outbox events committed but "
            "not yet acknowledged by the broker (about 5 per order). */healthz* is the time "
            "those samples took to be answered: from memory, no disk in it, so it is how long "
            "the hub's loop kept a request waiting, plus the generator's own lag (*gen lag*); one "
            "not answered within 1 s counts as 1 s. *net* subtracts "
            "what the room alone costs (measured for 2 s before the first point).",
            "",
            *sweep_table(hub, kds=True),
            "",
        ]
        if hub["baseline"]:
            b = hub["baseline"]
            lines += [
                f"The room alone (no orders): {b['cpu_per_s'] * 100:.1f}% of the core, "
                f"{b['write_per_s'] / 1024:.1f} KB/s written, RSS {b['rss_kb'] / 1024:.1f} MB "
                f"with {b['diners']} diner and {b['screens']} KDS sockets open. "
                f"Screens dropped by the hub and resynchronised: "
                f"{hub['counts'].get('kds_drops', 0)}.",
                "",
            ]
    floor = summary.get("floor")
    if floor:
        lines += [
            "## Floor (the minimal pipeline, same libraries, same core)",
            "",
            "`bench/floor.py`: aiohttp POST → aiosqlite order row + outbox row in one "
            "transaction (WAL, synchronous=FULL, group commit) → 201 → aiomqtt QoS 1 publish "
            "→ the generator's subscriber. Same generator, orders only.",
            "",
            *sweep_table(floor, kds=False),
            "",
        ]
        if hub:
            lines += ["### Hub as a ratio of the floor", "", *ratio_table(hub, floor), ""]
    lines += flood_section(summary.get("flood"))
    lines += drain_section(summary.get("drain"))
    pi = summary.get("pi")
    raw_pi = results.get("pi") or {}
    lines += ["## Raspberry Pi estimate: the hub on a fifth of a core", ""]
    if pi:
        lim = raw_pi.get("cpu_limit", {})
        lines += [
            f"Same sweep, hub limited with {lim.get('how')} (throttled "
            f"{lim.get('throttled', {}).get('nr_throttled', '?')} of "
            f"{lim.get('throttled', {}).get('nr_periods', '?')} periods). A Pi 4 core is "
            "roughly 1/4–1/6 of this one; its SD card fsync is 10–100× slower than this "
            "disk's, which this does not model (the next section does). " + PERIOD_NOTE,
            "",
            f"Sustained {pi['sustained']:g} orders/s; best achieved {pi['capacity']:g}/s.",
            "",
            *sweep_table(pi, kds=True),
            "",
        ]
    else:
        lines += [raw_pi.get("error", "Not run in this run."), ""]
    lines += sd_section(summary.get("sd"), results.get("sd") or {})
    lines += day_section(results.get("day"), results.get("history"))
    if results.get("profiles"):
        lines += [
            "## Profiles (where a target is missed)",
            "",
            *profile_section(results["profiles"]),
        ]
    if results.get("shift"):
        from bench import shift

        over = results.get("shift_overload")
        lines += [shift.MARK_BEGIN, *shift.section(results["shift"])]
        lines += [*(shift.section(over, heading=False) if over else []), shift.MARK_END, ""]
    lines += method_section()
    if FINDINGS.exists():
        lines += ["", FINDINGS.read_text().strip(), ""]
    return "\n".join(lines) + "\n"


PERIOD_NOTE = (
    "A quota is a full core until the period's share is spent, then nothing until the period "
    "ends; a Pi's core is slow all the time. The bench's period is short (10 ms unless "
    "`--cpu-period-ms` says otherwise: a spent quota holds the hub at most 8 ms) so that the "
    "figures are the slow core's, not the quota's: with the kernel's default 100 ms period a "
    "request can wait 80 ms for the next period (`--cpu-period-ms 100` measures that)."
)


def sd_section(sd: dict[str, Any] | None, raw: dict[str, Any]) -> list[str]:
    lines = ["## An SD card in the Pi: a fifth of a core and an SD card's fsync", ""]
    if not sd:
        return [*lines, raw.get("error", "Not run in this run."), ""]
    lim = raw.get("cpu_limit", {})
    return [
        *lines,
        f"The Pi sweep again (hub limited with {lim.get('how')}), with every fsync of the "
        f"hub slowed by {raw.get('sd_fsync_ms')} ms (the LD_PRELOAD shim of "
        "tests/durability/fsyncshim.c, `delay_ms`). The delay is an estimate from published "
        "measurements: microSD cards in a Raspberry Pi write 4 KB at random at 0.2-3.0 "
        "MB/s, most near 1 MB/s, about 4 ms a write "
        "(pidramble.com/wiki/benchmarks/microsd-cards, Jeff Geerling); the A1 application "
        "class promises at least 500 random writes/s (2 ms) and A2 2,000; a WAL commit's "
        "fsync is its frames plus ext4's journal commit, two or three such writes. "
        f"{raw.get('fsyncs', '?')} fsyncs over the sweep.",
        "",
        f"Sustained {sd['sustained']:g} orders/s; best achieved {sd['capacity']:g}/s.",
        "",
        *sweep_table(sd, kds=True),
        "",
    ]


def day_section(
    day: dict[str, Any] | None, history: list[dict[str, Any]] | None = None
) -> list[str]:
    if not day or not day.get("trees"):
        return []
    first = day["trees"][0]
    hours = ", ".join(f"{10 + i}:00 {n}" for i, n in enumerate(day["hours"]))
    lines = [
        "## A store's day, replayed",
        "",
        f"`bench/storeday.py` at {day['speed']:g}× (an hour of the day in "
        f"{3600 / day['speed']:.0f} s): orders per hour {hours} (3,000), every ticket bumped "
        "by the kitchen screens, 300 table calls, two scales streaming readings, five "
        "printers (fake network printers: four kitchen stations and a bill printer, their "
        "agents inside the hub), 60 diner phones and 5 kitchen screens open, the cloud bridge "
        "uploading to a fake cloud that is away from 18:00 to 19:00. The broker autosaves as "
        "the hub's provisioning sets it"
        + "".join(f" ({t['tree']}: {t.get('autosave_s', '?')} s)" for t in day["trees"])
        + ". Every process runs under the fsync shim (each fsync and fdatasync logged with "
        "its file); bytes are `/proc/<pid>/io` `write_bytes` (what reaches the block layer, "
        "4 KB pages: a 100-byte commit fsync'd costs at least one), read at every phase edge; "
        "logs are what the hub and the bridge print (journald's own cost is not counted). "
        f"Data dir: {day['machine'].get('data_dir')}; CPU {day['machine'].get('cpu')}.",
        "",
        "Time-driven writes (checkpoints, cursor saves, the broker's snapshots) run at wall "
        "speed, so the day is the replay's bytes less its idle share plus the idle rate over "
        "13 real hours; *idle* is the room open without orders for 30 s (sockets open, "
        "scales at zero), from 15 s after the processes started, *100/s* is 10 s of orders "
        "at 100/s with the room around them, until the hub's printers are done (net of idle). "
        "*Rush* is the dinner peak's rate (550 orders an hour, every ticket bumped) played at "
        "real speed for three minutes, net of idle: how a store's card sees a rush's orders, "
        "one every few seconds, where the replay squeezes an hour into 15 s and 100/s shares "
        "each commit among many orders."
        + "".join(
            f" The rush rows of this run come from `{t['rush_from']}`."
            for t in day["trees"][:1]
            if t.get("rush_from")
        ),
        "",
        "| hub of | process | day MB | day fsyncs | per order at 100/s KB | fsyncs per "
        "order | rush KB per order | rush fsyncs per order | idle B/s | idle fsyncs/min |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for t in day["trees"]:
        s = t["summary"]
        for name in ("hub", "broker", "bridge", "all"):
            d = s.get("day", {}).get(name, {})
            po, idle = s["per_order"][name], s["idle"][name]
            rush = s.get("rush", {}).get(name)
            rush_cells = (
                f"{rush['net_bytes'] / 1024:,.1f} | {rush['net_fsyncs']:.2f}" if rush else "– | –"
            )
            lines.append(
                f"| {t['tree']} | {name} | {d.get('write_bytes', 0) / 1e6:,.1f} | "
                f"{d.get('fsyncs', 0):,.0f} | {po['net_bytes'] / 1024:,.1f} | "
                f"{po['fsyncs']:.2f} | {rush_cells} | {idle['bytes_s']:,.0f} | "
                f"{idle['fsyncs_s'] * 60:.1f} |"
            )
    lines.append("")
    for t in day["trees"]:
        s = t["summary"]
        if "peak" in s:
            d = t["day"]
            logs = s["day"]["all"]["log_bytes"] / 1e6
            lines.append(
                f"- **{t['tree']}**: peak hour {s['peak']['hour']} at "
                f"{s['peak']['bytes_s'] / 1024:,.1f} KB/s and {s['peak']['fsyncs_s']:.2f} "
                f"fsyncs/s in real time; idle {s['idle']['all']['bytes_s'] / 1024:.2f} KB/s; "
                f"logs {logs:.2f} MB a day; {d['orders']} of {d['orders_sent']} orders "
                f"answered 201; cloud back after the outage, caught up in "
                f"{d['cloud'].get('caught_up_s', float('nan')):.1f} s; fsyncs by file "
                f"(replay): "
                + "; ".join(
                    f"{p}: "
                    + ", ".join(f"{k} {v}" for k, v in list(d["fsync_files"][p].items())[:4])
                    for p in ("hub", "broker", "bridge")
                    if d["fsync_files"][p]
                )
            )
    if len(day["trees"]) > 1:
        lines += [
            "",
            f"*{first['tree']}* is the hub of {first['path']} (an export of the commit "
            "before these changes), run first, in the same run, with the same loads.",
        ]
    lines += store_lines(day["trees"][-1])
    lines += pruning_lines(history)
    return [*lines, ""]


def pruning_lines(runs: list[dict[str, Any]] | None) -> list[str]:
    """What one round of history pruning wrote (bench/history.py), FAST and ON."""
    if not runs:
        return []
    rows = []
    for r in runs:
        freed = r["in_use_before"] - r["in_use_after"]
        rows.append(
            f"| {r['secure_delete']} | {r['checks']:,} | {r['rows']:,} | {r['writes']} | "
            f"{r['prune_s']:.2f} | {freed / 1e6:.2f} | {r['written'] / 1e6:.2f} | "
            f"{r['written'] / max(1, freed):.2f}× |"
        )
    orders = runs[0]["orders"]
    return [
        "",
        "Pruning, measured (`python -m bench.history"
        f"{'' if orders == 3000 else f' --orders {orders}'}`): a hub in one process, "
        f"{orders:,} parties ordering two lines, cooked, served and closed on one day; 36 days "
        "later a table calls and the cloud has every event; one round of history pruning "
        "(35 days kept), the store checkpointed before and after; *written* is the process's "
        "`write_bytes`, the WAL's frames and the file's pages both. *ON* is the same round with "
        "SQLite's `secure_delete` as Debian and Raspberry Pi OS build it; the hub runs *FAST*.",
        "",
        "| secure_delete | checks | rows | writes | seconds | business freed MB | "
        "written MB | written ÷ freed |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
    ]


OUTBOX_DAYS = 7  # the bridge's retention_hours (168): acknowledged events kept a week
DAY_ORDERS = 3000


def store_months(b: float, o: float, day: int, *, keep_days: float | None) -> float:
    """The store's bytes on day `day` of a store: business `b` and outbox `o` bytes a day,
    the business kept `keep_days` (None: for ever), the outbox a week."""
    kept = day if keep_days is None else min(day, keep_days)
    return kept * b + min(day, OUTBOX_DAYS) * o


def store_lines(tree: dict[str, Any]) -> list[str]:
    """The store after the run, and what its backups write a day over months: projected
    from the measured bytes an order, for the schedule before (every 6 h, 14 kept, nothing
    deleted) and the hub's defaults (hub/config.py)."""
    st = tree.get("summary", {}).get("store")
    if not st:
        return []
    defaults = HubConfig(data_dir=Path("."))
    b = st["business_per_order"] * DAY_ORDERS
    o = st["outbox_per_order"] * DAY_ORDERS
    per_day = 24 * 3600 / defaults.backup_every_s
    keep = defaults.history_keep_days or None
    rows = []
    for d in (30, 90, 365):
        old = store_months(b, o, d, keep_days=None)
        new = store_months(b, o, d, keep_days=keep)
        rows.append(
            f"| day {d} | {old / 1e6:,.0f} MB | {4 * old / 1e6:,.0f} MB | "
            f"{14 * old / 1e6:,.0f} MB | {new / 1e6:,.0f} MB | {per_day * new / 1e6:,.0f} MB | "
            f"{defaults.backup_keep * new / 1e6:,.0f} MB |"
        )
    return [
        "",
        "### The store over months, and its backups",
        "",
        f"After this run ({tree['tree']}) the store holds {st['orders']:,} orders in "
        f"{(st['business_per_order'] + st['outbox_per_order']) * st['orders'] / 1e6:,.1f} MB of "
        f"pages in use: {st['business_per_order'] / 1024:.2f} KB an order of business (orders, "
        f"tickets, chits, calls...) and {st['outbox_per_order'] / 1024:.2f} KB of outbox events. "
        f"A day of {DAY_ORDERS:,} orders adds {b / 1e6:.1f} MB of business and {o / 1e6:.1f} MB "
        "of events (kept a week once the cloud has them). A backup copies every page in use to "
        "the same card. Projected from these bytes an order: *before*, a backup every six hours, "
        "14 kept, nothing of the business ever deleted; *now*, the hub's defaults: a backup a "
        f"day ({per_day:g} a day, at {defaults.backup_at_hour or 0:02d}:00), "
        f"{defaults.backup_keep} kept, "
        f"closed business the cloud has deleted after {defaults.history_keep_days:g} days "
        "(with no cloud bridge on the box nothing is deleted: the *before* columns then hold "
        "for the store, at one backup a day).",
        "",
        "| a store's | store before | backups written a day before | backups kept before | "
        "store now | backups written a day now | backups kept now |",
        "|---|---|---|---|---|---|---|",
        *rows,
    ]


def drain_section(d: dict[str, Any] | None) -> list[str]:
    out = ["## Cloud bridge: draining a backlog while orders go on", ""]
    if not d:
        return [*out, "Not run in this run.", ""]
    text, ok = d["verdict"]
    if ok is None:
        return [*out, text, ""]
    out.append(
        f"{d.get('events', 0):,} outbox events waiting (copies of real order and ticket "
        "events written into the stopped hub's store), the bridge (`python -m cloud_bridge "
        "bridge run`, production defaults: 500 events or 256 KB per batch) started against "
        "`bench/fakecloud.py` on loopback while the generator kept 100 orders/s with the "
        "full dining room. The fake cloud stores every event by seq in SQLite and "
        "acknowledges; it is not the PostgreSQL reference receiver."
    )
    out.append("")
    out.append(f"Result: {text}.")
    before, during = d.get("before"), d.get("during")
    if before and during:
        out += [
            "",
            "| live orders | n | POST→201 p99 ms | order→KDS p50 / p99 ms | gen lag p99 ms |",
            "|---|---|---|---|---|",
            f"| before the bridge | {before['ok']} | {_ms(before['post_201_ms'], 'p99')} | "
            f"{_ms(before['kds_ms'], 'p50')} / {_ms(before['kds_ms'], 'p99')} | "
            f"{_ms(before['gen_lag_ms'], 'p99')} |",
            f"| during the drain | {during['ok']} | {_ms(during['post_201_ms'], 'p99')} | "
            f"{_ms(during['kds_ms'], 'p50')} / {_ms(during['kds_ms'], 'p99')} | "
            f"{_ms(during['gen_lag_ms'], 'p99')} |",
        ]
    return [*out, ""]


def method_section() -> list[str]:
    return [
        "## How it is measured",
        "",
        "- **Processes.** The hub (`taskset -c 1 python -m hub run --config …`, limits "
        "off because all load comes from 127.0.0.1) with its own Mosquitto "
        "(`hub.ops.mosquitto.Mosquitto`, pinned to core 0 with the generator); data dirs in "
        "a temp dir under /var/tmp. The floor runs on the hub's core. Everything is "
        "stopped by PID in a `finally`.",
        "- **Open loop.** `bench/loadgen.py` (own process, one asyncio loop, aiohttp "
        "client) sends order i at t0 + i/rate whatever happened to earlier ones; "
        "latencies are from that scheduled time, the generator's own lag is shown beside "
        "them (*gen-limited* when its p99 is over 10 ms: that point also measures the "
        "generator). A point is *saturated* when achieved < 90% of offered, > 1% fail, or "
        "POST→201 p99 > 1 s; the sweep stops there.",
        "- **CPU per order**: `/proc/<pid>/stat` utime+stime over the point ÷ orders "
        "answered. **Disk per order**: `/proc/<pid>/io` write_bytes over the point ÷ "
        "orders (the hub's log goes to a pipe, so it is not counted). **RSS**: VmRSS at "
        "the end of the 100/s point. **Start-up**: spawn → first 200 on `/healthz`, polled "
        "every 10 ms; *cold* is a first run (schema, menu import), restarts reopen the "
        "store the sweep filled.",
        "- **Pi estimate**: the hub in a CPU cgroup with a fifth of a core's quota, in 10 ms "
        "periods unless `--cpu-period-ms` says otherwise (the section names the quota and "
        "period, and says why the period is short).",
        "",
    ]


def _load(v: Any) -> str:
    return "?" if not v else " ".join(f"{x:.2f}" for x in v)


# ---------------------------------------------------------------- plot


def plot(summary: dict[str, Any], path: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib): no plot"
    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    flagged = False
    series = [
        ("hub", "post_201_ms", "hub POST→201", "tab:blue"),
        ("hub", "kds_ms", "hub order→KDS (WS)", "tab:green"),
        ("floor", "post_201_ms", "floor POST→201", "tab:gray"),
        ("floor", "mqtt_ms", "floor order→MQTT", "tab:brown"),
        ("pi", "kds_ms", "hub at 1/5 core order→KDS", "tab:red"),
    ]
    for name, key, label, color in series:
        sw = summary.get(name)
        if not sw:
            continue
        pts = [p for p in sw["points"] if p.get(key) and p[key].get("p50") is not None]
        if not pts:
            continue
        xs = [p["offered"] for p in pts]
        ax.plot(xs, [p[key]["p50"] for p in pts], "o-", color=color, label=f"{label} p50")
        ax.plot(xs, [p[key]["p99"] for p in pts], "s--", color=color, label=f"{label} p99")
        lim = [p for p in pts if p["generator_limited"]]
        if lim:
            ax.plot(
                [p["offered"] for p in lim],
                [p[key]["p99"] for p in lim],
                "x",
                color="black",
                ms=9,
                label="_gen",
            )
            flagged = True
    if not ax.lines:
        plt.close(fig)
        return "no sweep in this run: no plot"
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered orders/s")
    ax.set_ylabel("latency, ms (from scheduled send)")
    ax.axhline(10, color="black", lw=0.6, ls=":")
    ax.text(ax.get_xlim()[0], 10, " 10 ms", va="bottom", fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    if flagged:
        ax.plot([], [], "x", color="black", label="× generator-limited point (lag p99 > 10 ms)")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("tablehub order latency vs offered load")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return None


def write(results: dict[str, Any], docs: Path, scratch: Path) -> Path:
    """docs/benchmarks.md and docs/bench/latency.png for a whole run; a partial run
    (--only/--skip) writes into `scratch` instead, leaving the docs alone."""
    summary = summarise(results)
    partial = "partial" in results["mode"]
    png = scratch / "latency-partial.png" if partial else docs / "bench" / "latency.png"
    problem = plot(summary, png)
    text = markdown(results, summary)
    if partial:
        text = text.replace("(bench/latency.png)", "(latency-partial.png)")
    if problem:
        text = re.sub(r"!\[latency vs offered load\]\([^)]*\)", f"({problem})", text)
    out = scratch / "benchmarks-partial.md" if partial else docs / "benchmarks.md"
    if results.get("shift") and not partial:
        from bench import shift

        (docs / "bench" / "shift.svg").write_text(shift.svg(results["shift"]))
    out.write_text(text)
    return out


def main(argv: list[str] | None = None) -> int:
    """Render docs again from a saved run: `python -m bench.report bench/results/quick.json`."""
    import argparse
    import json

    p = argparse.ArgumentParser(prog="python -m bench.report", description=main.__doc__)
    p.add_argument("results", type=Path)
    args = p.parse_args(argv)
    results = json.loads(args.results.read_text())
    here = Path(__file__).resolve().parent
    print(write(results, here.parent / "docs", here / "results"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
