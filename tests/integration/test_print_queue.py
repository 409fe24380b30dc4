"""The hub's durable print queue against a stand-in agent (a real MQTT client): jobs sent in
order and again until acked, failure causes kept, failover to a backup with a banner, the
station's printer taking over while its screen is silent, bills and test prints."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import aiohttp
import aiomqtt
import pytest

from hub.app import RunningHub
from hub.config import BillConfig, HubConfig, PrinterConfig
from hub.domain.ports import Clock
from hub.ops.mosquitto import Mosquitto
from hub.services import printing, staff
from hub.store import repos
from tests.conftest import order_body, printing_hub_from, table_token
from tests.integration.test_clock_steps import SteppingClock
from tests.waiting import until

PREFIX = "tablehub/v1/demo"
PRINTERS = (
    PrinterConfig(id="cold-1", stations=("cold",), backup="bar-1", backup_after_s=1),
    PrinterConfig(id="bar-1", stations=("bar",), bills=True),
    PrinterConfig(id="grill-fb", stations=("grill",), chits="fallback"),
)


class StandInAgent:
    """Plays the printer agents: records jobs per printer and acks as told."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.jobs: dict[str, list[dict[str, Any]]] = {}
        self.answer: dict[str, dict[str, Any] | None] = {}  # printer -> ack fields, None: mute
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.client.subscribe(f"{PREFIX}/printers/+/jobs", qos=1)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        async for message in self.client.messages:
            printer = str(message.topic).split("/")[4]
            assert isinstance(message.payload, bytes)
            job = json.loads(message.payload)
            self.jobs.setdefault(printer, []).append(job)
            answer = self.answer_to(printer, job)
            if answer is None:
                continue
            ack = {"job_id": job["job_id"], **answer}
            await self.client.publish(f"{PREFIX}/printers/{printer}/acks", json.dumps(ack), qos=1)

    def answer_to(self, printer: str, job: dict[str, Any]) -> dict[str, Any] | None:
        """The ack fields for `job`; None: no answer (a mute printer, or a cancel)."""
        if job.get("cancel"):
            return None
        return self.answer.get(printer, {"ok": True})

    def docs(self, printer: str) -> list[dict[str, Any]]:
        return [j["doc"] for j in self.jobs.get(printer, []) if "doc" in j]


def hub_with_printers(
    hub_config: HubConfig, menu_doc: dict[str, Any], clock: Clock | None = None
) -> contextlib.AbstractAsyncContextManager[RunningHub]:
    return printing_hub_from(
        hub_config,
        menu_doc,
        PRINTERS,
        clock,
        kds_silent_after_s=1,
        bill=BillConfig(header=("12 Harbour St",), taxes=(("Sales tax 8.875%", 88_750),)),
    )


@pytest.fixture
async def printing_hub(
    hub_config: HubConfig, menu_doc: dict[str, Any]
) -> AsyncIterator[RunningHub]:
    async with hub_with_printers(hub_config, menu_doc) as hub:
        yield hub


A = TypeVar("A", bound=StandInAgent)
LEAVE_S = 10.0


@contextlib.asynccontextmanager
async def started(broker: Mosquitto, cls: type[A]) -> AsyncIterator[A]:
    """Agents of class `cls` on the test broker, subscribed to every printer's jobs.

    Leaving waits at most `LEAVE_S` for the client's disconnect: aiomqtt waits for it without
    a limit. A corrections test's teardown once hung for its whole timeout (120 s) with every
    thread of the hub idle and the loop ticking, as it does in such a wait. A stand-in's
    goodbye is no part of what a test checks."""
    client = aiomqtt.Client("127.0.0.1", broker.port, identifier=cls.__name__)
    await client.__aenter__()
    a = cls(client)
    try:
        await a.start()
        yield a
    finally:
        await a.stop()
        with contextlib.suppress(TimeoutError, aiomqtt.MqttError):
            async with asyncio.timeout(LEAVE_S):
                await client.__aexit__(None, None, None)


@pytest.fixture
async def agent(broker: Mosquitto) -> AsyncIterator[StandInAgent]:
    async with started(broker, StandInAgent) as a:
        yield a


async def jobs_in(hub: RunningHub, state: str) -> list[str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{hub.url}/api/v1/printers", headers={"Authorization": f"Bearer {await admin(hub)}"}
        ) as r,
    ):
        return [j["id"] for j in (await r.json())["jobs"] if j["state"] == state]


