"""Reservations between the chain's booking site and the host stand: bookings come down
through the bridge, the stand's changes go up as events, what the stand did while the
internet was down reaches the cloud when it is back, and the same table booked at the stand
and online meanwhile is shown to the host as a conflict, both bookings kept."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from cloud_bridge.cli import run_bridge
from cloud_bridge.cursor import StateError, read_state
from hub.app import RunningHub
from hub.services.booking import BookRequest
from tests.bridge.conftest import (
    ADMIN_TOKEN,
    STORE,
    Receiver,
    bridge_config,
    caught_up,
    wait_for,
)

TOMORROW = (datetime.now().astimezone() + timedelta(days=1)).date().isoformat()


async def put_booking(rec: Receiver, booking_id: str, body: dict[str, Any]) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.put(
            f"{rec.url}/v1/stores/{STORE}/bookings/{booking_id}",
            json=body,
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as r,
    ):
        assert r.status == 201, await r.text()


async def cloud_reservation_events(rec: Receiver) -> list[dict[str, Any]]:
    async with rec.pool.acquire() as con:
        rows = await con.fetch(
            "SELECT body::text AS body FROM events WHERE store_id = $1 "
            "AND kind = 'reservation.changed' ORDER BY seq",
            STORE,
        )
    return [json.loads(r["body"]) for r in rows]


async def test_bookings_both_ways_and_a_clash_made_offline_is_shown_to_the_host(
    tmp_path: Path, hub: RunningHub, receiver: Receiver, admin_token: str
) -> None:
    booking = hub.services.booking
    # the internet is down (no bridge running): the stand books T3 at 19:00
    stand = BookRequest(
        id="stand-res-0001", name="Ada Lovelace", party=2, at=f"{TOMORROW}T19:00", table="T3"
    )
    await booking.book(stand, "host")
    # meanwhile the booking site books T3 at 19:30 and T5 at 20:00, and one it then cancels
    online = {
        "name": "Bob Online",
        "party": 4,
        "at": f"{TOMORROW}T19:30",
        "table": "T3",
        "phone": "+1 555 0142",
        "dishes": [{"item": "sea-salt-edamame", "qty": 2}],
    }
    await put_booking(receiver, "web-res-0001", online)
    await put_booking(
        receiver, "web-res-0002", online | {"name": "Cy", "table": "T5", "at": f"{TOMORROW}T20:00"}
    )
    await put_booking(receiver, "web-res-0003", online | {"name": "Di", "table": "T6"})
    await put_booking(
        receiver, "web-res-0003", online | {"name": "Di", "table": "T6", "status": "cancelled"}
    )
    await put_booking(receiver, "web-bad-0001", online | {"party": 0})

    # the internet is back: the bridge runs
    cfg = bridge_config(
        tmp_path,
        hub_db=hub.services.store.path,
        endpoint=receiver.url,
        hub_url=hub.url,
        admin_token=admin_token,
    )
    stop = asyncio.Event()
    bridge = asyncio.create_task(run_bridge(cfg, stop, rng=random.Random(3)))
    try:

        async def came_down() -> bool:
            try:
                return bool(read_state(cfg.state_db)["bookings"]["rejected"])
            except StateError:  # not made yet, or the bridge still making its tables
                return False

        await wait_for(came_down, timeout=15, what="the bookings to come down")
        await wait_for(lambda: caught_up(receiver, hub), timeout=15, what="the cloud")
    finally:
        stop.set()
        await bridge

    day = await booking.day_book(TOMORROW)
    by_id = {r.id: r for r in day["reservations"]}
    assert set(by_id) == {"stand-res-0001", "web-res-0001", "web-res-0002"}
    bob = by_id["web-res-0001"]
    assert (bob.source, bob.status, bob.table, bob.party) == ("online", "booked", "T3", 4)
    assert "Ada Lovelace" in bob.conflict  # the host sees why
    assert bob.phone == "••• ••42"
    assert by_id["web-res-0002"].conflict == ""
    assert by_id["stand-res-0001"].conflict == ""
    t3 = next(t for t in day["tables"] if t["table"] == "T3")
    assert [s["clash"] for s in t3["slots"]] == [True, True]  # on the timeline too
    # the refused one is kept for the bridge's status, with the hub's reason
    state = read_state(cfg.state_db)
    rejected = state["bookings"]["rejected"]
    assert [(r["id"], r["status"]) for r in rejected] == [("web-bad-0001", 422)]
    assert "party" in rejected[0]["why"]
    assert any("web-bad-0001" in a for a in state["alerts"])
    # what the stand did offline reached the cloud, phone masked
    ups = await cloud_reservation_events(receiver)
    stand_up = [e for e in ups if e["reservation"]["id"] == "stand-res-0001"]
    assert stand_up[0]["change"] == "booked"
    assert all("0142" not in json.dumps(e) for e in ups)
