"""The admin page's API over real HTTP: the kitchen's numbers, backups, the QR sheet and the
pairing link of a new staff token."""

from __future__ import annotations

import asyncio
import base64
import itertools
import sqlite3
from typing import Any

import aiohttp

from hub.app import RunningHub
from hub.domain.orders import LineRequest
from hub.services import staff
from hub.store.db import Tx
from tests.conftest import table_token

HOUR_MS = 3_600_000


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def place(hub: RunningHub, table: str, key: str, item: str = "sea-salt-edamame") -> int:
    order, _ = await hub.services.ordering.place(
        table_token(hub, table), key, [LineRequest(item, 1)]
    )
    return order.order_id


async def tickets_of(hub: RunningHub, order_id: int) -> list[int]:
    rows = await hub.services.store.read_all(
        "SELECT id FROM tickets WHERE order_id=? ORDER BY id", (order_id,)
    )
    return [int(r[0]) for r in rows]


async def age_ticket(hub: RunningHub, ticket_id: int, ms: int) -> None:
    """Make a ticket look `ms` older than it is (as if it had waited that long)."""

    async def unit(tx: Tx) -> None:
        await tx.execute(
            "UPDATE tickets SET created_ms = created_ms - ? WHERE id=?", (ms, ticket_id)
        )

    await hub.services.store.write(unit)


def station(body: dict[str, Any], station_id: str) -> dict[str, Any]:
    return next(s for s in body["stations"] if s["id"] == station_id)


async def test_stats_count_orders_ticket_times_and_late_tickets(
    hub: RunningHub, http: aiohttp.ClientSession, admin_token: str
) -> None:
    first = await place(hub, "T1", "stats-order-0001")
    second = await place(hub, "T2", "stats-order-0002")
    await place(hub, "T3", "stats-order-0003")
    await place(hub, "T4", "stats-order-0004", item="tsingtao-lager")
    # one cold ticket took an hour (late: the cold kitchen's limit is minutes), one was quick
    slow, quick = (await tickets_of(hub, first))[0], (await tickets_of(hub, second))[0]
    await age_ticket(hub, slow, HOUR_MS)
    await hub.services.kitchen.bump(slow, None, None)
    await hub.services.kitchen.bump(quick, None, None)

    async with http.get(
        f"{hub.url}/api/v1/stats", params={"hours": "6"}, headers=bearer(admin_token)
    ) as r:
        assert r.status == 200, await r.text()
        body = await r.json()
    assert body["hours"] == 6
    assert len(body["orders_per_hour"]) == 6
    assert body["orders_per_hour"][-1]["orders"] == 4  # all placed in the current hour
    assert body["orders_total"] == 4
    starts = [h["start_ms"] for h in body["orders_per_hour"]]
    assert all(b - a == HOUR_MS for a, b in itertools.pairwise(starts))
    assert starts[0] % HOUR_MS == 0
    cold = station(body, "cold")
    assert cold["late_seconds"] == 540
    assert cold["bumped"] == 2
    assert cold["late"] == 1
    assert cold["open"] == 1  # the third edamame
    assert cold["open_late"] == 0
    assert 3590 <= cold["p90_s"] <= 3700  # the slow one
    assert cold["p50_s"] <= 60  # the quick one
    bar = station(body, "bar")
    assert (bar["bumped"], bar["open"], bar["p50_s"], bar["late"]) == (0, 1, None, 0)


async def test_an_old_open_ticket_counts_as_late_and_the_window_is_checked(
    hub: RunningHub, http: aiohttp.ClientSession, admin_token: str, kitchen_token: str
) -> None:
    order = await place(hub, "T5", "stats-open-0001")
    await age_ticket(hub, (await tickets_of(hub, order))[0], 2 * HOUR_MS)
    async with http.get(f"{hub.url}/api/v1/stats", headers=bearer(admin_token)) as r:
        body = await r.json()
    assert body["hours"] == 12
    assert station(body, "cold")["open_late"] == 1
    for bad in ("0", "169", "x", "-1", "1.5", ""):
        async with http.get(
            f"{hub.url}/api/v1/stats", params={"hours": bad}, headers=bearer(admin_token)
        ) as r:
            assert r.status == 422, bad
            assert (await r.json())["field"] == "hours"
    async with http.get(f"{hub.url}/api/v1/stats") as r:
        assert r.status == 401
    async with http.get(f"{hub.url}/api/v1/stats", headers=bearer(kitchen_token)) as r:
        assert r.status == 403


