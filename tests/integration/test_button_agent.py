"""The button agent on gpiozero's MockFactory and the real test broker. Pins are driven from
ANOTHER thread, as lgpio's edge thread would deliver them on a Pi: a press is one QoS 1
message with a unique id, LEDs follow the retained call state, bounce and holding are one
press, and the broker fires the agent's last will when its process dies.

Edges are stamped by the agent's clock, which these tests step (`EdgeClock`) instead of
sleeping between edges: 3 ms of bounce stays 3 ms however busy the machine is."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiomqtt
import pytest
from gpiozero.pins.mock import MockFactory

from devices.agent import MqttSettings
from devices.buttons.agent import ButtonAgent
from devices.buttons.config import BumpButton, ButtonConfig, CallButton, CallLed
from hub.bus import contract
from hub.ops.mosquitto import Mosquitto
from tests.waiting import DEADLINE, until

WAIT = DEADLINE
ROOT = Path(__file__).resolve().parents[2]

BOARD = ButtonConfig(
    name="front",
    calls=(CallButton(17, "T4", "waiter"), CallButton(18, "T4", "bill")),
    leds=(CallLed(27, "T4"),),
    bumps=(BumpButton(22, "grill", "bump"), BumpButton(23, "grill", "recall")),
    bounce_ms=40,
)


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, int]] = []
        self.changed = asyncio.Event()

    async def pump(self, client: aiomqtt.Client) -> None:
        async for m in client.messages:
            payload = m.payload if isinstance(m.payload, bytes) else b""
            self.messages.append((str(m.topic), payload, m.qos))
            self.changed.set()

    def on(self, suffix: str) -> list[bytes]:
        return [p for t, p, _ in self.messages if t.endswith(suffix)]

    async def wait_count(self, suffix: str, n: int, timeout: float = WAIT) -> list[bytes]:
        try:
            async with asyncio.timeout(timeout):
                while len(self.on(suffix)) < n:
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            got = self.on(suffix)
            raise AssertionError(f"{n} messages on *{suffix} awaited, {len(got)} came") from None
        return self.on(suffix)


class EdgeClock:
    """The agent's clock, stepped by the edge thread: `at` is the time stamped on an edge."""

    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += seconds


@pytest.fixture
def store() -> str:
    return f"b{uuid.uuid4().hex[:10]}"


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    f = MockFactory()
    yield f
    f.reset()
    f.close()


@pytest.fixture
async def client(broker: Mosquitto, store: str) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(
        "127.0.0.1", broker.port, identifier=f"hub-{store}", protocol=aiomqtt.ProtocolVersion.V5
    ) as c:
        yield c


@pytest.fixture
async def inbox(client: aiomqtt.Client, store: str) -> AsyncIterator[Inbox]:
    await client.subscribe(
        [(f"tablehub/v1/{store}/tables/+/call", 1), (f"tablehub/v1/{store}/kds/+/bump", 1)]
    )
    box = Inbox()
    task = asyncio.create_task(box.pump(client))
    yield box
    task.cancel()


@pytest.fixture
def clock() -> EdgeClock:
    return EdgeClock()


@pytest.fixture
async def agent(
    broker: Mosquitto, store: str, factory: MockFactory, clock: EdgeClock
) -> AsyncIterator[ButtonAgent]:
    settings = MqttSettings(port=broker.port, client_id=f"buttons-{store}")
    a = ButtonAgent(store, BOARD, settings, factory, clock=clock)
    task = asyncio.create_task(a.run())
    await until(lambda: a.link is not None and a.link.connected.is_set(), "the agent to connect")
    yield a
    a.stop()
    async with asyncio.timeout(WAIT):
        await task


def in_thread(clock: EdgeClock, *steps: tuple[Callable[[], None], float]) -> threading.Thread:
    """Run (edge, then pause) steps in another thread, the way GPIO edges arrive; a pause
    steps the agent's clock rather than sleeping, so the edges' spacing is exact."""

    def run() -> None:
        for action, pause in steps:
            action()
            clock.advance(pause)

    t = threading.Thread(target=run, name="gpio-edges")
    t.start()
    return t


async def join(t: threading.Thread) -> None:
    await asyncio.to_thread(t.join, WAIT)
    assert not t.is_alive(), "the edge thread did not finish"


# ---------------------------------------------------------------- tests


async def test_a_call_press_is_one_message_with_a_unique_id(
    agent: ButtonAgent, factory: MockFactory, inbox: Inbox, store: str, clock: EdgeClock
) -> None:
    pin, bill = factory.pin(17), factory.pin(18)
    await join(in_thread(clock, (pin.drive_low, 0.08), (pin.drive_high, 0.1)))
    (first,) = await inbox.wait_count("/tables/T4/call", 1)
    await join(in_thread(clock, (pin.drive_low, 0.08), (pin.drive_high, 0.1)))
    calls = await inbox.wait_count("/tables/T4/call", 2)
    # nothing more from those two presses: a later press on the same topic comes after them
    await join(in_thread(clock, (bill.drive_low, 0.08), (bill.drive_high, 0.1)))
    await inbox.wait_count("/tables/T4/call", 3)

    msgs = [contract.decode_call(p) for p in inbox.on("/tables/T4/call")]
    assert [m.kind for m in msgs] == ["waiter", "waiter", "bill"]
    assert msgs[0].id != msgs[1].id
    assert msgs[0].id.startswith("buttons-front-")
    assert calls[0] == first
    topic, _, qos = inbox.messages[0]
    assert (topic, qos) == (contract.table_call(store, "T4"), 1)


