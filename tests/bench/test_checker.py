"""The fault suite's checker over synthetic records: every expectation comes from the
generator's record and the run's routing, so a store, screen, MQTT feed or printer that
lacks a ticket is caught even when the store agrees with itself."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench import checker
from bench.checker import Acked, Routing, StoreView
from bench.printers import Chit

MENU = {
    "items": [
        {"id": "edamame", "station": "cold"},
        {"id": "satay", "station": "grill"},
        {"id": "salmon", "station": "grill"},
        {"id": "noodles", "station": "wok"},
        {"id": "tea", "station": "bar"},
    ]
}
ROUTING = Routing.from_menu(MENU, {"grill": ("grill-1",), "wok": ("wok-1", "wok-2")})


def order(n: int, *lines: tuple[str, int]) -> Acked:
    return Acked(f"run-0-{n:07d}", f"T{n % 3 + 1}", 100 + n, 100 + n, tuple(lines), float(n))


ORDERS = {
    o.key: o
    for o in (
        order(0, ("edamame", 1), ("tea", 2)),
        order(1, ("satay", 1), ("salmon", 2)),  # one grill ticket with both lines
        order(2, ("noodles", 3), ("satay", 1)),
        order(3, ("tea", 1)),
    )
}


def honest_store(orders: dict[str, Acked]) -> StoreView:
    """What a store that did its job holds for `orders`."""
    tickets: dict[int, list[tuple[int, str, checker.Lines]]] = {}
    tid = 1000
    for o in orders.values():
        for station, lines in ROUTING.tickets(o).items():
            tickets.setdefault(o.order_id, []).append((tid, station, lines))
            tid += 1
    return StoreView({o.key: [(o.order_id, o.table, o.lines)] for o in orders.values()}, tickets)


def screen(view: StoreView) -> list[dict[str, Any]]:
    """The expo snapshot's open tickets for what `view` holds."""
    return [
        {
            "id": tid,
            "order_id": oid,
            "station": st,
            "items": [{"item": i, "qty": q} for i, q in lines],
        }
        for oid, ts in view.tickets.items()
        for tid, st, lines in ts
    ]


def feed(view: StoreView) -> list[tuple[int, str, int, int, str, float]]:
    """One ticket.created per ticket the store holds, as the generator records them."""
    return [
        (seq, "ticket.created", tid, oid, st, float(seq))
        for seq, (oid, tid, st) in enumerate(
            ((oid, tid, st) for oid, ts in view.tickets.items() for tid, st, _ in ts), 1
        )
    ]


def judge(view: StoreView, **kw: Any) -> dict[str, Any]:
    return checker.judge(
        ORDERS,
        ORDERS,
        ROUTING,
        view,
        kw.get("open_tickets", screen(view)),
        kw.get("events", feed(view)),
    )


def test_routing_makes_one_ticket_per_station_from_the_lines_sent() -> None:
    assert ROUTING.tickets(ORDERS["run-0-0000001"]) == {"grill": (("satay", 1), ("salmon", 2))}
    assert ROUTING.tickets(ORDERS["run-0-0000002"]) == {
        "wok": (("noodles", 3),),
        "grill": (("satay", 1),),
    }
    assert len(ROUTING.expected(ORDERS.values())) == 6
    # chits only for stations with a printer, by the number the 201 gave
    assert sorted(ROUTING.chits(ORDERS.values())) == [(101, "grill"), (102, "grill"), (102, "wok")]


def test_an_item_not_on_the_menu_is_an_error_not_a_silent_skip() -> None:
    with pytest.raises(ValueError, match="'lobster' is not on the run's menu"):
        ROUTING.tickets(order(9, ("lobster", 1)))


def test_everything_matching_passes() -> None:
    result = judge(honest_store(ORDERS))
    assert result["ok"], result["problems"]
    assert result["problems"] == []
    assert result["acked"] == 4
    assert result["tickets"] == 6
    zero = [k for k in checker.MUST_BE_ZERO if result[k]]
    assert zero == []


def test_an_order_saved_without_its_tickets_is_missing_everywhere() -> None:
    # the store holds every order, and is consistent with itself: no tickets for order 2
    # at all, so none was shown, published or printed. Only the generator's record can tell.
    view = honest_store(ORDERS)
    broken = dict(view.tickets)
    del broken[102]
    view = StoreView(view.orders, broken)
    result = judge(view)
    assert not result["ok"]
    assert result["lost"] == 0
    assert result["store_tickets_missing"] == 2
    assert result["kds_missing"] == 2
    assert result["mqtt_missing"] == 2
    assert "store_tickets_missing 2" in result["problems"]
    expected = ROUTING.chits(ORDERS.values())
    chits = [Chit("grill-1", 101, (), True, 1.0)]  # what a printer fed by that store prints
    paper = checker.check_chits(expected, chits, ROUTING.printers)
    assert paper["chits_missing"] == 2
    assert not checker.add_chits(result, paper)["ok"]


def test_tickets_deleted_after_they_were_published_are_missing_in_the_store_and_screen() -> None:
    view = honest_store(ORDERS)
    events = feed(view)  # published while they existed
    kept = {oid: ts for oid, ts in view.tickets.items() if oid != 100}
    after = StoreView(view.orders, kept)
    result = judge(after, events=events)
    assert (result["store_tickets_missing"], result["kds_missing"]) == (2, 2)
    assert result["mqtt_missing"] == 0
    assert not result["ok"]