async def test_back_up_now_lists_the_backup_and_it_holds_the_orders(
    hub: RunningHub, http: aiohttp.ClientSession, admin_token: str, kitchen_token: str
) -> None:
    await place(hub, "T1", "backup-order-0001")
    url = f"{hub.url}/api/v1/backups"
    async with http.get(url, headers=bearer(admin_token)) as r:
        empty = await r.json()
    assert (empty["backups"], empty["last_age_s"], empty["keep"]) == ([], None, 7)
    # none yet: the hub's schedule makes one as soon as it may (5 minutes after it starts)
    assert empty["next_ms"] >= hub.services.clock.now_ms() - 5_000
    # how long closed business stays: for ever here, with no cloud bridge on the box
    assert (empty["history"]["keep_days"], empty["history"]["cloud"]) == (35, False)
    async with http.post(url, headers=bearer(kitchen_token)) as r:
        assert r.status == 403
    # the event loop keeps serving while the copy runs in its thread
    post = asyncio.ensure_future(http.post(url, headers=bearer(admin_token)))
    async with http.get(f"{hub.url}/healthz") as r:
        assert r.status == 200
    async with await post as r:
        assert r.status == 201, await r.text()
        made = await r.json()
    assert made["name"].startswith("tablehub-")
    assert made["size_bytes"] > 0
    async with http.get(url, headers=bearer(admin_token)) as r:
        listed = await r.json()
    assert [b["name"] for b in listed["backups"]] == [made["name"]]
    # the one made by hand counts: the next is the store's 04:00, within a day, not in minutes
    wait_h = (listed["next_ms"] - hub.services.clock.now_ms()) / 3_600_000
    assert 0 < wait_h <= 24, wait_h
    assert listed["backups"][0]["size_bytes"] == made["size_bytes"]
    assert 0 <= listed["last_age_s"] < 60
    with sqlite3.connect(f"file:{made['path']}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 1


async def test_qr_sheet_downloads_and_table_codes_are_standalone_svg(
    hub: RunningHub, http: aiohttp.ClientSession, admin_token: str
) -> None:
    async with http.get(f"{hub.url}/api/v1/tables/qr-sheet.pdf", headers=bearer(admin_token)) as r:
        assert r.status == 200
        assert r.content_type == "application/pdf"
        assert "attachment" in r.headers["Content-Disposition"]
        pdf = await r.read()
    assert pdf.startswith(b"%PDF")
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 1
    async with http.get(f"{hub.url}/api/v1/tables/qr-sheet.png", headers=bearer(admin_token)) as r:
        assert r.status == 200
        assert (await r.read()).startswith(b"\x89PNG")
    async with http.get(f"{hub.url}/api/v1/tables/qr-sheet.pdf") as r:
        assert r.status == 401
    # an <img> shows an SVG file only with its namespace
    async with http.get(f"{hub.url}/api/v1/tables/T1/qr.svg", headers=bearer(admin_token)) as r:
        svg = await r.text()
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    assert "<title>Table 1</title>" in svg


async def test_issue_pair_and_revoke_a_staff_token(
    hub: RunningHub, http: aiohttp.ClientSession, admin_token: str
) -> None:
    auth = bearer(admin_token)
    async with http.post(
        f"{hub.url}/api/v1/admin/tokens",
        json={"role": "kitchen", "label": "Grill tablet"},
        headers=auth,
    ) as r:
        assert r.status == 201
        token = (await r.json())["token"]
    async with http.get(f"{hub.url}/api/v1/admin/tokens", headers=auth) as r:
        tokens = {t["label"]: t for t in (await r.json())["tokens"]}
    assert tokens["test admin"]["current"] is True
    assert tokens["Grill tablet"]["current"] is False
    assert tokens["Grill tablet"]["role"] == "kitchen"

    async with http.post(
        f"{hub.url}/api/v1/admin/pairing", json={"token": token, "next": "/kds/grill"}, headers=auth
    ) as r:
        assert r.status == 200, await r.text()
        pairing = await r.json()
    assert pairing["url"].startswith(f"{hub.url}/pair?token=")
    assert pairing["url"].endswith("&next=/kds/grill")
    assert pairing["qr"].startswith("data:image/svg+xml;base64,")
    assert b"http://www.w3.org/2000/svg" in base64.b64decode(pairing["qr"].split(",", 1)[1])
    # the link signs a fresh screen in and opens the grill's KDS
    jar = aiohttp.CookieJar(unsafe=True)  # the hub is at an IP address
    async with aiohttp.ClientSession(cookie_jar=jar) as tablet, tablet.get(pairing["url"]) as r:
        assert r.status == 200
        assert r.url.path == "/kds/grill"

    async with http.post(
        f"{hub.url}/api/v1/admin/pairing",
        json={"token": token, "next": "//evil.example"},
        headers=auth,
    ) as r:
        assert (r.status, (await r.json())["field"]) == (422, "next")
    token_id = tokens["Grill tablet"]["id"]
    async with http.post(f"{hub.url}/api/v1/admin/tokens/{token_id}/revoke", headers=auth) as r:
        assert r.status == 200
    async with http.post(
        f"{hub.url}/api/v1/admin/pairing", json={"token": token}, headers=auth
    ) as r:
        assert (r.status, (await r.json())["field"]) == (404, "token")
    assert await staff.listing(hub.services.store)  # still listed, now revoked
