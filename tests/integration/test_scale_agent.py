"""The scale agent against `FakeScale` on a real pty, publishing to the real test broker:
weights arrive retained, motion and hold-time stability, auto-probe, unplug and replug.

A pty only does 8N1 (the Linux pty driver forces CS8; a second 7E1 open fails), so every
agent here opens its port with 8N1 line overrides, the Mettler 8217 included."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from devices.agent import DeviceLink, MqttSettings
from devices.scales.agent import ScaleAgent
from devices.scales.fake import FakeScale
from devices.scales.port import SerialPort, open_serial
from devices.scales.protocols import ScaleProtocol
from devices.scales.stability import Weight
from hub.bus import contract
from hub.ops.mosquitto import Mosquitto
from tests.waiting import DEADLINE, until

PTY_8N1 = {"bytesize": 8, "parity": "N"}
WAIT = DEADLINE


class Watcher:
    """A subscriber that records every message under one store, and waits for one."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.seen: list[tuple[str, Any, bool]] = []
        self._changed = asyncio.Event()

    async def pump(self) -> None:
        async for m in self.client.messages:
            raw = m.payload if isinstance(m.payload, bytes) else b""
            body: Any = json.loads(raw) if raw.startswith(b"{") else raw.decode()
            self.seen.append((str(m.topic), body, m.retain))
            self._changed.set()

    async def wait_for(
        self, pred: Callable[[str, Any], bool], timeout: float = WAIT, after: int = 0
    ) -> tuple[str, Any]:
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for topic, body, _ in self.seen[after:]:
                        if pred(topic, body):
                            return topic, body
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            recent = [(t.rsplit("/", 2)[-2:], b) for t, b, _ in self.seen[after:][-5:]]
            raise AssertionError(f"no matching message in {timeout:g} s; last: {recent}") from None


class StepClock:
    """The agent's clock, moved by the test; counts how often the agent's thread reads it
    (once per round of reading the scale), so a test can wait for whole rounds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 1000.0
        self.reads = 0

    def __call__(self) -> float:
        with self._lock:
            self.reads += 1
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    async def rounds(self, n: int = 2) -> None:
        """Wait until the agent has finished a round of readings taken at the current time:
        its second clock read from now starts a round after one that read this time."""
        with self._lock:
            target = self.reads + n
        await until(lambda: self.reads >= target, f"{n} rounds of scale readings")
        # the thread hands its last weight to the loop (call_soon_threadsafe) before the
        # read above; one pass of the loop delivers it to `agent.weight`
        await asyncio.sleep(0)


class CountingOpener:
    """The agent's port opener, counting attempts (a failed reopen is one)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, url: str, protocol: ScaleProtocol) -> SerialPort:
        self.calls += 1
        return open_serial(url, protocol, overrides=PTY_8N1)


@pytest.fixture
def store() -> str:
    return f"s{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def watcher(broker: Mosquitto, store: str) -> AsyncIterator[Watcher]:
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier=f"watch-{store}") as c:
        await c.subscribe(f"tablehub/v1/{store}/#", qos=1)
        w = Watcher(c)
        task = asyncio.create_task(w.pump())
        yield w
        task.cancel()


@pytest.fixture
def fake_factory() -> Iterator[Callable[[str], FakeScale]]:
    made: list[FakeScale] = []

    def make(protocol: str) -> FakeScale:
        made.append(FakeScale(protocol, stream_interval=0.05))
        return made[-1]

    yield make
    for f in made:
        f.close()


@asynccontextmanager
async def running(agent: ScaleAgent) -> AsyncIterator[ScaleAgent]:
    task = asyncio.create_task(agent.run())
    try:
        yield agent
    finally:
        agent.stop()
        async with asyncio.timeout(10):
            await task


def make_agent(
    broker: Mosquitto, store: str, scale: FakeScale, protocol: str, **kw: Any
) -> ScaleAgent:
    kw.setdefault("stable_hold_ms", 5000)
    kw.setdefault("poll_interval", 0.05)
    kw.setdefault("backoff", (0.05, 0.2))
    return ScaleAgent(
        "deli-1",
        store,
        scale.port,
        protocol,
        mqtt=MqttSettings(port=broker.port, client_id=f"scale-{store}"),
        line_overrides=PTY_8N1,
        **kw,
    )


