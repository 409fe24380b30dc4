"""The MQTT relay's batches on a real store: a failed batch is sent again whole, the cursor
never passes an unacknowledged event, and a long backlog goes out in bounded batches."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from hub.bus.client import Message
from hub.consumers.relay import OutboxRelay
from hub.domain import events
from hub.domain.events import OrderPlaced, TicketCreated
from hub.store.db import Event, Store, Tx
from tests.samples import order, ticket
from tests.waiting import until


class ScriptedBroker:
    """Stands in for `Bus.publish_many`: records what was acknowledged, and refuses the
    batches it is told to (as a dropped connection does)."""

    def __init__(self, fail_calls: set[int]) -> None:
        self.fail_calls = fail_calls
        self.calls = 0
        self.batches: list[list[Message]] = []
        self.acked: list[Message] = []

    async def publish_many(self, messages: Sequence[Message]) -> None:
        self.calls += 1
        self.batches.append(list(messages))
        await asyncio.sleep(0)  # an await point, as a real publish has
        if self.calls in self.fail_calls:
            raise ConnectionError("connection dropped")
        self.acked.extend(messages)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with Store(tmp_path / "hub.db", clock=lambda: "2026-12-05T12:00:00Z") as s:
        yield s


async def add_tickets(store: Store, n: int, start: int = 0) -> None:
    async def unit(tx: Tx) -> None:
        for i in range(start, start + n):
            tx.emit(TicketCreated(ticket=ticket(i, "grill" if i % 2 else "wok")))
            tx.emit(OrderPlaced(order=order(i)))

    await store.write(unit)


def ticket_seqs(messages: Sequence[Message]) -> list[int]:
    return [json.loads(payload)["seq"] for _, payload, _, _ in messages]


async def run_until(relay: OutboxRelay, store: Store) -> asyncio.Task[None]:
    task = asyncio.create_task(relay.run())
    await run_until_caught_up(relay, store)
    return task


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_refused_batch_is_sent_again_whole_and_nothing_is_skipped(store: Store) -> None:
    connected = asyncio.Event()
    connected.set()
    broker = ScriptedBroker(fail_calls={2})
    relay = OutboxRelay(store, "demo", broker.publish_many, connected)
    store.on_commit(relay.on_commit)
    await add_tickets(store, 600)  # a backlog: more than two batches
    task = await run_until(relay, store)
    await add_tickets(store, 5, start=600)  # then live, from the commit listener
    await run_until_caught_up(relay, store)
    await stop(task)

    assert all(len(b) <= OutboxRelay.BATCH for b in broker.batches)
    refused = broker.batches[1]
    assert broker.batches[2][: len(refused)] == refused  # sent again whole, from its start
    acked = ticket_seqs(broker.acked)
    assert acked == sorted(acked)
    assert len(acked) == len(set(acked)) == 605
    # every message is a ticket event on its station's topic (order events are not for MQTT)
    assert {t for t, _, _, _ in broker.acked} == {
        "tablehub/v1/demo/kds/grill/events",
        "tablehub/v1/demo/kds/wok/events",
    }


async def test_the_cursor_never_passes_an_unacknowledged_event(store: Store) -> None:
    connected = asyncio.Event()
    connected.set()
    gate = asyncio.Event()
    seen_cursors: list[int] = []

    async def slow_broker(messages: Sequence[Message]) -> None:
        seen_cursors.append(relay.cursor)
        await gate.wait()

    relay = OutboxRelay(store, "demo", slow_broker, connected)
    store.on_commit(relay.on_commit)
    await add_tickets(store, 10)
    task = asyncio.create_task(relay.run())
    await until(lambda: bool(seen_cursors), "the relay to send its first batch")
    # the relay's task, the only one that moves the cursor, is parked in the publish call
    # until the gate opens: the batch is out, unacknowledged, and the cursor has not moved
    assert relay.cursor == 0
    gate.set()
    await run_until_caught_up(relay, store)
    await stop(task)
    assert relay.sent == 10


async def test_a_reconnect_publishes_again_what_was_acked_in_the_replay_window(
    store: Store,
) -> None:
    """Acknowledged long before the drop: not again. In the last `replay_s` before it: again,
    with the same seq, once the relay learns the bus has a new connection."""
    connected = asyncio.Event()
    connected.set()
    broker = ScriptedBroker(fail_calls=set())
    now = [1000.0]
    connection = [1]
    relay = OutboxRelay(
        store,
        "demo",
        broker.publish_many,
        connected,
        connection=lambda: connection[0],
        replay_s=15.0,
        monotonic=lambda: now[0],
    )
    store.on_commit(relay.on_commit)
    task = await run_until(relay, store)
    await add_tickets(store, 3)  # acknowledged at t=1000
    await run_until_caught_up(relay, store)
    now[0] = 1100.0
    await add_tickets(store, 2, start=3)  # acknowledged at t=1100, just before the drop
    await run_until_caught_up(relay, store)
    before = ticket_seqs(broker.acked)
    now[0] = 1200.0  # the broker was down a while
    connection[0] = 2
    relay.on_connected()
    await until(
        lambda: relay.replayed > 0 and relay.cursor >= store.committed_seq,
        "the relay to replay its window after the reconnect",
    )
    await stop(task)
    again = ticket_seqs(broker.acked)[len(before) :]
    assert again == before[3:]  # the two of the last window, same seqs; the first three not
    assert relay.status()["replayed"] == relay.replayed


async def run_until_caught_up(relay: OutboxRelay, store: Store) -> None:
    await until(
        lambda: relay.cursor >= store.committed_seq,
        "the relay's cursor to reach the last commit",
        state=lambda: (relay.cursor, store.committed_seq),
    )


async def test_behind_counts_only_what_mqtt_is_owed(store: Store) -> None:
    """Orders (and print jobs, menu changes, ...) never go to MQTT: a relay that has published
    every ticket is 0 behind however many of them are committed after its cursor."""
    connected = asyncio.Event()
    connected.set()
    broker = ScriptedBroker(fail_calls=set())
    relay = OutboxRelay(store, "demo", broker.publish_many, connected)
    store.on_commit(relay.on_commit)
    await add_tickets(store, 3)
    task = await run_until(relay, store)

    async def orders_only(tx: Tx) -> None:
        for i in range(100, 150):
            tx.emit(OrderPlaced(order=order(i)))

    await store.write(orders_only)
    assert store.committed_seq > relay.cursor  # the cursor waits for the next ticket
    assert relay.status()["behind"] == 0
    await add_tickets(store, 1, start=200)  # a ticket is owed until the broker acks it
    await run_until_caught_up(relay, store)
    assert relay.status()["behind"] == 0
    assert ticket_seqs(broker.acked)[-1] == store.committed_seq - 1  # the ticket, not the order
    await stop(task)


async def test_publishing_goes_on_while_the_cursor_save_waits_for_the_writer(
    store: Store,
) -> None:
    """The cursor is saved beside the relay: with the store's writer busy (a long commit,
    an SD card's fsync), a ticket committed meanwhile still goes out at once."""
    connected = asyncio.Event()
    connected.set()
    broker = ScriptedBroker(fail_calls=set())
    relay = OutboxRelay(store, "demo", broker.publish_many, connected)
    relay.SAVE_EVERY_S = 0.0  # every publish makes a save due
    relay.SAVE_LINGER_S = 0.0  # and it goes to the writer at once (this is about a busy writer)
    store.on_commit(relay.on_commit)
    await add_tickets(store, 1)  # seq 1 (ticket) and 2 (order)
    task = await run_until(relay, store)
    await until(lambda: relay.saved == 2, "the relay to save its cursor")

    gate = asyncio.Event()

    async def hold(tx: Tx) -> None:
        await gate.wait()  # the writer is busy until the gate opens: no save can commit

    holding = asyncio.create_task(store.write(hold))
    try:
        for seq, i in ((3, 1), (4, 2)):  # what the store hands its listeners after a commit
            ev = TicketCreated(ticket=ticket(i, "grill"))
            relay.on_commit([Event(seq, ev.stream, ev.kind, ev.key, ev, events.encode(ev), "now")])
            await until(
                lambda seq=seq: seq in ticket_seqs(broker.acked),
                f"ticket seq {seq} published while a cursor save waits for the writer",
                timeout=5.0,
            )
        assert relay.saved == 2  # the save of 3/4 is still waiting behind the writer
    finally:
        gate.set()
        await holding
    await until(lambda: relay.saved == 4, "the cursor saved once the writer is free")
    await stop(task)
