"""docs/reliability.md from a fault-suite run (bench/results/chaos*.json). The hand-written
notes in bench/RELIABILITY-NOTES.md are included as they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

NOTES = Path(__file__).with_name("RELIABILITY-NOTES.md")

WHAT = {
    "hub-kill": "`kill -9` of the hub mid-load, restarted at once",
    "broker-kill": "`kill -9` of Mosquitto, restarted after 1 s",
    "cloud-outage": "the cloud unreachable for 5 s (fake cloud killed), then back",
    "disk-full": "the data dir's file system filled to ENOSPC for 4 s, then freed",
    "clock-jump": "the hub's wall clock stepped −1 h, then +1 h (bench/clockshim.py)",
    "printer-offline": "two kitchen printers unplugged / switched off for 5 s and 8 s, then back",
}


def _sum(reps: list[dict[str, Any]], key: str) -> int:
    return sum(int(r.get(key) or 0) for r in reps)


def _span(values: list[float | None]) -> str:
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return "–"
    if len(vals) == 1:
        return f"{vals[0]:.2f} s"
    return f"{vals[len(vals) // 2]:.2f} s (max {vals[-1]:.2f})"


def _recovery(reps: list[dict[str, Any]]) -> str:
    what = next((r["recovery"][0] for r in reps if r.get("recovery")), "fault → first 201")
    values = [r["recovery"][1] if r.get("recovery") else r.get("recovery_s") for r in reps]
    return f"{what}: {_span(values)}"


def _chits(reps: list[dict[str, Any]]) -> str:
    """printed / missing / duplicates marked / unmarked, or – without printers."""
    if not any("chits" in r for r in reps):
        return "–"
    return " / ".join(
        str(_sum(reps, k))
        for k in ("chits_printed", "chits_missing", "chits_dup_marked", "chits_dup_unmarked")
    )


def table(results: dict[str, Any]) -> list[str]:
    out = [
        "| fault | reps | acked orders | lost | duplicated | KDS missing / dup | "
        "MQTT missing | MQTT dup marked / unmarked | chits printed / missing / "
        "dup marked / unmarked | recovery | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, sc in results["scenarios"].items():
        if "not_run" in sc:
            out.append(
                f"| {WHAT.get(name, name)} | – | – | – | – | – | – | – | – | – | "
                "not run: see below |"
            )
            continue
        reps = sc["reps"]
        ok = all(r.get("ok") for r in reps) and sc.get("cloud", {}).get("ok", True)
        if name == "disk-full":
            ok = ok and all(r.get("ok_disk") for r in reps)
        out.append(
            f"| {WHAT.get(name, name)} | {len(reps)} | {_sum(reps, 'acked')} | "
            f"{_sum(reps, 'lost')} | {_sum(reps, 'duplicated_orders')} | "
            f"{_sum(reps, 'kds_missing')} / {_sum(reps, 'kds_duplicates')} | "
            f"{_sum(reps, 'mqtt_missing')} | {_sum(reps, 'mqtt_marked_duplicates')} / "
            f"{_sum(reps, 'mqtt_unmarked_duplicates')} | {_chits(reps)} | "
            f"{_recovery(reps)} | "
            f"{'**pass**' if ok else '**FAIL**'} |"
        )
    return out


def details(name: str, sc: dict[str, Any]) -> list[str]:
    out = [f"### {name}: {WHAT.get(name, name)}", ""]
    if "not_run" in sc:
        return [*out, f"Not run here: {sc['not_run']}", ""]
    if sc.get("disk"):
        out += [f"Data dir on {sc['disk']}.", ""]
    for i, r in enumerate(sc["reps"]):
        bits = [f"acked {r['acked']}", f"committed but never acknowledged {r['committed_unacked']}"]
        for key, label in (
            ("restart_s", "hub restart (spawn → /healthz 200)"),
            ("broker_down_s", "broker down"),
            ("mqtt_after_broker_back_s", "first kds event after the broker is back"),
            ("mqtt_first_after_s", "first kds event after the fault"),
            ("cloud_caught_up_after_back_s", "cloud caught up after it came back"),
            ("answers_503_unavailable", "503 unavailable answers while full"),
            ("other_failures_while_full", "other answers while full"),
            ("disk_full_after_s", "filling took"),
            ("first_503_after_full_s", "first 503 after the disk was full"),
            ("recovered_after_free_s", "first 201 after space was freed"),
            ("jump", "clock step"),
            ("healthz_uptime_s_after_jump", "/healthz uptime_s 1 s after the step"),
            ("created_at_went_backwards", "orders whose created_at is earlier than the one before"),
            ("created_at_first_last", "created_at of the first and last order"),
            ("printer_fault", "printers"),
            ("printer_down_s", "grill-1 away"),
            ("wok_down_s", "wok-1 away"),
            ("grill_chits_waiting_at_back", "grill chits waiting when grill-1 came back"),
            ("grill_first_chit_after_back_s", "its first chit after it was back"),
            ("grill_queue_drained_after_back_s", "all of them printed after it was back"),
            ("wok_first_on_backup_after_fault_s", "first wok chit on the backup after the fault"),
            ("wok_chits_on_backup", "wok chits on the backup"),
            ("wok_chits_on_wok_1_after_back", "wok chits on wok-1 after it was back"),
            ("chits", "chits expected"),
            ("chits_per_printer", "copies per printer"),
            ("chits_torn", "chits cut off mid-job"),
            ("chits_drained_after_load_s", "printers caught up after the load"),
            ("fault_error", "fault injection error"),
        ):
            if key in r and r[key] is not None:
                v = r[key]
                bits.append(f"{label} {v:.2f} s" if isinstance(v, float) else f"{label} {v}")
        fails = r.get("failures") or {}
        if fails:
            bits.append("non-201 attempts " + ", ".join(f"{k}: {n}" for k, n in fails.items()))
        if r.get("lost_keys"):
            bits.append(f"lost keys {r['lost_keys']}")
        out.append(f"- #{i}: " + "; ".join(bits) + ("" if r.get("ok") else " — **NOT OK**"))
    log = sc.get("hub_log")
    if log:
        out += [
            "",
            f"Hub log: {log['errors']} error lines, {log['tracebacks']} tracebacks"
            + (": " + " / ".join(f"`{e}`" for e in log["examples"]) if log["examples"] else "."),
        ]
    if "cloud" in sc:
        c = sc["cloud"]
        out += [
            "",
            f"Cloud after the run: hub outbox {c['hub_events']} events, cloud {c['cloud_events']}; "
            f"missing {c['missing']}, different {c['differ']}; resent and dropped by seq "
            f"(marked duplicates) {c['resent_and_dropped_by_seq']} — "
            + ("**exactly once**" if c["ok"] else "**NOT exactly once**"),
        ]
    return [*out, ""]


def markdown(results: dict[str, Any]) -> str:
    m = results.get("machine", {})
    cmd = "python -m bench.chaos" + (" --short" if results["mode"] == "short" else "")
    lines = [
        "# Reliability: faults under load",
        "",
        f"Generated by `make chaos` / `make chaos-short` (this run: `{cmd}`, "
        f"{results['reps']} repetition(s) per fault where not said otherwise, "
        f"{results['rate']:g} orders/s steady, {results.get('elapsed_s', '?')} s) on "
        f"{m.get('date', '?')}, {m.get('nproc', '?')} × {m.get('cpu', '?')}, kernel "
        f"{m.get('kernel', '?')}, Python {m.get('python', '?')}. Do not edit by hand; the "
        "notes at the end come from `bench/RELIABILITY-NOTES.md`.",
        "",
        "Each fault hits a hub taking orders from a small dining room (20 phones, 5 kitchen "
        "screens, calls and scales on MQTT); phones retry a failed order with the same "
        "idempotency key, as the diner page does. After each repetition the checker compares "
        "every `201` the generator got (order id and key) with the store (read-only SQLite), "
        "an expo WebSocket snapshot and an MQTT `kds/+/events` subscriber.",
        "",
        "- **lost**: acknowledged, not in the store (must be 0)",
        "- **duplicated**: two orders for one (table, key), or a key answered with another "
        "order id (must be 0)",
        "- **KDS missing / dup**: a ticket of an acknowledged order not open on the expo "
        "snapshot, or shown twice (must be 0 / 0)",
        "- **MQTT missing**: a ticket of an acknowledged order never published on "
        "`kds/<station>/events`; **marked** duplicates repeat a seq (receivers drop them), "
        "**unmarked** ones would be a second `ticket.created` under a new seq (must be 0)",
        "- **chits** (the hub-kill and printer runs, which print every grill and wok ticket "
        "on fake network printers): tickets of acknowledged orders that came out complete "
        "(cut) on their station's printer or its backup / that never did (must be 0); "
        "**marked** duplicates are second copies with a REPRINT or BACKUP FOR bar, "
        "**unmarked** ones a second plain copy (must be 0)",
        "- **recovery** (median, max): for the hub kill, fault → the first `201` after it; "
        "for the broker, broker back → the first ticket on MQTT; for the cloud, cloud back "
        "→ it holds every event; for the disk, space freed → the first `201`; for the "
        "printers, grill-1 back → every grill chit queued while it was away printed",
        "",
        *table(results),
        "",
    ]
    for name, sc in results["scenarios"].items():
        lines += details(name, sc)
    if NOTES.exists():
        lines += [NOTES.read_text().strip(), ""]
    return "\n".join(lines) + "\n"


def write(results: dict[str, Any], path: Path) -> Path:
    path.write_text(markdown(results))
    return path


def main(argv: list[str] | None = None) -> int:
    """Render docs/reliability.md again: `python -m bench.chaos_report RESULTS.json`."""
    import argparse
    import json
    import sys

    p = argparse.ArgumentParser(prog="python -m bench.chaos_report", description=main.__doc__)
    p.add_argument("results", type=Path)
    args = p.parse_args(argv)
    results = json.loads(args.results.read_text())
    docs = Path(__file__).resolve().parent.parent / "docs"
    target = (
        Path(__file__).resolve().parent / "results" / "reliability-partial.md"
        if results.get("partial")
        else docs / "reliability.md"
    )
    print(write(results, target))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