def weight(grams: int, stable: bool) -> Callable[[str, Any], bool]:
    def pred(topic: str, body: Any) -> bool:
        return topic.endswith("/scales/deli-1/weight") and body == {
            "grams": grams,
            "stable": stable,
        }

    return pred


def status(state: str, **detail: Any) -> Callable[[str, Any], bool]:
    def pred(topic: str, body: Any) -> bool:
        if not topic.endswith("/devices/scale-deli-1/status") or not isinstance(body, dict):
            return False
        got = body.get("detail") or {}
        return body["state"] == state and all(got.get(k) == v for k, v in detail.items())

    return pred


# ---------------------------------------------------------------- tests


async def test_a_weight_change_arrives_retained(
    broker: Mosquitto, store: str, watcher: Watcher, fake_factory: Callable[[str], FakeScale]
) -> None:
    scale = fake_factory("mt-sics")
    scale.set_weight(1234)
    async with running(make_agent(broker, store, scale, "mt-sics")):
        await watcher.wait_for(weight(1234, True))
        scale.set_weight(2500)
        topic, body = await watcher.wait_for(weight(2500, True))
        assert topic == contract.scale_weight(store, "deli-1")
        assert contract.decode_weight(json.dumps(body).encode()) == contract.WeightMessage(
            grams=2500, stable=True
        )
        # a hub that connects later gets the current weight at once: retained
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier=f"late-{store}") as late:
            await late.subscribe(topic, qos=0)
            async with asyncio.timeout(WAIT):
                m = await anext(aiter(late.messages))
            assert m.retain
            assert m.payload == b'{"grams":2500,"stable":true}'
    # only changes (and heartbeats) are published, not every poll
    weights = [b for t, b, _ in watcher.seen if t == topic]
    assert len(weights) <= 4, weights


async def test_motion_makes_it_unstable_and_keeps_the_last_weight(
    broker: Mosquitto, store: str, watcher: Watcher, fake_factory: Callable[[str], FakeScale]
) -> None:
    scale = fake_factory("mettler-8217")  # in motion the 8217 sends only "?A": no number
    scale.set_weight(800)
    async with running(make_agent(broker, store, scale, "mettler-8217")):
        await watcher.wait_for(weight(800, True))
        scale.set_motion(True)
        await watcher.wait_for(weight(800, False))
        scale.set_weight(950)
        scale.set_motion(False)
        await watcher.wait_for(weight(950, True))


async def test_a_weight_that_holds_still_becomes_stable_after_the_hold_time(
    broker: Mosquitto, store: str, watcher: Watcher, fake_factory: Callable[[str], FakeScale]
) -> None:
    """Hold time is measured on the agent's clock, which the test moves: the weight is not
    stable a moment before the hold time has passed, and is just after."""
    scale = fake_factory("cas-22")  # streams "US" (unstable) forever while in motion
    scale.set_weight(400)
    scale.set_motion(True, wobble_g=20)  # wider than the band: never settles
    clock = StepClock()
    agent = make_agent(
        broker, store, scale, "cas-22", stable_hold_ms=300, stable_band_g=2, clock=clock
    )
    async with running(agent):
        await watcher.wait_for(lambda t, b: t.endswith("/weight") and b["stable"] is False)
        clock.advance(0.9)  # three hold times
        await clock.rounds()
        assert agent.weight is not None
        assert not agent.weight.stable
        scale.set_motion(True, wobble_g=1)  # still "US", but within +-2 g now
        mark = len(watcher.seen)
        await watcher.wait_for(
            lambda t, b: t.endswith("/weight") and b["grams"] in (399, 401), after=mark
        )
        clock.advance(0.29)  # every in-band reading so far came at one time: 0.29 s ago
        await clock.rounds()
        assert not agent.weight.stable, "stable before the hold time"
        clock.advance(0.02)
        await watcher.wait_for(weight(400, True), after=mark)  # the mean of the window


