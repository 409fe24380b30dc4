"""The host stand through real HTTP on a real store: the day's book with masked phones and a
timeline of tables, a double booking refused naming the clash (or booked anyway, with the
warning), seating that opens the table and its check once even when two hosts seat the same
table at once, cancel and no-show, pre-ordered dishes sent to the kitchen at seating, the
waitlist's quote from learned turn times, the walk-in's own page, and guests forgotten after
their visit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from hub.app import RunningHub, running_hub
from hub.config import HubConfig
from hub.services import staff
from hub.store.db import Tx
from tests.samples import with_courses


class Host:
    def __init__(self, hub: RunningHub, http: aiohttp.ClientSession, token: str) -> None:
        self.hub, self.http, self.token = hub, http, token

    async def call(
        self, method: str, path: str, body: Any = None, *, auth: bool = True
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if auth else {}
        async with self.http.request(method, self.hub.url + path, json=body, headers=headers) as r:
            return r.status, await r.json()

    async def book(self, rid: str, **fields: Any) -> tuple[int, Any]:
        body = {"id": rid, "name": "Ada Lovelace", "party": 2, "at": AT} | fields
        return await self.call("POST", "/api/v1/reservations", body)


TOMORROW = (datetime.now().astimezone() + timedelta(days=1)).date().isoformat()


def local_at(hours: float) -> str:
    """Tomorrow at this many hours past 16:00, local time (one day whatever the hour now)."""
    when = datetime.fromisoformat(f"{TOMORROW}T16:00") + timedelta(hours=hours)
    return when.isoformat(timespec="minutes")


AT = local_at(3)


@pytest.fixture
async def host(lone_hub: RunningHub, http: aiohttp.ClientSession) -> Host:
    token = await staff.issue(lone_hub.services.store, "floor", "Host Hana")
    return Host(lone_hub, http, token)


async def test_a_days_book_shows_masked_phones_and_refuses_a_double_booking(host: Host) -> None:
    status, made = await host.book(
        "res-ada-0001", phone="+44 20 7946 0958", notes="window please", table="T3"
    )
    assert status == 201, made
    res = made["reservation"]
    assert (res["status"], res["table"], res["party"], res["at"]) == ("booked", "T3", 2, AT)
    assert res["phone"] == "••• ••58"
    assert made["warnings"] == []
    # the same table half an hour later: refused, naming the clash
    later = local_at(3.5)
    status, err = await host.book("res-bob-0001", name="Bob", at=later, table="T3")
    assert status == 409
    assert (err["error"], err["field"]) == ("double_booked", "table")
    assert err["clashes"][0]["id"] == "res-ada-0001"
    assert "Ada" in err["message"]
    # the host books it anyway: saved, with the warning
    status, made = await host.book("res-bob-0001", name="Bob", at=later, table="T3", override=True)
    assert status == 201
    assert made["warnings"]
    # another table is fine
    assert (await host.book("res-cy-00001", name="Cy", at=later, table="T4"))[0] == 201

    status, day = await host.call("GET", "/api/v1/reservations?date=" + AT[:10])
    assert status == 200
    assert [r["id"] for r in day["reservations"]] == [
        "res-ada-0001",
        "res-bob-0001",
        "res-cy-00001",
    ]
    assert all("7946" not in str(r) for r in day["reservations"])
    # a day is YYYY-MM-DD, as the document says; the calendar's ends are refused as input
    # (the first day of year 1 east of Greenwich starts before datetime can count)
    for bad in ("", "2026-W49-7", "tomorrow", "0001-01-01", "9999-12-31"):
        status, err = await host.call("GET", "/api/v1/reservations?date=" + bad)
        assert (status, err["field"]) == (422, "date"), bad
    t3 = next(t for t in day["tables"] if t["table"] == "T3")
    assert [s["clash"] for s in t3["slots"]] == [True, True]
    t4 = next(t for t in day["tables"] if t["table"] == "T4")
    assert [s["clash"] for s in t4["slots"]] == [False]
    # an edit of a booking is the same id again
    status, edited = await host.book("res-cy-00001", name="Cy", at=later, table="T4", party=5)
    assert (status, edited["reservation"]["party"]) == (201, 5)
    # an edit that leaves the phone out keeps the one the hub has (screens show it masked)
    status, edited = await host.book(
        "res-ada-0001", notes="window please", table="T3", party=6, override=True
    )
    assert (status, edited["reservation"]["party"]) == (201, 6)
    assert edited["reservation"]["phone"] == "••• ••58"


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"party": 0}, 422, "party"),
        ({"at": "tomorrow"}, 422, "at"),
        ({"at": "0001-01-01T00:00"}, 422, "at"),
        ({"at": "9999-12-31T23:59-14:00"}, 422, "at"),
        ({"name": "   "}, 422, "name"),
        ({"phone": "call me"}, 422, "phone"),
        ({"table": "T99"}, 404, "table"),
        ({"dishes": [{"item": "no-such", "qty": 1}]}, 422, "dishes[0].item"),
        ({"id": "short"}, 422, "id"),
    ],
)
async def test_bad_bookings_are_refused_naming_the_field(
    host: Host, fields: dict[str, Any], status: int, field: str
) -> None:
    got, err = await host.book("res-bad-0001", **fields)
    assert (got, err["field"]) == (status, field), err


async def test_booking_needs_a_floor_login(host: Host) -> None:
    status, _ = await host.call("GET", "/api/v1/reservations", auth=False)
    assert status == 401
    kitchen = await staff.issue(host.hub.services.store, "kitchen", "cook")
    other = Host(host.hub, host.http, kitchen)
    status, err = await other.call("GET", "/api/v1/waitlist")
    assert (status, err["field"]) == (403, "token")


async def test_seating_opens_the_table_and_its_check_once(host: Host) -> None:
    dishes = [{"item": "sea-salt-edamame", "qty": 2}]
    assert (await host.book("res-seat-001", table="T5", dishes=dishes))[0] == 201
    body = {"table": "T5", "id": "seat-act-0001"}
    status, seated = await host.call("POST", "/api/v1/reservations/res-seat-001/seat", body)
    assert status == 200, seated
    assert (seated["status"], seated["table"]) == ("seated", "T5")
    assert seated["check_id"] > 0
    assert host.hub.services.catalog.tables["T5"].is_open
    store = host.hub.services.store
    row = await store.read_one("SELECT party FROM seatings WHERE check_id=?", (seated["check_id"],))
    assert row is not None
    assert row[0] == 2
    # the pre-ordered dishes are the table's first order, on its check
    orders = await store.read_all("SELECT check_id, table_id FROM orders")
    assert [(r[0], r[1]) for r in orders] == [(seated["check_id"], "T5")]
    # the same action again: the same answer, nothing twice
    status, again = await host.call("POST", "/api/v1/reservations/res-seat-001/seat", body)
    assert (status, again) == (200, seated)
    assert len(await store.read_all("SELECT id FROM orders")) == 1
    assert len(await store.read_all("SELECT id FROM checks")) == 1
    # another party at the same table: taken
    assert (await host.book("res-seat-002", at=local_at(6)))[0] == 201
    status, err = await host.call(
        "POST", "/api/v1/reservations/res-seat-002/seat", {"table": "T5", "id": "seat-act-0002"}
    )
    assert (status, err["field"]) == (409, "table")
    assert "already has a party" in err["message"]


async def test_two_hosts_seating_one_table_at_once_end_in_one_clear_state(host: Host) -> None:
    for n in range(2):
        assert (await host.book(f"res-race-00{n}", at=local_at(2 + n * 3)))[0] == 201

    async def seat(n: int) -> tuple[int, Any]:
        body = {"table": "T6", "id": f"race-seat-00{n}"}
        return await host.call("POST", f"/api/v1/reservations/res-race-00{n}/seat", body)

    results = await asyncio.gather(seat(0), seat(1))
    assert sorted(s for s, _ in results) == [200, 409]
    checks = await host.hub.services.store.read_all(
        "SELECT id FROM checks WHERE table_id='T6' AND closed_at IS NULL"
    )
    assert len(checks) == 1
    status, day = await host.call("GET", "/api/v1/reservations?date=" + local_at(2)[:10])
    assert status == 200
    statuses = sorted(r["status"] for r in day["reservations"] if r["id"].startswith("res-race"))
    assert statuses == ["booked", "seated"]


async def test_cancel_and_no_show(host: Host) -> None:
    for rid in ("res-cancel-01", "res-noshow-01"):
        assert (await host.book(rid, at=local_at(1)))[0] == 201
    status, res = await host.call(
        "POST", "/api/v1/reservations/res-cancel-01/cancel", {"id": "cancel-act-01"}
    )
    assert (status, res["status"]) == (200, "cancelled")
    status, res = await host.call(
        "POST", "/api/v1/reservations/res-noshow-01/no-show", {"id": "noshow-act-01"}
    )
    assert (status, res["status"]) == (200, "no_show")
    status, err = await host.call(
        "POST", "/api/v1/reservations/res-cancel-01/seat", {"table": "T1", "id": "seat-cx-0001"}
    )
    assert (status, err["field"]) == (409, "id")
    status, err = await host.call(
        "POST", "/api/v1/reservations/res-nope-001/cancel", {"id": "cancel-act-02"}
    )
    assert (status, err["field"]) == (404, "id")


async def closed_checks(hub: RunningHub, minutes: list[int], party: int) -> None:
    """Checks that stayed open this long, an hour ago, for parties of `party`."""
    now = datetime.now(UTC)

    async def unit(tx: Tx) -> None:
        for m in minutes:
            opened = now - timedelta(hours=1, minutes=m)
            closed = now - timedelta(hours=1)
            cur = await tx.execute(
                "INSERT INTO checks(table_id, opened_at, closed_at) VALUES ('T1', ?, ?)",
                (opened.isoformat(), closed.isoformat()),
            )
            await tx.execute(
                "INSERT INTO seatings(check_id, party, source, at) VALUES (?, ?, 'waitlist', ?)",
                (cur.lastrowid, party, opened.isoformat()),
            )

    await hub.services.store.write(unit)


async def test_the_waitlist_quotes_from_learned_turn_times(host: Host) -> None:
    hub = host.hub
    await closed_checks(hub, [40, 45, 50], party=2)  # a two-top turns in 45 minutes
    tables = list(hub.services.catalog.tables)
    # a free table: no wait
    status, first = await host.call(
        "POST", "/api/v1/waitlist", {"id": "walk-in-000", "name": "Zoe Q", "party": 2}
    )
    assert (status, first["quoted_wait_s"], first["position"]) == (201, 0, 1)
    status, _ = await host.call(
        "POST", "/api/v1/waitlist/walk-in-000/seat", {"table": tables[0], "id": "walk-seat-000"}
    )
    assert status == 200
    # every table seated with a two-top just now
    for n, t in enumerate(tables[1:], 1):
        body = {"id": f"walk-in-{n:03d}", "name": f"Guest {n}", "party": 2}
        assert (await host.call("POST", "/api/v1/waitlist", body))[0] == 201
        seat = {"table": t, "id": f"walk-seat-{n:03d}"}
        assert (await host.call("POST", f"/api/v1/waitlist/walk-in-{n:03d}/seat", seat))[0] == 200
    status, waiting = await host.call(
        "POST",
        "/api/v1/waitlist",
        {"id": "walk-in-100", "name": "Yan Li", "party": 2, "phone": "0171 555 0101"},
    )
    assert status == 201
    assert 40 * 60 <= waiting["quoted_wait_s"] <= 45 * 60  # the learned turn, rounded to 5 min
    assert waiting["position"] == 1
    assert waiting["phone"] == "••• ••01"
    # the guest's own page: first name, place and quote, no phone, no surname
    status, page = await host.call("GET", f"/api/v1/queue/{waiting['token']}", auth=False)
    assert status == 200
    assert (page["first_name"], page["position"]) == ("Yan", 1)
    assert "Li" not in str(page)
    assert "0101" not in str(page)
    assert (await host.call("GET", "/api/v1/queue/not-a-real-token-x", auth=False))[0] == 404
    # the code the host shows the guest: a standalone SVG of the guest's page
    headers = {"Authorization": f"Bearer {host.token}"}
    url = f"{hub.url}/api/v1/waitlist/walk-in-100/qr.svg"
    async with host.http.get(url, headers=headers) as r:
        assert (r.status, r.content_type) == (200, "image/svg+xml")
        assert b"http://www.w3.org/2000/svg" in await r.read()
    async with host.http.get(f"{hub.url}/api/v1/waitlist/walk-in-999/qr.svg", headers=headers) as r:
        assert (r.status, (await r.json())["field"]) == (404, "id")
    # the host sends a message; the page shows it
    body = {"text": "Your table is ready — please come to the host stand", "id": "msg-act-0001"}
    assert (await host.call("POST", "/api/v1/waitlist/walk-in-100/message", body))[0] == 200
    status, page = await host.call("GET", f"/api/v1/queue/{waiting['token']}", auth=False)
    assert page["message"].startswith("Your table is ready")


async def test_guests_are_forgotten_after_their_visit(host: Host) -> None:
    old = (datetime.now().astimezone() - timedelta(days=45)).replace(tzinfo=None)
    status, _ = await host.book(
        "res-old-0001",
        name="Old Guest",
        phone="+1 555 0100",
        notes="birthday",
        at=old.isoformat(timespec="minutes"),
    )
    assert status == 201
    assert (await host.book("res-new-0001", name="New Guest", phone="+1 555 0199"))[0] == 201
    assert await host.hub.services.booking.forget_old() == 1
    row = await host.hub.services.store.read_one(
        "SELECT body FROM reservations WHERE id='res-old-0001'"
    )
    assert row is not None
    assert "Old Guest" not in row[0]
    assert "555" not in row[0]
    assert "birthday" not in row[0]
    keep = await host.hub.services.store.read_one(
        "SELECT body FROM reservations WHERE id='res-new-0001'"
    )
    assert keep is not None
    assert "New Guest" in keep[0]
    assert await host.hub.services.booking.forget_old() == 0


@pytest.fixture
async def course_hub(hub_config: HubConfig, menu_doc: dict[str, Any]) -> AsyncIterator[RunningHub]:
    """A hub whose menu has courses (starters go at once, mains are held until fired)."""
    config = replace(hub_config, broker=None)
    async with running_hub(config, seed_menu=with_courses(menu_doc)) as running:
        yield running


async def test_pre_orders_go_at_the_lead_time_and_the_held_course_fires_at_seating(
    course_hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    token = await staff.issue(course_hub.services.store, "floor", "Host Hana")
    host = Host(course_hub, http, token)
    booking = course_hub.services.booking
    store = course_hub.services.store
    in_ten = (datetime.now().astimezone() + timedelta(minutes=10)).replace(tzinfo=None)
    in_hours = in_ten + timedelta(hours=3)
    dishes = [{"item": "sea-salt-edamame", "qty": 1}, {"item": "kung-pao-chicken", "qty": 2}]
    at = in_ten.isoformat(timespec="minutes")
    assert (await host.book("res-pre-0001", at=at, table="T7", dishes=dishes))[0] == 201
    later = in_hours.isoformat(timespec="minutes")
    assert (await host.book("res-pre-0002", at=later, table="T8", dishes=dishes))[0] == 201

    # inside the 20-minute lead time: the first booking's dishes go to the kitchen, the
    # starter at once and the main held; the later booking waits
    assert await booking.fire_due_preorders() == 1
    assert await booking.fire_due_preorders() == 0  # once
    tickets = await store.read_all(
        "SELECT t.station, t.status FROM tickets t JOIN orders o ON o.id = t.order_id "
        "WHERE o.table_id = 'T7' ORDER BY t.id"
    )
    assert sorted(r[1] for r in tickets) == ["held", "open"]
    assert await store.read_all("SELECT id FROM orders WHERE table_id = 'T8'") == []
    status, day = await host.call("GET", "/api/v1/reservations?date=" + at[:10])
    pre = next(r for r in day["reservations"] if r["id"] == "res-pre-0001")
    assert (pre["status"], pre["check_id"] is not None) == ("booked", True)

    # the party sits down at its table: the held main fires; no second order, one check
    body = {"table": "T7", "id": "seat-pre-0001"}
    status, seated = await host.call("POST", "/api/v1/reservations/res-pre-0001/seat", body)
    assert status == 200, seated
    assert seated["check_id"] == pre["check_id"]
    statuses = await store.read_all(
        "SELECT t.status FROM tickets t JOIN orders o ON o.id = t.order_id WHERE o.table_id = 'T7'"
    )
    assert sorted(r[0] for r in statuses) == ["open", "open"]
    assert len(await store.read_all("SELECT id FROM orders WHERE table_id = 'T7'")) == 1
