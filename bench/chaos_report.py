"""docs/reliability.md from a fault-suite run (bench/results/chaos*.json): the verdict (from
`bench.chaos_verdict.judge`, the same function that gives the suite its exit status), what
each fault proves, the figures, which named mutants each fault kills (from the record
`python -m bench.mutants --faults` keeps, bench/results/mutants-faults.json). The hand-written
notes in bench/RELIABILITY-NOTES.md are included as they are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.chaos_verdict import Verdict, judge

NOTES = Path(__file__).with_name("RELIABILITY-NOTES.md")
MUTANTS_RECORD = Path(__file__).parent / "results" / "mutants-faults.json"
MUTANTS_HEADING = "## Which mutants each fault kills"

WHAT = {
    "hub-kill": "`kill -9` of the hub mid-load, restarted at once",
    "broker-kill": "`kill -9` of Mosquitto, restarted after 1 s",
    "cloud-outage": "the cloud unreachable for 5 s (fake cloud killed), then back",
    "disk-full": "the data dir's file system filled to ENOSPC for 4 s, then freed",
    "clock-jump": "the hub's wall clock stepped −1 h, then +1 h (bench/clockshim.py)",
    "printer-offline": "two kitchen printers unplugged / switched off for 5 s and 8 s, then back",
}

# what each fault proves: the invariant, and the observation that shows it. Every fault is
# also held to the common checks (the table's columns), all against the generator's record.
PROVES = {
    "hub-kill": (
        "An acknowledged order survives the process dying (rule 1) and still reaches every "
        "consumer (rule 2): every order answered `201` before or after the `kill -9` is in "
        "the store once with the lines the phone sent and one ticket per station, open on the "
        "expo screen, published on MQTT, and its grill chit printed once (a second copy only "
        "marked REPRINT). Observed: the generator's 201s against the read-only store, the expo "
        "snapshot, the MQTT subscriber and the fake grill printer; recovery is the first 201 "
        "after the kill."
    ),
    "broker-kill": (
        "The outbox relay hands every ticket to MQTT across a broker restart (rule 2): each "
        "ticket the generator's orders route to a station is published on "
        "`kds/<station>/events`, repeats only under their original seq (marked). Observed: "
        "the generator's persistent-session MQTT subscriber against the tickets expected from "
        "its orders and the menu; recovery is the first ticket on MQTT after the broker is back."
    ),
    "cloud-outage": (
        "The bridge delivers every outbox event to the cloud exactly once across an outage "
        "(rule 2): afterwards the cloud holds every event of the hub's outbox, once, with the "
        "hub's body, and an `order.created` for every acknowledged order and a "
        "`ticket.created` for every expected ticket. Observed: the fake cloud's own SQLite "
        "file against the hub's outbox and the generator's record; recovery is the cloud "
        "holding everything after it is back."
    ),
    "disk-full": (
        "A full disk is a clear refusal, never a corruption or a lie (rules 1 and 3): while "
        "the data dir's file system is full every order attempt is answered `503` with the "
        "JSON error `unavailable` and nothing else, no order acknowledged before is lost, and "
        "the hub takes orders again by itself once space is freed. Observed: the generator's "
        "answers inside the window and its first 201 after it, plus the common checks. The "
        "scenario needs root to mount its small disk; if it cannot, the run fails."
    ),
    "clock-jump": (
        "Ordering and delivery do not depend on the wall clock: a step of an hour back, then "
        "forward, loses, doubles or misroutes nothing and the hub keeps answering. Observed: "
        "the common checks and the first 201 after the step; orders whose `created_at` went "
        "backwards are shown, not judged (a step back makes them)."
    ),
    "printer-offline": (
        "Rule 2 on paper: a printer that goes away (connections time out, or are refused) "
        "keeps its chits queued and prints each once when it is back; with a backup they move "
        "there with a BACKUP FOR bar; no chit comes out twice unmarked. Observed: what the fake "
        "printers received, decoded, against the chits expected from the generator's orders, "
        "the menu's stations and the printers' configuration; recovery is grill-1 back → "
        "every grill chit queued while it was away printed."
    ),
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


def table(results: dict[str, Any], verdict: Verdict) -> list[str]:
    out = [
        "| fault | reps | acked orders | lost / duplicated / wrong | store tickets missing / "
        "extra | KDS missing / dup | MQTT missing | MQTT dup marked / unmarked | chits printed "
        "/ missing / dup marked / unmarked | recovery | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, why in verdict.reasons.items():
        sc = results["scenarios"].get(name, {})
        mark = "**pass**" if not why else "**FAIL**"
        reps = sc.get("reps") or []
        if not reps:
            dashes = " – |" * 9
            out.append(f"| {WHAT.get(name, name)} | 0 |{dashes} {mark}: see below |")
            continue
        wrong = sum(_sum(reps, k) for k in ("wrong_id", "store_wrong_order"))
        out.append(
            f"| {WHAT.get(name, name)} | {len(reps)} | {_sum(reps, 'acked')} | "
            f"{_sum(reps, 'lost')} / {_sum(reps, 'duplicated_orders')} / {wrong} | "
            f"{_sum(reps, 'store_tickets_missing')} / {_sum(reps, 'store_tickets_extra')} | "
            f"{_sum(reps, 'kds_missing')} / {_sum(reps, 'kds_duplicates')} | "
            f"{_sum(reps, 'mqtt_missing')} | {_sum(reps, 'mqtt_marked_duplicates')} / "
            f"{_sum(reps, 'mqtt_unmarked_duplicates')} | {_chits(reps)} | "
            f"{_recovery(reps)} | {mark} |"
        )
    return out


def verdict_lines(results: dict[str, Any], verdict: Verdict) -> list[str]:
    """The run's verdict as the suite's exit status gives it, with every reason."""
    cmd = results.get("command") or _command(results)
    head = (
        f"**Verdict: PASS** — `{cmd}` exited 0: every fault was injected, every check held."
        if verdict.ok
        else f"**Verdict: FAIL** — `{cmd}` exited {verdict.exit_code}: "
        f"{', '.join(verdict.failed) or 'no fault ran'} failed."
    )
    out = [head, ""]
    for name, why in verdict.reasons.items():
        out += [f"- {name}: {r}" for r in why]
    return [*out, ""] if len(out) > 2 else out


def _command(results: dict[str, Any]) -> str:
    return "python -m bench.chaos" + (" --short" if results.get("mode") == "short" else "")


def details(name: str, sc: dict[str, Any], why: tuple[str, ...]) -> list[str]:
    out = [f"### {name}: {WHAT.get(name, name)}", ""]
    if name in PROVES:
        out += [f"*What it proves:* {PROVES[name]}", ""]
    out += ["**Verdict: pass**" if not why else "**Verdict: FAIL**: " + "; ".join(why), ""]
    if "not_run" in sc:
        return out
    if sc.get("disk"):
        out += [f"Data dir on {sc['disk']}.", ""]
    if sc.get("reps"):
        out += ["Repetitions:", ""]
    for i, r in enumerate(sc.get("reps") or []):
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
        if r.get("problems"):
            bits.append("checker: " + ", ".join(r["problems"]))
        bad = any(x.startswith(f"#{i}: ") for x in why)
        out.append(f"- #{i}: " + "; ".join(bits) + (" — **FAIL**" if bad else ""))
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
            f"missing {c['missing']}, different {c['differ']}, not in the outbox "
            f"{c.get('extra', '?')}; acknowledged orders without `order.created` "
            f"{c.get('orders_missing_in_cloud', '?')}, expected tickets without "
            f"`ticket.created` {c.get('tickets_missing_in_cloud', '?')}; resent and dropped by "
            f"seq (marked duplicates) {c['resent_and_dropped_by_seq']} — "
            + ("**exactly once**" if c["ok"] else "**NOT exactly once**"),
        ]
    return [*out, ""]


def markdown(results: dict[str, Any]) -> str:
    m = results.get("machine", {})
    verdict = judge(results)
    cmd = results.get("command") or _command(results)
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
        *verdict_lines(results, verdict),
        "Each fault hits a hub taking orders from a small dining room (20 phones, 5 kitchen "
        "screens, calls and scales on MQTT); phones retry a failed order with the same "
        "idempotency key, as the diner page does. What must exist is derived from the "
        "generator alone, never from the hub under test: every `201` it got (key, table, "
        "order id and number) and the lines it sent, routed by the menu the hub was given "
        "(item → station: one ticket per order and station) and the run's printers (station "
        "→ printer). After each repetition the checker holds each witness to that: the store "
        "(read-only SQLite), an expo WebSocket snapshot, an MQTT `kds/+/events` subscriber, "
        "the fake printers and, for the cloud fault, the fake cloud's store.",
        "",
        "The verdict is `bench.chaos_verdict.judge`: the suite's exit status and this page "
        "both come from it. A fault fails when any count below that must be 0 is not, when "
        "it was not run (disk-full needs root to mount its small disk; without one it fails, "
        "it is never skipped), when it could not be injected (it raised) or was never "
        "injected, when it never recovered, or when the cloud check after it failed.",
        "",
        "- **lost**: acknowledged, not in the store; **duplicated**: two orders for one "
        "(table, key); **wrong**: the key holds another order id than the 201 gave, or the "
        "order is at another table or has other lines than the phone sent (must be 0 / 0 / 0)",
        "- **store tickets missing / extra**: a station the order's lines go to without its "
        "ticket in the store, or a second ticket for it or one for a station none of its lines "
        "go to (must be 0 / 0; tickets with other lines are counted too)",
        "- **KDS missing / dup**: an expected ticket of an acknowledged order not open on the "
        "expo snapshot, or shown twice (must be 0 / 0; tickets with other lines, or for "
        "stations none of the lines go to, are counted too)",
        "- **MQTT missing**: an expected ticket of an acknowledged order never published on "
        "`kds/<station>/events`; **marked** duplicates repeat a seq (receivers drop them), "
        "**unmarked** ones would be a second `ticket.created` under a new seq, or a second "
        "ticket for one order and station (must be 0)",
        "- **chits** (the hub-kill and printer runs, which print every grill and wok ticket "
        "on fake network printers): expected tickets that came out complete (cut) under the "
        "order's number on their station's printer or its backup / that never did (must be "
        "0); **marked** duplicates are second copies with a REPRINT or BACKUP FOR bar, "
        "**unmarked** ones a second plain copy (must be 0)",
        "- **recovery** (median, max): for the hub kill, fault → the first `201` after it; "
        "for the broker, broker back → the first ticket on MQTT; for the cloud, cloud back "
        "→ it holds every event; for the disk, space freed → the first `201`; for the "
        "printers, grill-1 back → every grill chit queued while it was away printed; none "
        "within the run fails the fault",
        "",
        *table(results, verdict),
        "",
    ]
    for name, why in verdict.reasons.items():
        lines += details(name, results["scenarios"].get(name, {}), why)
    if MUTANTS_RECORD.exists():
        lines += [mutants_section(json.loads(MUTANTS_RECORD.read_text())), ""]
    if NOTES.exists():
        lines += [NOTES.read_text().strip(), ""]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- mutants the faults kill

# why the faults miss a mutant: the faults it was run under and survived, or why none was
# tried. Written from what the runs showed (their figures in bench/results/mutants-faults.json).
_PAGE_CACHE = (
    "A `kill -9` ends the process, not the machine: every write the hub made is still in "
    "the kernel's page cache and is read back after the restart, synced or not; only a power "
    "cut or a kernel crash loses unsynced writes, and the suite has neither. The disk-full "
    "fault fails the write itself (ENOSPC, answered 503), and its disk is a tmpfs, where an "
    "fsync does nothing. Only the fsync-shim test "
    "(`tests/durability/test_commit_on_disk.py`, which sees every fsync of the store and "
    "when each order was answered) proves this invariant."
)
_IN_FLIGHT = (
    "At 50 orders/s the hub is idle most of the time: in every hub-kill run made here (the "
    "recorded ones, and two more of 3 repetitions each with answer-before-commit and "
    "idempotency-ignored in place) the checker counted 0 orders committed but never "
    "acknowledged, and the phones' failed attempts were all refused connections (the hub "
    "was down), so no order was in flight at the kill."
)
ESCAPES: dict[str, str] = {
    "fsync-off": _PAGE_CACHE,
    "answer-before-fsync": (
        "the commit is visible to the hub before its fsync, so the hub works on and only the "
        "disk lags. " + _PAGE_CACHE
    ),
    "answer-before-commit": (
        "a hub kill loses an order only when it lands between the order's 201 and the end "
        "of its commit's write, a window of milliseconds. " + _IN_FLIGHT + " The full disk "
        "makes the commit fail after the answer, every time."
    ),
    "failed-commit-answered": "a `kill -9` makes no commit fail: it ends the process.",
    "idempotency-ignored": (
        "a key matters only when a phone retries an order the hub already received. "
        + _IN_FLIGHT
        + " Were one caught, the repeat would hit the store's "
        "UNIQUE (table, key) and be answered 500, not saved twice: no 201 would be wrong, "
        "and the checker judges the 201s. Under disk-full the refused orders were never "
        "saved, so their retries are first arrivals too. The integration test that sends one "
        "key twice is its killer."
    ),
    "printed-without-ack": (
        "the printer agent journals every job it receives (fsync'd with its first mark, "
        "before any paper moves) and retries the printer "
        "itself until it prints, and the broker keeps QoS 1 jobs for the agent's persistent "
        "session across a hub kill; with printers away (printer-offline) or the hub killed "
        "(hub-kill, whose agents run in the hub) every job still reached a journal and came "
        "out once. The hub's resend-until-acked matters only for a job that never reaches "
        "an agent's journal (the broker loses it, the agent's queue is full, a power cut "
        "takes a job queued but not yet started), and no fault "
        "does that: broker-kill runs without printers."
    ),
    "bridge-cursor-before-ack": (
        "during the cloud outage the bridge keeps retrying the same batch in memory until "
        "the cloud acknowledges it, so an early cursor loses nothing while the bridge lives; "
        "the cursor is read back only after a bridge restart, and no fault kills the bridge."
    ),
    "token-check-skipped": (
        "the load sends only genuine table tokens and no fault forges one; a "
        "forged token is a matter of who asks, not of a failure."
    ),
    "foreign-bump-accepted": (
        "no fault makes a bump bar name another station's ticket (the load does "
        "not bump at all, so every acknowledged ticket stays open for the checker)."
    ),
    "foreign-ack-accepted": (
        "no fault makes a printer agent ack another printer's job; each agent "
        "acks only the jobs it was sent."
    ),
}


def mutants_section(record: dict[str, Any]) -> str:
    """Fault -> the named mutants it killed (the suite's reason) and those it did not, and
    the mutants no fault kills with why, from bench/results/mutants-faults.json."""
    from bench.mutants import load

    names = [m.name for m in load()]
    runs: dict[str, dict[str, Any]] = record.get("runs", {})
    lines = [
        MUTANTS_HEADING,
        "",
        "Each named mutant (`bench/mutants.toml`, docs/mutants.md) breaks one invariant in a "
        "copy of the tree; `make mutants-faults` (`python -m bench.mutants --faults`) runs "
        f"faults on it, one short run each (`{record.get('fault_command', '')}`), after each "
        "fault passed on the unmutated copy. A fault kills a mutant when the suite's verdict "
        "fails (exit status 1); the reason is the suite's own. Written from "
        "`bench/results/mutants-faults.json` (the latest result per mutant and fault).",
        "",
        "| fault | mutants it kills (the suite's reason) | mutants it ran on and did not kill |",
        "|---|---|---|",
    ]
    for fault in WHAT:
        killed, survived = [], []
        for name in names:
            entry = runs.get(name, {}).get(fault)
            if entry and entry["verdict"] == "KILLED":
                killed.append(f"`{name}`: {entry['reason']}".replace("|", "\\|"))
            elif entry:
                state = "" if entry["verdict"] == "SURVIVED" else f" ({entry['verdict']})"
                survived.append(f"`{name}`{state}")
        lines.append(
            f"| {fault} | {'<br>'.join(killed) or 'none'} | {', '.join(survived) or '—'} |"
        )
    return "\n".join(lines + escapes(names, runs)) + "\n"


def escapes(names: list[str], runs: dict[str, dict[str, Any]]) -> list[str]:
    """Per mutant that some fault (or every fault) misses: what killed it, what did not, why."""
    lines = [
        "",
        "Why a fault misses a mutant (every mutant is killed by its pytest tests, "
        "docs/mutants.md; a mutant no fault kills is proven by those tests alone):",
        "",
    ]
    for name in names:
        mine = runs.get(name, {})
        killed = [f for f, e in mine.items() if e["verdict"] == "KILLED"]
        missed = [f for f, e in mine.items() if e["verdict"] != "KILLED"]
        if killed and not missed:
            continue
        head = f"killed by {', '.join(killed)}; " if killed else "**no fault kills it**; "
        head += f"survived {', '.join(missed)}" if missed else "no fault tried"
        lines.append(f"- `{name}` ({head}): {ESCAPES.get(name, 'not explained yet')}")
    return lines


def splice_mutants_section(path: Path, record: dict[str, Any]) -> None:
    """Put the section into an existing report (replacing the one there, else before the
    notes), so it is current without a new full run of the suite."""
    section = mutants_section(record)
    text = path.read_text("utf-8")
    start = text.find(MUTANTS_HEADING + "\n")
    if start >= 0:
        end = text.find("\n## ", start + len(MUTANTS_HEADING))
        text = text[:start] + section + ("" if end < 0 else text[end:])
    else:
        notes = NOTES.read_text().strip().split("\n", 1)[0] if NOTES.exists() else ""
        at = text.find(notes + "\n") if notes else -1
        text = (
            text.rstrip("\n") + "\n\n" + section
            if at < 0
            else text[:at] + section + "\n" + text[at:]
        )
    path.write_text(text, "utf-8")


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
