"""Plumbing every device agent shares: its MQTT session, its clock, its log-once transitions.

`DeviceLink` keeps one device's MQTT v5 session (aiomqtt over paho-mqtt) up for as long as
the agent runs:

- a persistent session (``clean_start=False`` + ``SessionExpiryInterval``), so QoS 1 messages
  sent while the agent was away are delivered when it comes back; or, with
  ``persistent=False``, a clean one;
- a retained ``devices/{device}/status`` (`DeviceStatus` JSON) republished on every connect
  and whenever `set_status()` changes it, and a last will of ``state: offline`` that the
  broker publishes if the connection dies; a clean `stop()` flushes the outbox (bounded) and
  publishes an offline status itself. With ``offline_reasons=True`` the offline status says
  why in ``detail.reason``: ``connection lost`` (the will) or ``stopped``;
- (re)subscriptions, with each message handed to `on_message` (a plain function or a
  coroutine function; one message at a time, in order);
- an ordered, bounded outbox that survives reconnects, QoS and retain per message:
  ``publish(..., latest=True)`` keeps only the newest message on a topic (a scale's weight,
  the status), so a slow broker only ever sees the newest; ``publish(...)`` is an event (a
  button press, a print ack), FIFO. When more than `max_pending` wait, the oldest is dropped
  and counted (`dropped`), logged once: every message a device sends is idempotent or
  superseded, and the hub retries what it has not seen acknowledged;
- reconnects with jittered exponential backoff, logging "unreachable" once per cause and
  "connected"/"recovered" once per transition.

`aiomqtt.MqttError` never leaves this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import itertools
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.aio import cancel_all
from hub.bus import contract

log = logging.getLogger("tablehub.devices")

MessageHandler = Callable[[str, bytes], Awaitable[None] | None]
GOODBYE_S = 2.0  # how long a clean stop may spend on the outbox, and then on the offline status


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """How a device agent reaches the broker (from its config file)."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    keepalive: int = 15
    client_id: str | None = None  # default: the link's `default_client_id`
    session_expiry: int = 3600  # seconds; persistent sessions only
    timeout: float = 10.0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MqttSettings:
        """The ``[mqtt]`` table of an agent's config; an unknown field is a `ValueError`."""
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"mqtt: unknown field(s) {unknown}")
        return cls(**d)


class Clock(Protocol):
    """Time comes in through a parameter so tests can control it."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()


SYSTEM_CLOCK = SystemClock()


class Transitions:
    """Log a device's trouble once when it starts (or its cause changes) and once when it ends."""

    def __init__(self, logger: logging.Logger, name: str) -> None:
        self._log = logger
        self._name = name
        self.cause: str | None = None

    def trouble(self, cause: str) -> bool:
        if cause == self.cause:
            return False
        self.cause = cause
        self._log.warning("%s offline: %s", self._name, cause)
        return True

    def ok(self) -> bool:
        if self.cause is None:
            return False
        self.cause = None
        self._log.info("%s recovered", self._name)
        return True


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    payload: bytes
    qos: int
    retain: bool


