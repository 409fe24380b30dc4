"""The one MQTT session (plumbing/mqtt.py) against a real Mosquitto: birth and goodbye, the
last will, subscriptions renewed after the broker comes back, and batches acknowledged as
one."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiomqtt
import pytest

from hub.ops.mosquitto import Mosquitto
from plumbing.backoff import Backoff
from plumbing.mqtt import Endpoint, LastWill, MqttSession, Send, _paho


async def until(cond: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():
            await asyncio.sleep(0.02)
    assert cond(), what


class Rig:
    def __init__(self, port: int, *, persistent: bool = False) -> None:
        self.port = port
        self.received: list[tuple[str, bytes]] = []
        self.births = 0
        self.session = MqttSession(
            endpoint=Endpoint(port=port),
            client_id="session-under-test",
            persistent=persistent,
            will=LastWill("t/status", b"lost"),
            subscriptions=["t/in"],
            on_message=self._on_message,
            birth=self._birth,
            goodbye=self._goodbye,
            backoff=Backoff(0.05, 0.5),
        )

    async def _on_message(self, topic: str, payload: bytes) -> None:
        self.received.append((topic, payload))

    async def _birth(self, send: Send) -> None:
        self.births += 1
        await send("t/status", b"online", 1, True)

    async def _goodbye(self, send: Send) -> None:
        await send("t/status", b"stopped", 1, True)


@pytest.fixture
async def own_broker(tmp_path: Path) -> AsyncIterator[Mosquitto]:
    mq = Mosquitto(tmp_path / "mq")
    mq.start()
    try:
        yield mq
    finally:
        mq.stop()


@contextlib.asynccontextmanager
async def running(rig: Rig) -> AsyncIterator[asyncio.Task[None]]:
    """The session runs (connected once) inside; stopped cleanly, and waited for, after."""
    task = asyncio.create_task(rig.session.run())
    try:
        await asyncio.wait_for(rig.session.connected.wait(), 10)
        yield task
    finally:
        rig.session.stop()
        await asyncio.wait_for(task, 10)


async def _status(port: int) -> bytes:
    async with aiomqtt.Client("127.0.0.1", port, identifier="status-reader") as c:
        await c.subscribe("t/status", qos=1)
        async with asyncio.timeout(5):
            async for message in c.messages:
                assert isinstance(message.payload, bytes)
                return message.payload
    raise AssertionError("no retained status")


async def test_birth_goodbye_and_messages(own_broker: Mosquitto) -> None:
    rig = Rig(own_broker.port)
    async with running(rig):
        assert await _status(own_broker.port) == b"online"
        async with aiomqtt.Client("127.0.0.1", own_broker.port, identifier="peer") as peer:
            await peer.publish("t/in", b"hello", qos=1)
            await until(lambda: rig.received == [("t/in", b"hello")], "handed over")

    assert await _status(own_broker.port) == b"stopped"
    with pytest.raises(ConnectionError, match="not connected"):
        await rig.session.publish("t/x", b"late")


async def test_subscriptions_are_renewed_after_the_broker_comes_back(
    own_broker: Mosquitto,
) -> None:
    rig = Rig(own_broker.port, persistent=False)  # a clean session: the broker forgets
    async with running(rig):
        own_broker.stop()
        await until(lambda: not rig.session.connected.is_set(), "the drop is noticed")
        with pytest.raises(ConnectionError):
            await rig.session.publish_many([("t/out", b"x", 1, False)])
        own_broker.start()
        await until(
            lambda: rig.session.connections == 2 and rig.session.connected.is_set(),
            "it reconnects once the broker is back",
        )
        async with aiomqtt.Client("127.0.0.1", own_broker.port, identifier="peer") as peer:
            await peer.publish("t/in", b"again", qos=1)
            await until(lambda: ("t/in", b"again") in rig.received, "subscribed again")
        assert rig.births == 2
        assert await _status(own_broker.port) == b"online"


async def test_the_broker_publishes_the_last_will_when_the_connection_dies(
    own_broker: Mosquitto,
) -> None:
    rig = Rig(own_broker.port)
    async with (
        running(rig),
        aiomqtt.Client("127.0.0.1", own_broker.port, identifier="watcher") as w,
    ):
        await w.subscribe("t/status", qos=1)
        seen: list[bytes] = []

        async def watch() -> None:
            async for message in w.messages:
                assert isinstance(message.payload, bytes)
                seen.append(message.payload)

        watcher = asyncio.create_task(watch())
        await until(lambda: seen == [b"online"], "the retained birth")
        # the same client id again: the broker drops the session's connection uncleanly
        async with aiomqtt.Client("127.0.0.1", own_broker.port, identifier="session-under-test"):
            pass
        await until(lambda: b"lost" in seen, "the will")
        await until(lambda: seen[-1] == b"online", "born again after it reconnects")
        watcher.cancel()


async def test_a_batch_is_published_in_order_and_acknowledged_as_one(
    own_broker: Mosquitto,
) -> None:
    rig = Rig(own_broker.port)
    async with running(rig):
        async with aiomqtt.Client("127.0.0.1", own_broker.port, identifier="reader") as r:
            await r.subscribe("t/batch", qos=1)
            await rig.session.publish_many(
                [("t/batch", str(n).encode(), 1, False) for n in range(300)]
            )
            got: list[int] = []
            async with asyncio.timeout(10):
                async for message in r.messages:
                    assert isinstance(message.payload, bytes)
                    got.append(int(message.payload))
                    if len(got) == 300:
                        break
        assert got == list(range(300))


async def test_the_session_socket_sends_small_messages_at_once(own_broker: Mosquitto) -> None:
    # with Nagle's algorithm on, a batch's second message waits for the broker's TCP
    # acknowledgement of the first (up to its delayed ACK, 40 ms on Linux)
    rig = Rig(own_broker.port)
    async with running(rig):
        client = rig.session._client
        assert client is not None
        sock = _paho(client).socket()
        assert isinstance(sock, socket.socket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