def test_a_lost_order_a_wrong_id_and_changed_lines_are_each_caught() -> None:
    view = honest_store(ORDERS)
    orders = dict(view.orders)
    del orders["run-0-0000000"]
    orders["run-0-0000001"] = [(999, "T2", ORDERS["run-0-0000001"].lines)]
    orders["run-0-0000003"] = [(103, "T1", (("tea", 5),))]
    result = judge(StoreView(orders, view.tickets))
    assert (result["lost"], result["wrong_id"], result["store_wrong_order"]) == (1, 1, 1)
    assert result["lost_keys"] == ["run-0-0000000"]


def test_extra_and_doubled_tickets_and_wrong_lines_fail() -> None:
    view = honest_store(ORDERS)
    tickets = {oid: list(ts) for oid, ts in view.tickets.items()}
    tickets[103].append((5000, "grill", (("tea", 1),)))  # a station none of its lines go to
    tickets[100].append((5001, "cold", (("edamame", 1),)))  # a second cold ticket
    tickets[101][0] = (tickets[101][0][0], "grill", (("satay", 1),))  # a line dropped
    result = judge(StoreView(view.orders, tickets))
    assert result["store_tickets_extra"] == 2
    assert result["store_tickets_wrong_items"] == 1
    assert result["kds_duplicates"] == 1  # two open cold tickets for order 100
    assert result["kds_unexpected"] == 1
    assert result["kds_wrong_items"] == 1
    assert not result["ok"]


def test_mqtt_repeats_under_the_same_seq_are_marked_a_new_seq_is_not() -> None:
    view = honest_store(ORDERS)
    events = feed(view)
    again = events[0]
    marked = judge(view, events=[*events, again])
    assert marked["mqtt_marked_duplicates"] == 1
    assert marked["ok"]
    second = (99, "ticket.created", *again[2:])
    unmarked = judge(view, events=[*events, second])
    assert unmarked["mqtt_unmarked_duplicates"] == 1
    assert not unmarked["ok"]


def test_a_repetition_without_any_acknowledged_order_fails() -> None:
    result = checker.judge({}, {}, ROUTING, StoreView({}, {}), [], [])
    assert result["problems"] == ["no order was acknowledged in this repetition"]
    assert not result["ok"]


def test_an_answer_without_a_number_fails_and_its_chit_counts_missing() -> None:
    o = Acked("run-0-0000007", "T1", 107, None, (("satay", 1),), 1.0)
    orders = {o.key: o}
    view = StoreView({o.key: [(107, "T1", o.lines)]}, {107: [(1, "grill", o.lines)]})
    result = checker.judge(orders, orders, ROUTING, view, screen(view), feed(view))
    assert result["answers_without_number"] == 1
    assert not result["ok"]
    chits = [Chit("grill-1", 107, (), True, 1.0)]
    assert checker.check_chits(ROUTING.chits([o]), chits, ROUTING.printers)["chits_missing"] == 1


def test_chits_a_marked_second_copy_passes_an_unmarked_one_fails() -> None:
    expected = ROUTING.chits(ORDERS.values())
    base = [
        Chit("grill-1", 101, (), True, 1.0),
        Chit("grill-1", 102, (), True, 2.0),
        Chit("wok-2", 102, ("BACKUP FOR wok-1",), True, 3.0),
    ]
    ok = checker.check_chits(expected, base, ROUTING.printers)
    assert (ok["chits_missing"], ok["chits_on_backup"], ok["chits_ok"]) == (0, 1, True)
    reprint = [*base, Chit("grill-1", 101, ("REPRINT",), True, 4.0)]
    assert checker.check_chits(expected, reprint, ROUTING.printers)["chits_dup_marked"] == 1
    plain = [*base, Chit("grill-1", 101, (), True, 4.0)]
    doubled = checker.check_chits(expected, plain, ROUTING.printers)
    assert (doubled["chits_dup_unmarked"], doubled["chits_ok"]) == (1, False)


def test_the_cloud_must_hold_every_acknowledged_order_and_expected_ticket() -> None:
    events = [("order.created", str(o.order_id), "{}") for o in ORDERS.values()]
    for (oid, st), _lines in ROUTING.expected(ORDERS.values()).items():
        events.append(
            ("ticket.created", "1", json.dumps({"ticket": {"order_id": oid, "station": st}}))
        )
    full = checker.check_cloud(ORDERS, ROUTING, events)
    assert full == {"orders_missing_in_cloud": 0, "tickets_missing_in_cloud": 0}
    short = checker.check_cloud(ORDERS, ROUTING, events[1:-1])
    assert short == {"orders_missing_in_cloud": 1, "tickets_missing_in_cloud": 1}


def test_the_generator_record_is_required() -> None:
    with pytest.raises(ValueError, match="record_acked"):
        checker.acked({"orders": []})
    rec = checker.acked({"acked": [["k", "T1", 5, 5, [["tea", 2]], 1.5]]})
    assert rec == {"k": Acked("k", "T1", 5, 5, (("tea", 2),), 1.5)}
