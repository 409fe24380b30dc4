"""Device agents that run inside the hub's process, the default on a store box: one per
printer with an address and one per scale in the config. They are the same agents that run
on another board (`python -m devices.printers`, `python -m devices.scales`) and talk to the
hub only over MQTT, so moving one out of the process changes no behaviour."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hub.config import HubConfig

log = logging.getLogger("tablehub.agents")


def _local_zone() -> str | None:
    link = Path("/etc/localtime")
    with contextlib.suppress(OSError):
        target = str(link.resolve())
        if "zoneinfo/" in target:
            return target.split("zoneinfo/", 1)[1]
    return os.environ.get("TZ") or None


class InProcessAgents:
    def __init__(
        self,
        config: HubConfig,
        store_id: str,
        *,
        scale_line_overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self._config = config
        self._store_id = store_id
        self._line = scale_line_overrides
        self._agents: list[Any] = []
        self._tasks: list[asyncio.Task[None]] = []

    def __repr__(self) -> str:
        return f"<InProcessAgents {len(self._agents)} running>"

    async def start(self) -> None:
        broker = self._config.broker
        if broker is None:
            return
        printers = [p for p in self._config.printers if p.address]
        if not printers and not self._config.scales:
            return
        # python-escpos writes a capabilities cache; keep it in our state directory
        state = self._config.data_dir / "agents"
        state.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(state))
        from devices.agent import MqttSettings

        def mqtt(device: str) -> MqttSettings:
            return MqttSettings(
                host=broker.host,
                port=broker.port,
                username=broker.username,
                password=broker.password,
                client_id=f"{broker.client_id}-{device}",
            )

        if printers:
            from devices.printers.agent import PrinterAgent
            from devices.printers.config import printer_settings
            from devices.printers.driver import EscposDriver

            zone = self._config.timezone or _local_zone()
            for p in printers:
                # the same reading of width, escpos profile and encoding as a remote agent's
                settings = printer_settings(p.paper, timezone=zone)
                agent = PrinterAgent(
                    p.id,
                    self._store_id,
                    EscposDriver(p.address, profile=p.paper.profile),
                    mqtt(f"printer-{p.id}"),
                    state,
                    settings=settings,
                )
                self._spawn(agent, f"printer-{p.id}")
        if self._config.scales:
            from devices.scales.agent import ScaleAgent

            for s in self._config.scales:
                scale = ScaleAgent(
                    s.id,
                    self._store_id,
                    s.port,
                    s.protocol,
                    mqtt=mqtt(f"scale-{s.id}"),
                    clock=time.monotonic,
                    stable_hold_ms=s.stable_hold_ms,
                    line_overrides=self._line,
                )
                self._spawn(scale, f"scale-{s.id}")
        log.info("%d device agent(s) running in the hub", len(self._agents))

    def _spawn(self, agent: Any, name: str) -> None:
        self._agents.append(agent)
        task = asyncio.create_task(agent.run(), name=f"agent-{name}")
        task.add_done_callback(_report)
        self._tasks.append(task)

    async def stop(self) -> None:
        for agent in self._agents:
            agent.stop()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=5)
            for t in pending:
                t.cancel()
            for t in self._tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        for agent in self._agents:
            close = getattr(agent, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        self._agents.clear()
        self._tasks.clear()


def _report(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("agent %s died: %r", task.get_name(), task.exception())