_tokens: dict[int, str] = {}


async def admin(hub: RunningHub) -> str:
    key = id(hub)
    if key not in _tokens:
        _tokens[key] = await staff.issue(hub.services.store, "admin")
    return _tokens[key]


async def test_chits_print_in_order_and_are_resent_until_acked(
    printing_hub: RunningHub, agent: StandInAgent, http: aiohttp.ClientSession
) -> None:
    hub = printing_hub
    agent.answer["cold-1"] = None  # the agent is mute at first: no acks
    for n in range(3):
        async with http.post(
            f"{hub.url}/api/v1/orders",
            json=order_body(table_token(hub, f"T{n + 1}"), f"chit-{n:06d}"),
        ) as r:
            assert r.status == 201

    # sent, then sent again with the same ids while nobody acks
    async def resent() -> bool:
        ids = [j["job_id"] for j in agent.jobs.get("cold-1", [])]
        return len(ids) >= 6

    await until(resent, "the mute printer's jobs to be sent twice")

    # the job list says sent at once; the store, once the mark (which may wait a while for
    # company) is saved
    assert len(await jobs_in(hub, "sent")) == 3

    async def marked_sent() -> bool:
        saved = await repos.read_jobs(hub.services.store, 50)
        return [j["state"] for j in saved].count("sent") == 3

    await until(marked_sent, "the three unacknowledged jobs saved as sent")
    saved = await repos.read_jobs(hub.services.store, 50)
    assert [j["id"] for j in saved if j["state"] == "printed"] == []
    assert await jobs_in(hub, "printed") == []
    ids = [j["job_id"] for j in agent.jobs["cold-1"]]
    assert ids[:3] == sorted(set(ids), key=ids.index)[:3]  # first round in order
    assert set(ids) == set(ids[:3])  # only resends of the same three jobs
    tables = [d["table"] for d in agent.docs("cold-1")[:3]]
    assert tables == ["Table 1", "Table 2", "Table 3"]
    agent.answer["cold-1"] = {"ok": True}

    async def all_printed() -> bool:
        return len(await jobs_in(hub, "printed")) == 3

    await until(all_printed, "all three jobs printed")
    doc = agent.docs("cold-1")[0]
    assert doc["kind"] == "kitchen"
    assert doc["copy"] == "ORIGINAL"
    assert doc["items"][0]["name"] == "Sea Salt Edamame"
    assert doc["items"][0]["allergens"] == ["Soy"]


