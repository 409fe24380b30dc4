"""One device agent's MQTT session (aiomqtt over paho-mqtt, MQTT v5): `DeviceLink`.

Shared by the scale and button agents until `devices/agent.py` offers the same plumbing
(then this module should move there). It keeps one connection up: a retained
``devices/{device}/status`` (`DeviceStatus` JSON) with a last will of ``state: offline``,
(re)subscriptions, and a bounded outbox that survives reconnects:

- ``publish(..., latest=True)``: keep latest. A newer message on the same topic replaces
  the queued one (scale weight, status), so a slow broker only ever sees the newest.
- ``publish(...)``: an event (a button press). FIFO; when more than `max_pending` wait, the
  oldest is dropped and counted (`dropped`), logged once.

Reconnects back off with jitter; "broker unreachable" and "connected" are logged once per
transition. `aiomqtt.MqttError` never leaves this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiomqtt

from hub.aio import cancel_all
from hub.bus import contract

log = logging.getLogger("tablehub.devices.link")

MessageHandler = Callable[[str, bytes], None]


@dataclass(frozen=True, slots=True)
class MqttSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    keepalive: int = 15
    client_id: str | None = None  # default: the device name

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MqttSettings:
        unknown = sorted(
            set(d) - {"host", "port", "username", "password", "keepalive", "client_id"}
        )
        if unknown:
            raise ValueError(f"mqtt: unknown field(s) {unknown}")
        return cls(**d)


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    payload: bytes
    qos: int
    retain: bool


class DeviceLink:
    def __init__(
        self,
        settings: MqttSettings,
        *,
        store_id: str,
        device: str,
        kind: str,
        subscriptions: Sequence[str] = (),
        on_message: MessageHandler | None = None,
        max_pending: int = 100,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.device = device
        self.kind = kind
        self.status_topic = contract.device_status(store_id, device)
        self._subscriptions = list(subscriptions)
        self._on_message = on_message
        self._max_pending = max_pending
        self._rng = rng
        self._status = contract.DeviceStatus(state="online", kind=kind)
        self._pending: OrderedDict[object, Outgoing] = OrderedDict()
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self.connected = asyncio.Event()
        self.published = 0
        self.dropped = 0
        self._drop_logged = False

    def __repr__(self) -> str:
        state = "connected" if self.connected.is_set() else "disconnected"
        s = self.settings
        return f"<DeviceLink {self.device} {s.host}:{s.port} {state} pending={len(self._pending)}>"

    @property
    def status(self) -> contract.DeviceStatus:
        return self._status

    @property
    def pending(self) -> list[Outgoing]:
        """What waits to be sent, oldest first."""
        return list(self._pending.values())

    # -- called on the event loop

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        latest: bool = False,
    ) -> None:
        msg = Outgoing(topic, payload, qos, retain)
        key: object = topic if latest else next(self._seq)
        self._pending.pop(key, None)
        self._pending[key] = msg
        while len(self._pending) > self._max_pending:
            self._pending.popitem(last=False)
            self.dropped += 1
            if not self._drop_logged:
                log.warning("%s: outbox full, dropping the oldest messages", self.device)
                self._drop_logged = True
        self._wake.set()

    def set_status(self, state: str, detail: Mapping[str, Any] | None = None) -> None:
        """The retained status, published now and again on every reconnect."""
        self._status = contract.DeviceStatus(
            state=state,  # type: ignore[arg-type]
            kind=self.kind,
            detail=dict(detail) if detail else None,
        )
        self._queue_status(front=False)

    def stop(self) -> None:
        """Ask `run()` to flush, publish a clean ``offline`` status and return."""
        self._stop.set()

    async def run(self) -> None:
        delay = 0.5
        down_logged = False
        s = self.settings
        will = aiomqtt.Will(self.status_topic, self._offline("connection lost"), qos=1, retain=True)
        while not self._stop.is_set():
            try:
                async with aiomqtt.Client(
                    s.host,
                    s.port,
                    username=s.username,
                    password=s.password,
                    identifier=s.client_id or self.device,
                    keepalive=s.keepalive,
                    protocol=aiomqtt.ProtocolVersion.V5,
                    will=will,
                    timeout=10,
                ) as client:
                    if self._subscriptions:
                        await client.subscribe([(t, 1) for t in self._subscriptions])
                    self._queue_status(front=True)
                    self.connected.set()
                    log.info("%s: connected to broker %s:%d", self.device, s.host, s.port)
                    delay, down_logged = 0.5, False
                    await self._serve(client)
                    if self._stop.is_set():
                        await self._goodbye(client)
            except aiomqtt.MqttError as exc:
                if not down_logged:
                    log.warning(
                        "%s: broker %s:%d unreachable: %s (retrying)",
                        self.device,
                        s.host,
                        s.port,
                        exc,
                    )
                    down_logged = True
            finally:
                self.connected.clear()
            if self._stop.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay * (0.5 + self._rng()))
            delay = min(delay * 2, 30.0)

    # -- internals

    def _offline(self, reason: str) -> bytes:
        return contract.encode(
            contract.DeviceStatus(state="offline", kind=self.kind, detail={"reason": reason})
        )

    def _queue_status(self, *, front: bool) -> None:
        self.publish(
            self.status_topic, contract.encode(self._status), qos=1, retain=True, latest=True
        )
        if front:
            self._pending.move_to_end(self.status_topic, last=False)

    async def _serve(self, client: aiomqtt.Client) -> None:
        # the reader runs even without subscriptions: it is what notices a dead connection
        tasks = [
            asyncio.create_task(self._send(client), name=f"{self.device}-mqtt-send"),
            asyncio.create_task(self._read(client), name=f"{self.device}-mqtt-read"),
            asyncio.create_task(self._stop.wait(), name=f"{self.device}-mqtt-stop"),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            results = await cancel_all(tasks)
        for r in results:
            if isinstance(r, aiomqtt.MqttError):
                raise r

    async def _send(self, client: aiomqtt.Client) -> None:
        while True:
            await self._wake.wait()
            while self._pending:
                key, msg = next(iter(self._pending.items()))
                try:
                    await client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
                except aiomqtt.MqttError:
                    raise  # stays queued: sent again after the reconnect
                if self._pending.get(key) is msg:
                    del self._pending[key]
                self.published += 1
            self._wake.clear()

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            data = payload if isinstance(payload, bytes) else str(payload or "").encode()
            if self._on_message is None:
                continue
            try:
                self._on_message(str(message.topic), data)
            except Exception:
                log.exception("%s: handler failed for %s", self.device, str(message.topic)[:120])

    async def _goodbye(self, client: aiomqtt.Client) -> None:
        """Flush what is queued (bounded), then a clean retained ``offline``."""
        with contextlib.suppress(TimeoutError, aiomqtt.MqttError):
            async with asyncio.timeout(2):
                while self._pending:
                    key, msg = next(iter(self._pending.items()))
                    await client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
                    self._pending.pop(key, None)
                    self.published += 1
                await client.publish(
                    self.status_topic, self._offline("stopped"), qos=1, retain=True
                )
