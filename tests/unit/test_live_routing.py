"""Which screen gets which committed event: the hub's indexes by station and table agree
with the rule for one screen, and each message is encoded once for all its screens."""

from __future__ import annotations

import json
from typing import ClassVar

import msgspec
import pytest

from hub.consumers.live import QUEUE_SIZE, Control, LiveHub, Subscriber, message_for
from hub.domain import events as ev
from tests.samples import call, committed, order, ticket

EVENTS = [
    committed(1, ev.TicketCreated(ticket=ticket(1, "grill"))),
    committed(2, ev.OrderPlaced(order=order(1, "T1"))),
    committed(3, ev.CallOpened(call=call(1, "T2"), table_open=True)),
    committed(4, ev.DeviceStatusChanged(device=ev.Device(id="p1", state="online"))),
    committed(5, ev.TableOpened(table=ev.TableState("T1", True))),
    committed(6, ev.PrintQueued(job=ev.JobInfo("j", "queued", "kitchen-1", "kitchen"))),
    committed(7, ev.ItemAvailability(item="x", available=False)),
    committed(8, ev.ScaleReading(scale="s1", grams=120)),
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
    assert live.audience(EVENTS[0]) == {subs[0], subs[2]}  # its station and the expo
    assert live.audience(EVENTS[-1]) == set()  # telemetry reaches no screen
    # an order reaches the expo, the floor (its Tables tab) and the table's phones
    assert live.audience(EVENTS[1]) == {subs[2], subs[3], subs[5]}


def test_a_message_is_the_declared_type_and_seq_with_the_body_as_stored() -> None:
    for event in EVENTS[:-1]:
        msg = message_for(event)
        assert msg is not None, event.kind
        doc = json.loads(msg)
        assert doc.pop("type") == type(event.event).screen
        assert doc.pop("seq") == event.seq
        assert doc == json.loads(event.body)
    assert message_for(EVENTS[-1]) is None


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
        live.on_commit([committed(i + 1, ev.TicketUpdated(ticket=ticket(1, "grill")))])
    items = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
    assert items[-1] is Control.OVERFLOW
    assert items.count(Control.OVERFLOW) == 1
    assert len(items) == QUEUE_SIZE + 1
    assert live.dropped_screens == 1


def test_mqtt_messages_are_what_the_catalogue_declares() -> None:
    created = EVENTS[0]
    assert isinstance(created.event, ev.TicketCreated)
    names, payload = created.event.mqtt_message(created.seq, created.body)
    assert names == {"station": "grill"}
    # spliced from the stored body, byte for byte the contract's KdsEvent
    expected = ev.KdsEvent(created.seq, "ticket.created", created.event.ticket)
    assert payload == msgspec.json.encode(expected)
    opened = EVENTS[2]
    assert isinstance(opened.event, ev.CallOpened)
    names, state = opened.event.mqtt_message(opened.seq, opened.body)
    assert names == {"table": "T2"}
    assert state == ev.CallState(open=True, kind="waiter", call_id="1")
    assert type(opened.event).mqtt == ev.MqttRoute("tables/{table}/call/state", 1, True)
    assert all(type(e.event).mqtt is None for e in EVENTS[3:])


def test_an_event_class_without_its_stream_kind_or_key_is_refused_when_registered() -> None:
    class NoKey(ev.HubEvent, frozen=True, kw_only=True):
        stream: ClassVar[str] = "tips"
        kind: ClassVar[str] = "tip.added"

    class NoKind(ev.HubEvent, frozen=True, kw_only=True):
        stream: ClassVar[str] = "tips"

        @property
        def key(self) -> str:
            return "1"

    with pytest.raises(TypeError, match="NoKey must declare its key"):
        ev.register(NoKey)
    with pytest.raises(TypeError, match="NoKind must declare its kind"):
        ev.register(NoKind)
    assert ev.event_class("tip.added") is None
