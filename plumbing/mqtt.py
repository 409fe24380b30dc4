"""One MQTT v5 session (aiomqtt over paho-mqtt), kept up for as long as a process runs: the
hub's `Bus` and every device agent's `DeviceLink` are this session with their own hooks.

`MqttSession(endpoint=Endpoint(...), client_id=..., ...)` (keyword-only) and
`await session.run()` until `session.stop()`:

- a persistent session (``clean_start=False`` + ``SessionExpiryInterval``), so QoS 1 messages
  sent while the process was away are delivered when it comes back; or a clean one;
- a last will (`LastWill`) the broker publishes if the connection dies;
- on every connect: the subscriptions (one SUBSCRIBE), then the ``birth`` hook (the
  retained "online" status, a device's queued messages), then `connected` is set and the
  ``on_connected`` callbacks run; while connected, ``serve`` runs beside the reader; after
  `stop()`, the ``goodbye`` hook (a clean "offline") before disconnecting. Each hook gets a
  `Send` bound to this connection;
- each message handed to ``on_message(topic, payload)``, one at a time, in order; a handler
  that raises is logged and the session goes on;
- reconnects after `plumbing.backoff.Backoff` (reset on each connect; a broker on the same
  box wants a cap of a second or so: a refused connection costs nothing, and the process is
  back within about the cap of the broker's return), logging the outage once and its end
  once;
- `publish` (one message, waits for its PUBACK) and `publish_many` (a batch handed to paho at
  once, one wait for all their PUBACKs).

`aiomqtt.MqttError` never leaves this module: callers see `ConnectionError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from plumbing.backoff import Backoff
from plumbing.logs import Transitions
from plumbing.tasks import cancel_all

# (topic, payload, qos, retain)
Message = tuple[str, bytes, int, bool]
MessageHandler = Callable[[str, bytes], Awaitable[None]]
Send = Callable[[str, bytes, int, bool], Awaitable[None]]
Hook = Callable[[Send], Coroutine[Any, Any, None]]
ACK_TIMEOUT_S = 10.0
_log = logging.getLogger("tablehub.mqtt")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where the broker is and how to log in."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    keepalive: int = 15
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class LastWill:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


class MqttSession:
    """One client's session with the broker (see the module docstring)."""

    def __init__(
        self,
        *,
        endpoint: Endpoint,
        client_id: str,
        persistent: bool = True,
        session_expiry: int = 3600,
        will: LastWill | None = None,
        subscriptions: Sequence[str] = (),
        on_message: MessageHandler | None = None,
        birth: Hook | None = None,
        serve: Hook | None = None,
        goodbye: Hook | None = None,
        backoff: Backoff | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.endpoint, self.client_id = endpoint, client_id
        self.persistent, self._session_expiry = persistent, session_expiry
        self._will = will
        self._subscriptions = list(subscriptions)
        self._on_message = on_message
        self._birth, self._serve_hook, self._goodbye = birth, serve, goodbye
        self._backoff = backoff or Backoff(0.25, 2.0)
        self._log = logger or _log
        self._broker = Transitions(
            self._log, f"broker {endpoint.host}:{endpoint.port} for {client_id}"
        )
        self._client: aiomqtt.Client | None = None
        self._stop = asyncio.Event()
        self.connected = asyncio.Event()
        self.connections = 0  # how many times it has connected
        self.on_connected: list[Callable[[], None]] = []  # called on each (re)connect
        self.last_error: str | None = None
        # batches handed to paho by `publish_many`, by the mids they still wait for
        self._acks: dict[int, _Batch] = {}

    def __repr__(self) -> str:
        state = "connected" if self.connected.is_set() else "disconnected"
        e = self.endpoint
        return f"<MqttSession {self.client_id} {e.host}:{e.port} {state}>"

    def stop(self) -> None:
        """Ask `run()` to say goodbye, disconnect cleanly and return."""
        self._stop.set()

    # ------------------------------------------------------------------ publishing

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Publish one message and wait for its PUBACK (QoS 1); ConnectionError when the
        session is not connected or the connection drops meanwhile."""
        client = self._client
        if client is None or not self.connected.is_set():
            raise ConnectionError("not connected to the broker")
        await _send(client, topic, payload, qos, retain)

    async def publish_many(self, messages: Sequence[Message]) -> None:
        """Publish in order and return once the broker has acknowledged every QoS 1 message.

        The messages go to paho in one go and one future waits for all their PUBACKs, where
        `publish` costs a future, a timeout and a task per message: at a rush the hub's relay
        publishes thousands of tickets a second and those were most of its cost. paho keeps
        the order and its in-flight window. Raises ConnectionError if the connection drops
        (or no acknowledgement comes within `ACK_TIMEOUT_S`): the caller sends them all again.
        """
        client = self._client
        if client is None or not self.connected.is_set():
            raise ConnectionError("not connected to the broker")
        mqtt = _paho(client)
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
        """Chain the batches' PUBACK bookkeeping after aiomqtt's own on_publish."""
        mqtt = _paho(client)
        theirs = mqtt.on_publish

        def on_publish(c: paho.Client, userdata: Any, mid: int, *rest: Any) -> None:
            if theirs is not None:
                theirs(c, userdata, mid, *rest)
            self._on_publish(mid)

        mqtt.on_publish = on_publish

    # ------------------------------------------------------------------ the session

    def _new_client(self) -> aiomqtt.Client:
        props: Properties | None = None
        if self.persistent:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self._session_expiry
        will, e = self._will, self.endpoint
        return aiomqtt.Client(
            hostname=e.host,
            port=e.port,
            username=e.username,
            password=e.password,
            identifier=self.client_id,
            keepalive=e.keepalive,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=not self.persistent,
            properties=props,
            will=None
            if will is None
            else aiomqtt.Will(will.topic, will.payload, will.qos, will.retain),
            timeout=e.timeout,
            # small messages go out at once: with Nagle's algorithm on, a batch's second
            # message waits for the broker to acknowledge the first one's TCP segment
            socket_options=((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),),
        )

    async def run(self) -> None:
        """Stay connected until `stop()`, reconnecting after each drop."""
        while not self._stop.is_set():
            try:
                async with self._new_client() as client:
                    await self._connected(client)
            except (aiomqtt.MqttError, ConnectionError) as exc:
                self.last_error = str(exc)
                self._broker.trouble(f"unreachable ({exc}), retrying")
            finally:
                self._client = None
                self.connected.clear()
                self._fail_batches("the connection to the broker dropped")
            if self._stop.is_set():
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._backoff.next())

    async def _connected(self, client: aiomqtt.Client) -> None:
        if self._subscriptions:  # one SUBSCRIBE for every topic, renewed on each connect
            await client.subscribe([(t, 1) for t in self._subscriptions])
        send = _sender(client)
        if self._birth is not None:
            await self._birth(send)
        self._follow_acks(client)
        self._client = client
        self.connections += 1
        self.connected.set()
        self._backoff.reset()
        self._broker.ok()
        e = self.endpoint
        self._log.info("connected to broker %s:%d as %s", e.host, e.port, self.client_id)
        for hook in self.on_connected:
            hook()
        await self._serve(client, send)
        self.connected.clear()  # stop() was called: nobody else publishes from now on
        if self._goodbye is not None:
            await self._goodbye(send)

    async def _serve(self, client: aiomqtt.Client, send: Send) -> None:
        """Read (and run the `serve` hook) until `stop()`; raise when the connection drops.
        The reader runs even without subscriptions: it is what notices a dead connection."""
        tasks = {
            asyncio.create_task(self._read(client), name=f"{self.client_id}-mqtt-read"),
            asyncio.create_task(self._stop.wait(), name=f"{self.client_id}-mqtt-stop"),
        }
        if self._serve_hook is not None:
            serve = self._serve_hook(send)
            tasks.add(asyncio.create_task(serve, name=f"{self.client_id}-mqtt-serve"))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            results = await cancel_all(tasks)
        for result in results:
            if isinstance(result, aiomqtt.MqttError | ConnectionError):
                raise result
        if not self._stop.is_set():
            raise ConnectionError("connection closed")

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            data = payload if isinstance(payload, bytes) else str(payload or "").encode()
            if self._on_message is None:
                continue
            try:
                await self._on_message(str(message.topic), data)
            except Exception:  # one bad message never stops the session
                self._log.exception("mqtt: handler failed for %s", str(message.topic)[:120])


def _sender(client: aiomqtt.Client) -> Send:
    async def send(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        await _send(client, topic, payload, qos, retain)

    return send


async def _send(client: aiomqtt.Client, topic: str, payload: bytes, qos: int, retain: bool) -> None:
    try:
        await client.publish(topic, payload, qos=qos, retain=retain)
    except aiomqtt.MqttError as exc:
        raise ConnectionError(str(exc)) from exc


def _paho(client: aiomqtt.Client) -> paho.Client:
    """aiomqtt's paho client. aiomqtt has no public way to hand paho a batch and follow its
    PUBACKs (its `publish` waits on one future per message, the cost `publish_many` avoids),
    so this module, and only this module, reaches for its private `_client`."""
    return client._client


@dataclass(slots=True, eq=False)  # hashed by identity
class _Batch:
    done: asyncio.Future[None]
    mids: set[int] = field(default_factory=set)
