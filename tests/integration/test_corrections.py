"""Voids, comps and changes through real HTTP: the order and its total, the same ticket on
the station's screen (VOID, CHANGED), the VOID and CHANGE chits on the printer that printed
the ticket, the record, retries that do nothing twice, and a void racing a bump."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from hub.app import RunningHub
from hub.config import HubConfig, PrinterConfig, ShiftConfig
from hub.domain.tokens import hash_manager_pin
from hub.ops.mosquitto import Mosquitto
from hub.services import staff
from tests.conftest import order_body, printing_hub_from, table_token
from tests.integration.test_print_queue import StandInAgent, started
from tests.waiting import until

PRINTERS = (
    PrinterConfig(id="cold-1", stations=("cold",)),
    PrinterConfig(id="grill-1", stations=("grill",)),
)  # the wok and the bar have no printer: their tickets never print
MANAGER_PIN = "2468"
EDAMAME = {"item": "sea-salt-edamame", "qty": 3}  # cold, 550
GYOZA = {"item": "pork-gyoza", "qty": 1, "modifiers": ["gyoza-sauce-vinegar"]}  # grill, 895
SPRING_ROLLS = {"item": "veggie-spring-rolls", "qty": 2}  # wok (no printer), 750
EDAMAME_EN, CHILI_OIL_EN, VINEGAR_EN = "Sea Salt Edamame", "Chili Oil", "Black Vinegar & Ginger"


@pytest.fixture
async def shift_hub(hub_config: HubConfig, menu_doc: dict[str, Any]) -> AsyncIterator[RunningHub]:
    shift = ShiftConfig(manager_pin_hash=hash_manager_pin(MANAGER_PIN, b"test-salt", 1000))
    async with printing_hub_from(replace(hub_config, shift=shift), menu_doc, PRINTERS) as hub:
        yield hub


@pytest.fixture
async def agent(broker: Mosquitto) -> AsyncIterator[StandInAgent]:
    async with started(broker, StandInAgent) as a:
        yield a


class Floor:
    """A client of the hub with a floor, a kitchen and an admin login."""

    def __init__(self, hub: RunningHub, http: aiohttp.ClientSession, tokens: dict[str, str]):
        self.hub, self.http, self.tokens = hub, http, tokens

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def call(
        self, method: str, path: str, role: str = "floor", body: Any = None
    ) -> tuple[int, Any]:
        async with self.http.request(
            method, self.hub.url + path, json=body, headers=self.auth(role)
        ) as r:
            return r.status, await r.json()

    async def order(self, key: str, lines: list[dict[str, Any]], table: str = "T1") -> Any:
        body = order_body(table_token(self.hub, table), key, lines)
        async with self.http.post(self.hub.url + "/api/v1/orders", json=body) as r:
            assert r.status == 201, await r.text()
            return await r.json()

    async def tickets(self, order_id: int) -> list[dict[str, Any]]:
        _, view = await self.call("GET", "/api/v1/stations/expo/tickets", "kitchen")
        found = [t for t in view["tickets"] + view["recent"] if t["order_id"] == order_id]
        return sorted(found, key=lambda t: t["id"])

    async def jobs(self) -> list[dict[str, Any]]:
        _, body = await self.call("GET", "/api/v1/printers", "admin")
        return list(body["jobs"])

    async def chit_printed(self, ticket_id: int) -> None:
        async def printed() -> bool:
            return any(
                j["ticket_id"] == ticket_id and j["kind"] == "kitchen" and j["state"] == "printed"
                for j in await self.jobs()
            )

        await until(printed, f"ticket {ticket_id}'s chit printed")


@pytest.fixture
async def floor(shift_hub: RunningHub, http: aiohttp.ClientSession) -> Floor:
    store = shift_hub.services.store
    tokens = {
        "floor": await staff.issue(store, "floor", "Ann"),
        "kitchen": await staff.issue(store, "kitchen", "Grill"),
        "admin": await staff.issue(store, "admin", "Boss"),
    }
    return Floor(shift_hub, http, tokens)


async def recv(ws: aiohttp.ClientWebSocketResponse, kind: str, test: Any = None) -> Any:
    async with asyncio.timeout(5):
        while True:
            msg = await ws.receive_json()
            if msg["type"] == kind and (test is None or test(msg)):
                return msg


async def test_a_void_before_the_bump_strikes_the_line_everywhere(
    floor: Floor, agent: StandInAgent, http: aiohttp.ClientSession
) -> None:
    hub = floor.hub
    order = await floor.order("void-0001", [EDAMAME, GYOZA])
    oid = order["order_id"]
    cold = (await floor.tickets(oid))[0]
    await floor.chit_printed(cold["id"])
    ws_url = hub.url.replace("http", "ws")
    async with (
        http.ws_connect(ws_url + "/ws/kds/cold", headers=floor.auth("kitchen")) as kds,
        http.ws_connect(ws_url + "/ws/table", params={"table": table_token(hub)}) as diner,
    ):
        await recv(kds, "snapshot")
        await recv(diner, "snapshot")
        body = {"qty": 2, "reason": "Guest changed mind", "id": "void-act-0001"}
        status, voided = await floor.call("POST", f"/api/v1/orders/{oid}/lines/0/void", body=body)
        assert status == 200, voided
        line = voided["lines"][0]
        assert (line["qty"], line["void_qty"], line["line_cents"]) == (3, 2, 550)
        assert line["voids"] == [
            {
                "qty": 2,
                "reason": "Guest changed mind",
                "comp": False,
                "by": "Ann",
                "at": line["voids"][0]["at"],
            }
        ]
        assert voided["total_cents"] == 550 + 895
        # the same ticket, live, struck through on the station's screen
        msg = await recv(kds, "ticket", lambda m: m["ticket"]["id"] == cold["id"])
        item = msg["ticket"]["items"][0]
        assert (item["qty"], item["void_qty"], item["void_reason"]) == (
            3,
            2,
            "Guest changed mind",
        )
        assert msg["ticket"]["status"] == "open"
        # the diner's page sees the new total
        seen = await recv(diner, "order", lambda m: m["order"]["total_cents"] == 550 + 895)
        assert seen["order"]["lines"][0]["void_qty"] == 2
    # a VOID chit on the printer that printed the ticket: table, number, item, qty, reason
    await until(lambda: any(d.get("correction") == "VOID" for d in agent.docs("cold-1")), "VOID")
    void_doc = next(d for d in agent.docs("cold-1") if d.get("correction") == "VOID")
    assert void_doc["table"] == "Table 1"
    assert void_doc["number"] == oid
    [item] = void_doc["items"]
    assert (item["qty"], item["name"], item["reason"]) == (2, EDAMAME_EN, "Guest changed mind")
    assert not any(d.get("correction") for d in agent.docs("grill-1"))
    # the same action again: the same answer, nothing voided or printed twice
    status, again = await floor.call("POST", f"/api/v1/orders/{oid}/lines/0/void", body=body)
    assert (status, again) == (200, voided)
    voids = [j for j in await floor.jobs() if j["id"].startswith("void-")]
    assert len(voids) == 1
    # the rest of the line, then the line is voided
    rest = {"reason": "Wrong item", "id": "void-act-0002"}
    status, whole = await floor.call("POST", f"/api/v1/orders/{oid}/lines/0/void", body=rest)
    assert status == 200
    assert (whole["lines"][0]["void_qty"], whole["lines"][0]["line_cents"]) == (3, 0)
    assert whole["total_cents"] == 895
    more = {"reason": "Wrong item", "id": "void-act-0003"}
    status, err = await floor.call("POST", f"/api/v1/orders/{oid}/lines/0/void", body=more)
    assert (status, err["field"]) == (409, "line")
    # a fully voided ticket stays on the screen, every line struck, until the cook bumps it
    cold = (await floor.tickets(oid))[0]
    assert cold["status"] == "open"
    assert cold["items"][0]["void_qty"] == 3


async def test_no_void_chit_for_a_ticket_whose_chit_never_printed(
    floor: Floor, agent: StandInAgent
) -> None:
    order = await floor.order("void-0002", [SPRING_ROLLS])  # the wok has no printer
    body = {"reason": "Too long", "id": "void-nochit-1"}
    status, voided = await floor.call(
        "POST", f"/api/v1/orders/{order['order_id']}/lines/0/void", body=body
    )
    assert status == 200
    assert voided["total_cents"] == 0
    assert not [j for j in await floor.jobs() if j["kind"] == "correction"]


async def test_voiding_what_the_kitchen_made_is_a_comp(floor: Floor, agent: StandInAgent) -> None:
    order = await floor.order("comp-0001", [GYOZA, {"item": "chicken-satay", "qty": 2}])
    oid = order["order_id"]
    grill = (await floor.tickets(oid))[0]
    await floor.chit_printed(grill["id"])
    status, _ = await floor.call(
        "POST", f"/api/v1/tickets/{grill['id']}/bump", "kitchen", {"item": 1}
    )
    assert status == 200
    path = f"/api/v1/orders/{oid}/lines/1/void"
    body: dict[str, Any] = {"qty": 1, "reason": "Quality", "id": "comp-act-0001"}
    status, err = await floor.call("POST", path, body=body)
    assert (status, err["field"]) == (403, "pin")
    status, err = await floor.call("POST", path, body=body | {"pin": "0000"})
    assert (status, err["field"]) == (403, "pin")
    # the unbumped line of the same ticket is still a plain void
    status, _ = await floor.call(
        "POST",
        f"/api/v1/orders/{oid}/lines/0/void",
        body={"reason": "Wrong item", "id": "comp-act-0002"},
    )
    assert status == 200
    status, comped = await floor.call("POST", path, body=body | {"pin": MANAGER_PIN})
    assert status == 200, comped
    assert comped["lines"][1]["voids"][0]["comp"] is True
    assert comped["total_cents"] == 1050
    # an admin login comps without a PIN
    status, comped = await floor.call(
        "POST", path, "admin", {"reason": "Quality", "id": "comp-act-0003"}
    )
    assert status == 200
    assert comped["total_cents"] == 0
    # the record: every correction with who, when, why, before and after
    status, report = await floor.call("GET", "/api/v1/admin/corrections", "admin")
    assert status == 200
    assert report["voids"] == {"count": 1, "qty": 1, "cents": 895}
    assert report["comps"] == {"count": 2, "qty": 2, "cents": 2100}
    assert {(b["kind"], b["by"], b["count"]) for b in report["by_staff"]} == {
        ("void", "Ann", 1),
        ("comp", "Ann", 1),
        ("comp", "Boss", 1),
    }
    assert {(b["kind"], b["reason"], b["cents"]) for b in report["by_reason"]} == {
        ("void", "Wrong item", 895),
        ("comp", "Quality", 2100),
    }
    first = next(c for c in report["corrections"] if c["id"] == "comp-act-0001")
    assert first["before"] == {"qty": 2, "void_qty": 0, "cents": 2100}
    assert first["after"] == {"qty": 2, "void_qty": 1, "cents": 1050}
    status, err = await floor.call("GET", "/api/v1/admin/corrections", "floor")
    assert (status, err["field"]) == (403, "token")
    status, err = await floor.call("GET", "/api/v1/admin/corrections?day=yesterday", "admin")
    assert (status, err["field"]) == (422, "day")


async def test_a_change_before_the_bump_marks_the_ticket_and_prints_only_what_changed(
    floor: Floor, agent: StandInAgent
) -> None:
    order = await floor.order("change-0001", [GYOZA])
    oid = order["order_id"]
    grill = (await floor.tickets(oid))[0]
    await floor.chit_printed(grill["id"])
    path = f"/api/v1/orders/{oid}/lines/0/change"
    body = {
        "qty": 2,
        "modifiers": ["gyoza-sauce-chili-oil"],
        "note": "well done",
        "id": "change-act-01",
    }
    status, changed = await floor.call("POST", path, body=body)
    assert status == 200, changed
    line = changed["lines"][0]
    assert line["qty"] == 2
    assert line["line_cents"] == 2 * 895
    assert [m["id"] for m in line["modifiers"]] == ["gyoza-sauce-chili-oil"]
    assert line["changes"][0]["fields"] == ["qty", "modifiers", "note"]
    assert line["changes"][0]["before"] == {
        "qty": 1,
        "modifiers": ["gyoza-sauce-vinegar"],
        "note": None,
    }
    ticket = (await floor.tickets(oid))[0]
    assert ticket["id"] == grill["id"]
    assert ticket["items"][0]["changed"] == ["modifiers", "note", "qty"]
    assert ticket["items"][0]["qty"] == 2
    await until(lambda: any(d.get("correction") for d in agent.docs("grill-1")), "CHANGE chit")
    doc = next(d for d in agent.docs("grill-1") if d.get("correction") == "CHANGE")
    assert doc["items"][0]["changes"] == [
        "QTY 1 -> 2",
        f"+ {CHILI_OIL_EN}",
        f"- {VINEGAR_EN}",
        "NOTE: well done",
    ]
    status, again = await floor.call("POST", path, body=body)
    assert (status, again) == (200, changed)
    # after the bump a change is a void and a new line
    await floor.call("POST", f"/api/v1/tickets/{grill['id']}/bump", "kitchen", {})
    status, err = await floor.call("POST", path, body={"qty": 3, "id": "change-act-02"})
    assert (status, err["field"]) == (409, "line")
    assert "void" in err["message"]


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/lines/0/void", {"id": "bad-input-01"}, 422, "reason"),
        ("/lines/0/void", {"reason": "", "id": "bad-input-01"}, 422, "reason"),
        ("/lines/0/void", {"reason": "x" * 141, "id": "bad-input-01"}, 422, "reason"),
        ("/lines/0/void", {"reason": "x"}, 422, "id"),
        ("/lines/0/void", {"reason": "x", "id": "short"}, 422, "id"),
        ("/lines/0/void", {"reason": "x", "id": "has space here"}, 422, "id"),
        ("/lines/0/void", {"reason": "x", "id": "bad-input-01", "qty": 0}, 422, "qty"),
        ("/lines/0/void", {"reason": "x", "id": "bad-input-01", "qty": 4}, 409, "qty"),
        ("/lines/5/void", {"reason": "x", "id": "bad-input-01"}, 404, "line"),
        ("/lines/0/change", {"id": "bad-input-01"}, 422, "qty"),
        ("/lines/0/change", {"qty": 100, "id": "bad-input-01"}, 422, "qty"),
        ("/lines/0/change", {"qty": 3, "id": "bad-input-01"}, 422, "qty"),
        ("/lines/0/change", {"modifiers": ["nope"], "id": "bad-input-01"}, 422, "modifiers[0]"),
        ("/lines/0/change", {"note": "n" * 141, "id": "bad-input-01"}, 422, "note"),
    ],
)
async def test_bad_corrections_are_refused_naming_the_field(
    floor: Floor, path: str, body: dict[str, Any], status: int, field: str
) -> None:
    order = await floor.order("bad-0001", [EDAMAME])
    got, err = await floor.call("POST", f"/api/v1/orders/{order['order_id']}{path}", body=body)
    assert (got, err["field"]) == (status, field), err
    _, after = await floor.call("GET", f"/api/v1/orders/{order['order_id']}", "admin")
    assert after["lines"] == order["lines"]  # nothing changed


async def test_corrections_need_a_floor_login(floor: Floor) -> None:
    order = await floor.order("auth-0001", [EDAMAME])
    path = f"/api/v1/orders/{order['order_id']}/lines/0/void"
    body = {"reason": "x", "id": "auth-act-01"}
    async with floor.http.post(floor.hub.url + path, json=body) as r:
        assert (r.status, (await r.json())["field"]) == (401, "token")
    status, err = await floor.call("POST", path, "kitchen", body)
    assert (status, err["field"]) == (403, "token")
    status, err = await floor.call("POST", "/api/v1/orders/999/lines/0/void", body=body)
    assert (status, err["field"]) == (404, "order_id")
    status, err = await floor.call("POST", path, body=body | {"id": "auth-act-01"})
    assert status == 200
    # an action id is one action: used again for another, it is refused
    other = f"/api/v1/orders/{order['order_id']}/lines/0/change"
    status, err = await floor.call("POST", other, body={"qty": 2, "id": "auth-act-01"})
    assert (status, err["field"]) == (409, "id")


RACES = 6


@pytest.mark.parametrize("role", ["floor", "admin"])
async def test_a_void_racing_a_bump_ends_in_one_state_everywhere(
    floor: Floor, agent: StandInAgent, role: str
) -> None:
    """Both at once: the store decides. Either the void came first (a void, the bump then
    clears a struck ticket) or the bump did (a comp: refused to a floor login, recorded as a
    comp for an admin). Ticket, order, record and chit queue agree."""
    for n in range(RACES):
        order = await floor.order(f"race-{role}-{n:04d}", [{"item": "sea-salt-edamame", "qty": 2}])
        oid = order["order_id"]
        ticket = (await floor.tickets(oid))[0]
        await floor.chit_printed(ticket["id"])
        action = f"race-{role}-act-{n:03d}"
        (v_status, voided), (b_status, bumped) = await asyncio.gather(
            floor.call(
                "POST",
                f"/api/v1/orders/{oid}/lines/0/void",
                role,
                {"reason": "Guest left", "id": action},
            ),
            floor.call("POST", f"/api/v1/tickets/{ticket['id']}/bump", "kitchen", {}),
        )
        assert b_status == 200, bumped
        void_first = bumped["items"][0]["void_qty"] == 2
        _, now = await floor.call("GET", f"/api/v1/orders/{oid}", "admin")
        after = (await floor.tickets(oid))[0]
        assert after["status"] == "bumped"
        chits = [j for j in await floor.jobs() if j["id"] == f"void-{action}-cold-1"]
        if v_status == 403:
            assert role == "floor"
            assert not void_first
            assert voided["field"] == "pin"
            assert now["lines"][0]["void_qty"] == 0
            assert now["total_cents"] == 1100
            assert after["items"][0]["void_qty"] == 0
            assert chits == []
        else:
            assert v_status == 200, voided
            assert now["lines"][0]["void_qty"] == 2
            assert now["total_cents"] == 0
            assert after["items"][0]["void_qty"] == 2
            assert now["lines"][0]["voids"][0]["comp"] is (not void_first)
            assert len(chits) == 1
        # the diner's page reads the same order
        async with floor.http.get(
            f"{floor.hub.url}/api/v1/orders/{oid}", params={"table": table_token(floor.hub)}
        ) as r:
            assert json.loads(await r.text()) == now


class Gate(StandInAgent):
    """Mute until opened; then acks every job. Records the order jobs arrive in."""

    def __init__(self, client: Any) -> None:
        super().__init__(client)
        self.open = False

    def answer_to(self, printer: str, job: dict[str, Any]) -> dict[str, Any] | None:
        if job.get("cancel") or not self.open:
            return None
        return {"ok": True}


async def test_a_void_of_a_chit_still_to_print_prints_behind_it(
    floor: Floor, broker: Mosquitto
) -> None:
    async with started(broker, Gate) as gate:
        order = await floor.order("queued-0001", [EDAMAME])
        oid = order["order_id"]
        ticket = (await floor.tickets(oid))[0]
        await until(lambda: gate.docs("cold-1"), "the chit sent, not acked")
        body = {"reason": "Wrong item", "id": "queued-act-01"}
        status, _ = await floor.call("POST", f"/api/v1/orders/{oid}/lines/0/void", body=body)
        assert status == 200
        states = {j["id"]: j["state"] for j in await floor.jobs()}
        assert states["void-queued-act-01-cold-1"] in ("queued", "sent")
        gate.open = True
        await floor.chit_printed(ticket["id"])

        async def void_printed() -> bool:
            jobs = {j["id"]: j["state"] for j in await floor.jobs()}
            return jobs["void-queued-act-01-cold-1"] == "printed"

        await until(void_printed, "the VOID chit printed")
        # held back until the chit was on paper, then sent once
        kinds = [d.get("correction") for d in gate.docs("cold-1")]
        assert kinds.count("VOID") == 1
        assert kinds.index("VOID") > kinds.index(None)


class BadChits(StandInAgent):
    """Refuses every kitchen chit for good (a document it cannot print); stays mute on
    corrections, so only the hub can settle them."""

    def answer_to(self, printer: str, job: dict[str, Any]) -> dict[str, Any] | None:
        if job.get("cancel") or job["doc"].get("correction"):
            return None
        if getattr(self, "refuse", False):
            return {"ok": False, "error": "bad_document"}
        return None


async def test_a_void_chit_is_dropped_when_its_chit_will_never_print(
    floor: Floor, broker: Mosquitto
) -> None:
    async with started(broker, BadChits) as agent:
        order = await floor.order("dropped-0001", [EDAMAME])
        oid = order["order_id"]
        await until(lambda: agent.docs("cold-1"), "the chit sent, not acked")
        body = {"reason": "Wrong item", "id": "dropped-act-1"}
        status, _ = await floor.call("POST", f"/api/v1/orders/{oid}/lines/0/void", body=body)
        assert status == 200
        agent.refuse = True  # type: ignore[attr-defined]  # the chit's next send fails for good

        async def settled() -> bool:
            jobs = {j["id"]: (j["state"], j["reason"]) for j in await floor.jobs()}
            return jobs.get("void-dropped-act-1-cold-1") == ("cancelled", "chit_not_printed")

        await until(settled, "the VOID chit dropped with its chit")
        # held back while its chit was unprinted, it never reached the printer
        assert [d for d in agent.docs("cold-1") if d.get("correction")] == []


async def test_a_whole_order_is_voided_in_one_write_with_one_chit_per_ticket(
    floor: Floor, agent: StandInAgent
) -> None:
    order = await floor.order(
        "whole-0001", [EDAMAME, {"item": "smashed-cucumber-salad", "qty": 1}, GYOZA]
    )
    oid = order["order_id"]
    tickets = await floor.tickets(oid)
    for t in tickets:
        await floor.chit_printed(t["id"])
    grill = next(t for t in tickets if t["station"] == "grill")
    await floor.call("POST", f"/api/v1/tickets/{grill['id']}/bump", "kitchen", {})
    path = f"/api/v1/orders/{oid}/void"
    body = {"reason": "Guest left", "id": "whole-act-01"}
    status, err = await floor.call("POST", path, body=body)
    assert (status, err["field"]) == (403, "pin")  # the gyoza is made: a comp
    _, same = await floor.call("GET", f"/api/v1/orders/{oid}", "admin")
    assert same["total_cents"] == order["total_cents"]  # nothing voided
    status, voided = await floor.call("POST", path, body=body | {"pin": MANAGER_PIN})
    assert status == 200, voided
    assert voided["total_cents"] == 0
    assert [ln["void_qty"] for ln in voided["lines"]] == [3, 1, 1]
    assert [ln["voids"][0]["comp"] for ln in voided["lines"]] == [False, False, True]

    def void_docs(printer: str) -> list[dict[str, Any]]:
        return [d for d in agent.docs(printer) if d.get("correction") == "VOID"]

    await until(lambda: void_docs("cold-1") and void_docs("grill-1"), "the VOID chits")
    (cold_doc,) = void_docs("cold-1")  # both cold lines on one chit
    assert [(i["qty"], i["name"]) for i in cold_doc["items"]] == [
        (3, EDAMAME_EN),
        (1, "Smashed Cucumber Salad"),
    ]
    status, again = await floor.call("POST", path, body=body | {"pin": MANAGER_PIN})
    assert (status, again) == (200, voided)
    status, err = await floor.call("POST", path, body={"reason": "x", "id": "whole-act-02"})
    assert (status, err["field"]) == (409, "order_id")
    _, report = await floor.call("GET", "/api/v1/admin/corrections", "admin")
    assert sorted(c["id"] for c in report["corrections"]) == [
        "whole-act-01.0",
        "whole-act-01.1",
        "whole-act-01.2",
    ]


async def test_manager_pin_guessing_is_locked_out(floor: Floor, agent: StandInAgent) -> None:
    """Five wrong manager PINs, then the login is refused every PIN (the right one too) for
    a while; nothing is comped."""
    order = await floor.order("guess-0001", [EDAMAME])
    oid = order["order_id"]
    ticket = (await floor.tickets(oid))[0]
    await floor.call("POST", f"/api/v1/tickets/{ticket['id']}/bump", "kitchen", {})
    path = f"/api/v1/orders/{oid}/lines/0/void"
    for n in range(5):
        body = {"reason": "Quality", "id": f"guess-act-{n:02d}", "pin": f"{1000 + n}"}
        status, err = await floor.call("POST", path, body=body)
        assert (status, err["field"]) == (403, "pin")
    body = {"reason": "Quality", "id": "guess-act-99", "pin": MANAGER_PIN}
    status, err = await floor.call("POST", path, body=body)
    assert (status, err["field"]) == (429, "pin")
    _, same = await floor.call("GET", f"/api/v1/orders/{oid}", "admin")
    assert same["lines"][0]["void_qty"] == 0
