"""Catalogue events for tests: small, valid instances of the shapes the hub writes, and the
few helpers that write them to a hub's outbox and read its seqs back."""

from __future__ import annotations

import copy
import sqlite3
from pathlib import Path
from typing import Any

from hub.app import RunningHub
from hub.domain import events as ev
from hub.store.db import Event, Tx

AT = "2026-01-01T00:00:00.000Z"


def ticket(ticket_id: int = 1, station: str = "grill", table: str = "T1") -> ev.Ticket:
    line = ev.TicketLine(idx=0, item="burger", name={"en": "Burger"}, qty=1)
    return ev.Ticket(
        table=ev.TableRef(table, table),
        number=ticket_id,
        items=[line],
        id=ticket_id,
        order_id=ticket_id,
        station=station,
        created_at=AT,
    )


def order(order_id: int = 1, table: str = "T1") -> ev.Order:
    line = ev.OrderLine(item="burger", name={"en": "Burger"}, qty=1, unit_cents=900, line_cents=900)
    return ev.Order(
        table=ev.TableRef(table, table),
        lines=[line],
        order_id=order_id,
        number=order_id,
        status="received",
        total_cents=900,
        created_at=AT,
    )


def call(call_id: int = 1, table: str = "T2") -> ev.Call:
    return ev.Call(id=call_id, table=table, kind="waiter", state="open", source="diner")


def committed(seq: int, event: ev.HubEvent) -> Event:
    """An event as the store hands it to readers after its commit."""
    return Event(seq, event.stream, event.kind, event.key, event, ev.encode(event), AT)


class Thing(ev.HubEvent, frozen=True, kw_only=True):
    """A row of any stream for tests of the outbox's plumbing (pruning, the cloud bridge):
    written like any event, but no class of the catalogue reads it back."""

    i: int
    pad: str = ""

    @property
    def key(self) -> str:
        return str(self.i)


_things: dict[str, type[Thing]] = {}


def thing(stream: str, i: int, pad: str = "") -> Thing:
    """A `Thing` of `stream`, kind `{stream}.thing`."""
    cls = _things.get(stream)
    if cls is None:
        attrs = {"stream": stream, "kind": f"{stream}.thing"}
        cls = _things[stream] = type(f"{stream.title()}Thing", (Thing,), attrs)
    return cls(i=i, pad=pad)


async def emit(hub: RunningHub, streams: list[str]) -> list[int]:
    """One outbox row per entry of `streams`, in one write; their seqs."""

    async def unit(tx: Tx) -> None:
        for i, stream in enumerate(streams):
            tx.emit(thing(stream, i))

    await hub.services.store.write(unit)
    last = hub.services.store.committed_seq
    return list(range(last - len(streams) + 1, last + 1))


def seqs_in(db: Path) -> list[int]:
    """The seqs of the outbox rows in the store file `db`, read without the hub."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [int(r[0]) for r in conn.execute("SELECT seq FROM outbox ORDER BY seq")]
    finally:
        conn.close()


def with_courses(menu_doc: dict[str, Any]) -> dict[str, Any]:
    """The demo menu with courses: drinks (never held), starters, mains (with noodles and
    rice, salads) and desserts, by category."""
    doc = copy.deepcopy(menu_doc)
    doc["courses"] = [
        {"id": "drinks", "name": {"en": "Drinks"}, "hold": False},
        {"id": "starters", "name": {"en": "Starters"}},
        {"id": "mains", "name": {"en": "Mains"}},
        {"id": "desserts", "name": {"en": "Desserts"}},
    ]
    course = {
        "starters": "starters",
        "salads": "starters",
        "mains": "mains",
        "noodles-rice": "mains",
        "desserts": "desserts",
        "drinks": "drinks",
    }
    for cat in doc["categories"]:
        cat["course"] = course[cat["id"]]
    return doc
