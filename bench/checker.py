"""After a fault: compare what the load generator was told with what the hub holds.

Three witnesses, each read independently of the hub's own code:

- the **store**, opened read-only with sqlite3: every acknowledged (201) order is there,
  once, under the order id the phone was given; no two orders share a table and key;
- the **kitchen**, a WebSocket snapshot of `/ws/kds/expo`: every ticket of every
  acknowledged order is open exactly once (the fault suite bumps nothing);
- **MQTT**, the generator's `kds/+/events` subscriber: every ticket of the acknowledged
  orders of this repetition was published; a repeat with the same seq is a *marked*
  duplicate (receivers drop it), a second ticket.created for the same ticket under
  another seq, or a second ticket for the same order and station, is *unmarked*;
- the **printers** (when the scenario has them), what the fake printers put on paper
  (`check_chits`): every ticket of an acknowledged order for a station with a printer came
  out once, complete (cut), on that station's printer or its backup. A second copy with a
  REPRINT or BACKUP FOR bar is a *marked* duplicate (the cook can tell); a second unmarked
  copy is a failure, as is a ticket that never printed.

Also recovery: fault -> first 201 answered after it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import aiohttp

from bench import stats
from bench.printers import Chit


def acked(out: dict[str, Any]) -> dict[str, tuple[int, str, float]]:
    """key -> (order id, table id, time of the 201) for every acknowledged order."""
    return {
        r[stats.KEY]: (int(r[stats.ORDER_ID]), r[stats.TABLE], r[stats.T_DONE])
        for r in out["orders"]
        if r[stats.STATUS] == 201
    }


Tickets = dict[int, list[tuple[int, str]]]


def store_rows(db: Path, prefix: str) -> tuple[dict[str, list[int]], Tickets]:
    """(key -> order ids, order id -> [(ticket id, station)]) for keys starting with prefix."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        orders: dict[str, list[int]] = defaultdict(list)
        for oid, key in conn.execute(
            "SELECT id, idempotency_key FROM orders WHERE idempotency_key LIKE ?", (prefix + "%",)
        ):
            orders[key].append(int(oid))
        ids = [o for v in orders.values() for o in v]
        tickets: Tickets = defaultdict(list)
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            marks = ",".join("?" * len(part))
            for tid, oid, station in conn.execute(
                f"SELECT id, order_id, station FROM tickets WHERE order_id IN ({marks})",
                part,
            ):
                tickets[int(oid)].append((int(tid), station))
        dup_keys = conn.execute(
            "SELECT COUNT(*) FROM (SELECT table_id, idempotency_key FROM orders "
            "GROUP BY table_id, idempotency_key HAVING COUNT(*) > 1)"
        ).fetchone()[0]
    finally:
        conn.close()
    orders["__dup_keys__"] = [int(dup_keys)]
    return orders, tickets


async def expo_snapshot(url: str, token: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=60)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.ws_connect(url + "/ws/kds/expo", headers=headers, max_msg_size=0) as ws,
    ):
        msg = await ws.receive(timeout=60)
        doc: dict[str, Any] = json.loads(msg.data)
        return doc


