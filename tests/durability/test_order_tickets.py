"""An order is saved with every ticket it needs: one per station its lines go to, each with
its own lines, on that station's screen, in the order's own write."""

from __future__ import annotations

import aiohttp

from hub.app import RunningHub
from tests.conftest import table_token

LINES = [
    {"item": "chicken-satay", "qty": 2},  # grill
    {"item": "beef-chow-fun", "qty": 1},  # wok
    {"item": "sea-salt-edamame", "qty": 1},  # cold
    {"item": "hot-jasmine-tea", "qty": 3},  # bar
    {"item": "miso-glazed-salmon", "qty": 1},  # grill again: the same ticket
]
WANT = {
    "grill": [("chicken-satay", 2), ("miso-glazed-salmon", 1)],
    "wok": [("beef-chow-fun", 1)],
    "cold": [("sea-salt-edamame", 1)],
    "bar": [("hot-jasmine-tea", 3)],
}


async def test_an_order_gets_one_ticket_per_station_with_its_lines(
    hub: RunningHub, http: aiohttp.ClientSession, kitchen_token: str
) -> None:
    body = {"table": table_token(hub), "idempotency_key": "four-stations-1", "lines": LINES}
    async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
        assert r.status == 201, await r.text()
        order = await r.json()
    rows = await hub.services.store.read_all(
        "SELECT station FROM tickets WHERE order_id=? ORDER BY station", (order["order_id"],)
    )
    assert sorted(r[0] for r in rows) == sorted(WANT), "the order's tickets in the store"
    headers = {"Authorization": f"Bearer {kitchen_token}"}
    for station, items in WANT.items():
        async with http.get(f"{hub.url}/api/v1/stations/{station}/tickets", headers=headers) as r:
            assert r.status == 200
            view = await r.json()
        mine = [t for t in view["tickets"] if t["order_id"] == order["order_id"]]
        assert len(mine) == 1, f"{station}: {len(mine)} tickets of the order on its screen"
        assert [(it["item"], it["qty"]) for it in mine[0]["items"]] == items, station
