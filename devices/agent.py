"""Plumbing every device agent shares: its MQTT session, its clock, its log-once transitions.

`DeviceLink` keeps one device's MQTT v5 session up for as long as the agent runs:

- a persistent session (``clean_start=False`` + ``SessionExpiryInterval``), so QoS 1 messages
  sent while the agent was away are delivered when it comes back;
- a retained ``devices/{device}/status`` of ``{"state": "online", "kind": ..., "detail": ...}``
  republished on every connect and whenever `set_status()` changes it, and a last will of
  ``{"state": "offline", "kind": ...}`` that the broker publishes if the connection dies; a
  clean `stop()` publishes the same offline status itself;
- an ordered, bounded outbox (`send()`): messages wait while the broker is unreachable and go
  out in order on reconnect; when full the oldest is dropped and counted (every message a
  device sends is idempotent and the hub retries what it has not seen acknowledged);
- reconnects with jittered exponential backoff, logging "unreachable" once and "connected"
  once per transition.

`aiomqtt.MqttError` never leaves this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hub.aio import cancel_all
from hub.bus import contract

log = logging.getLogger("tablehub.devices")

Handler = Callable[[str, bytes], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """How a device agent reaches the broker (from its config file)."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    client_id: str | None = None  # default "{store}-{device}": stable, so the session persists
    keepalive: int = 15
    session_expiry: int = 3600
    timeout: float = 10.0


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


class DeviceLink:
    """One device's MQTT session (see the module docstring). `run()` until `stop()`."""

    def __init__(
        self,
        settings: MqttSettings,
        *,
        store: str,
        device: str,
        kind: str,
        subscriptions: Sequence[str] = (),
        handler: Handler | None = None,
        rng: random.Random | None = None,
        outbox_size: int = 1000,
    ) -> None:
        self.settings = settings
        self.device = device
        self.kind = kind
        self.status_topic = contract.device_status(store, device)
        self.client_id = settings.client_id or f"{store}-{device}"
        self._subscriptions = list(subscriptions)
        self._handler = handler
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._outbox: deque[tuple[str, bytes]] = deque()
        self._outbox_size = outbox_size
        self.dropped = 0
        self._detail: dict[str, Any] | None = None
        self._published: dict[str, Any] | None = None
        self._status_sent = False  # on this connection
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self.connected = asyncio.Event()
        self._broker = Transitions(log, f"broker {settings.host}:{settings.port} for {device}")

    def __repr__(self) -> str:
        state = "connected" if self.connected.is_set() else "disconnected"
        return f"<DeviceLink {self.client_id} {state} outbox={len(self._outbox)}>"

    # ------------------------------------------------------------------ API

    def set_status(self, detail: dict[str, Any]) -> None:
        """Make `detail` the retained status; published now if connected, else on connect."""
        self._detail = detail
        self._wake.set()

    def send(self, topic: str, payload: bytes) -> None:
        """Queue a QoS 1 message; it goes out in order as soon as the broker is there."""
        if len(self._outbox) >= self._outbox_size:
            self._outbox.popleft()
            self.dropped += 1
            log.warning("%s: outbox full, dropped the oldest message", self.device)
        self._outbox.append((topic, payload))
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()

    def status_payload(self, state: Literal["online", "offline"]) -> bytes:
        detail = self._detail if state == "online" else None
        return contract.encode(contract.DeviceStatus(state=state, kind=self.kind, detail=detail))

    # ------------------------------------------------------------------ the session

    def _client(self) -> aiomqtt.Client:
        s = self.settings
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
            clean_start=False,
            properties=props,
            will=aiomqtt.Will(
                self.status_topic, self.status_payload("offline"), qos=1, retain=True
            ),
            timeout=s.timeout,
        )

    async def run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                async with self._client() as client:
                    if self._subscriptions:
                        await client.subscribe([(t, 1) for t in self._subscriptions])
                    self._status_sent = False
                    await self._flush(client)
                    self.connected.set()
                    if not self._broker.ok():
                        log.info("%s connected to %s:%d", self.device, *self._address())
                    delay = 0.5
                    await self._serve(client)
                    if self._stop.is_set():
                        self.connected.clear()
                        payload = self.status_payload("offline")
                        await client.publish(self.status_topic, payload, qos=1, retain=True)
            except aiomqtt.MqttError as exc:
                self._broker.trouble(f"unreachable ({exc}), retrying")
            finally:
                self.connected.clear()
            if self._stop.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay * self._rng.uniform(0.5, 1.5))
            delay = min(delay * 2, 30.0)

    def _address(self) -> tuple[str, int]:
        return self.settings.host, self.settings.port

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Read and write until the connection drops (MqttError) or `stop()`."""
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
            if self._handler is None:
                continue
            try:
                await self._handler(str(message.topic), data)
            except Exception:  # one bad message never stops the session
                log.exception("%s: handler failed for %s", self.device, str(message.topic)[:120])

    async def _write(self, client: aiomqtt.Client) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._flush(client)

    async def _flush(self, client: aiomqtt.Client) -> None:
        """Publish the status if it changed, then the outbox in order (each after its PUBACK)."""
        while True:
            detail = self._detail
            if not self._status_sent or detail != self._published:
                payload = self.status_payload("online")
                await client.publish(self.status_topic, payload, qos=1, retain=True)
                self._published, self._status_sent = detail, True
            elif self._outbox:
                topic, payload = self._outbox[0]
                await client.publish(topic, payload, qos=1)
                self._outbox.popleft()
            else:
                return