async def test_the_job_list_says_printed_when_the_agent_acks_not_when_the_mark_is_saved(
    printing_hub: RunningHub,
    agent: StandInAgent,
    http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A printed job's mark waits a while to share a commit; the admin page's list says
    printed as soon as the agent's ack is in, from what the hub knows. (The wait is made
    a minute here, so the store cannot have the mark yet when the list is read.)"""
    monkeypatch.setattr(printing, "MARK_LINGER_S", 60.0)
    hub = printing_hub
    async with http.post(
        f"{hub.url}/api/v1/orders", json=order_body(table_token(hub, "T1"), "chit-now-01")
    ) as r:
        assert r.status == 201
    await until(lambda: agent.docs("cold-1"), "the chit sent and acked")

    async def listed_printed() -> bool:
        return len(await jobs_in(hub, "printed")) == 1

    await until(listed_printed, "the job listed as printed")
    saved = await repos.read_jobs(hub.services.store, 50)
    assert [j["state"] for j in saved] == ["sent"]  # its mark still waits


async def test_failure_cause_then_failover_to_the_backup(
    printing_hub: RunningHub, agent: StandInAgent, http: aiohttp.ClientSession
) -> None:
    hub = printing_hub
    agent.answer["cold-1"] = {"ok": False, "error": "paper_out"}
    async with http.post(
        f"{hub.url}/api/v1/orders", json=order_body(table_token(hub), "failover-01")
    ) as r:
        order = await r.json()

    async def on_backup() -> bool:
        return any(d.get("banner") == "BACKUP FOR cold-1" for d in agent.docs("bar-1"))

    await until(on_backup, "the job to go to the backup with a banner")
    (doc,) = [d for d in agent.docs("bar-1") if d.get("banner")]
    assert doc["number"] == order["order_id"]
    # the first printer is told to drop it, so it does not print it too when it is back
    cancels = [j for j in agent.jobs["cold-1"] if j.get("cancel")]
    assert cancels
    assert cancels[0]["job_id"] == agent.jobs["bar-1"][0]["job_id"]

    async def printed() -> bool:
        return len(await jobs_in(hub, "printed")) == 1

    await until(printed, "one job printed")
    assert hub.services.printing.health["cold-1"].reason == "paper_out"


async def dispatcher_has_looked(hub: RunningHub, clock: SteppingClock) -> None:
    """Wait until the print dispatcher has run a whole round (silent screens, failover,
    sending) that began after this call: a positive marker for "nothing was printed".

    Each round checks for silent screens and then reads the jobs to send once. A test page
    queued now is sent by the first round that reads the jobs after it; that round may have
    checked the screens just before. A second test page, queued once the first is answered,
    can only be read by a round that started after that: one that checked the screens
    after this call."""
    for _ in range(2):
        clock.advance(1)  # a test page's id carries the time
        answer = await hub.services.printing.test_print("bar-1")
        assert answer["ok"], answer


async def test_silent_screen_gets_its_tickets_printed_once(
    hub_config: HubConfig,
    menu_doc: dict[str, Any],
    agent: StandInAgent,
    http: aiohttp.ClientSession,
) -> None:
    """Silence is measured on the hub's clock, which this test moves: past the limit with
    the screen up (nothing prints), then with it gone (its open tickets print, once)."""
    clock = SteppingClock()
    silence_ms = 3 * 1000  # well past kds_silent_after_s (1 s)
    async with hub_with_printers(hub_config, menu_doc, clock) as hub:
        await check_silent_screen(hub, clock, silence_ms, agent, http)


async def check_silent_screen(
    hub: RunningHub,
    clock: SteppingClock,
    silence_ms: int,
    agent: StandInAgent,
    http: aiohttp.ClientSession,
) -> None:
    kitchen = await staff.issue(hub.services.store, "kitchen")
    auth = {"Authorization": f"Bearer {kitchen}"}
    ws_url = hub.url.replace("http", "ws") + "/ws/kds/grill"
    pork = [{"item": "crispy-pork-belly", "qty": 1, "modifiers": ["pork-belly-spice-mild"]}]
    live = hub.services.live

    async def screen_gone() -> None:
        await until(lambda: live.screens_at("grill") == 0, "the hub to see the screen leave")

    async with http.ws_connect(ws_url, headers=auth) as ws:
        await ws.receive_json()
        async with http.post(
            f"{hub.url}/api/v1/orders", json=order_body(table_token(hub), "screen-up-01", pork)
        ) as r:
            assert r.status == 201
        clock.advance(silence_ms)
        await dispatcher_has_looked(hub, clock)  # the screen is up: nothing prints
        assert agent.docs("grill-fb") == []

    # the screen goes away; after the silence limit its open ticket prints, once
    await screen_gone()
    clock.advance(silence_ms)

    async def printed_once() -> bool:
        return len(agent.docs("grill-fb")) >= 1

    await until(printed_once, "the silent station's ticket to print")
    async with http.post(
        f"{hub.url}/api/v1/orders", json=order_body(table_token(hub, "T2"), "screen-down-01", pork)
    ) as r:
        assert r.status == 201

    async def second() -> bool:
        return {d["table"] for d in agent.docs("grill-fb")} == {"Table 1", "Table 2"}

    await until(second, "the second ticket to print while the screen is silent")
    clock.advance(silence_ms)
    await dispatcher_has_looked(hub, clock)
    job_ids = {j["job_id"] for j in agent.jobs["grill-fb"]}
    assert len(job_ids) == 2
    # the screen comes back and shows both tickets, marked as printed: nothing fires twice
    async with http.ws_connect(ws_url, headers=auth) as ws:
        snap = await ws.receive_json()
    assert [t.get("printed_on") for t in snap["tickets"]] == ["grill-fb", "grill-fb"]
    await screen_gone()
    clock.advance(silence_ms)
    await dispatcher_has_looked(hub, clock)
    assert {j["job_id"] for j in agent.jobs["grill-fb"]} == job_ids


async def test_bill_and_test_print(
    printing_hub: RunningHub, agent: StandInAgent, http: aiohttp.ClientSession
) -> None:
    hub = printing_hub
    auth = {"Authorization": f"Bearer {await admin(hub)}"}
    for n in range(2):
        async with http.post(
            f"{hub.url}/api/v1/orders", json=order_body(table_token(hub, "T5"), f"bill-order-{n}")
        ) as r:
            assert r.status == 201
    async with http.post(f"{hub.url}/api/v1/tables/T5/bill", headers=auth) as r:
        assert r.status == 201
        bill = await r.json()

    async def billed() -> bool:
        return any(d["kind"] == "bill" for d in agent.docs("bar-1"))

    await until(billed, "the bill to print")
    (doc,) = [d for d in agent.docs("bar-1") if d["kind"] == "bill"]
    assert doc["subtotal_cents"] == 2 * 550
    assert doc["tax_lines"] == [{"name": "Sales tax 8.875%", "cents": 98}]
    assert doc["total_cents"] == bill["total_cents"] == 1100 + 98
    assert doc["qr"].endswith(table_token(hub, "T5"))
    async with http.post(f"{hub.url}/api/v1/tables/T6/bill", headers=auth) as r:
        assert (r.status, (await r.json())["field"]) == (409, "table")
    agent.answer["bar-1"] = {"ok": False, "error": "cover_open"}
    async with http.post(f"{hub.url}/api/v1/printers/bar-1/test", headers=auth) as r:
        assert r.status == 502
        assert (await r.json())["error"] == "cover_open"
    agent.answer["bar-1"] = {"ok": True}
    async with http.post(f"{hub.url}/api/v1/printers/bar-1/test", headers=auth) as r:
        assert r.status == 200


async def test_a_job_pending_across_a_restart_is_found_from_the_low_mark_and_sent(
    hub_config: HubConfig,
    menu_doc: dict[str, Any],
    agent: StandInAgent,
    http: aiohttp.ClientSession,
) -> None:
    """No index lists the pending jobs: the hub keeps a rowid no pending job is below
    (meta `print_jobs_low`), moves it up at most once a minute as jobs print, and reads the
    pending jobs from it when it starts."""
    clock = SteppingClock()

    async def place(hub: RunningHub, n: int) -> None:
        body = order_body(table_token(hub, f"T{n}"), f"low-mark-{n:04d}")
        async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
            assert r.status == 201, await r.text()

    async with hub_with_printers(hub_config, menu_doc, clock) as hub:
        store = hub.services.store
        for n in (1, 2, 3):
            await place(hub, n)

        async def printed() -> bool:
            return len(await jobs_in(hub, "printed")) == 3

        await until(printed, "three chits printed")
        agent.answer["cold-1"] = None  # the printer goes quiet
        clock.advance(61_000)  # a minute on: the mark may move
        await place(hub, 4)
        rows = await store.read_all("SELECT rowid, id, state FROM print_jobs ORDER BY rowid")
        (pending,) = [r for r in rows if r["state"] in ("queued", "sent")]
        assert pending["rowid"] == max(r["rowid"] for r in rows)

        async def moved() -> bool:
            return await repos.read_print_low(store) == pending["rowid"]

        await until(moved, "the low mark to move up to the pending job")
        assert not await store.read_all(
            "SELECT 1 FROM sqlite_master WHERE name='print_jobs_pending'"
        )
    sent_before = {j["job_id"] for j in agent.jobs["cold-1"]}
    agent.jobs.clear()
    agent.answer["cold-1"] = {"ok": True}

    async with hub_with_printers(hub_config, menu_doc, clock) as hub:
        clock.advance(2_000)  # past its ack timeout: the job sent before is due again

        async def all_printed() -> bool:
            return len(await jobs_in(hub, "printed")) == 4

        await until(all_printed, "the pending job sent again and printed after the restart")
        again = [j["job_id"] for j in agent.jobs["cold-1"]]
        assert again == [pending["id"]]  # only the pending one, not the printed three
        assert pending["id"] in sent_before


class TimedAgent(StandInAgent):
    """A stand-in agent that also notes when (monotonic s) each job message came."""

    def __init__(self, client: aiomqtt.Client) -> None:
        super().__init__(client)
        self.times: list[tuple[float, str]] = []  # (when, printer)

    def answer_to(self, printer: str, job: dict[str, Any]) -> dict[str, Any] | None:
        self.times.append((asyncio.get_running_loop().time(), printer))
        return super().answer_to(printer, job)


async def test_a_quiet_agent_gets_its_job_less_and_less_often_and_at_once_when_heard(
    printing_hub: RunningHub, broker: Mosquitto, http: aiohttp.ClientSession
) -> None:
    """An agent that is away keeps a persistent session: the broker queues every resend for it
    and rewrites the queue in each autosave. While the agent says nothing the hub spaces its
    resends out (each wait twice the last); the agent's `online` brings the job at once."""
    hub = printing_hub
    hub.services.printing.ack_timeout_s = 0.1
    async with started(broker, TimedAgent) as agent:
        agent.answer["cold-1"] = None  # mute: no acks
        body = order_body(table_token(hub, "T1"), "quiet-agent-1")
        async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
            assert r.status == 201, await r.text()

        def copies() -> list[float]:
            return [t for t, p in agent.times if p == "cold-1"]

        await until(lambda: len(copies()) >= 6, "the job sent six times to the quiet agent")
        ids = {j["job_id"] for j in agent.jobs["cold-1"]}
        assert len(ids) == 1  # one job, sent again and again
        sent = copies()
        # waits of 0.1, 0.2, 0.4, 0.8 and 1.6 s: 3.1 s for six copies (0.5 s at a fixed 0.1)
        assert sent[5] - sent[0] >= 2.8, [round(b - a, 3) for a, b in itertools.pairwise(sent)]

        # the agent is heard: the job goes now, not after the next wait (3.2 s)
        status = {"state": "online", "kind": "printer", "detail": {"online": True}}
        topic = f"{PREFIX}/devices/printer-cold-1/status"
        await agent.client.publish(topic, json.dumps(status), qos=1, retain=True)
        await until(lambda: len(copies()) >= 7, "the job sent again once the agent is heard")
        assert copies()[6] - sent[5] < 3.0
        agent.answer["cold-1"] = {"ok": True}

        async def printed() -> bool:
            return await jobs_in(hub, "printed") == list(ids)

        await until(printed, "the job printed once the agent answers")
        await agent.client.publish(topic, b"", qos=1, retain=True)


