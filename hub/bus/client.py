"""The hub's MQTT connection (aiomqtt over paho-mqtt, MQTT v5).

`Bus.run()` keeps one connection up forever: it logs "broker unreachable" once and
"connected" once per transition, backs off with jitter between attempts, publishes the hub's
retained `online` status (the broker publishes `offline`, the last will, if the hub dies),
subscribes to the hub's topics and hands each message to the router. `aiomqtt.MqttError`
never leaves this module: callers see `ConnectionError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.aio import cancel_all
from hub.bus import contract

log = logging.getLogger("tablehub.bus")

Handler = Callable[[contract.Topic, bytes], Awaitable[None]]
# (topic, payload, qos, retain)
Message = tuple[str, bytes, int, bool]
ACK_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    client_id: str = "tablehub-hub"
    keepalive: int = 15
    # after a reconnect, publish again what the broker acknowledged in this many seconds
    # before the drop: a broker killed or powered off loses what it acknowledged since its
    # last persistence save (autosave_interval: 10 s on a store box)
    replay_s: float = 15.0


class Bus:
    def __init__(self, config: BrokerConfig, store_id: str, handler: Handler) -> None:
        self._config = config
        self._store_id = store_id
        self._handler = handler
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()
        self._stop = asyncio.Event()
        self.received = 0
        self.connections = 0  # how many times it has connected (a new one: a new session)
        self.on_connected: list[Callable[[], None]] = []  # called on each (re)connect
        self.last_error: str | None = None
        # batches handed to paho by `publish_many`, by the mids they still wait for
        self._acks: dict[int, _Batch] = {}

    def __repr__(self) -> str:
        state = "connected" if self.connected.is_set() else "disconnected"
        return f"<Bus {self._config.host}:{self._config.port} {state}>"

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        client = self._client
        if client is None or not self.connected.is_set():
            raise ConnectionError("not connected to the broker")
        try:
            await client.publish(topic, payload, qos=qos, retain=retain)
        except aiomqtt.MqttError as exc:
            raise ConnectionError(str(exc)) from exc

    async def publish_many(self, messages: Sequence[Message]) -> None:
        """Publish in order and return once the broker has acknowledged every QoS 1 message.

        The messages go to paho in one go and one future waits for all their PUBACKs, where
        `publish` costs a future, a timeout and a task per message: at a rush the relay
        publishes thousands of tickets a second and those were most of its cost. paho keeps
        the order and its in-flight window. Raises ConnectionError if the connection drops
        (or no acknowledgement comes within `ACK_TIMEOUT_S`): the caller sends them all again.
        """
        client = self._client
        if client is None or not self.connected.is_set():
            raise ConnectionError("not connected to the broker")
        mqtt = client._client  # aiomqtt's paho client, whose acks we follow
        batch = _Batch(asyncio.get_running_loop().create_future())
        for topic, payload, qos, retain in messages:
            info = mqtt.publish(topic, payload, qos, retain)
            if info.rc != paho.MQTT_ERR_SUCCESS:
                self._forget(batch)
                raise ConnectionError(f"could not publish: {paho.error_string(info.rc)}")
            if qos and not info.is_published():
                batch.mids.add(info.mid)
                self._acks[info.mid] = batch
        if not batch.mids:
            return
        try:
            await asyncio.wait_for(asyncio.shield(batch.done), ACK_TIMEOUT_S)
        except TimeoutError:
            raise ConnectionError("the broker did not acknowledge in time") from None
        finally:
            self._forget(batch)

    def _forget(self, batch: _Batch) -> None:
        for mid in batch.mids:
            if self._acks.get(mid) is batch:
                del self._acks[mid]

    def _on_publish(self, mid: int) -> None:
        batch = self._acks.pop(mid, None)
        if batch is not None:
            batch.mids.discard(mid)
            if not batch.mids and not batch.done.done():
                batch.done.set_result(None)

    def _fail_batches(self, reason: str) -> None:
        for batch in set(self._acks.values()):
            if not batch.done.done():
                batch.done.set_exception(ConnectionError(reason))
            batch.done.exception()  # retrieved: no "never retrieved" warning if unawaited
        self._acks.clear()

    def _follow_acks(self, client: aiomqtt.Client) -> None:
        """Chain our PUBACK bookkeeping after aiomqtt's own on_publish."""
        mqtt = client._client
        theirs = mqtt.on_publish

        def on_publish(c: paho.Client, userdata: Any, mid: int, *rest: Any) -> None:
            if theirs is not None:
                theirs(c, userdata, mid, *rest)
            self._on_publish(mid)

        mqtt.on_publish = on_publish

    def stop(self) -> None:
        """Ask `run()` to publish `offline`, disconnect cleanly and return."""
        self._stop.set()

    async def run(self) -> None:
        delay = 0.5
        down_logged = False
        cfg = self._config
        status_topic = contract.hub_status(self._store_id)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        while not self._stop.is_set():
            try:
                async with aiomqtt.Client(
                    hostname=cfg.host,
                    port=cfg.port,
                    username=cfg.username,
                    password=cfg.password,
                    identifier=cfg.client_id,
                    keepalive=cfg.keepalive,
                    protocol=aiomqtt.ProtocolVersion.V5,
                    clean_start=False,
                    properties=props,
                    will=aiomqtt.Will(status_topic, b"offline", qos=1, retain=True),
                    timeout=10,
                ) as client:
                    # one SUBSCRIBE for every topic; the session is never cancelled midway
                    await client.subscribe(
                        [(t, 1) for t in contract.hub_subscriptions(self._store_id)]
                    )
                    await client.publish(status_topic, b"online", qos=1, retain=True)
                    self._follow_acks(client)
                    self._client = client
                    self.connections += 1
                    self.connected.set()
                    for hook in self.on_connected:
                        hook()
                    log.info("connected to broker %s:%d", cfg.host, cfg.port)
                    delay, down_logged = 0.5, False
                    await self._serve(client)
                    if self._stop.is_set():
                        self.connected.clear()
                        self._client = None
                        await client.publish(status_topic, b"offline", qos=1, retain=True)
            except aiomqtt.MqttError as exc:
                self.last_error = str(exc)
                if not down_logged:
                    log.warning("broker %s:%d unreachable: %s (retrying)", cfg.host, cfg.port, exc)
                    down_logged = True
            finally:
                self._client = None
                self.connected.clear()
                self._fail_batches("the connection to the broker dropped")
            if self._stop.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay * random.uniform(0.5, 1.5))  # noqa: S311
            delay = min(delay * 2, 30.0)

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Hand messages to the router until the connection drops or `stop()` is called."""

        async def read() -> None:
            async for message in client.messages:
                await self._dispatch(str(message.topic), message.payload)

        reader = asyncio.create_task(read(), name="mqtt-reader")
        stopper = asyncio.create_task(self._stop.wait(), name="mqtt-stop")
        try:
            await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            read_result, _ = await cancel_all([reader, stopper])
        if isinstance(read_result, Exception):
            raise read_result  # the MqttError of a dropped connection

    async def _dispatch(self, topic: str, payload: object) -> None:
        self.received += 1
        data = payload if isinstance(payload, bytes) else str(payload or "").encode()
        try:
            parsed = contract.parse_topic(topic)
        except contract.ContractError as exc:
            log.warning("mqtt: ignored message on %s: %s", topic[:120], exc)
            return
        try:
            await self._handler(parsed, data)
        except Exception:
            log.exception("mqtt: handler failed for %s", topic[:120])


@dataclass(slots=True, eq=False)  # hashed by identity
class _Batch:
    done: asyncio.Future[None]
    mids: set[int] = field(default_factory=set)