async def test_the_bill_button_says_bill(
    agent: ButtonAgent, factory: MockFactory, inbox: Inbox, clock: EdgeClock
) -> None:
    pin = factory.pin(18)
    await join(in_thread(clock, (pin.drive_low, 0.06), (pin.drive_high, 0.0)))
    (payload,) = await inbox.wait_count("/tables/T4/call", 1)
    assert contract.decode_call(payload).kind == "bill"


async def test_the_led_follows_the_retained_call_state(
    broker: Mosquitto,
    client: aiomqtt.Client,
    store: str,
    factory: MockFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    topic = contract.table_call_state(store, "T4")
    state = contract.CallState(open=True, kind="waiter", call_id="c-1")
    await client.publish(topic, contract.encode(state), qos=1, retain=True)  # before it starts
    a = ButtonAgent(store, BOARD, MqttSettings(port=broker.port, client_id=f"b-{store}"), factory)
    task = asyncio.create_task(a.run())
    led = factory.pin(27)

    async def lit(expected: bool) -> None:
        await until(lambda: led.state == expected, f"the LED {'on' if expected else 'off'}")

    def refusals() -> int:
        return sum("rejected call state for table T4" in m for m in caplog.messages)

    try:
        await lit(True)
        await client.publish(topic, b'{"open": false}', qos=1, retain=True)
        await lit(False)
        await client.publish(topic, b'{"open": true, "kind": "bill"}', qos=1, retain=True)
        await lit(True)
        changes = len(led.states)
        caplog.set_level(logging.WARNING, logger="tablehub.devices.buttons")
        await client.publish(topic, b'{"open": "maybe"}', qos=1, retain=True)  # breaks contract
        await client.publish(topic, b"not json", qos=1, retain=True)  # (said once per table)
        # a marker that orders after them: a valid state that changes nothing lets the next
        # bad one be said again, so its warning shows every message before it was handled
        await client.publish(topic, b'{"open": true, "kind": "bill"}', qos=1, retain=True)
        await client.publish(topic, b"not json", qos=1, retain=True)
        await until(lambda: refusals() == 2, "the agent to refuse the marked bad state")
        assert led.state is True
        assert led.states[changes:] == [], "a bad state switched the LED"
        await client.publish(topic, b"", qos=1, retain=True)  # retained state cleared
        await lit(False)
    finally:
        a.stop()
        async with asyncio.timeout(WAIT):
            await task


async def test_a_bump_button_publishes_to_its_station(
    agent: ButtonAgent, factory: MockFactory, inbox: Inbox, store: str, clock: EdgeClock
) -> None:
    bump, recall = factory.pin(22), factory.pin(23)
    await join(in_thread(clock, (bump.drive_low, 0.06), (bump.drive_high, 0.06)))
    await join(in_thread(clock, (recall.drive_low, 0.06), (recall.drive_high, 0.0)))
    payloads = await inbox.wait_count("/kds/grill/bump", 2)

    msgs = [contract.decode_bump(p) for p in payloads]
    assert [m.action for m in msgs] == ["bump", "recall"]
    assert msgs[0].id != msgs[1].id
    assert inbox.messages[0][0] == contract.kds_bump(store, "grill")
    assert inbox.on("/call") == []


async def test_a_bouncy_held_press_is_one_message(
    agent: ButtonAgent, factory: MockFactory, inbox: Inbox, clock: EdgeClock
) -> None:
    pin, bill = factory.pin(17), factory.pin(18)
    bounce = 0.003
    edges = [
        (pin.drive_low, bounce),
        (pin.drive_high, bounce),
        (pin.drive_low, bounce),
        (pin.drive_high, bounce),
        (pin.drive_low, 0.6),  # held for 0.6 s
        (pin.drive_high, bounce),  # release bounce
        (pin.drive_low, bounce),
        (pin.drive_high, 0.0),
    ]
    await join(in_thread(clock, *edges))
    # a later, clean press on the same topic: its message comes after any from the bounces
    await join(in_thread(clock, (bill.drive_low, 0.06), (bill.drive_high, 0.0)))
    calls = await inbox.wait_count("/tables/T4/call", 2)
    assert [contract.decode_call(p).kind for p in calls] == ["waiter", "bill"]
    assert agent.presses == 2


async def test_the_last_will_fires_when_the_agent_dies(
    broker: Mosquitto, client: aiomqtt.Client, store: str, tmp_path: Path
) -> None:
    cfg = tmp_path / "board.toml"
    cfg.write_text(
        f'store = "{store}"\nname = "bar"\n[mqtt]\nport = {broker.port}\n'
        '[[call]]\npin = 17\ntable = "T9"\nkind = "water"\n'
    )
    status_topic = contract.device_status(store, "buttons-bar")
    await client.subscribe(status_topic, qos=1)
    env = {**os.environ, "GPIOZERO_PIN_FACTORY": "mock", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "devices.buttons", str(cfg)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seen: list[contract.DeviceStatus] = []
    try:
        async with asyncio.timeout(15):
            async for m in client.messages:
                assert isinstance(m.payload, bytes)
                seen.append(contract.decode_device_status(m.payload))
                if seen[-1].state == "online":
                    break
        proc.kill()  # SIGKILL: no DISCONNECT, the broker sees the socket die
        proc.wait(5)
        async with asyncio.timeout(WAIT):
            async for m in client.messages:
                assert isinstance(m.payload, bytes)
                seen.append(contract.decode_device_status(m.payload))
                break
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        err = proc.stderr.read().decode() if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
    assert seen[-1].state == "offline", err
    assert seen[-1].kind == "buttons"
    assert seen[-1].detail == {"reason": "connection lost"}
    assert json.loads(contract.encode(seen[-2]))["detail"] == {"calls": 1, "bumps": 0, "leds": 0}
