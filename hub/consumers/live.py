"""Live screens: `LiveHub` fans committed events out to the open WebSocket screens (KDS, expo,
floor, admin, a table's phones). Each screen has a bounded queue; a screen too slow to keep up
is disconnected and, on reconnect, gets a fresh snapshot (drop-and-resync: a screen never
shows a partial state). Who sees what is declared with each event (hub/domain/events.py)."""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from hub.domain.events import NOBODY, Audience, TicketCreated
from hub.store.db import Event
from plumbing.histogram import Histogram

log = logging.getLogger("tablehub.live")

# A screen's backlog before it is dropped (it resyncs from a snapshot when it reconnects).
# The frames are encoded once and shared by every screen, so a queue holds references: 8192
# of them cost a screen ~64 KB. A small queue dropped the expo screens whenever the loop fell
# a tenth of a second behind at a rush, and each resync's snapshot put it further behind.
QUEUE_SIZE = 8192
# order -> kitchen screen, in seconds (GET /metrics): from the order's acceptance (its ticket's
# created_ms) to the new ticket's message written to a screen of its station
ORDER_TO_KDS_BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
AWAITING_MAX = 4096  # new tickets waiting for their first screen; the oldest go beyond this


class Control(enum.Enum):
    """What a screen's queue carries besides messages."""

    PING = "ping"  # nothing was sent for a while: send the clock
    CLOSE = "close"  # the screen went away
    OVERFLOW = "overflow"  # the screen fell behind: drop it, it resyncs on reconnect


# (seq or 0, the message as JSON text); seq lets a fresh screen skip what its snapshot holds
Frame = tuple[int, bytes]
Item = Frame | Control


@dataclass(eq=False)
class Subscriber:
    """One open screen. `station` is a station id, 'expo', or None; `table` a table id.

    Its queue holds at most `QUEUE_SIZE` messages; one more than that and the screen is marked
    overflowed and handed `Control.OVERFLOW` (control items always fit)."""

    station: str | None = None
    table: str | None = None
    token_id: str | None = None  # the staff token a screen signed in with (None: a diner)
    queue: asyncio.Queue[Item] = field(default_factory=asyncio.Queue)
    overflowed: bool = False

    def offer(self, frame: Frame) -> bool:
        """Queue a message; False (and the screen is marked overflowed) when it is full."""
        if self.overflowed:
            return False
        if self.queue.qsize() >= QUEUE_SIZE:
            self.overflowed = True
            self.queue.put_nowait(Control.OVERFLOW)
            return False
        self.queue.put_nowait(frame)
        return True

    def control(self, item: Control) -> None:
        self.queue.put_nowait(item)

    def wants(self, event: Event) -> bool:
        """Who sees what; `LiveHub` routes by the same rules through its indexes."""
        return _includes(_route_of(event), self)


def encode(msg: dict[str, Any]) -> bytes:
    return _encoder.encode(msg)


_encoder = msgspec.json.Encoder()


def message_for(event: Event) -> bytes | None:
    """The WebSocket message a committed event becomes: `{"type", "seq", ...its body}`, the
    type declared by its catalogue class; spliced from the body as stored, not re-encoded."""
    if event.event is None:
        return None
    screen = type(event.event).screen
    if screen is None:
        return None
    head = b'{"type":"%s","seq":%d' % (screen.encode(), event.seq)
    rest = event.body[1:]
    return head + (rest if rest.startswith(b"}") else b"," + rest)


def _route_of(event: Event) -> Audience:
    return NOBODY if event.event is None else event.event.audience()


def _includes(route: Audience, sub: Subscriber) -> bool:
    """The rule for one screen (`LiveHub.audience` applies it through its indexes)."""
    return (
        route.everyone
        or (route.staff and sub.station is not None)
        or (sub.station is not None and sub.station in route.stations)
        or (route.table is not None and sub.table == route.table)
        or (sub.table is not None and sub.table in route.tables)
    )


