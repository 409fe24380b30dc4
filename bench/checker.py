"""After a fault: what every witness shows, compared with what the generator was promised.

The expectation comes from the generator alone, never from the hub under test: each
acknowledged order as the generator recorded it (its key and table, the order id and number
its `201` returned, the lines it sent), routed by the menu the hub was configured with
(item -> station: one ticket per order and station) and the printers of the run (station ->
the printers its chits may come out of). Every witness is then checked against that:

- the **store**, opened read-only with sqlite3: every acknowledged order is there once,
  under the id the phone was given, at its table, with the lines the phone sent; it has
  exactly one ticket for each station its lines go to, with those lines; no two orders
  share a table and key;
- the **kitchen**, a WebSocket snapshot of `/ws/kds/expo`: every expected ticket of every
  acknowledged order is open exactly once, with its lines (the fault suite bumps nothing);
- **MQTT**, the generator's `kds/+/events` subscriber: every expected ticket of this
  repetition's orders was published (`ticket.created`); a repeat with the same seq is a
  *marked* duplicate (receivers drop it); a second `ticket.created` for one ticket under
  another seq, or a second ticket for one order and station, is *unmarked*;
- the **printers** (when the scenario has them), what the fake printers put on paper
  (`check_chits`): every expected ticket of a station with a printer came out once, complete
  (cut), on that station's printer or its backup, under the order's number. A second copy
  with a REPRINT or BACKUP FOR bar is a *marked* duplicate (the cook can tell); a second
  unmarked copy is a failure, as is a ticket that never printed;
- the **cloud** (`check_cloud`): an `order.created` for every acknowledged order and a
  `ticket.created` for every expected ticket.

Also recovery: fault -> first 201 answered after it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.printers import Chit
from plumbing.packed import unpack

Lines = tuple[tuple[str, int], ...]  # (item, qty) per line, in order


@dataclass(frozen=True, slots=True)
class Acked:
    """One acknowledged order as the generator recorded it."""

    key: str
    table: str
    order_id: int  # as the 201 returned it
    number: int | None  # the number the kitchen sees (`#N`), as the 201 returned it
    lines: Lines  # what the phone sent
    t: float  # monotonic time of the 201


def acked(out: Mapping[str, Any]) -> dict[str, Acked]:
    """key -> the order, for every order the generator got a 201 for (`record_acked`)."""
    if "acked" not in out:
        raise ValueError("the generator kept no record of its orders: run it with record_acked")
    return {
        r[0]: Acked(
            key=str(r[0]),
            table=str(r[1]),
            order_id=int(r[2]),
            number=None if r[3] is None else int(r[3]),
            lines=tuple((str(item), int(qty)) for item, qty in r[4]),
            t=float(r[5]),
        )
        for r in out["acked"]
    }


@dataclass(frozen=True, slots=True)
class Routing:
    """Where an order's lines go, as configured for the run (not as the hub says)."""

    stations: Mapping[str, str]  # item -> station
    printers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # station -> printers

    @classmethod
    def from_menu(
        cls, menu: Mapping[str, Any], printers: Mapping[str, tuple[str, ...]] | None = None
    ) -> Routing:
        return cls({it["id"]: it["station"] for it in menu["items"]}, dict(printers or {}))

    def tickets(self, order: Acked) -> dict[str, Lines]:
        """station -> the lines it makes: one ticket each."""
        out: dict[str, list[tuple[str, int]]] = {}
        for item, qty in order.lines:
            if item not in self.stations:
                raise ValueError(f"order {order.key}: item {item!r} is not on the run's menu")
            out.setdefault(self.stations[item], []).append((item, qty))
        return {st: tuple(lines) for st, lines in out.items()}

    def expected(self, orders: Iterable[Acked]) -> dict[tuple[int, str], Lines]:
        """(order id, station) -> lines, for every ticket the orders must have."""
        return {(o.order_id, st): lines for o in orders for st, lines in self.tickets(o).items()}

    def chits(self, orders: Iterable[Acked]) -> dict[tuple[int, str], float]:
        """(order number, station) -> time of the 201, for every ticket that must print.

        An order whose 201 gave no number is expected under -order id, which no chit
        carries: it counts as missing on paper."""
        return {
            (o.number if o.number is not None else -o.order_id, st): o.t
            for o in orders
            for st in self.tickets(o)
            if st in self.printers
        }


