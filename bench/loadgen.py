"""The open-loop load generator: its own process, one event loop, 127.0.0.1 only.

    python -m bench.loadgen --spec SPEC.json --out OUT.json

Orders leave on a fixed schedule (send time i = t0 + i / rate) whether or not earlier ones
were answered; each is recorded with its scheduled and actual send time and the time of
its answer. Around the orders it plays a dining room: diners with a status WebSocket each
and menu GETs, kitchen screens (`/ws/kds/<station>`) that bump tickets through the API,
call buttons and scales on MQTT, and an MQTT subscriber on `kds/+/events`. A ticket's
arrival on a screen (or on MQTT) is matched to its order by order id.

Every loop is bounded in count and in time: a phase sends exactly rate x seconds orders at
most; background tickers stop with the run; reconnects are capped; the whole run ends by
`max_seconds`. Protocol on stdout, one line each: `READY`, `PHASE <i> START`,
`PHASE <i> END <saturated 0|1> <diners open> <screens open>`, `DONE`. SIGTERM ends the
current phase's schedule early and finishes normally (the fault suite and the drain test
use it)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import resource
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt
import msgspec
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bench import stats

# items without required modifiers and not sold by weight, across the four stations
ITEMS = [
    "sea-salt-edamame",  # cold
    "chicken-satay",  # grill
    "veggie-spring-rolls",  # wok
    "hot-jasmine-tea",  # bar
    "smashed-cucumber-salad",  # cold
    "miso-glazed-salmon",  # grill
    "kung-pao-chicken",  # wok
    "tsingtao-lager",  # bar
]
MAX_FAILURE_LOG = 50_000
MAX_RECONNECTS = 200


@dataclass
class Spec:
    url: str
    mqtt_port: int
    tables: list[list[str]]  # [[table id, table token], ...]
    phases: list[dict[str, Any]]  # [{"name", "rate", "seconds"}]
    mode: str = "hub"  # hub | floor
    store: str = "demo"
    kitchen_token: str = ""
    run_id: str = "run"
    gap_seconds: float = 1.0
    baseline_seconds: float = 0.0  # after READY: the room alone, no orders (CPU baseline)
    diners: int = 200
    kds: list[str] = field(default_factory=lambda: ["grill", "wok", "cold", "bar", "expo"] * 2)
    menu_rate: float = 10.0
    bump_rate: float = 20.0
    call_rate: float = 1.0
    scale_rate: float = 10.0
    scale_grams: int = -1  # >= 0: every reading is this weight, stable (an idle scale: 0)
    lines_per_order: int = 2
    timeout_s: float = 10.0
    max_in_flight: int = 4000
    retry: bool = False  # keep retrying a failed order with its key (a phone would)
    retry_max_s: float = 60.0
    stop_when_saturated: bool = True
    settle_seconds: float = 2.0
    max_seconds: float = 900.0
    record_mqtt: bool = False  # keep every kds event (the fault suite's checker)
    # keep what each acknowledged order asked for and what its 201 said (the fault suite's
    # checker derives every expected ticket, MQTT message and chit from these)
    record_acked: bool = False
    # each table's orders from its own loopback address 127.0.<k // 250 + 1>.<k % 250 + 1>
    # (the hub limits per phone address too): many phones, as in a dining room
    per_table_addr: bool = False
    # one phone (its own address, table `flood_table`) sending orders at `flood_rate`/s
    # during the phases marked "flood": true, at most `flood_in_flight` unanswered
    flood_table: int = -1
    flood_rate: float = 0.0
    flood_addr: str = "127.0.0.2"
    flood_in_flight: int = 64


class KdsEvent(msgspec.Struct):
    seq: int = 0
    kind: str = ""
    ticket: dict[str, Any] = {}


def say(*parts: object) -> None:
    print(*parts, flush=True)


class LoadGen:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.t_start = time.monotonic()
        self.deadline = self.t_start + spec.max_seconds
        self.stop_sched = asyncio.Event()  # SIGTERM: end the schedule now
        self.finished = asyncio.Event()  # the run is over: background loops stop
        self.orders: list[list[Any]] = []
        self.failures: list[tuple[float, int, str]] = []  # every non-201 attempt
        self.failure_count = 0
        self.kds_ws: dict[int, float] = {}  # order id -> first arrival on a screen
        self.kds_mqtt: dict[int, float] = {}  # order id -> first kds event on MQTT
        self.mqtt_events: list[tuple[int, str, int, int, str, float]] = []
        # [key, table, order id, number, [[item, qty], ...] as sent, time of the 201]
        self.acked: list[list[Any]] = []
        self.bump_pool: deque[int] = deque(maxlen=100_000)
        self.bumped: set[int] = set()
        self.bg: dict[str, list[tuple[float, float, int]]] = {"menu": [], "bump": []}
        self.counts = dict.fromkeys(
            (
                "diner_msgs",
                "kds_msgs",
                "kds_snapshots",
                "kds_drops",
                "diner_drops",
                "calls",
                "scales",
                "mqtt_msgs",
                "mqtt_reconnects",
                "skipped_bg",
            ),
            0,
        )
        self.open = {"diners": 0, "kds": 0}
        self.max_open = {"diners": 0, "kds": 0}
        self.in_flight = 0
        self.phases: list[dict[str, Any]] = []
        self.mqtt_up = asyncio.Event()
        self._bodies = [self._body_lines(i) for i in range(len(ITEMS))]
        # the tables normal orders go to (the flooding phone's is left out)
        self.order_tables = [k for k in range(len(spec.tables)) if k != spec.flood_table]
        self.sessions: dict[int, aiohttp.ClientSession] = {}  # per-table phones
        self.flood: list[dict[str, Any]] = []  # per phase: what the flooding phone got

    # ------------------------------------------------------------ orders

    def _body_lines(self, i: int) -> list[dict[str, Any]]:
        n = max(1, self.spec.lines_per_order)
        return [{"item": ITEMS[(i + 3 * k) % len(ITEMS)], "qty": 1 + (i + k) % 3} for k in range(n)]

    async def order(self, http: aiohttp.ClientSession, phase: int, i: int, t_sched: float) -> None:
        spec = self.spec
        key = f"{spec.run_id}-{phase}-{i:07d}"
        k = self.order_tables[i % len(self.order_tables)]
        table_id, token = spec.tables[k]
        http = self.sessions.get(k, http)
        body = msgspec.json.encode(
            {"table": token, "idempotency_key": key, "lines": self._bodies[i % len(ITEMS)]}
        )
        rec: list[Any] = [phase, t_sched, 0.0, 0.0, 0, 0, 0, key, table_id, ""]
        self.orders.append(rec)
        if self.in_flight >= spec.max_in_flight:
            rec[stats.STATUS], rec[stats.ERROR] = -1, "generator-cap"
            return
        self.in_flight += 1
        try:
            answer = await self._send(http, rec, body)
        finally:
            self.in_flight -= 1
        if answer is not None and spec.record_acked:
            # the number is the one the kitchen sees (`#N` on a chit); None if the 201 had none
            number = answer.get("number")
            lines = [[ln["item"], ln["qty"]] for ln in self._bodies[i % len(ITEMS)]]
            self.acked.append(
                [key, table_id, rec[stats.ORDER_ID], number, lines, rec[stats.T_DONE]]
            )

    async def _send(
        self, http: aiohttp.ClientSession, rec: list[Any], body: bytes
    ) -> dict[str, Any] | None:
        """Send until answered 201 (retrying if the spec says so); the 201's body, or None
        if the order was never acknowledged."""
        spec = self.spec
        give_up = rec[stats.T_SCHED] + (spec.retry_max_s if spec.retry else spec.timeout_s)
        delay = 0.1
        timeout = aiohttp.ClientTimeout(total=spec.timeout_s)
        headers = {"Content-Type": "application/json"}
        while True:
            rec[stats.ATTEMPTS] += 1
            now = time.monotonic()
            if not rec[stats.T_SENT]:
                rec[stats.T_SENT] = now
            error = ""
            try:
                async with http.post(
                    spec.url + "/api/v1/orders", data=body, headers=headers, timeout=timeout
                ) as r:
                    data = await r.read()
                    status = r.status
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                status, data, error = 0, b"", type(exc).__name__
            done = time.monotonic()
            if status == 201:
                rec[stats.T_DONE], rec[stats.STATUS] = done, 201
                answer: dict[str, Any] = msgspec.json.decode(data)
                rec[stats.ORDER_ID] = int(answer["order_id"])
                rec[stats.ERROR] = ""
                return answer
            if status:
                error = _error_code(data)
            rec[stats.STATUS], rec[stats.ERROR] = status, error
            self.failure_count += 1
            if len(self.failures) < MAX_FAILURE_LOG:
                self.failures.append((done, status, error))
            if not spec.retry or done + delay > give_up or time.monotonic() > self.deadline:
                rec[stats.T_DONE] = done
                return None
            await asyncio.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 1.0)

    async def phase(self, http: aiohttp.ClientSession, idx: int, ph: dict[str, Any]) -> bool:
        """Send one phase's schedule; wait (bounded) for its answers; True if saturated."""
        rate, seconds = float(ph["rate"]), float(ph["seconds"])
        n = int(rate * seconds)
        tasks: set[asyncio.Task[None]] = set()
        t0 = time.monotonic() + 0.01
        info = {"name": ph.get("name", f"{rate:g}/s"), "rate": rate, "seconds": seconds}
        info["t_start"] = t0
        say(f"PHASE {idx} START {t0:.6f}")
        behind: list[int] = []
        answered: list[float] = []
        sampler = asyncio.create_task(self.sample_relay(http, behind, answered))
        flooder = None
        if ph.get("flood") and self.spec.flood_rate > 0 and self.spec.flood_table >= 0:
            flooder = asyncio.create_task(self.flood_phase(idx, seconds))
        i = 0
        while i < n and not self.stop_sched.is_set() and time.monotonic() < self.deadline:
            now = time.monotonic()
            while i < n and t0 + i / rate <= now:
                task = asyncio.create_task(self.order(http, idx, i, t0 + i / rate))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                i += 1
            if i < n:
                await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        info["t_sched_end"] = time.monotonic()
        info["sent_schedule"] = i
        if flooder is not None:
            flooder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flooder
        wait = (self.spec.retry_max_s if self.spec.retry else self.spec.timeout_s) + 2
        if tasks:
            _, late = await asyncio.wait(set(tasks), timeout=wait)
            for t in late:
                t.cancel()
        info["t_end"] = time.monotonic()
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        if behind:
            info["relay_behind"] = {"max": max(behind), "p50": sorted(behind)[len(behind) // 2]}
        if answered:
            info["healthz_ms"] = stats.dist(answered)
        rows = [r for r in self.orders if r[stats.PHASE] == idx]
        summary = stats.phase_summary(rows, rate, seconds if i == n else i / rate)
        info["saturated"] = summary["saturated"]
        self.phases.append(info)
        say(
            f"PHASE {idx} END {int(summary['saturated'])} "
            f"{self.open['diners']} {self.open['kds']} {info['t_end']:.6f}"
        )
        return bool(summary["saturated"])

    async def sample_relay(
        self, http: aiohttp.ClientSession, out: list[int], answered: list[float]
    ) -> None:
        """How far the hub's MQTT relay is behind its store (/healthz, 10 times a second):
        the hub's own share of order→MQTT, apart from this generator's receiving. Each
        answer's time goes to `answered`: /healthz is answered from memory, so its time is
        how long the server's loop kept it waiting (no disk in it)."""
        while True:
            t0 = time.monotonic()
            try:
                async with http.get(self.spec.url + "/healthz", timeout=_t(1)) as r:
                    doc = await r.json() if r.status == 200 else None
            except TimeoutError:
                answered.append(1.0)  # not answered within its second: counted as a second
                doc = None
            except (aiohttp.ClientError, ValueError):
                doc = None
            else:
                if doc is not None:
                    answered.append(time.monotonic() - t0)
            relay = doc.get("mqtt_relay") if doc else None
            if relay:  # none on the floor
                out.append(int(relay["behind"]))
            await asyncio.sleep(0.1)

    # ------------------------------------------------------------ flood

    async def flood_phase(self, idx: int, seconds: float) -> None:
        """One phone sending orders to its table as fast as `flood_rate` (open loop, new key
        each time, at most `flood_in_flight` unanswered) until the phase's schedule ends;
        bounded by count (rate x seconds) and by the phase itself."""
        spec = self.spec
        _, token = spec.tables[spec.flood_table]
        got: dict[str, Any] = {"phase": idx, "rate": spec.flood_rate, "sent": 0, "status": {}}
        self.flood.append(got)
        post: list[float] = []
        conn = aiohttp.TCPConnector(limit=0, local_addr=(spec.flood_addr, 0))
        tasks: set[asyncio.Task[None]] = set()

        async def one(i: int) -> None:
            body = {
                "table": token,
                "idempotency_key": f"{spec.run_id}-flood-{idx}-{i:07d}",
                "lines": self._bodies[i % len(ITEMS)],
            }
            t = time.monotonic()
            status = 0
            with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                async with http.post(spec.url + "/api/v1/orders", json=body, timeout=_t(5)) as r:
                    await r.read()
                    status = r.status
            post.append(time.monotonic() - t)
            got["status"][str(status)] = got["status"].get(str(status), 0) + 1

        async with aiohttp.ClientSession(connector=conn) as http:
            t0 = time.monotonic()
            try:
                for i in range(int(spec.flood_rate * seconds)):
                    await asyncio.sleep(max(0.0, t0 + i / spec.flood_rate - time.monotonic()))
                    if len(tasks) >= spec.flood_in_flight:
                        got["skipped"] = got.get("skipped", 0) + 1
                        continue
                    task = asyncio.create_task(one(i))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    got["sent"] += 1
            finally:
                got["seconds"] = time.monotonic() - t0
                if tasks:
                    await asyncio.wait(set(tasks), timeout=6)
                got["answer_ms"] = stats.dist(post)

    # ------------------------------------------------------------ background

    async def ticker(self, name: str, rate: float, act: Any) -> None:
        """Open loop at `rate`/s until the run ends; at most 200 in flight, else skipped."""
        if rate <= 0:
            return
        tasks: set[asyncio.Task[None]] = set()
        t0 = time.monotonic()
        limit = int(rate * self.spec.max_seconds) + 1
        for i in range(limit):
            at = t0 + i / rate
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.finished.wait(), max(0.0, at - time.monotonic()))
            if self.finished.is_set() or time.monotonic() > self.deadline:
                break
            if len(tasks) >= 200:
                self.counts["skipped_bg"] += 1
                continue
            task = asyncio.create_task(act(i, at))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        for t in tasks:
            t.cancel()

    async def get_menu(self, http: aiohttp.ClientSession, i: int, at: float) -> None:
        _, token = self.spec.tables[i % len(self.spec.tables)]
        status = 0
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            async with http.get(
                self.spec.url + "/api/v1/menu", params={"table": token}, timeout=_t(5)
            ) as r:
                await r.read()
                status = r.status
        self.bg["menu"].append((at, time.monotonic(), status))

    async def bump(self, http: aiohttp.ClientSession, i: int, at: float) -> None:
        ticket = None
        while self.bump_pool:
            cand = self.bump_pool.popleft()
            if cand not in self.bumped:
                ticket = cand
                break
        if ticket is None:
            return
        self.bumped.add(ticket)
        status = 0
        headers = {"Authorization": f"Bearer {self.spec.kitchen_token}"}
        body = {"id": f"{self.spec.run_id}-bump-{i}"}
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            async with http.post(
                f"{self.spec.url}/api/v1/tickets/{ticket}/bump",
                json=body,
                headers=headers,
                timeout=_t(5),
            ) as r:
                await r.read()
                status = r.status
        self.bg["bump"].append((at, time.monotonic(), status))

    # ------------------------------------------------------------ WebSockets

    async def socket(self, http: aiohttp.ClientSession, kind: str, path: str, idx: int) -> None:
        """One screen or phone: connect, read until dropped, reconnect (capped)."""
        headers = {}
        if kind == "kds":
            headers["Authorization"] = f"Bearer {self.spec.kitchen_token}"
        bumper = kind == "kds" and idx < len(set(self.spec.kds))  # first screen of a station
        for attempt in range(MAX_RECONNECTS):
            if self.finished.is_set() or time.monotonic() > self.deadline:
                return
            try:
                async with http.ws_connect(
                    self.spec.url + path, headers=headers, max_msg_size=0, timeout=_wst(10)
                ) as ws:
                    self.open[kind] += 1
                    self.max_open[kind] = max(self.max_open[kind], self.open[kind])
                    try:
                        async for msg in ws:
                            if msg.type != aiohttp.WSMsgType.TEXT:
                                break
                            if kind == "kds":
                                self.on_kds(msg.data, bumper)
                            else:
                                self.counts["diner_msgs"] += 1
                    finally:
                        self.open[kind] -= 1
            except (aiohttp.ClientError, OSError, TimeoutError):
                pass
            if self.finished.is_set():
                return
            self.counts[f"{'kds' if kind == 'kds' else 'diner'}_drops"] += 1
            await asyncio.sleep(min(2.0, 0.05 * 2 ** min(attempt, 5)))

    def on_kds(self, data: str, bumper: bool) -> None:
        now = time.monotonic()
        self.counts["kds_msgs"] += 1
        msg = msgspec.json.decode(data)
        kind = msg.get("type")
        if kind == "ticket":
            tickets = [msg["ticket"]]
        elif kind == "snapshot":
            self.counts["kds_snapshots"] += 1
            tickets = msg.get("tickets", []) + msg.get("order_tickets", [])
        else:
            return
        for t in tickets:
            oid = t.get("order_id")
            if oid is not None and oid not in self.kds_ws:
                self.kds_ws[oid] = now
            if bumper and t.get("status") == "open" and t.get("station") != "expo":
                self.bump_pool.append(int(t["id"]))

    # ------------------------------------------------------------ MQTT

    def _mqtt_client(self, ident: str, persistent: bool) -> aiomqtt.Client:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600 if persistent else 0
        return aiomqtt.Client(
            hostname="127.0.0.1",
            port=self.spec.mqtt_port,
            identifier=ident,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=not persistent,
            properties=props,
            keepalive=15,
            timeout=5,
        )

    async def kds_subscriber(self) -> None:
        """`kds/+/events` (QoS 1, persistent session: a broker restart misses nothing that
        the broker itself kept)."""
        topic = f"tablehub/v1/{self.spec.store}/kds/+/events"
        for attempt in range(MAX_RECONNECTS):
            if self.finished.is_set() or time.monotonic() > self.deadline:
                return
            try:
                async with self._mqtt_client(f"bench-kds-{self.spec.run_id}", True) as client:
                    await client.subscribe(topic, qos=1)
                    self.mqtt_up.set()
                    async for message in client.messages:
                        self.on_mqtt(message.payload)
            except aiomqtt.MqttError:
                self.counts["mqtt_reconnects"] += 1
            self.mqtt_up.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.finished.wait(), min(1.0, 0.1 * 2**attempt))

    async def _end_kds_session(self) -> None:
        """End the subscriber's persistent session with the run. Left to its expiry, the
        broker would queue every ticket after the run for it (up to its max_queued_messages)
        and rewrite them all in each autosave: the writes of a device that went away, which
        the next run on the same broker would count as the store's."""
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            async with asyncio.timeout(5):
                async with self._mqtt_client(f"bench-kds-{self.spec.run_id}", False):
                    pass

    def on_mqtt(self, payload: Any) -> None:
        now = time.monotonic()
        self.counts["mqtt_msgs"] += 1
        if not isinstance(payload, bytes | bytearray):
            return
        try:
            ev = msgspec.json.decode(payload, type=KdsEvent)
        except msgspec.DecodeError:
            return
        oid = ev.ticket.get("order_id")
        if oid is None:
            return
        if oid not in self.kds_mqtt:
            self.kds_mqtt[oid] = now
        if self.spec.record_mqtt:
            self.mqtt_events.append(
                (
                    ev.seq,
                    ev.kind,
                    int(ev.ticket.get("id", 0)),
                    int(oid),
                    str(ev.ticket.get("station", "")),
                    now,
                )
            )

    async def devices(self) -> None:
        """Call buttons (QoS 1) and scales (QoS 0, retained) at their fixed rates."""
        spec = self.spec
        if spec.call_rate <= 0 and spec.scale_rate <= 0:
            return
        base = f"tablehub/v1/{spec.store}"
        for attempt in range(MAX_RECONNECTS):
            if self.finished.is_set() or time.monotonic() > self.deadline:
                return
            try:
                async with self._mqtt_client(f"bench-dev-{spec.run_id}", False) as client:

                    async def call(i: int, at: float) -> None:
                        table = spec.tables[(i * 7) % len(spec.tables)][0]
                        payload = json.dumps({"kind": "waiter", "id": f"{spec.run_id}-c{i}"})
                        await client.publish(f"{base}/tables/{table}/call", payload, qos=1)
                        self.counts["calls"] += 1

                    async def weigh(i: int, at: float) -> None:
                        if spec.scale_grams >= 0:
                            payload = json.dumps({"grams": spec.scale_grams, "stable": True})
                        else:
                            payload = json.dumps({"grams": 500 + i % 400, "stable": i % 5 == 0})
                        await client.publish(
                            f"{base}/scales/scale-{i % 2}/weight", payload, qos=0, retain=True
                        )
                        self.counts["scales"] += 1

                    await asyncio.gather(
                        self.ticker("call", spec.call_rate, call),
                        self.ticker("scale", spec.scale_rate, weigh),
                    )
                    return
            except aiomqtt.MqttError:
                self.counts["mqtt_reconnects"] += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.finished.wait(), min(1.0, 0.1 * 2**attempt))

    # ------------------------------------------------------------ the run

    async def run(self) -> dict[str, Any]:
        spec = self.spec
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stop_sched.set)
        conn = aiohttp.TCPConnector(limit=0, limit_per_host=0)
        async with contextlib.AsyncExitStack() as phones:
            if spec.per_table_addr:
                for k in self.order_tables:
                    addr = f"127.0.{k // 250 + 1}.{k % 250 + 1}"
                    c = aiohttp.TCPConnector(limit=0, local_addr=(addr, 0))
                    self.sessions[k] = await phones.enter_async_context(
                        aiohttp.ClientSession(connector=c)
                    )
            return await self._run(conn)

    async def _run(self, conn: aiohttp.TCPConnector) -> dict[str, Any]:
        spec = self.spec
        async with aiohttp.ClientSession(connector=conn) as http:
            bg: list[asyncio.Task[None]] = [asyncio.create_task(self.kds_subscriber())]
            if spec.mode == "hub":
                bg += [
                    asyncio.create_task(self.socket(http, "kds", f"/ws/kds/{st}", i))
                    for i, st in enumerate(spec.kds)
                ]
                for k in range(spec.diners):
                    _, token = spec.tables[k % len(spec.tables)]
                    path = f"/ws/table?table={token}"
                    bg.append(asyncio.create_task(self.socket(http, "diners", path, k)))
                    if k % 20 == 19:
                        await asyncio.sleep(0.02)  # no thundering herd on start
            await self._wait_ready()
            if spec.mode == "hub":
                bg += [
                    asyncio.create_task(self.ticker("menu", spec.menu_rate, self._menu(http))),
                    asyncio.create_task(self.ticker("bump", spec.bump_rate, self._bump(http))),
                    asyncio.create_task(self.devices()),
                ]
            say("READY", self.open["diners"], self.open["kds"], int(self.mqtt_up.is_set()))
            await self._pause(spec.baseline_seconds)
            for idx, ph in enumerate(spec.phases):
                if self.stop_sched.is_set() or time.monotonic() > self.deadline:
                    break
                if idx:
                    await self._pause(spec.gap_seconds)
                saturated = await self.phase(http, idx, ph)
                if saturated and spec.stop_when_saturated:
                    break
            await self._pause(spec.settle_seconds, ignore_stop=True)
            self.finished.set()
            _, late = await asyncio.wait(bg, timeout=5)
            for t in late:
                t.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            await self._end_kds_session()
        return self.result()

    def _menu(self, http: aiohttp.ClientSession) -> Any:
        return lambda i, at: self.get_menu(http, i, at)

    def _bump(self, http: aiohttp.ClientSession) -> Any:
        return lambda i, at: self.bump(http, i, at)

    async def _wait_ready(self) -> None:
        """Until every socket and the MQTT subscriber are up (at most 30 s)."""
        spec = self.spec
        want_kds = len(spec.kds) if spec.mode == "hub" else 0
        want_diners = spec.diners if spec.mode == "hub" else 0
        until = time.monotonic() + 30
        while time.monotonic() < until:
            if (
                self.open["kds"] >= want_kds
                and self.open["diners"] >= want_diners
                and self.mqtt_up.is_set()
            ):
                return
            await asyncio.sleep(0.05)

    async def _pause(self, seconds: float, *, ignore_stop: bool = False) -> None:
        if ignore_stop:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop_sched.wait(), seconds)

    def result(self) -> dict[str, Any]:
        return {
            "spec": {k: v for k, v in vars(self.spec).items() if k != "tables"},
            "phases": self.phases,
            "orders": self.orders,
            "failures": self.failures,
            "failure_count": self.failure_count,
            "kds_ws": self.kds_ws,
            "kds_mqtt": self.kds_mqtt,
            "mqtt_events": self.mqtt_events,
            "acked": self.acked,
            "background": {
                k: {
                    "n": len(v),
                    "ok": sum(1 for x in v if 200 <= x[2] < 300),
                    "ms": stats.dist([x[1] - x[0] for x in v]),
                }
                for k, v in self.bg.items()
            },
            "counts": self.counts,
            "max_open": self.max_open,
            "flood": self.flood,
        }


def _error_code(data: bytes) -> str:
    try:
        doc = json.loads(data)
    except ValueError:
        return "not-json"
    return str(doc.get("error", "?")) if isinstance(doc, dict) else "not-an-object"


def _t(seconds: float) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=seconds)


def _wst(seconds: float) -> aiohttp.ClientWSTimeout:
    return aiohttp.ClientWSTimeout(ws_receive=None, ws_close=seconds)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.loadgen", description=__doc__)
    p.add_argument("--spec", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    spec = Spec(**json.loads(Path(args.spec).read_text()))
    for url in (spec.url,):
        if not url.startswith(("http://127.0.0.1:", "http://localhost:")):
            print("loadgen: loopback targets only", file=sys.stderr)
            return 2
    gen = LoadGen(spec)
    result = asyncio.run(gen.run())
    Path(args.out).write_text(json.dumps(result, separators=(",", ":")))
    say("DONE")
    return 0


if __name__ == "__main__":
    sys.exit(main())