class DeviceLink:
    """One device's MQTT session (see the module docstring). `run()` until `stop()`."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        store_id: str,
        device: str,
        kind: str,
        subscriptions: Sequence[str] = (),
        on_message: MessageHandler | None = None,
        default_client_id: str | None = None,
        persistent: bool = True,
        offline_reasons: bool = False,
        max_pending: int = 100,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.device = device
        self.kind = kind
        self.status_topic = contract.device_status(store_id, device)
        self.client_id = settings.client_id or default_client_id or f"{store_id}-{device}"
        self.persistent = persistent
        self._offline_reasons = offline_reasons
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
        self._broker = Transitions(log, f"broker {settings.host}:{settings.port} for {device}")

    def __repr__(self) -> str:
        state = "connected" if self.connected.is_set() else "disconnected"
        s = self.settings
        return (
            f"<DeviceLink {self.client_id} {s.host}:{s.port} {state} pending={len(self._pending)}>"
        )

    @property
    def status(self) -> contract.DeviceStatus:
        return self._status

    @property
    def pending(self) -> list[Outgoing]:
        """What waits to be sent, oldest first."""
        return list(self._pending.values())

    # ------------------------------------------------------------------ API (on the loop)

    def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        latest: bool = False,
    ) -> None:
        """Queue a message; it goes out in order as soon as the broker is there. `latest`:
        it replaces a message on the same topic that is still waiting."""
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

    def set_status(
        self, state: Literal["online", "offline"], detail: Mapping[str, Any] | None = None
    ) -> None:
        """The retained status: published now if it changed, and again on every connect."""
        status = contract.DeviceStatus(
            state=state, kind=self.kind, detail=dict(detail) if detail else None
        )
        if status != self._status:
            self._status = status
            self._queue_status(front=False)

    def stop(self) -> None:
        """Ask `run()` to flush, publish a clean ``offline`` status and return."""
        self._stop.set()

    # ------------------------------------------------------------------ the session

    def _offline(self, reason: str) -> bytes:
        detail = {"reason": reason} if self._offline_reasons else None
        return contract.encode(
            contract.DeviceStatus(state="offline", kind=self.kind, detail=detail)
        )

    def _queue_status(self, *, front: bool) -> None:
        self.publish(
            self.status_topic, contract.encode(self._status), qos=1, retain=True, latest=True
        )
        if front:
            self._pending.move_to_end(self.status_topic, last=False)

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        props: Properties | None = None
        if self.persistent:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = s.session_expiry
        return aiomqtt.Client(
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password,
            identifier=self.client_id,
            keepalive=s.keepalive,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=not self.persistent,
            properties=props,
            will=aiomqtt.Will(
                self.status_topic, self._offline("connection lost"), qos=1, retain=True
            ),
            timeout=s.timeout,
        )

    async def run(self) -> None:
        delay = 0.5
        s = self.settings
        while not self._stop.is_set():
            try:
                async with self._client() as client:
                    if self._subscriptions:
                        await client.subscribe([(t, 1) for t in self._subscriptions])
                    self._queue_status(front=True)
                    await self._drain(client)
                    self.connected.set()
                    if not self._broker.ok():
                        log.info("%s connected to %s:%d", self.device, s.host, s.port)
                    delay = 0.5
                    await self._serve(client)
                    await self._goodbye(client)
            except aiomqtt.MqttError as exc:
                self._broker.trouble(f"unreachable ({exc}), retrying")
            finally:
                self.connected.clear()
            if self._stop.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay * (0.5 + self._rng()))
            delay = min(delay * 2, 30.0)

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Read and write until `stop()`; raise MqttError when the connection drops. The
        reader runs even without subscriptions: it is what notices a dead connection."""
        tasks = {
            asyncio.create_task(self._read(client), name=f"{self.device}-mqtt-read"),
            asyncio.create_task(self._write(client), name=f"{self.device}-mqtt-write"),
            asyncio.create_task(self._stop.wait(), name=f"{self.device}-mqtt-stop"),
        }
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            results = await cancel_all(tasks)
        for result in results:
            if isinstance(result, aiomqtt.MqttError):
                raise result
        if not self._stop.is_set():
            raise aiomqtt.MqttError("connection closed")

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            data = payload if isinstance(payload, bytes) else str(payload or "").encode()
            if self._on_message is None:
                continue
            try:
                handled = self._on_message(str(message.topic), data)
                if inspect.isawaitable(handled):
                    await handled
            except Exception:  # one bad message never stops the session
                log.exception("%s: handler failed for %s", self.device, str(message.topic)[:120])

    async def _write(self, client: aiomqtt.Client) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._drain(client)

    async def _drain(self, client: aiomqtt.Client) -> None:
        """Publish the outbox in order, each message after its PUBACK (QoS 1). A message
        whose publish fails stays queued: it is sent again after the reconnect."""
        while self._pending:
            key, msg = next(iter(self._pending.items()))
            await client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
            if self._pending.get(key) is msg:  # not replaced by a newer one meanwhile
                del self._pending[key]
            self.published += 1

    async def _goodbye(self, client: aiomqtt.Client) -> None:
        """After `stop()`: flush what is queued (bounded), then a clean retained ``offline``
        (bounded too, so a broker that stopped answering cannot hold the agent up)."""
        self.connected.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(GOODBYE_S):
                await self._drain(client)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(GOODBYE_S):
                payload = self._offline("stopped")
                await client.publish(self.status_topic, payload, qos=1, retain=True)