# ---------------------------------------------------------------- the store


@dataclass(frozen=True, slots=True)
class StoreView:
    """What the store holds for one scenario's keys."""

    orders: Mapping[str, Sequence[tuple[int, str, Lines]]]  # key -> (order id, table, lines)
    tickets: Mapping[int, Sequence[tuple[int, str, Lines]]]  # order id -> (id, station, lines)
    dup_keys: int = 0  # (table, key) pairs held by more than one order


def _lines(docs: Iterable[Mapping[str, Any]]) -> Lines:
    return tuple((str(d["item"]), int(d["qty"])) for d in docs)


def read_store(db: Path, prefix: str) -> StoreView:
    """Orders whose key starts with `prefix`, and their tickets (read-only)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        orders: dict[str, list[tuple[int, str, Lines]]] = defaultdict(list)
        for oid, key, table, body in conn.execute(
            "SELECT id, idempotency_key, table_id, body FROM orders WHERE idempotency_key LIKE ?",
            (prefix + "%",),
        ):
            orders[key].append((int(oid), str(table), _lines(json.loads(unpack(body))["lines"])))
        ids = [o[0] for v in orders.values() for o in v]
        tickets: dict[int, list[tuple[int, str, Lines]]] = defaultdict(list)
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            marks = ",".join("?" * len(part))
            for tid, oid, station, body in conn.execute(
                # through each order's range of ticket ids (schema 7 has no index by order)
                "SELECT t.id, t.order_id, t.station, t.body FROM orders o JOIN tickets t "
                "ON t.id BETWEEN o.tickets_from AND o.tickets_to AND t.order_id = o.id "
                f"WHERE o.id IN ({marks})",
                part,
            ):
                items = _lines(json.loads(unpack(body))["items"])
                tickets[int(oid)].append((int(tid), str(station), items))
        dup_keys = conn.execute(
            "SELECT COUNT(*) FROM (SELECT table_id, idempotency_key FROM orders "
            "GROUP BY table_id, idempotency_key HAVING COUNT(*) > 1)"
        ).fetchone()[0]
    finally:
        conn.close()
    return StoreView(orders, tickets, int(dup_keys))


def check_store(every: Mapping[str, Acked], view: StoreView, routing: Routing) -> dict[str, Any]:
    """Every acknowledged order in the store once, as sent, with exactly its tickets."""
    lost = [k for k in every if k not in view.orders]
    wrong_id = wrong_order = 0
    held: list[Acked] = []  # in the store under the id the phone was given
    for key, order in every.items():
        rows = [r for r in view.orders.get(key, ()) if r[0] == order.order_id]
        if key in view.orders and not rows:
            wrong_id += 1
        elif rows:
            held.append(order)
            wrong_order += rows[0][1] != order.table or rows[0][2] != order.lines
    # tickets of the orders that are there (a lost order is counted once, as lost)
    missing = extra = wrong_items = 0
    for (oid, station), lines in routing.expected(held).items():
        same = [t for t in view.tickets.get(oid, ()) if t[1] == station]
        missing += not same
        extra += max(0, len(same) - 1)
        wrong_items += sum(1 for t in same[:1] if t[2] != lines)
    for order in held:
        stations = routing.tickets(order)
        extra += sum(1 for t in view.tickets.get(order.order_id, ()) if t[1] not in stations)
    twice = sum(1 for ids in view.orders.values() if len(ids) > 1)
    return {
        "lost": len(lost),
        "lost_keys": lost[:10],
        "wrong_id": wrong_id,
        "store_wrong_order": wrong_order,
        "duplicated_orders": twice + view.dup_keys,
        "committed_unacked": sum(1 for k in view.orders if k not in every),
        "store_tickets_missing": missing,
        "store_tickets_extra": extra,
        "store_tickets_wrong_items": wrong_items,
    }


# ---------------------------------------------------------------- the kitchen screen


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


def check_screen(
    every: Mapping[str, Acked], open_tickets: Sequence[Mapping[str, Any]], routing: Routing
) -> dict[str, Any]:
    """Every expected ticket open once on the expo snapshot, with its lines."""
    on_screen: Counter[int] = Counter(int(t["id"]) for t in open_tickets)
    shown: dict[tuple[int, str], list[Mapping[str, Any]]] = defaultdict(list)
    for t in open_tickets:
        shown[(int(t["order_id"]), str(t["station"]))].append(t)
    expected = routing.expected(every.values())
    mine = {o.order_id for o in every.values()}
    missing = sum(1 for pair in expected if not shown.get(pair))
    wrong = sum(
        1
        for pair, lines in expected.items()
        if shown.get(pair) and _lines(shown[pair][0].get("items", [])) != lines
    )
    unexpected = sum(
        len(ts) for (oid, st), ts in shown.items() if oid in mine and (oid, st) not in expected
    )
    dup = sum(n - 1 for n in on_screen.values() if n > 1) + sum(
        len(ts) - 1 for ts in shown.values() if len(ts) > 1
    )
    return {
        "kds_missing": missing,
        "kds_duplicates": dup,
        "kds_wrong_items": wrong,
        "kds_unexpected": unexpected,
        "kds_open": len(on_screen),
    }


# ---------------------------------------------------------------- MQTT

MqttEvent = Sequence[Any]  # (seq, kind, ticket id, order id, station, monotonic time)


def check_mqtt(
    mine: Mapping[str, Acked], events: Sequence[MqttEvent], routing: Routing
) -> dict[str, Any]:
    """Every expected ticket of this repetition's orders published; repeats counted."""
    by_seq: Counter[int] = Counter(int(e[0]) for e in events)
    seqs: dict[int, set[int]] = defaultdict(set)  # ticket id -> seqs of its ticket.created
    per_pair: dict[tuple[int, str], set[int]] = defaultdict(set)  # -> ticket ids created
    for seq, kind, tid, oid, station, _t in events:
        if kind == "ticket.created":
            seqs[int(tid)].add(int(seq))
            per_pair[(int(oid), str(station))].add(int(tid))
    expected = routing.expected(mine.values())
    ids = {o.order_id for o in mine.values()}
    unexpected = sum(
        len(tids)
        for (oid, st), tids in per_pair.items()
        if oid in ids and (oid, st) not in expected
    )
    return {
        "tickets": len(expected),
        "mqtt_missing": sum(1 for pair in expected if not per_pair.get(pair)),
        "mqtt_marked_duplicates": sum(n - 1 for n in by_seq.values() if n > 1),
        "mqtt_unmarked_duplicates": sum(len(s) - 1 for s in seqs.values() if len(s) > 1)
        + sum(len(t) - 1 for t in per_pair.values() if len(t) > 1),
        "mqtt_unexpected": unexpected,
    }


