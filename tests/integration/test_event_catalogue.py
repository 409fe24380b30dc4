"""The event catalogue against real stores: every row a working store writes decodes strictly
into its catalogue class, rows written by the previous (untyped) hub still decode, and a new
event class reaches the screens, MQTT and the cloud receiver with no edit but its own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import aiomqtt
import msgspec
import pytest

from cloud_bridge.receiver import EventIn, event_problem
from hub.app import RunningHub, running_hub
from hub.bus import contract
from hub.config import HubConfig, PrinterConfig
from hub.domain import events
from hub.domain.orders import LineRequest
from hub.ops.mosquitto import Mosquitto
from hub.services import staff
from hub.services.booking import BookRequest
from hub.services.corrections import Actor, ChangeRequest
from hub.store.db import Store, Tx
from plumbing.packed import unpack
from tests.conftest import table_token
from tests.samples import with_courses

PREFIX = "tablehub/v1/demo"
AT = "2026-12-05T12:00:00.000Z"


async def wait_until(check: Any, what: str, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.02)
    assert await check(), what


@contextlib.asynccontextmanager
async def acking_printers(port: int) -> AsyncIterator[None]:
    """A stand-in printer agent on the real broker: acks every job as printed."""
    async with aiomqtt.Client("127.0.0.1", port, identifier="catalogue-printers") as client:
        await client.subscribe(f"{PREFIX}/printers/+/jobs", qos=1)

        async def ack() -> None:
            async for message in client.messages:
                printer = str(message.topic).split("/")[4]
                assert isinstance(message.payload, bytes)
                job = json.loads(message.payload)
                if job.get("cancel"):
                    continue
                # the document is one of the contract's typed print documents
                typed = msgspec.json.decode(message.payload, type=contract.PrintJob)
                assert isinstance(typed.doc, (contract.KitchenDoc, contract.BillDoc))
                answer = json.dumps({"job_id": job["job_id"], "ok": True})
                await client.publish(f"{PREFIX}/printers/{printer}/acks", answer, qos=1)

        task = asyncio.create_task(ack())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def run_a_service(hub: RunningHub, menu_doc: dict[str, Any]) -> None:
    """Orders, weighing, bumps, recall, serving, calls, prints, devices, menu and tables."""
    s = hub.services
    lines = [
        LineRequest("live-lobster", 1, ("lobster-noodles",)),
        LineRequest("sea-salt-edamame", 1),
    ]
    first, _ = await s.ordering.place(table_token(hub, "T1"), "catalogue-0001", lines)
    second, _ = await s.ordering.place(
        table_token(hub, "T2"), "catalogue-0002", [LineRequest("sea-salt-edamame", 2)]
    )
    third, _ = await s.ordering.place(
        table_token(hub, "T6"),
        "catalogue-0003",
        [LineRequest("pork-gyoza", 2, ("gyoza-sauce-vinegar",))],
    )
    await s.weighing.record(first.order_id, 0, 1234, "test")
    view = await s.kitchen.station_view("cold")
    ticket = view["tickets"][0]
    await s.kitchen.bump(ticket.id, action_id="bump-1")
    await s.kitchen.recall(ticket.id)
    await s.kitchen.bump(ticket.id)
    await s.kitchen.serve(second.order_id)
    call, _ = await s.calls.open("T3", "waiter", "test")
    await s.calls.acknowledge(call.id)
    await s.calls.close(call.id)
    s.calls.escalate_after_s = 0
    await s.calls.open("T4", "bill", "test")
    assert await s.calls.escalate_due() == 1
    await s.devices.report("printer-cold-1", "online", "printer", {"paper": "ok", "n": [1, 2]})
    await s.devices.weight("deli-1", 750, True)
    await s.stock.set_count("sea-salt-edamame", 5, 2, action_id=None, by="test")
    await s.catalog.set_availability("sea-salt-edamame", False)
    booking = BookRequest(id="catalogue-res-1", name="Ada", party=2, at="2030-01-01T19:00")
    await s.booking.book(booking, "test")
    await s.booking.join_wait("catalogue-wait-1", "Zoe", 2, None, "test")
    await s.catalog.import_menu(menu_doc)
    await s.catalog.set_open("T5", True, "1234")
    await s.catalog.set_open("T5", False, None)
    await s.printing.print_bill("T1")
    await s.printing.reprint(ticket.id)
    ann = Actor("Ann")
    await s.corrections.change(
        third.order_id, 0, ChangeRequest(note="no ginger"), action_id="catalogue-chg-1", actor=ann
    )
    await s.corrections.void(
        third.order_id, 0, qty=1, reason="Wrong item", action_id="catalogue-void-1", actor=ann
    )
    await s.checks.move("T6", "T7", "catalogue-move-1", ann)
    await s.checks.merge("T7", "T1", "catalogue-merge-1", ann)
    await s.checks.split("T7", "even", "catalogue-split-1", ann, n=2)
    check = await s.checks.view("T7")
    await s.checks.pay(
        "T7",
        method="card",
        amount_cents=check["due_cents"],
        tip_cents=0,
        part=None,
        action_id="catalogue-pay-1",
        actor=ann,
    )
    # courses: the mains wait until fired
    await s.catalog.import_menu(with_courses(menu_doc))
    await s.ordering.place(
        table_token(hub, "T8"),
        "catalogue-0004",
        [LineRequest("chicken-satay", 1), LineRequest("kung-pao-chicken", 1)],
    )
    fired = await s.pacer.fire("T8", "mains", "catalogue-fire-1", "test")
    assert isinstance(fired, dict)
    await s.kitchen.start(fired["tickets"][0].id, "catalogue-start-1")  # a cook starts them


async def test_every_row_of_a_working_store_decodes_strictly(
    hub_config: HubConfig, menu_doc: dict[str, Any], broker: Mosquitto
) -> None:
    config = replace(
        hub_config, printers=(PrinterConfig(id="cold-1", stations=("cold",), bills=True),)
    )
    async with acking_printers(broker.port), running_hub(config, seed_menu=menu_doc) as hub:
        await run_a_service(hub, menu_doc)
        store = hub.services.store

        async def all_printed() -> bool:
            rows = await store.read_all("SELECT COUNT(*) FROM print_jobs WHERE state != 'printed'")
            return bool(rows[0][0] == 0)

        await wait_until(all_printed, "every print job acked as printed")
        rows = await store.read_all("SELECT seq, stream, kind, key, body FROM outbox ORDER BY seq")
    kinds = set()
    for seq, stream, kind, key, stored in rows:
        body = unpack(stored).decode()  # the store keeps long bodies packed
        assert events.strictly_decodes(kind, body) is None, (seq, kind, body)
        event = events.decode(kind, body)
        assert (event.stream, event.key) == (stream, key), seq
        # the cloud's receiver takes every row the hub writes (corrections, checks too)
        row = EventIn("demo", seq, stream, kind, key, AT, msgspec.Raw(body.encode()))
        assert event_problem("demo", row) is None, (seq, kind)
        kinds.add(kind)
    wanted = {cls.kind for cls in events.classes()} - {
        "print.failed",  # the stand-in printer never fails
        "print.cancelled",
        "print.moved",  # no backup printer here (tests/integration/test_print_queue.py)
    }
    assert wanted <= kinds, wanted - kinds


# as the previous hub wrote them: one row of each kind, bodies byte for byte
OLD_ROWS = [
    ("orders", "order.created", "1", {"order": {
        "table": {"id": "T1", "name": "Table 1"},
        "lines": [{"item": "live-lobster", "name": {"en": "Lobster"}, "qty": 1,
                   "unit_cents": 1800, "line_cents": 1800,
                   "modifiers": [{"id": "noodles", "name": {"en": "Noodles"},
                                  "price_delta_cents": 600}],
                   "note": None, "per_grams": 100, "grams": None, "weight_pending": True}],
        "order_id": 1, "number": 1, "status": "received", "total_cents": 1800, "round": 1,
        "created_at": AT}}),
    ("orders", "order.weighed", "1", {"order": {
        "table": {"id": "T1", "name": "Table 1"},
        "lines": [{"item": "live-lobster", "name": {"en": "Lobster"}, "qty": 1,
                   "unit_cents": 1800, "line_cents": 15408, "modifiers": [], "note": "big",
                   "per_grams": 100, "grams": 1234, "weight_pending": False,
                   "weighed_by": "scale:pass"}],
        "order_id": 1, "number": 1, "status": "preparing", "total_cents": 15408, "round": 1,
        "created_at": AT}}),
    ("tickets", "ticket.created", "1", {"ticket": {
        "table": {"id": "T1", "name": "Table 1"}, "number": 1, "round": 1,
        "items": [{"idx": 0, "item": "live-lobster", "name": {"en": "Lobster"}, "qty": 1,
                   "modifiers": [{"id": "noodles", "name": {"en": "Noodles"}}], "note": None,
                   "allergens": ["shellfish"], "per_grams": 100, "grams": None,
                   "bumped": False}],
        "id": 1, "order_id": 1, "station": "wok", "status": "open", "created_at": AT,
        "created_ms": 1764936000000, "bumped_at": None}}),
    ("tickets", "ticket.updated", "1", {"ticket": {
        "table": {"id": "T1", "name": "Table 1"}, "number": 1, "round": 1,
        "items": [{"idx": 0, "item": "edamame", "name": {"en": "Edamame"}, "qty": 2,
                   "modifiers": [], "note": None, "allergens": [], "bumped": True}],
        "printed_on": "grill-fb", "id": 1, "order_id": 1, "station": "cold",
        "status": "bumped", "created_at": AT, "created_ms": 1764936000000, "bumped_at": AT}}),
    ("calls", "call.opened", "3", {"call": {
        "id": 3, "table": "T3", "kind": "waiter", "source": "button:press-1", "state": "open",
        "escalated": False, "opened_at": AT, "opened_ms": 1764936000000, "acked_at": None,
        "closed_at": None}, "table_open": True}),
    ("devices", "device.status", "printer-cold-1", {"device": {
        "id": "printer-cold-1", "kind": "printer", "state": "online",
        "detail": {"paper": "ok", "queue": 0, "n": [1, 2]}, "changed_at": AT, "seen_at": AT}}),
    ("telemetry", "scale.reading", "deli-1", {"scale": "deli-1", "grams": 750, "stable": True}),
    ("menu", "menu.updated", "2", {"version": 2}),
    ("menu", "item.availability", "edamame", {"item": "edamame", "available": False}),
    ("tables", "table.opened", "T5", {"table": {"id": "T5", "open": True}}),
    ("print", "print.queued", "chit-1-cold-1", {"job": {
        "id": "chit-1-cold-1", "printer": "cold-1", "kind": "kitchen", "copy": "ORIGINAL",
        "state": "queued", "ticket_id": 1}}),
    ("print", "print.failed", "test-cold-1-5", {"job": {
        "id": "test-cold-1-5", "printer": "cold-1", "kind": "test", "copy": "ORIGINAL",
        "state": "failed", "reason": "paper_out", "ticket_id": None}}),
    ("print", "print.moved", "chit-2-cold-1", {"job": {
        "id": "chit-2-cold-1", "printer": "bar-1", "origin": "cold-1", "kind": "kitchen",
        "state": "queued"}}),
]  # fmt: skip


def contains(new: Any, old: Any) -> bool:
    """Whether `new` holds every field of `old` with the same value (and maybe more)."""
    if isinstance(old, dict):
        return isinstance(new, dict) and all(
            k in new and contains(new[k], v) for k, v in old.items()
        )
    if isinstance(old, list):
        return isinstance(new, list) and len(new) == len(old) and all(map(contains, new, old))
    return bool(new == old)


async def test_rows_the_previous_hub_wrote_decode_without_loss(tmp_path: Path) -> None:
    db = tmp_path / "hub.db"
    async with Store(db, clock=lambda: AT):
        pass
    conn = sqlite3.connect(db)
    with conn:
        for seq, (stream, kind, key, body) in enumerate(OLD_ROWS, start=1):
            text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
            conn.execute(
                "INSERT INTO outbox(seq, stream, kind, key, body, created_at) VALUES (?,?,?,?,?,?)",
                (seq, stream, kind, key, text, AT),
            )
        # an older row still: a ticket from before `created_ms` and a call before `source`
        old_ticket = {
            "ticket": {
                "table": {"id": "T1", "name": "Table 1"},
                "number": 9,
                "items": [],
                "id": 9,
                "order_id": 9,
                "station": "wok",
                "status": "open",
            }
        }
        old_call = {"call": {"id": 4, "table": "T2", "kind": "water", "state": "open"},
                    "table_open": True}  # fmt: skip
        for seq, kind, body in (
            (100, "ticket.updated", old_ticket),
            (101, "call.updated", old_call),
        ):
            conn.execute(
                "INSERT INTO outbox(seq, stream, kind, key, body, created_at) VALUES (?,?,?,?,?,?)",
                (seq, kind.split(".")[0] + "s", kind, "9", json.dumps(body), AT),
            )
    conn.close()
    async with Store(db, clock=lambda: AT) as store:
        read = await store.events_after(0, 1000)
        assert store.committed_seq == 101  # the store carries on after the old rows
    assert len(read) == len(OLD_ROWS) + 2
    for row, (_, kind, _, body) in zip(read, OLD_ROWS, strict=False):
        assert row.event is not None, kind
        # nothing lost (fields added since come back with their defaults)
        assert contains(json.loads(events.encode(row.event)), body), kind
    assert isinstance(read[-2].event, events.TicketUpdated)
    assert read[-2].event.ticket.created_ms == 0
    assert isinstance(read[-1].event, events.CallUpdated)
    assert read[-1].event.call.source == ""


# ---------------------------------------------------------------- a new event


class TipMessage(msgspec.Struct, frozen=True):
    seq: int
    cents: int


class TipAdded(events.HubEvent, frozen=True, kw_only=True):
    """An event no code of the hub knows: only its class says where it goes."""

    stream: ClassVar[str] = "tips"
    kind: ClassVar[str] = "tip.added"
    screen: ClassVar[str | None] = "tip"
    mqtt: ClassVar[events.MqttRoute | None] = events.MqttRoute("tables/{table}/tip", qos=1)
    table: str
    cents: int

    @property
    def key(self) -> str:
        return self.table

    def audience(self) -> events.Audience:
        return events.Audience(stations=("floor",))

    def mqtt_message(self, seq: int, body: bytes) -> tuple[Mapping[str, str], msgspec.Struct]:
        return {"table": self.table}, TipMessage(seq, self.cents)


def wire(event: events.HubEvent, seq: int) -> EventIn:
    body = msgspec.Raw(events.encode(event))
    return EventIn("demo", seq, event.stream, event.kind, event.key, AT, body)


async def test_a_new_event_reaches_screens_mqtt_and_the_cloud_by_its_class_alone(
    hub: RunningHub, broker: Mosquitto, http: aiohttp.ClientSession
) -> None:
    tip = TipAdded(table="T6", cents=500)
    assert event_problem("demo", wire(tip, 1)) == "unknown stream 'tips'"
    events.register(TipAdded)
    try:
        assert event_problem("demo", wire(tip, 1)) is None
        floor = await staff.issue(hub.services.store, "floor", "floor phone")
        assert hub.bus is not None
        await asyncio.wait_for(hub.bus.connected.wait(), 5)
        url = hub.url.replace("http", "ws") + "/ws/floor"
        headers = {"Authorization": f"Bearer {floor}"}
        async with (
            http.ws_connect(url, headers=headers) as ws,
            aiomqtt.Client("127.0.0.1", broker.port, identifier="tip-watcher") as mqtt,
        ):
            assert (await ws.receive_json())["type"] == "snapshot"
            await mqtt.subscribe(f"{PREFIX}/tables/T6/tip", qos=1)

            async def unit(tx: Tx) -> None:
                tx.emit(tip)

            before = hub.services.store.committed_seq
            await hub.services.store.write(unit)
            # the tip's own seq (the hub may commit events of its own meanwhile)
            after = await hub.services.store.events_after(before, 50)
            seq = next(e.seq for e in after if e.event == tip)
            async with asyncio.timeout(5):
                while (msg := await ws.receive_json())["type"] != "tip":
                    pass
                assert msg == {"type": "tip", "seq": seq, "table": "T6", "cents": 500}
                message = await anext(aiter(mqtt.messages))
            assert isinstance(message.payload, bytes)
            assert json.loads(message.payload) == {"seq": seq, "cents": 500}
            assert (message.qos, message.retain) == (1, False)
        (row,) = await hub.services.store.events_after(seq - 1, 1)
        assert row.event == tip  # read back through the catalogue
        bad = msgspec.structs.replace(wire(tip, 2), body=msgspec.Raw(b'{"table": "T6"}'))
        assert event_problem("demo", bad) == (
            "body does not fit its kind: tip.added: Object missing required field `cents`"
        )
    finally:
        events.unregister(TipAdded)
    assert event_problem("demo", wire(tip, 1)) == "unknown stream 'tips'"


@pytest.fixture(autouse=True)
def _no_leftover_registrations() -> Any:
    before = set(events.classes())
    yield
    assert set(events.classes()) == before