@pytest.mark.parametrize("protocol", ["mettler-8217", "mt-sics", "nci-scp01", "cas-22"])
async def test_auto_probe_picks_the_protocol_the_scale_speaks(
    broker: Mosquitto,
    store: str,
    watcher: Watcher,
    fake_factory: Callable[[str], FakeScale],
    protocol: str,
) -> None:
    scale = fake_factory(protocol)
    scale.set_weight(1500)
    agent = make_agent(broker, store, scale, "auto")
    async with running(agent):
        await watcher.wait_for(status("online", protocol=protocol), timeout=10)
        await watcher.wait_for(weight(1500, True))
    assert agent.detected is not None
    assert agent.detected.name == protocol


async def test_unplug_shows_the_error_and_replug_recovers_by_itself(
    broker: Mosquitto,
    store: str,
    watcher: Watcher,
    fake_factory: Callable[[str], FakeScale],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="tablehub.devices.scales")
    scale = fake_factory("nci-scp01")
    scale.set_weight(640)
    opener = CountingOpener()
    async with running(make_agent(broker, store, scale, "auto", open_port=opener)):
        await watcher.wait_for(weight(640, True))
        await watcher.wait_for(status("online", protocol="nci-scp01"))

        scale.unplug()
        _, body = await watcher.wait_for(
            lambda t, b: status("offline")(t, b) and "error" in b["detail"]
        )
        assert body["detail"]["code"] in ("lost", "unavailable")
        tried = opener.calls
        await until(lambda: opener.calls >= tried + 3, "three failed reopens while unplugged")

        scale.set_weight(700)
        scale.replug()
        await watcher.wait_for(status("online", protocol="nci-scp01"))
        await watcher.wait_for(weight(700, True))

    logs = [r.getMessage() for r in caplog.records]
    assert sum("scale deli-1 unplugged" in m for m in logs) == 1, logs
    assert sum("scale deli-1 recovered" in m for m in logs) == 1, logs
    offline = [b for t, b, _ in watcher.seen if status("offline")(t, b)]
    assert all(b["detail"].get("error") or b["detail"].get("reason") for b in offline)


async def test_stopping_leaves_a_retained_offline_status(
    broker: Mosquitto, store: str, watcher: Watcher, fake_factory: Callable[[str], FakeScale]
) -> None:
    scale = fake_factory("mt-sics")
    async with running(make_agent(broker, store, scale, "mt-sics")):
        await watcher.wait_for(status("online"))
    _, body = await watcher.wait_for(status("offline", reason="stopped"))
    assert contract.decode_device_status(json.dumps(body).encode()).state == "offline"


def test_a_slow_broker_only_ever_gets_the_latest_weight() -> None:
    link = DeviceLink(MqttSettings(), store_id="demo", device="scale-x", kind="scale")
    topic = contract.scale_weight("demo", "x")
    for grams in range(500):
        link.publish(topic, b'{"grams":%d,"stable":false}' % grams, qos=0, latest=True)
    assert [m.payload for m in link.pending] == [b'{"grams":499,"stable":false}']
    for i in range(150):  # events are FIFO, bounded: the oldest are dropped and counted
        link.publish("tablehub/v1/demo/tables/T1/call", b"%d" % i)
    assert len(link.pending) == 100
    assert link.dropped == 51


async def test_the_agent_comes_back_after_the_broker_restarts(
    tmp_path: Path, store: str, fake_factory: Callable[[str], FakeScale]
) -> None:
    mq = Mosquitto(tmp_path / "broker")
    mq.start()
    try:
        scale = fake_factory("mt-sics")
        scale.set_weight(300)
        agent = make_agent(mq, store, scale, "mt-sics")
        async with running(agent):
            await until(
                lambda: (
                    agent.weight is not None
                    and agent.link is not None
                    and agent.link.connected.is_set()
                ),
                "the agent connected with a weight",
            )
            mq.kill9()
            scale.set_weight(450)  # weighed while the broker is down: kept as the latest
            await until(lambda: agent.weight == Weight(450, True), "450 g weighed while down")
            mq.start()
            async with aiomqtt.Client("127.0.0.1", mq.port, identifier=f"w-{store}") as c:
                await c.subscribe(contract.scale_weight(store, "deli-1"), qos=0)
                async with asyncio.timeout(DEADLINE):
                    async for m in c.messages:
                        if m.payload == b'{"grams":450,"stable":true}':
                            break
    finally:
        mq.stop()