# ---------------------------------------------------------------- one repetition

MUST_BE_ZERO = (
    "lost",
    "wrong_id",
    "store_wrong_order",
    "duplicated_orders",
    "store_tickets_missing",
    "store_tickets_extra",
    "store_tickets_wrong_items",
    "kds_missing",
    "kds_duplicates",
    "kds_wrong_items",
    "kds_unexpected",
    "mqtt_missing",
    "mqtt_unmarked_duplicates",
    "mqtt_unexpected",
    "answers_without_number",
)


def judge(
    mine: Mapping[str, Acked],
    every: Mapping[str, Acked],
    routing: Routing,
    store: StoreView,
    open_tickets: Sequence[Mapping[str, Any]],
    events: Sequence[MqttEvent],
) -> dict[str, Any]:
    """One repetition's verdict from its observations: counts, `problems` (what is not 0
    that must be) and `ok`. `every` holds all orders acknowledged so far in the scenario
    (all still in the store and on the screen); MQTT is judged for this repetition's."""
    result: dict[str, Any] = {"acked": len(mine), "acked_so_far": len(every)}
    result["answers_without_number"] = sum(1 for o in every.values() if o.number is None)
    result.update(check_store(every, store, routing))
    result.update(check_screen(every, open_tickets, routing))
    result.update(check_mqtt(mine, events, routing))
    problems = [f"{k} {result[k]}" for k in MUST_BE_ZERO if result[k]]
    if not mine:
        problems.append("no order was acknowledged in this repetition")
    result["problems"] = problems
    result["ok"] = not problems
    return result