def check(
    out: dict[str, Any],
    db: Path,
    url: str,
    token: str,
    prefix: str,
    every_acked: dict[str, tuple[int, str, float]],
    t_fault: float | None,
) -> dict[str, Any]:
    """One repetition's verdict. `prefix` starts every key of the scenario; `every_acked`
    holds all orders acknowledged so far in it (they must all still be in the store and on
    the kitchen screen); MQTT is checked for this repetition's orders (its subscriber)."""
    mine = acked(out)
    orders, tickets = store_rows(db, prefix)
    dup_keys = orders.pop("__dup_keys__")[0]
    lost = [k for k in every_acked if k not in orders]
    wrong_id = [k for k, (oid, _, _) in every_acked.items() if k in orders and oid not in orders[k]]
    twice = [k for k, ids in orders.items() if len(ids) > 1]
    unacked = [k for k in orders if k not in every_acked]
    # the kitchen: every ticket of every acknowledged order open, once
    snap = asyncio.run(expo_snapshot(url, token))
    open_tickets = snap.get("tickets", [])
    on_screen: Counter[int] = Counter(int(t["id"]) for t in open_tickets)
    pairs: Counter[tuple[int, str]] = Counter(
        (int(t["order_id"]), t["station"]) for t in open_tickets
    )
    acked_ids = {oid for oid, _, _ in every_acked.values()}
    kds_missing = sum(
        1 for oid in acked_ids for tid, _st in tickets.get(oid, []) if on_screen[tid] == 0
    )
    kds_dup = sum(n - 1 for n in on_screen.values() if n > 1) + sum(
        n - 1 for n in pairs.values() if n > 1
    )
    # MQTT: this repetition's tickets
    events = out.get("mqtt_events", [])
    by_seq: Counter[int] = Counter(e[0] for e in events)
    created: dict[int, set[int]] = defaultdict(set)
    for seq, kind, tid, _oid, _st, _t in events:
        if kind == "ticket.created":
            created[tid].add(seq)
    mine_tickets = [tid for oid, _, _ in mine.values() for tid, _st in tickets.get(oid, [])]
    mqtt_missing = sum(1 for tid in mine_tickets if tid not in created)
    result: dict[str, Any] = {
        "acked": len(mine),
        "acked_so_far": len(every_acked),
        "lost": len(lost),
        "lost_keys": lost[:10],
        "wrong_id": len(wrong_id),
        "duplicated_orders": len(twice) + dup_keys,
        "committed_unacked": len(unacked),
        "tickets": len(mine_tickets),
        "kds_missing": kds_missing,
        "kds_duplicates": kds_dup,
        "kds_open": len(on_screen),
        "mqtt_missing": mqtt_missing,
        "mqtt_marked_duplicates": sum(n - 1 for n in by_seq.values() if n > 1),
        "mqtt_unmarked_duplicates": sum(len(s) - 1 for s in created.values() if len(s) > 1),
        "failures": dict(Counter(f"{s} {e}".strip() for _, s, e in out.get("failures", []))),
    }
    if t_fault is not None:
        after = sorted(t for _, _, t in mine.values() if t > t_fault)
        result["recovery_s"] = round(after[0] - t_fault, 3) if after else None
        mq_after = sorted(e[5] for e in events if e[5] > t_fault)
        result["mqtt_first_after_s"] = round(mq_after[0] - t_fault, 3) if mq_after else None
    result["ok"] = (
        result["lost"] == 0
        and result["wrong_id"] == 0
        and result["duplicated_orders"] == 0
        and kds_missing == 0
        and kds_dup == 0
        and mqtt_missing == 0
        and result["mqtt_unmarked_duplicates"] == 0
    )
    return result


def expected_chits(
    acked_orders: dict[str, tuple[int, str, float]],
    tickets: Tickets,
    station_printers: dict[str, tuple[str, ...]],
) -> dict[tuple[int, str], float]:
    """(order number, station) -> time of the 201, for every ticket that must print."""
    return {
        (oid, station): t
        for oid, _table, t in acked_orders.values()
        for _tid, station in tickets.get(oid, [])
        if station in station_printers
    }


def missing_chits(
    expected: dict[tuple[int, str], float],
    chits: list[Chit],
    station_printers: dict[str, tuple[str, ...]],
) -> int:
    """How many expected chits have no complete copy yet (to wait for the queue to drain)."""
    have = {(c.number, c.printer) for c in chits if c.complete}
    return sum(
        1
        for (oid, station) in expected
        if not any((oid, p) in have for p in station_printers[station])
    )


def check_chits(
    expected: dict[tuple[int, str], float],
    chits: list[Chit],
    station_printers: dict[str, tuple[str, ...]],
) -> dict[str, Any]:
    """Printed once each: counts of printed / missing / marked and unmarked duplicates.

    A station's chits may come out of its printer or that printer's backup; the printers of
    two stations never overlap here, so a chit is known by (order number, printer)."""
    station_of = {p: st for st, ps in station_printers.items() for p in ps}
    copies: dict[tuple[int, str], list[Chit]] = defaultdict(list)
    torn = 0
    for c in chits:
        key = (c.number, station_of.get(c.printer, ""))
        if key not in expected:
            continue  # another repetition's, or an order that was never acknowledged
        if not c.complete:
            torn += 1  # cut off mid-job; the job is printed again, marked REPRINT
            continue
        copies[key].append(c)
    printed = missing = marked = unmarked = on_backup = 0
    per_printer: Counter[str] = Counter()
    for key in expected:
        got = sorted(copies.get(key, []), key=lambda c: c.t)
        if not got:
            missing += 1
            continue
        printed += 1
        plain = sum(1 for c in got if not c.marked)
        unmarked += max(0, plain - 1)
        marked += len(got) - 1 - max(0, plain - 1)
        on_backup += sum(1 for c in got if any(b.startswith("BACKUP FOR") for b in c.banners))
        per_printer.update(c.printer for c in got)
    return {
        "chits": len(expected),
        "chits_printed": printed,
        "chits_missing": missing,
        "chits_dup_marked": marked,
        "chits_dup_unmarked": unmarked,
        "chits_on_backup": on_backup,
        "chits_per_printer": dict(sorted(per_printer.items())),
        "chits_torn": torn,
        "chits_ok": missing == 0 and unmarked == 0,
    }