class LiveHub:
    """Open screens, indexed by station and by table, so an event reaches its audience
    without asking every screen; each message is encoded to JSON once."""

    def __init__(self) -> None:
        self._subs: set[Subscriber] = set()
        self._by_station: dict[str, set[Subscriber]] = {}
        self._by_table: dict[str, set[Subscriber]] = {}
        self.dropped_screens = 0
        self.weights: dict[str, tuple[int, bool]] = {}  # scale -> latest (grams, stable)
        self.order_to_kds = Histogram(ORDER_TO_KDS_BOUNDS)
        # seq of a new ticket queued for its station's screens -> (station, created_ms)
        self._awaiting: dict[int, tuple[str, int]] = {}

    name = "live-screens"

    def __repr__(self) -> str:
        return f"<LiveHub screens={len(self._subs)} dropped={self.dropped_screens}>"

    async def run(self) -> None:
        """Nothing of its own to run: screens are fed from `on_commit`."""
        await asyncio.Event().wait()

    async def stop(self) -> bool:
        return False

    @property
    def count(self) -> int:
        return len(self._subs)

    def screens_at(self, station: str) -> int:
        """How many screens of `station` itself are connected."""
        return len(self._by_station.get(station, ()))

    def subscribe(self, sub: Subscriber) -> Subscriber:
        self._subs.add(sub)
        if sub.station is not None:
            self._by_station.setdefault(sub.station, set()).add(sub)
        if sub.table is not None:
            self._by_table.setdefault(sub.table, set()).add(sub)
        return sub

    def close_token(self, token_id: str) -> int:
        """Close every screen signed in with a staff token that was just revoked: it must not
        go on receiving tickets; its reconnect is refused. Returns how many."""
        mine = [sub for sub in self._subs if sub.token_id == token_id]
        for sub in mine:
            sub.control(Control.CLOSE)
        return len(mine)

    def close_all(self) -> int:
        """Close every screen (the hub is stopping: they reconnect to the next one at once,
        and the web server does not wait for them). Returns how many."""
        for sub in self._subs:
            sub.control(Control.CLOSE)
        return len(self._subs)

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subs.discard(sub)
        for index, key in ((self._by_station, sub.station), (self._by_table, sub.table)):
            if key is None:
                continue
            group = index.get(key)
            if group is not None:
                group.discard(sub)
                if not group:
                    del index[key]

    def audience(self, event: Event) -> set[Subscriber]:
        route = _route_of(event)
        if route.everyone:
            return set(self._subs)
        if route.staff:
            return {s for group in self._by_station.values() for s in group}
        out: set[Subscriber] = set()
        for station in route.stations:
            out.update(self._by_station.get(station, ()))
        if route.table is not None:
            out.update(self._by_table.get(route.table, ()))
        for table in route.tables:
            out.update(self._by_table.get(table, ()))
        return out

    def on_commit(self, events: Sequence[Event]) -> None:
        for event in events:
            subs = self.audience(event)
            if not subs:
                continue
            msg = message_for(event)
            if msg is None:
                continue
            frame = (event.seq, msg)
            for sub in subs:
                if not sub.overflowed and not sub.offer(frame):
                    self.dropped_screens += 1
            if isinstance(event.event, TicketCreated):
                self._await_screen(
                    event.seq, event.event.ticket.station, event.event.ticket.created_ms, subs
                )

    def _await_screen(self, seq: int, station: str, created_ms: int, subs: set[Subscriber]) -> None:
        if created_ms <= 0 or not any(s.station == station for s in subs):
            return  # no screen of the station is open: nothing to time
        if len(self._awaiting) >= AWAITING_MAX:
            del self._awaiting[next(iter(self._awaiting))]
        self._awaiting[seq] = (station, created_ms)

    def sent(self, sub: Subscriber, seq: int, now_ms: int) -> None:
        """A screen was sent the message of `seq`: the first screen of a new ticket's station
        to get it times the order's way to the kitchen."""
        if not self._awaiting:
            return
        waiting = self._awaiting.get(seq)
        if waiting is not None and waiting[0] == sub.station:
            del self._awaiting[seq]
            self.order_to_kds.observe((now_ms - waiting[1]) / 1000)

    def broadcast(
        self,
        msg: dict[str, Any],
        station: str | None = None,
        *,
        staff_only: bool = False,
        table: str | None = None,
    ) -> None:
        """A message that is not a stored event (bump bar cursor moves, live weights, waits):
        to a station's screens, a table's phones, every staff screen, or everyone.
        Keep-latest: a screen whose queue is full simply misses it."""
        if station is not None:
            subs: Iterable[Subscriber] = self._by_station.get(station, ())
        elif table is not None:
            subs = self._by_table.get(table, ())
        elif staff_only:
            subs = [s for s in self._subs if s.station is not None]
        else:
            subs = self._subs
        frame: Frame | None = None
        for sub in subs:
            if sub.overflowed or sub.queue.qsize() >= QUEUE_SIZE:
                continue
            if frame is None:
                frame = (0, encode(msg))
            sub.queue.put_nowait(frame)
