"""The hub's MQTT connection: a `plumbing.mqtt.MqttSession` with the hub's topics.

`Bus.run()` keeps one persistent MQTT v5 session up forever (1 h expiry): it publishes the
hub's retained `online` status on every connect (the broker publishes `offline`, the last
will, if the hub dies), subscribes to the hub's topics, hands each message to the router
and reconnects promptly after an outage (jittered backoff capped at `reconnect_cap_s`),
logging it once. `aiomqtt.MqttError` never reaches here: callers see `ConnectionError`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hub.bus import contract
from plumbing.backoff import Backoff
from plumbing.mqtt import Endpoint, LastWill, Message, MqttSession, Send

log = logging.getLogger("tablehub.bus")

Handler = Callable[[contract.Topic, bytes], Awaitable[None]]
__all__ = ["BrokerConfig", "Bus", "Handler", "Message"]


@dataclass(frozen=True, slots=True)
class BrokerConfig(Endpoint):
    """Where the hub's broker is (`Endpoint`: host, port, login, keepalive), and how the hub
    uses it."""

    client_id: str = "tablehub-hub"
    # after a reconnect, publish again what the broker acknowledged in this many seconds
    # before the drop: a broker killed or powered off loses what it acknowledged since its
    # last persistence save (autosave_interval: 10 s on a store box)
    replay_s: float = 15.0
    # the broker is on this box: back off no longer than this, so the hub is back within
    # about that of the broker's return
    reconnect_cap_s: float = 1.0
    # mqtt-<device> password files: agents inside the hub log in as their own device
    agent_password_dir: Path | None = None


class Bus:
    def __init__(self, config: BrokerConfig, store_id: str, handler: Handler) -> None:
        self._config = config
        self._handler = handler
        self._status_topic = contract.hub_status(store_id)
        self.received = 0
        self._session = MqttSession(
            endpoint=config,
            client_id=config.client_id,
            will=LastWill(self._status_topic, b"offline"),
            subscriptions=contract.hub_subscriptions(store_id),
            on_message=self._dispatch,
            birth=self._online,
            goodbye=self._offline,
            backoff=Backoff(0.1, config.reconnect_cap_s),
            logger=log,
        )
        self.connected = self._session.connected
        self.on_connected = self._session.on_connected  # called on each (re)connect

    def __repr__(self) -> str:
        state = "connected" if self.connected.is_set() else "disconnected"
        return f"<Bus {self._config.host}:{self._config.port} {state}>"

    @property
    def connections(self) -> int:
        """How many times it has connected (a new one: a new connection, same session)."""
        return self._session.connections

    @property
    def last_error(self) -> str | None:
        return self._session.last_error

    async def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        await self._session.publish(topic, payload, qos=qos, retain=retain)

    async def publish_many(self, messages: Sequence[Message]) -> None:
        """See `MqttSession.publish_many`: one wait for a whole batch's PUBACKs."""
        await self._session.publish_many(messages)

    def stop(self) -> None:
        """Ask `run()` to publish `offline`, disconnect cleanly and return."""
        self._session.stop()

    async def run(self) -> None:
        await self._session.run()

    async def _online(self, send: Send) -> None:
        await send(self._status_topic, b"online", 1, True)

    async def _offline(self, send: Send) -> None:
        await send(self._status_topic, b"offline", 1, True)

    async def _dispatch(self, topic: str, payload: bytes) -> None:
        self.received += 1
        try:
            parsed = contract.parse_topic(topic)
        except contract.ContractError as exc:
            log.warning("mqtt: ignored message on %s: %s", topic[:120], exc)
            return
        try:
            await self._handler(parsed, payload)
        except Exception:
            log.exception("mqtt: handler failed for %s", topic[:120])