def check(
    out: dict[str, Any],
    db: Path,
    url: str,
    token: str,
    prefix: str,
    every: Mapping[str, Acked],
    routing: Routing,
    t_fault: float | None,
) -> dict[str, Any]:
    """Observe the store, the expo screen and the generator's MQTT record, and judge them.
    `prefix` starts every key of the scenario."""
    mine = acked(out)
    store = read_store(db, prefix)
    snap = asyncio.run(expo_snapshot(url, token))
    events = out.get("mqtt_events", [])
    result = judge(mine, every, routing, store, snap.get("tickets", []), events)
    result["failures"] = dict(Counter(f"{s} {e}".strip() for _, s, e in out.get("failures", [])))
    if t_fault is not None:
        after = sorted(o.t for o in mine.values() if o.t > t_fault)
        result["recovery_s"] = round(after[0] - t_fault, 3) if after else None
        mq_after = sorted(e[5] for e in events if e[5] > t_fault)
        result["mqtt_first_after_s"] = round(mq_after[0] - t_fault, 3) if mq_after else None
    return result


def add_chits(result: dict[str, Any], chits: Mapping[str, Any]) -> dict[str, Any]:
    """A repetition's verdict with what the printers put on paper (`check_chits`) added."""
    result.update(chits)
    result["problems"] = result.get("problems", []) + [
        f"{k} {chits[k]}" for k in ("chits_missing", "chits_dup_unmarked") if chits[k]
    ]
    result["ok"] = not result["problems"]
    return result


# ---------------------------------------------------------------- the cloud


def check_cloud(
    every: Mapping[str, Acked], routing: Routing, events: Iterable[tuple[str, str, str]]
) -> dict[str, Any]:
    """(kind, key, body) of the cloud's events -> orders and tickets it is missing."""
    orders: set[int] = set()
    tickets: set[tuple[int, str]] = set()
    for kind, key, body in events:
        if kind == "order.created":
            orders.add(int(key))
        elif kind == "ticket.created":
            t = json.loads(body)["ticket"]
            tickets.add((int(t["order_id"]), str(t["station"])))
    expected = routing.expected(every.values())
    return {
        "orders_missing_in_cloud": sum(1 for o in every.values() if o.order_id not in orders),
        "tickets_missing_in_cloud": sum(1 for pair in expected if pair not in tickets),
    }


# ---------------------------------------------------------------- printers


def missing_chits(
    expected: Mapping[tuple[int, str], float],
    chits: list[Chit],
    station_printers: Mapping[str, tuple[str, ...]],
) -> int:
    """How many expected chits have no complete copy yet (to wait for the queue to drain)."""
    have = {(c.number, c.printer) for c in chits if c.complete}
    return sum(
        1
        for (number, station) in expected
        if not any((number, p) in have for p in station_printers[station])
    )


def check_chits(
    expected: Mapping[tuple[int, str], float],
    chits: list[Chit],
    station_printers: Mapping[str, tuple[str, ...]],
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
