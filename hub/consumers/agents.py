"""Device agents that run inside the hub's process, the default on a store box: one per
printer with an address and one per scale in the config. They are the same agents that run
on another board (`python -m devices.printers`, `python -m devices.scales`) and talk to the
hub only over MQTT, so moving one out of the process changes no behaviour. Each runs as a
consumer of the hub's supervisor (hub/consumers/supervisor.py): one that dies stops the hub."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from hub.config import HubConfig, PrinterConfig, read_secret_file
from hub.errors import InvalidInput
from hub.store.db import Event

if TYPE_CHECKING:
    from devices.agent import MqttSettings

log = logging.getLogger("tablehub.agents")


def _local_zone() -> str | None:
    link = Path("/etc/localtime")
    with contextlib.suppress(OSError):
        target = str(link.resolve())
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    return os.environ.get("TZ") or None


class Agent(Protocol):
    """What the hub needs of a device agent (devices/printers, devices/scales)."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


class AgentConsumer:
    """One device agent run by the hub's supervisor: asked to stop (it says `offline` and
    disconnects), then closed; one that dies stops the hub like any other consumer."""

    def __init__(self, name: str, agent: Agent) -> None:
        self.name = name
        self.agent = agent

    def __repr__(self) -> str:
        return f"<AgentConsumer {self.name}>"

    def on_commit(self, events: Sequence[Event]) -> None:
        pass  # agents hear the hub over MQTT only

    async def run(self) -> None:
        try:
            await self.agent.run()
        finally:
            close = getattr(self.agent, "close", None)
            if close is not None:
                try:
                    await close()
                except Exception as exc:  # closing is best effort: the process stops anyway
                    log.warning("agent %s: close failed: %r", self.name, exc)

    async def stop(self) -> bool:
        self.agent.stop()
        return True


def build_agents(
    config: HubConfig,
    store_id: str,
    *,
    scale_line_overrides: Mapping[str, Any] | None = None,
) -> list[AgentConsumer]:
    """The agents of the printers with an address and of the scales in the config (none
    without a broker)."""
    broker = config.broker
    if broker is None:
        return []
    printers = [p for p in config.printers if p.address]
    if not printers and not config.scales:
        return []
    # python-escpos writes a capabilities cache; keep it in our state directory
    state = config.data_dir / "agents"
    state.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(state))
    from devices.agent import MqttSettings

    def mqtt(device: str) -> MqttSettings:
        if broker.agent_password_dir is not None:  # its own login, its own client id
            path = broker.agent_password_dir / f"mqtt-{device}"
            try:
                secret = read_secret_file(path)
            except OSError as exc:
                raise InvalidInput(
                    f"{device}'s broker password: cannot read {path} ({exc.strerror or exc})",
                    field="broker.agent_password_dir",
                ) from exc
            return MqttSettings(
                host=broker.host,
                port=broker.port,
                username=device,
                password=secret,
                client_id=device,
            )
        return MqttSettings(
            host=broker.host,
            port=broker.port,
            username=broker.username,
            password=broker.password,
            client_id=f"{broker.client_id}-{device}",
        )

    agents = [
        *_printer_agents(config, printers, store_id, mqtt, state),
        *_scale_agents(config, store_id, mqtt, scale_line_overrides),
    ]
    log.info("%d device agent(s) running in the hub", len(agents))
    return agents


def _printer_agents(
    config: HubConfig,
    printers: list[PrinterConfig],
    store_id: str,
    mqtt: Callable[[str], MqttSettings],
    state: Path,
) -> list[AgentConsumer]:
    if not printers:
        return []
    from devices.printers.agent import PrinterAgent
    from devices.printers.config import printer_settings
    from devices.printers.driver import EscposDriver
    from devices.printers.journal import SharedJournal

    zone = config.timezone or _local_zone()
    # one journal for the hub's printers: an order's chits for several printers are started
    # in one commit and one fsync (each agent's own file, as a remote agent keeps, is taken in)
    journal = SharedJournal(state / "printers.sqlite")
    out = []
    for p in printers:
        # the same reading of width, escpos profile and encoding as a remote agent's
        settings = printer_settings(p.paper, timezone=zone)
        device = f"printer-{p.id}"
        driver = EscposDriver(p.address, profile=p.paper.profile)
        agent = PrinterAgent(
            p.id, store_id, driver, mqtt(device), state, settings=settings, journal=journal
        )
        out.append(AgentConsumer(f"agent-{device}", agent))
    return out


def _scale_agents(
    config: HubConfig,
    store_id: str,
    mqtt: Callable[[str], MqttSettings],
    line_overrides: Mapping[str, Any] | None,
) -> list[AgentConsumer]:
    if not config.scales:
        return []
    from devices.scales.agent import ScaleAgent

    return [
        AgentConsumer(
            f"agent-scale-{s.id}",
            ScaleAgent(
                s.id,
                store_id,
                s.port,
                s.protocol,
                mqtt=mqtt(f"scale-{s.id}"),
                clock=time.monotonic,
                stable_hold_ms=s.stable_hold_ms,
                line_overrides=line_overrides,
            ),
        )
        for s in config.scales
    ]
