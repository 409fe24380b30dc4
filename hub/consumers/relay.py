"""The MQTT relay: `OutboxRelay` publishes the events that travel over MQTT (tickets to
`kds/{station}/events`, call states to the buttons' retained LED topics) from a cursor kept in
the store, so a broker or network outage delays them but never loses them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from hub.bus import contract
from hub.bus.client import Message
from hub.domain.events import Call
from hub.errors import StoreUnavailable
from hub.store import repos
from hub.store.db import Event, Store, Tx

log = logging.getLogger("tablehub.relay")


# (topic, payload, qos, retain) messages, published in order; returns once all are acked
BatchPublisher = Callable[[Sequence[Message]], Awaitable[None]]


class OutboxRelay:
    """Publishes outbox events to MQTT in order, from a cursor saved in the store.

    Tickets go to `kds/{station}/events`; call changes set the table's retained
    `tables/{table}/call/state` (the button's LED). A broker outage pauses the relay at the
    first unsent event; nothing is skipped.

    Caught up, it publishes the events its commit listener is handed (the database is read
    only to catch up: at start, after a broker outage, or when it fell `MAX_PENDING` behind).
    Whatever has gathered since the last batch goes out as one batch of up to `BATCH`
    messages, handed to paho at once, and the relay waits for all their PUBACKs before the
    next: the cursor never passes an unacknowledged event, and a rush costs one wait per
    batch instead of one per ticket. It pays off fully with Nagle's algorithm off on both
    ends: the broker's `set_tcp_nodelay true` (our Mosquitto config) for its PUBACKs, and
    TCP_NODELAY on the hub's own socket (`plumbing/mqtt.py`) for a batch's messages after
    the first, which otherwise wait for the broker's TCP acknowledgement of it (up to its
    40 ms delayed ACK: that was the p99 of order→MQTT at 100 orders/s). The cursor is saved
    at most every `SAVE_EVERY_S`: after a crash the last second's events are published
    again with their original `seq`, which receivers drop (the LED states are retained).

    A PUBACK means the broker took a message, not that it is safe: Mosquitto writes what it
    holds to disk every `autosave_interval`, and a broker killed or powered off in between
    loses what it acknowledged since. So after every reconnect the relay publishes again the
    events acknowledged in the `replay_s` seconds before the connection dropped (same seq:
    subscribers that got them drop the repeats)."""

    NAME = "mqtt"  # its cursor's name in the store
    name = "mqtt-relay"
    BATCH = 256
    MAX_PENDING = 4096
    SAVE_EVERY_S = 1.0
    # a cursor save waits this long to share a commit (the next order's or bump's): nobody
    # waits on it, and publishing never waits on it either (it runs beside the relay). In a
    # rush at a store's pace (an order or a bump every few seconds) half a second found no
    # company: a third of the hub's commits were a cursor save alone. A cursor saved later
    # only means more events published again after a crash, with their seq (dropped by
    # receivers), as after any reconnect (`REPLAY_S`)
    SAVE_LINGER_S = 10.0
    REPLAY_S = 15.0

    def __init__(
        self,
        store: Store,
        store_id: str,
        publish_many: BatchPublisher,
        connected: asyncio.Event,
        *,
        connection: Callable[[], int] | None = None,
        replay_s: float = REPLAY_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._store_id = store_id
        self._publish_many = publish_many
        self._connected = connected
        self._monotonic = monotonic
        self._connection = connection  # which connection this is (changes on reconnect)
        self._replay_s = replay_s
        # (when, first seq) of the batches acknowledged in the `replay_s` before the last one
        self._acked: deque[tuple[float, int]] = deque()
        self._seen_connection: int | None = None
        self.replayed = 0
        self._wake = asyncio.Event()
        # while tailing, every committed event after `cursor` that matters is in `_pending`
        self._tailing = False
        self._pending: deque[Event] = deque()
        self._high = 0  # the highest committed seq seen while tailing
        self._inflight = 0  # messages handed to the broker, their PUBACKs not all back
        self.sent = 0
        self.cursor = 0
        self.saved = 0

    def __repr__(self) -> str:
        return f"<OutboxRelay cursor={self.cursor} sent={self.sent}>"

    def status(self) -> dict[str, Any]:
        """For /healthz: what was published, and how far behind the store the relay is."""
        return {
            "published_upto": self.cursor,
            "behind": self.behind(),
            "published": self.sent,
            "replayed": self.replayed,
        }

    def behind(self) -> int:
        """Events owed to MQTT. Caught up (tailing), exactly those: the pending ones and the
        batch awaiting its PUBACKs; orders, print jobs and the like never go to MQTT and are
        not owed. Catching up (at start, after an outage), an upper bound: every event
        committed past the cursor, since the relay has not read them yet."""
        if self._tailing:
            return len(self._pending) + self._inflight
        return max(0, self._store.committed_seq - self.cursor)

    async def stop(self) -> bool:
        return False  # cancelled: it saves its cursor on the way out

    def on_commit(self, events: Sequence[Event]) -> None:
        mine = [e for e in events if e.event is not None and type(e.event).mqtt is not None]
        if self._tailing:
            if len(self._pending) + len(mine) > self.MAX_PENDING:
                self._stop_tailing()  # too far behind: catch up from the database
            else:
                self._pending.extend(mine)
                self._high = events[-1].seq
        if mine:
            self._wake.set()

    def _stop_tailing(self) -> None:
        self._tailing = False
        self._pending.clear()

    async def run(self) -> None:
        self.cursor = self.saved = await repos.get_cursor(self._store, self.NAME)
        last_save = self._monotonic()
        saving: asyncio.Task[None] | None = None
        leds_synced = False
        try:
            while True:
                await self._connected.wait()
                now_connection = self._current_connection()
                if now_connection != self._seen_connection:
                    if self._seen_connection is not None:
                        self._replay_after_reconnect()
                    self._seen_connection = now_connection
                if not leds_synced:
                    leds_synced = await self._sync_leds()
                try:
                    if self._tailing:
                        await self._send_pending()
                    else:
                        await self._catch_up()
                except ConnectionError as exc:
                    log.info("mqtt relay paused at seq %d: %s", self.cursor, exc)
                    self._stop_tailing()
                    leds_synced = False  # the broker may have lost its retained states
                    await asyncio.sleep(0.5)
                    continue
                due = last_save + self.SAVE_EVERY_S - self._monotonic()
                if self.cursor != self.saved and due <= 0 and (saving is None or saving.done()):
                    saving = asyncio.create_task(
                        self._save_cursor(self.SAVE_LINGER_S), name="mqtt-relay-cursor"
                    )
                    last_save = self._monotonic()
                    due = self.SAVE_EVERY_S
                if self._tailing and not self._pending:
                    await self._idle(max(due, 0.05) if self.cursor != self.saved else None)
        except asyncio.CancelledError:
            if saving is not None:
                saving.cancel()
            if self.cursor != self.saved:  # a clean stop repeats nothing
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._save_cursor(), 1.0)
            raise

    def _current_connection(self) -> int:
        return self._connection() if self._connection is not None else 0

    def on_connected(self) -> None:
        """The bus has (re)connected: an idle relay wakes to publish again what the broker
        may have lost."""
        self._wake.set()

    def _replay_after_reconnect(self) -> None:
        """Move the cursor back before what the broker acknowledged in the last `replay_s`
        seconds before the drop (it may have died with them); they go out again."""
        if not self._acked:
            return
        back_to = min(self.cursor, self._acked[0][1] - 1)  # the deque holds just the window
        if back_to < self.cursor:
            log.info(
                "mqtt relay: reconnected; publishing events %d-%d again (the broker may have "
                "lost what it acknowledged in the %g s before the drop)",
                back_to + 1,
                self.cursor,
                self._replay_s,
            )
            self.replayed += self.cursor - back_to
        self.cursor = back_to
        self._acked.clear()
        self._stop_tailing()  # catch up from the store

    async def _idle(self, save_in: float | None) -> None:
        """Until a commit brings events, the bus reconnects, or the cursor is due to be saved."""
        self._wake.clear()
        if self._pending or self._current_connection() != self._seen_connection:
            return
        if save_in is None:
            await self._wake.wait()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, save_in))

    async def _catch_up(self) -> None:
        """Publish from the database up to what is committed now; from then on, tail."""
        mark = self._store.committed_seq
        self._pending.clear()
        self._high = mark
        self._tailing = True  # commits from here on land in `_pending`
        while self.cursor < mark:
            events = [e for e in await self._store.events_after(self.cursor, 500) if e.seq <= mark]
            if not events:
                break
            await self._send(events)
            self.cursor = max(self.cursor, events[-1].seq)
        self.cursor = max(self.cursor, mark)

    async def _send_pending(self) -> None:
        while self._pending:
            n = min(self.BATCH, len(self._pending))
            await self._send([self._pending.popleft() for _ in range(n)])
        if self._tailing:
            self.cursor = max(self.cursor, self._high)

    async def _send(self, events: list[Event]) -> None:
        """Publish in order, `BATCH` at a time; the cursor follows each acknowledged batch.
        Raises ConnectionError with the cursor before the batch that failed (all of it is
        sent again, with the events' seq)."""
        for i in range(0, len(events), self.BATCH):
            chunk = events[i : i + self.BATCH]
            messages = [m for m in map(self._message, chunk) if m is not None]
            if messages:
                self._inflight = len(messages)
                try:
                    await self._publish_many(messages)
                finally:
                    self._inflight = 0
                self.sent += len(messages)
                self._remember_ack(chunk[0].seq)
            self.cursor = max(self.cursor, chunk[-1].seq)

    def _remember_ack(self, first: int) -> None:
        now = self._monotonic()
        self._acked.append((now, first))
        while self._acked and self._acked[0][0] < now - self._replay_s:
            self._acked.popleft()

    async def _sync_leds(self) -> bool:
        """Set every table's retained LED state from the store. A broker that kept a state
        from before a restore or a reinstall, or lost its retained messages, would otherwise
        leave a button lit (or dark) that the store disagrees with."""
        lit: dict[str, Call] = {}
        for call in await repos.read_active_calls(self._store):
            if call.state == "open":
                lit.setdefault(call.table, call)
        messages: list[Message] = []
        for row in await repos.list_tables(self._store):
            on = lit.get(row["id"])
            state = contract.CallState(
                open=on is not None,
                kind=on.kind if on else None,
                call_id=str(on.id) if on else None,
            )
            topic = contract.table_call_state(self._store_id, row["id"])
            messages.append((topic, contract.encode(state), 1, True))
        try:
            for i in range(0, len(messages), self.BATCH):
                await self._publish_many(messages[i : i + self.BATCH])
        except ConnectionError as exc:
            log.info("button LED sync waits for the broker: %s", exc)
            await asyncio.sleep(0.5)
            return False
        return True

    def _message(self, event: Event) -> Message | None:
        """(topic, payload, qos, retain) that an event is published as, as its catalogue
        class declares, if any."""
        ev = event.event
        route = None if ev is None else type(ev).mqtt
        if ev is None or route is None:
            return None
        out = ev.mqtt_message(event.seq, event.body)
        if out is None:
            return None
        names, payload = out
        topic = contract.topic(self._store_id, route.topic, names)
        data = payload if isinstance(payload, bytes) else contract.encode(payload)
        return topic, data, route.qos, route.retain

    async def _save_cursor(self, linger_s: float = 0.0) -> None:
        """Save the cursor; a store that cannot save (disk full) only means more repeats
        after a crash, so publishing goes on and the save is tried again later."""
        seq = self.cursor

        async def unit(tx: Tx) -> None:
            await repos.set_cursor(tx, self.NAME, seq)

        try:
            await self._store.write(unit, linger_s=linger_s)
        except StoreUnavailable as exc:
            log.debug("mqtt relay: cursor %d not saved: %s", seq, exc)
            return
        self.saved = max(self.saved, seq)
