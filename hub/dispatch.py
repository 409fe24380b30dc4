"""Feeding the world from the outbox.

- `LiveHub` fans committed events out to the open WebSocket screens (KDS, expo, diner pages).
  Each screen has a bounded queue; a screen too slow to keep up is disconnected and, on
  reconnect, gets a fresh snapshot (drop-and-resync: a screen never shows a partial state).
- `OutboxRelay` publishes ticket events to MQTT (`kds/{station}/events`, QoS 1) from a cursor
  kept in the store, so a broker or network outage delays them but never loses them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from hub.bus import contract
from hub.store import repos
from hub.store.db import Event, Store, Tx

log = logging.getLogger("tablehub.dispatch")

QUEUE_SIZE = 512


@dataclass(eq=False)
class Subscriber:
    """One open screen. `station` is a station id, 'expo', or None; `table` a table id."""

    station: str | None = None
    table: str | None = None
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: asyncio.Event = field(default_factory=asyncio.Event)

    def wants(self, event: Event) -> bool:
        if event.stream == "menu":
            return True
        if event.stream == "tickets":
            return self.station in ("expo", event.body["ticket"]["station"])
        if event.stream == "orders":
            return self.station == "expo" or (
                self.table is not None and self.table == event.body["order"]["table"]["id"]
            )
        if event.stream == "calls":
            return self.station in ("expo", "floor") or (
                self.table is not None and self.table == event.body["call"]["table"]
            )
        if event.stream == "devices":
            return self.station is not None
        if event.stream == "tables":
            return self.station == "floor" or self.table == event.body["table"]["id"]
        if event.stream == "print":
            return self.station in ("admin", "expo")
        return False


def message_for(event: Event) -> dict[str, Any] | None:
    """The WebSocket message a committed event becomes."""
    if event.stream == "tickets":
        return {"type": "ticket", "seq": event.seq, "ticket": event.body["ticket"]}
    if event.stream == "orders":
        return {"type": "order", "seq": event.seq, "order": event.body["order"]}
    if event.stream == "calls":
        return {"type": "call", "seq": event.seq, "call": event.body["call"]}
    if event.stream == "devices":
        return {"type": "device", "seq": event.seq, "device": event.body["device"]}
    if event.stream == "tables":
        return {"type": "table", "seq": event.seq, "table": event.body["table"]}
    if event.stream == "print":
        return {"type": "print", "seq": event.seq, "job": event.body["job"]}
    if event.kind == "item.availability":
        return {"type": "availability", "seq": event.seq, **event.body}
    if event.kind == "menu.updated":
        return {"type": "menu", "seq": event.seq, **event.body}
    return None


class LiveHub:
    def __init__(self) -> None:
        self._subs: set[Subscriber] = set()
        self.dropped_screens = 0
        self.weights: dict[str, tuple[int, bool]] = {}  # scale -> latest (grams, stable)

    def __repr__(self) -> str:
        return f"<LiveHub screens={len(self._subs)} dropped={self.dropped_screens}>"

    @property
    def count(self) -> int:
        return len(self._subs)

    def screens_at(self, station: str) -> int:
        """How many screens of `station` itself are connected."""
        return sum(1 for s in self._subs if s.station == station)

    def subscribe(self, sub: Subscriber) -> Subscriber:
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subs.discard(sub)

    def on_commit(self, events: list[Event]) -> None:
        for event in events:
            msg = message_for(event)
            if msg is None:
                continue
            for sub in list(self._subs):
                if sub.overflowed.is_set() or not sub.wants(event):
                    continue
                try:
                    sub.queue.put_nowait(msg)
                except asyncio.QueueFull:
                    self.dropped_screens += 1
                    sub.overflowed.set()

    def broadcast(
        self, msg: dict[str, Any], station: str | None = None, *, staff_only: bool = False
    ) -> None:
        """A message that is not a stored event (bump bar cursor moves, live weights).
        Keep-latest: a screen whose queue is full simply misses it."""
        for sub in list(self._subs):
            if staff_only and sub.station is None:
                continue
            if station is None or sub.station == station:
                with contextlib.suppress(asyncio.QueueFull):
                    sub.queue.put_nowait(msg)


Publisher = Callable[[str, bytes, int, bool], Awaitable[None]]


class OutboxRelay:
    """Publishes outbox events to MQTT in order, from a cursor saved in the store.

    Tickets go to `kds/{station}/events`; call changes set the table's retained
    `tables/{table}/call/state` (the button's LED). A broker outage pauses the relay at the
    first unsent event; nothing is skipped."""

    NAME = "mqtt"
    STREAMS = ("tickets", "calls")

    def __init__(
        self, store: Store, store_id: str, publish: Publisher, connected: asyncio.Event
    ) -> None:
        self._store = store
        self._store_id = store_id
        self._publish = publish
        self._connected = connected
        self._wake = asyncio.Event()
        self.sent = 0
        self.cursor = 0

    def __repr__(self) -> str:
        return f"<OutboxRelay cursor={self.cursor} sent={self.sent}>"

    def on_commit(self, events: list[Event]) -> None:
        if any(e.stream in self.STREAMS for e in events):
            self._wake.set()

    async def run(self) -> None:
        self.cursor = await repos.get_cursor(self._store, self.NAME)
        saved = self.cursor
        leds_synced = False
        while True:
            await self._connected.wait()
            if not leds_synced:
                leds_synced = await self._sync_leds()
            self._wake.clear()  # before reading: a commit from now on wakes us again
            events = await self._store.events_after(self.cursor, 500)
            if not events:
                await self._wake.wait()
                continue
            try:
                for event in events:
                    message = self._message(event)
                    if message is not None:
                        await self._publish(*message)
                        self.sent += 1
                    self.cursor = event.seq
            except ConnectionError as exc:
                log.info("mqtt relay paused at seq %d: %s", self.cursor, exc)
                leds_synced = False  # the broker may have lost its retained states
                await asyncio.sleep(0.5)
            if self.cursor != saved:
                await self._save_cursor()
                saved = self.cursor

    async def _sync_leds(self) -> bool:
        """Set every table's retained LED state from the store. A broker that kept a state
        from before a restore or a reinstall, or lost its retained messages, would otherwise
        leave a button lit (or dark) that the store disagrees with."""
        lit: dict[str, dict[str, Any]] = {}
        for call in await repos.read_active_calls(self._store):
            if call["state"] == "open":
                lit.setdefault(call["table"], call)
        try:
            for row in await repos.list_tables(self._store):
                on = lit.get(row["id"])
                state = contract.CallState(
                    open=on is not None,
                    kind=on["kind"] if on else None,
                    call_id=str(on["id"]) if on else None,
                )
                topic = contract.table_call_state(self._store_id, row["id"])
                await self._publish(topic, contract.encode(state), 1, True)
        except ConnectionError as exc:
            log.info("button LED sync waits for the broker: %s", exc)
            await asyncio.sleep(0.5)
            return False
        return True

    def _message(self, event: Event) -> tuple[str, bytes, int, bool] | None:
        """(topic, payload, qos, retain) that an event is published as, if any."""
        if event.stream == "tickets":
            ticket = event.body["ticket"]
            payload = contract.encode(
                contract.KdsEvent(seq=event.seq, kind=event.kind, ticket=ticket)
            )
            return contract.kds_events(self._store_id, ticket["station"]), payload, 1, False
        if event.stream == "calls":
            call, lit = event.body["call"], bool(event.body["table_open"])
            state = contract.CallState(
                open=lit, kind=call["kind"] if lit else None, call_id=str(call["id"])
            )
            topic = contract.table_call_state(self._store_id, call["table"])
            return topic, contract.encode(state), 1, True
        return None

    async def _save_cursor(self) -> None:
        seq = self.cursor

        async def unit(tx: Tx) -> None:
            await repos.set_cursor(tx, self.NAME, seq)

        await self._store.write(unit)
