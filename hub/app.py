"""The composition root: builds the store, services, web app and MQTT bus of one hub and runs
them under one TaskGroup until asked to stop."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from hub import backup, sdnotify
from hub.activity import ActivityLog
from hub.agents import InProcessAgents
from hub.aio import cancel_all
from hub.bridge_health import BridgeHealth
from hub.bus.client import Bus
from hub.bus.router import Router
from hub.config import HubConfig, load_or_create_secret
from hub.dispatch import LiveHub, OutboxRelay
from hub.domain.ports import Clock, SystemClock, SystemIds
from hub.domain.ratelimit import RateLimiter
from hub.menu_file import read_menu_file
from hub.outbox_prune import OutboxPruner
from hub.services.calls import Calls
from hub.services.catalog import Catalog
from hub.services.container import Services
from hub.services.devices import Devices
from hub.services.kitchen import Kitchen
from hub.services.ordering import Ordering, Weighing
from hub.services.printing import Printing
from hub.store.db import Store
from hub.web.api import BRIDGE_HEALTH
from hub.web.app import build_app

log = logging.getLogger("tablehub")

PROVISIONED_TABLES = "table-versions.json"  # left by `tablehub provision` before a first start


class DemoDevices(Protocol):
    """Simulated devices the demo starts and stops with the hub (devices.buttons.demo)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class RunningHub:
    services: Services
    url: str
    bus: Bus | None
    relay: OutboxRelay | None
    # set when a worker (MQTT bus, relay, backups, ...) died of an error: the hub is no longer
    # whole, and `serve_forever` stops it so that the service manager starts it again
    crashed: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


@contextlib.asynccontextmanager
async def running_hub(
    config: HubConfig,
    *,
    clock: Clock | None = None,
    seed_menu: dict[str, Any] | None = None,
    printer_previews: Mapping[str, Callable[[], bytes | None]] | None = None,
    scale_line_overrides: Mapping[str, Any] | None = None,
    demo_buttons: DemoDevices | None = None,
) -> AsyncIterator[RunningHub]:
    """Start everything; yield once the HTTP port is serving; stop cleanly on exit.
    `demo_buttons`: the demo's button board on mock pins, pressed from /demo/devices."""
    clock = clock or SystemClock()
    if seed_menu is None and config.menu_file is not None and config.menu_file.exists():
        seed_menu = read_menu_file(config.menu_file)
    secret = load_or_create_secret(config.data_dir)
    async with Store(config.db_path, clock=clock.now_iso, check_on_open=True) as store:
        catalog = Catalog(store, secret, base_url=config.public_url)
        await catalog.load(seed_menu)
        await catalog.apply_provisioned(config.data_dir / PROVISIONED_TABLES)
        live = LiveHub()
        store.on_commit(live.on_commit)
        kitchen = Kitchen(store, catalog)
        calls = Calls(store, catalog, clock, escalate_after_s=config.escalate_after_s)
        devices = Devices(store)
        assert catalog.menu is not None
        store_id = catalog.menu.store.id
        printing = Printing(
            store,
            catalog,
            clock,
            live,
            printers=config.printers,
            bill=config.bill,
            store_id=store_id,
            silent_after_s=config.kds_silent_after_s,
            ack_timeout_s=config.ack_timeout_s,
        )
        store.on_commit(printing.on_commit)
        ordering = Ordering(
            store,
            catalog,
            clock,
            require_open=config.tables_require_open,
            require_pin=config.tables_require_pin,
            on_tickets=printing.chits_in_tx,
        )
        services = Services(
            store=store,
            catalog=catalog,
            ordering=ordering,
            kitchen=kitchen,
            live=live,
            calls=calls,
            weighing=Weighing(store, catalog),
            devices=devices,
            printing=printing,
            clock=clock,
            ids=SystemIds(),
            started_ms=clock.monotonic_ms(),
            backup_keep=config.backup_keep,
        )
        services.demo_buttons = demo_buttons
        services.orders_in_flight_max = config.limits.orders_in_flight
        if store.quarantined is not None:
            services.extra_health["alerts"] = [
                f"the store was damaged and moved to {store.quarantined.name}; "
                "restore the last backup"
            ]
        if config.limits.enabled:
            services.limits = {
                "orders": RateLimiter(config.limits.orders, clock.monotonic_ms),
                "calls": RateLimiter(config.limits.calls, clock.monotonic_ms),
                "client": RateLimiter(config.limits.client, clock.monotonic_ms),
            }
        bus = relay = None
        if config.broker is not None:
            router = Router(kitchen, calls, devices, live, catalog, printing)
            bus = Bus(config.broker, store_id, router.handle)
            relay = OutboxRelay(
                store,
                store_id,
                bus.publish_many,
                bus.connected,
                connection=lambda: bus.connections,
                replay_s=config.broker.replay_s,
            )
            bus.on_connected.append(relay.on_connected)
            store.on_commit(relay.on_commit)
            services.relay_status = relay.status
            printing.attach(bus.publish, bus.connected)
            services.broker_connected = bus.connected
        link = _cloud_link(config, store, services, clock)
        app = build_app(services)
        if link is not None:
            app[BRIDGE_HEALTH] = link[1]
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        tls = _tls_context(config)
        site = web.TCPSite(runner, config.http_host, config.http_port, ssl_context=tls)
        await site.start()
        port = runner.addresses[0][1] if runner.addresses else config.http_port
        url = f"{'https' if tls else 'http'}://{_reachable(config.http_host)}:{port}"
        if not catalog.base_url:
            catalog.base_url = url
        # long-lived loops; one failing is logged and does not stop the others
        workers = [
            asyncio.create_task(calls.run_escalation(), name="call-escalation"),
            asyncio.create_task(printing.run(), name="print-dispatch"),
            asyncio.create_task(ActivityLog(services).run(), name="activity-log"),
        ]
        if config.backup_every_s > 0:
            schedule = backup.run_schedule(
                config.db_path, every_s=config.backup_every_s, keep=config.backup_keep
            )
            workers.append(asyncio.create_task(schedule, name="backups"))
        if link is not None:
            workers.append(asyncio.create_task(link[0].run(), name="outbox-prune"))
            workers.append(asyncio.create_task(link[1].run(), name="bridge-health"))
        bus_task = None
        if bus is not None and relay is not None:
            bus_task = asyncio.create_task(bus.run(), name="mqtt-bus")
            workers.append(asyncio.create_task(relay.run(), name="mqtt-relay"))
        crashed = asyncio.Event()
        for t in [*workers, *([bus_task] if bus_task else [])]:
            t.add_done_callback(functools.partial(_on_worker_done, crashed))
        services.printer_previews = dict(printer_previews or {})
        agents = InProcessAgents(config, store_id, scale_line_overrides=scale_line_overrides)
        await agents.start()
        if demo_buttons is not None:
            await demo_buttons.start()
        log.info("hub serving on %s (store %s)", url, store_id)
        try:
            yield RunningHub(services, url, bus, relay, crashed)
        finally:
            services.accepting = False
            services.devices.stopping = services.printing.stopping = True
            await runner.cleanup()
            await agents.stop()
            if demo_buttons is not None:
                await demo_buttons.stop()
            await cancel_all(workers)
            if bus is not None and bus_task is not None:
                # the bus says goodbye (retained offline) and disconnects by itself
                bus.stop()
                _, still = await asyncio.wait([bus_task], timeout=3.0)
                for t in still:
                    t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await bus_task


