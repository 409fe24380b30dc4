"""What every device agent shares: its MQTT link to the hub's broker and its settings.

`DeviceLink` is a device's `plumbing.mqtt.MqttSession` (aiomqtt over paho-mqtt, MQTT v5),
kept up for as long as the agent runs:

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
- reconnects with the shared jittered backoff (`plumbing.backoff`), logging "unreachable"
  once per cause and "recovered" once per transition.

Time comes in through `plumbing.clock.Clock`; log-once transitions are
`plumbing.logs.Transitions`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import itertools
import logging
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from hub.bus import contract
from plumbing.backoff import Backoff
from plumbing.mqtt import Endpoint, LastWill, MqttSession, Send

log = logging.getLogger("tablehub.devices")

MessageHandler = Callable[[str, bytes], Awaitable[None] | None]
GOODBYE_S = 2.0  # how long a clean stop may spend on the outbox, and then on the offline status
# a device's broker is the hub's, on the store's network: back off briefly, never for long
RECONNECT_BASE_S = 0.25
RECONNECT_CAP_S = 5.0


@dataclass(frozen=True, slots=True)
class MqttSettings(Endpoint):
    """How a device agent reaches the broker (from its config file): the `Endpoint` (host,
    port, login, keepalive, timeout) and the agent's session."""

    client_id: str | None = None  # default: the link's `default_client_id`
    session_expiry: int = 3600  # seconds; persistent sessions only

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MqttSettings:
        """The ``[mqtt]`` table of an agent's config; an unknown field is a `ValueError`."""
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
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
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.device = device
        self.kind = kind
        self.status_topic = contract.device_status(store_id, device)
        self.client_id = settings.client_id or default_client_id or f"{store_id}-{device}"
        self.persistent = persistent
        self._offline_reasons = offline_reasons
        self._on_message = on_message
        self._max_pending = max_pending
        self._status = contract.DeviceStatus(state="online", kind=kind)
        self._pending: OrderedDict[object, Outgoing] = OrderedDict()
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._draining = asyncio.Lock()  # the connect's drain and the writer's, one at a time
        self.published = 0
        self.dropped = 0
        self._drop_logged = False
        self._session = MqttSession(
            endpoint=settings,
            client_id=self.client_id,
            persistent=persistent,
            session_expiry=settings.session_expiry,
            will=LastWill(self.status_topic, self._offline("connection lost")),
            subscriptions=subscriptions,
            on_message=self._handle,
            birth=self._birth,
            serve=self._write,
            goodbye=self._goodbye,
            backoff=Backoff(RECONNECT_BASE_S, RECONNECT_CAP_S, rng),
            logger=log,
        )
        self.connected = self._session.connected

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
        self._session.stop()

    async def run(self) -> None:
        await self._session.run()

    # ------------------------------------------------------------------ the session's hooks

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

    async def _handle(self, topic: str, payload: bytes) -> None:
        if self._on_message is not None:
            handled = self._on_message(topic, payload)
            if inspect.isawaitable(handled):
                await handled

    async def _birth(self, send: Send) -> None:
        """On each connect: the status first, then everything queued meanwhile."""
        self._queue_status(front=True)
        await self._drain(send)

    async def _write(self, send: Send) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._drain(send)

    async def _drain(self, send: Send) -> None:
        """Publish the outbox in order, each message after its PUBACK (QoS 1). A message
        whose publish fails stays queued: it is sent again after the reconnect."""
        async with self._draining:
            while self._pending:
                key, msg = next(iter(self._pending.items()))
                await send(msg.topic, msg.payload, msg.qos, msg.retain)
                if self._pending.get(key) is msg:  # not replaced by a newer one meanwhile
                    del self._pending[key]
                self.published += 1

    async def _goodbye(self, send: Send) -> None:
        """After `stop()`: flush what is queued (bounded), then a clean retained ``offline``
        (bounded too, so a broker that stopped answering cannot hold the agent up)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(GOODBYE_S):
                await self._drain(send)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(GOODBYE_S):
                await send(self.status_topic, self._offline("stopped"), 1, True)
