"""A hub whose worker dies is not left running half-deaf: it stops with a failure, which the
service manager (Restart=on-failure) answers by starting it again."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hub import cli
from hub.app import RunningHub, WorkerDied, serve_forever
from hub.config import HubConfig, PrinterConfig
from hub.consumers.live import LiveHub
from hub.consumers.supervisor import Loop, Supervisor
from hub.domain.events import ItemAvailability
from hub.services.printing import Printing
from hub.store.db import Event, Store, Tx

AGENT = PrinterConfig(id="grill-1", stations=("grill",), address="tcp://127.0.0.1:9")


@pytest.mark.parametrize(
    ("run", "worker", "changes"),
    [
        ("hub.consumers.relay.OutboxRelay.run", "mqtt-relay", {}),
        # an agent the hub runs in its own process is one of its workers too
        (
            "devices.printers.agent.PrinterAgent.run",
            "agent-printer-grill-1",
            {"printers": (AGENT,)},
        ),
    ],
)
async def test_a_dead_worker_stops_the_hub_with_a_failure(
    run: str,
    worker: str,
    changes: dict[str, Any],
    hub_config: HubConfig,
    menu_doc: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(self: object) -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError(f"{worker} bug")

    monkeypatch.setattr(run, broken)
    config = replace(hub_config, **changes)
    with pytest.raises(WorkerDied, match=f"{worker} died"):
        await asyncio.wait_for(serve_forever(config, stop=asyncio.Event(), seed_menu=menu_doc), 20)
    lines = died_lines(caplog, worker)
    assert len(lines) == 1, lines  # one line says it all
    assert f"{worker} bug" in lines[0]


async def test_a_requested_stop_is_not_a_failure(
    hub_config: HubConfig, menu_doc: dict[str, Any]
) -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, stop.set)
    await asyncio.wait_for(serve_forever(hub_config, stop=stop, seed_menu=menu_doc), 20)


def died_lines(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.ERROR and name in r.getMessage()
    ]


async def test_a_consumer_whose_commit_handler_fails_stops_the_hub(
    hub_config: HubConfig,
    menu_doc: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(self: LiveHub, events: Sequence[Event]) -> None:
        raise RuntimeError("screen feed bug")

    monkeypatch.setattr(LiveHub, "on_commit", broken)
    stop = asyncio.Event()

    async def one_commit(hub: RunningHub) -> None:
        await hub.services.catalog.set_availability("sea-salt-edamame", False)  # one commit

    def on_ready(hub: RunningHub) -> None:
        asyncio.get_running_loop().create_task(one_commit(hub))

    with pytest.raises(WorkerDied, match="live-screens died: RuntimeError"):
        await asyncio.wait_for(
            serve_forever(hub_config, stop=stop, on_ready=on_ready, seed_menu=menu_doc), 20
        )
    assert len(died_lines(caplog, "live-screens")) == 1, died_lines(caplog, "live-screens")


def test_the_hub_command_exits_non_zero_naming_what_died(
    tmp_path: Path,
    hub_config: HubConfig,
    menu_doc: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def broken(self: Printing) -> None:
        await asyncio.sleep(0.05)
        raise RuntimeError("printing bug")

    monkeypatch.setattr(Printing, "run", broken)
    menu = tmp_path / "menu.json"
    menu.write_text(json.dumps(menu_doc), "utf-8")
    config = replace(hub_config, menu_file=menu)
    monkeypatch.setattr(cli, "load_config", lambda path: config)
    monkeypatch.setattr(cli.logs, "setup", lambda level: None)  # keep pytest's log capture

    assert cli.main(["run", "--config", str(tmp_path / "hub.toml")]) == 1
    assert "print-dispatch died: RuntimeError('printing bug')" in capsys.readouterr().err
    lines = died_lines(caplog, "print-dispatch")
    assert len(lines) == 1, lines


class Recorder:
    """A consumer that records what happens to it; `graceful` ones end when asked."""

    def __init__(self, name: str, log: list[str], *, graceful: bool) -> None:
        self.name = name
        self._log = log
        self._graceful = graceful
        self._done = asyncio.Event()
        self.seen: list[int] = []

    def on_commit(self, events: Sequence[Event]) -> None:
        self.seen += [e.seq for e in events]

    async def run(self) -> None:
        try:
            await self._done.wait()
        except asyncio.CancelledError:
            self._log.append(f"{self.name} cancelled")
            raise
        self._log.append(f"{self.name} ended")

    async def stop(self) -> bool:
        self._log.append(f"{self.name} asked")
        if self._graceful:
            self._done.set()
        return self._graceful


async def test_consumers_get_every_commit_and_stop_last_started_first(tmp_path: Path) -> None:
    said: list[str] = []
    bus = Recorder("bus", said, graceful=True)
    relay = Recorder("relay", said, graceful=False)
    agent = Recorder("agent", said, graceful=True)
    async with Store(tmp_path / "hub.db", clock=lambda: "2026-12-05T12:00:00Z") as store:
        supervisor = Supervisor(store, [bus, relay, agent])
        running = asyncio.create_task(supervisor.run())

        async def unit(tx: Tx) -> None:
            tx.emit(ItemAvailability(item="edamame", available=False))

        await store.write(unit)
        await store.write(unit)
        assert bus.seen == relay.seen == agent.seen == [1, 2]
        await supervisor.stop()
        await asyncio.wait_for(running, 5)
    assert said == [
        "agent asked",
        "agent ended",
        "relay asked",
        "relay cancelled",
        "bus asked",
        "bus ended",
    ]
    assert not supervisor.died.is_set()


async def test_a_consumer_whose_loop_ends_by_itself_has_died(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def quits() -> None:
        return

    async with Store(tmp_path / "hub.db", clock=lambda: "2026-12-05T12:00:00Z") as store:
        supervisor = Supervisor(store, [Loop("quitter", quits)])
        running = asyncio.create_task(supervisor.run())
        await asyncio.wait_for(supervisor.died.wait(), 5)
        assert supervisor.why == "quitter died: its loop ended"
        await supervisor.stop()
        await asyncio.wait_for(running, 5)
    assert len(died_lines(caplog, "quitter")) == 1