def _cloud_link(
    config: HubConfig, store: Store, services: Services, clock: Clock
) -> tuple[OutboxPruner, BridgeHealth] | None:
    """With a cloud bridge on this box: the outbox pruner and the bridge's health watch."""
    if config.bridge is None:
        return None
    cfg = config.bridge
    pruner = OutboxPruner(
        store,
        cfg.state_db,
        now_ms=clock.now_ms,
        retention_hours=cfg.retention_hours,
        every_s=cfg.prune_every_s,
        chunk_rows=cfg.prune_chunk_rows,
    )
    health = BridgeHealth(
        store,
        cfg.state_db,
        services.extra_health,
        now_ms=clock.now_ms,
        every_s=cfg.health_every_s,
        stale_after_s=cfg.stale_after_s,
    )
    return pruner, health


def _tls_context(config: HubConfig) -> ssl.SSLContext | None:
    if config.tls_cert is None or config.tls_key is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(config.tls_cert, config.tls_key)
    return ctx


def _reachable(host: str) -> str:
    """The address a browser on this machine uses for a listener on `host`."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104


def _on_worker_done(crashed: asyncio.Event, task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("task %s died: %r", task.get_name(), task.exception(), exc_info=task.exception())
        crashed.set()


class WorkerDied(RuntimeError):
    """A worker of the hub died of an error; the hub stopped so that it can be restarted."""


async def serve_forever(
    config: HubConfig,
    *,
    on_ready: Callable[[RunningHub], None] | None = None,
    stop: asyncio.Event | None = None,
    **hub_options: Any,
) -> None:
    """Run a hub until `stop` is set; `hub_options` go to `running_hub`."""
    stop = stop or asyncio.Event()
    async with running_hub(config, **hub_options) as hub:
        if on_ready is not None:
            on_ready(hub)
        # systemd (Type=notify): ready now; the watchdog is fed from this loop while it runs
        async with sdnotify.supervised(f"serving on {hub.url}"):
            await _first(stop.wait(), hub.crashed.wait())
        if hub.crashed.is_set() and not stop.is_set():
            log.critical("stopping: a worker died (see above); systemd starts the hub again")
            raise WorkerDied("a worker of the hub died")
        log.info("stopping")


async def _first(*waits: Awaitable[Any]) -> None:
    """Until the first of `waits` is done; the others are cancelled."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_all(tasks)