async def test_an_agent_back_from_a_restart_gets_its_unanswered_jobs_at_once(
    printing_hub: RunningHub, broker: Mosquitto, http: aiohttp.ClientSession
) -> None:
    """An agent keeps the jobs it has not started in memory only: one that restarted has
    none of them. When it says `offline` and then `online`, the hub sends what it has not
    answered for at once, not after the ack timeout (here a minute)."""
    hub = printing_hub
    hub.services.printing.ack_timeout_s = 60.0
    async with started(broker, TimedAgent) as agent:
        agent.answer["cold-1"] = None  # taken into its queue, never answered: then it dies
        body = order_body(table_token(hub, "T1"), "restarted-agent-1")
        async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
            assert r.status == 201, await r.text()

        def copies() -> list[float]:
            return [t for t, p in agent.times if p == "cold-1"]

        await until(lambda: len(copies()) == 1, "the job sent to the agent")
        topic = f"{PREFIX}/devices/printer-cold-1/status"
        for state in ("offline", "online"):  # its will, then its new session's hello
            status = {"state": state, "kind": "printer", "detail": None}
            if state == "online":
                status["detail"] = {"online": True}
            await agent.client.publish(topic, json.dumps(status), qos=1, retain=True)
        agent.answer["cold-1"] = {"ok": True}
        await until(
            lambda: len(copies()) >= 2, "the job sent again to the agent back online", timeout=20
        )
        assert copies()[1] - copies()[0] < 30.0

        async def printed() -> bool:
            return len(await jobs_in(hub, "printed")) == 1

        await until(printed, "the job printed once the agent answers")
        await agent.client.publish(topic, b"", qos=1, retain=True)


async def test_an_acked_job_is_not_sent_again_while_its_printed_mark_waits_to_be_saved(
    printing_hub: RunningHub, agent: StandInAgent, http: aiohttp.ClientSession
) -> None:
    """A job's "printed" mark waits up to five seconds to share a commit; the job is not
    resent meanwhile (its ack stopped the resends), and the mark is saved."""
    hub = printing_hub
    hub.services.printing.ack_timeout_s = 0.2
    body = order_body(table_token(hub, "T2"), "acked-once-1")
    async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
        assert r.status == 201, await r.text()
    await until(lambda: len(agent.jobs.get("cold-1", [])) >= 1, "the chit sent")
    await asyncio.sleep(1.0)  # five ack timeouts
    assert len(agent.jobs["cold-1"]) == 1, [j["job_id"] for j in agent.jobs["cold-1"]]

    async def printed() -> bool:
        return len(await jobs_in(hub, "printed")) == 1

    await until(printed, "the printed mark saved", timeout=15.0)
