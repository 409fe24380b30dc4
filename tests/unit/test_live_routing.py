"""Which screen gets which committed event: the hub's indexes by station and table agree
with the rule for one screen, and each message is encoded once for all its screens."""

from __future__ import annotations

from typing import Any

from hub.dispatch import QUEUE_SIZE, Control, LiveHub, Subscriber
from hub.store.db import Event


def ev(seq: int, stream: str, kind: str, body: dict[str, Any]) -> Event:
    return Event(seq, stream, kind, str(seq), body, "2026-01-01T00:00:00.000Z")


EVENTS = [
    ev(1, "tickets", "ticket.created", {"ticket": {"station": "grill", "id": 1}}),
    ev(2, "orders", "order.created", {"order": {"table": {"id": "T1"}}}),
    ev(3, "calls", "call.opened", {"call": {"table": "T2"}, "table_open": True}),
    ev(4, "devices", "device.changed", {"device": {"id": "p1"}}),
    ev(5, "tables", "table.opened", {"table": {"id": "T1"}}),
    ev(6, "print", "print.queued", {"job": {"id": "j"}}),
    ev(7, "menu", "item.availability", {"item": "x", "available": False}),
    ev(8, "telemetry", "t", {}),
]


def screens() -> list[Subscriber]:
    return [
        Subscriber(station="grill"),
        Subscriber(station="wok"),
        Subscriber(station="expo"),
        Subscriber(station="floor"),
        Subscriber(station="admin"),
        Subscriber(table="T1"),
        Subscriber(table="T2"),
    ]


def test_the_indexes_pick_exactly_the_screens_the_rule_picks() -> None:
    live = LiveHub()
    subs = screens()
    for sub in subs:
        live.subscribe(sub)
    for event in EVENTS:
        assert live.audience(event) == {s for s in subs if s.wants(event)}, event.stream


def test_one_encoding_reaches_every_screen_and_unsubscribed_ones_get_nothing() -> None:
    live = LiveHub()
    grill, expo = Subscriber(station="grill"), Subscriber(station="expo")
    gone = Subscriber(station="grill")
    for sub in (grill, expo, gone):
        live.subscribe(sub)
    live.unsubscribe(gone)
    live.on_commit(EVENTS[:1])
    a, b = grill.queue.get_nowait(), expo.queue.get_nowait()
    assert a is b  # the same bytes object: encoded once
    assert isinstance(a, tuple)
    assert a[0] == 1
    assert b'"type":"ticket"' in a[1]
    assert gone.queue.empty()
    assert live.screens_at("grill") == 1


def test_a_screen_that_falls_behind_is_told_once_and_counted() -> None:
    live = LiveHub()
    slow = live.subscribe(Subscriber(station="grill"))
    for i in range(QUEUE_SIZE + 5):
        live.on_commit([ev(i + 1, "tickets", "ticket.updated", {"ticket": {"station": "grill"}})])
    items = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
    assert items[-1] is Control.OVERFLOW
    assert items.count(Control.OVERFLOW) == 1
    assert len(items) == QUEUE_SIZE + 1
    assert live.dropped_screens == 1
