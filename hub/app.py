"""The composition root: builds the store, services, web app and MQTT bus of one hub, each
part given what it needs when it is made, and runs every consumer
(hub/consumers/supervisor.py) under one TaskGroup until asked to stop or one of them dies."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from hub.bus import contract
from hub.bus.client import Bus
from hub.bus.contract import Topic
from hub.bus.router import Router
from hub.config import HubConfig, load_or_create_secret
from hub.consumers.activity import ActivityLog
from hub.consumers.agents import build_agents
from hub.consumers.bridge_health import BridgeHealth
from hub.consumers.history_prune import HistoryPruner
from hub.consumers.live import LiveHub
from hub.consumers.outbox_prune import OutboxPruner
from hub.consumers.relay import OutboxRelay
from hub.consumers.supervisor import Consumer, Loop, Supervisor
from hub.domain.ports import Clock, SystemClock, SystemIds
from hub.domain.ratelimit import RateLimiter
from hub.ops import sdnotify
from hub.ops.menu_file import read_menu_file
from hub.services.booking import Booking, BookingSettings
from hub.services.calls import Calls
from hub.services.catalog import Catalog
from hub.services.checks import Checks
from hub.services.container import Services
from hub.services.corrections import Corrections
from hub.services.devices import Devices
from hub.services.kitchen import Kitchen
from hub.services.ordering import Ordering, Weighing
from hub.services.pacing import Pacer
from hub.services.printing import Printing
from hub.services.stock import Stock
from hub.store import backup
from hub.store.db import Store
from hub.web.api import BRIDGE_HEALTH
from hub.web.app import build_app
from hub.web.server import Serving, serving
from plumbing.tasks import cancel_all

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
    # set when a consumer (MQTT bus, relay, printing, an agent, ...) died: the hub is no longer
    # whole, and `serve_forever` stops it so that the service manager starts it again
    crashed: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    supervisor: Supervisor | None = None
    http: Serving | None = None  # the listening port and its connection guard

    @property
    def why(self) -> str | None:
        """What died, when `crashed` is set."""
        return None if self.supervisor is None else self.supervisor.why


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
        assert catalog.menu is not None
        parts = _build(
            config, store, catalog, clock, extras=_Extras(printer_previews, demo_buttons)
        )
        await parts.services.pacer.load()
        consumers = _consumers(config, parts, scale_line_overrides)
        supervisor = Supervisor(store, consumers)
        app = build_app(parts.services)
        if parts.link is not None:
            app[BRIDGE_HEALTH] = parts.link[1]
        tls = _tls_context(config)
        running: asyncio.Task[None] | None = None
        try:
            async with serving(
                app, config.http_host, config.http_port, config.http_limits, tls
            ) as http:
                url = f"{'https' if tls else 'http'}://{_reachable(config.http_host)}:{http.port}"
                if not catalog.base_url:
                    catalog.base_url = url  # known once the port is bound (port 0 in tests)
                running = asyncio.create_task(supervisor.run(), name="supervisor")
                try:
                    if demo_buttons is not None:
                        await demo_buttons.start()
                    log.info(
                        "hub serving on %s (store %s): %s",
                        url,
                        parts.store_id,
                        ", ".join(supervisor.names),
                    )
                    yield RunningHub(
                        parts.services,
                        url,
                        parts.bus,
                        parts.relay,
                        supervisor.died,
                        supervisor,
                        http,
                    )
                finally:
                    services = parts.services
                    services.accepting = False
                    services.devices.stopping = services.printing.stopping = True
                    services.live.close_all()  # open screens would hold the server's shutdown
            # the HTTP connections are closed (above, on leaving `serving`)
        finally:
            if running is not None:
                if demo_buttons is not None:
                    await demo_buttons.stop()
                # agents first, the bus (saying `offline`) last: the reverse of `_consumers`
                await supervisor.stop()
                await cancel_all([running])


@dataclass(frozen=True)
class _Extras:
    """What the demo adds: its printers' pictures and its button board."""

    printer_previews: Mapping[str, Callable[[], bytes | None]] | None
    demo_buttons: DemoDevices | None


@dataclass(frozen=True)
class _Parts:
    """What `_build` made: the services and the parts the consumers are made of."""

    store_id: str
    services: Services
    bus: Bus | None
    relay: OutboxRelay | None
    link: tuple[OutboxPruner, BridgeHealth] | None
    history: HistoryPruner


def _status_clearer(bus: Bus, store_id: str) -> Callable[[str], Awaitable[None]]:
    async def clear(device_id: str) -> None:
        # an empty retained message deletes the retained status (the broker keeps none)
        await bus.publish(contract.device_status(store_id, device_id), b"", qos=1, retain=True)

    return clear


def _build(
    config: HubConfig, store: Store, catalog: Catalog, clock: Clock, *, extras: _Extras
) -> _Parts:
    """Every part of the hub, each given what it needs when it is made."""
    assert catalog.menu is not None
    store_id = catalog.menu.store.id
    live = LiveHub()
    kitchen = Kitchen(store, catalog, clock=clock)
    calls = Calls(store, catalog, clock, escalate_after_s=config.escalate_after_s)
    devices = Devices(store)
    # a printer or scale of this hub's config is taken out there, not forgotten
    devices.configured = frozenset(
        [f"printer-{p.id}" for p in config.printers] + [f"scale-{s.id}" for s in config.scales]
    )
    bus: Bus | None = None
    router: Router | None = None
    if config.broker is not None:

        async def handle(topic: Topic, payload: bytes) -> None:
            assert router is not None  # made below, before the bus runs
            await router.handle(topic, payload)

        bus = Bus(config.broker, store_id, handle)
        devices.clear_status = _status_clearer(bus, store_id)
    printing = _printing(config, store, catalog, clock, live, store_id, bus)
    pacer = Pacer(
        store,
        catalog,
        clock,
        live,
        config.pacing,
        timezone=config.timezone,
        chits=printing.chits_in_tx,
    )
    kitchen.pacer = pacer
    ordering = Ordering(
        store,
        catalog,
        clock,
        require_open=config.tables_require_open,
        require_pin=config.tables_require_pin,
        on_tickets=printing.chits_in_tx,
        pacer=pacer,
    )
    corrections = Corrections(
        store,
        catalog,
        clock,
        printing,
        manager_pin_hash=config.shift.manager_pin_hash,
        void_reasons=config.shift.void_reasons,
        timezone=config.timezone,
        day_starts_at_hour=config.shift.day_starts_at_hour,
    )
    relay = None
    if bus is not None:
        router = Router(kitchen, calls, devices, live, catalog, printing, pacer)
        relay = _relay(config, store, store_id, bus)
    extra_health: dict[str, Any] = {}
    ids = SystemIds()
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
        corrections=corrections,
        checks=Checks(store, catalog, clock, printing, corrections, taxes=config.bill.taxes),
        stock=Stock(store, catalog),
        booking=Booking(
            store,
            catalog,
            clock,
            ids,
            ordering,
            BookingSettings(
                zone=config.timezone,
                default_turn_s=config.booking.default_turn_minutes * 60,
                forget_after_days=config.booking.forget_after_days,
                require_pin=config.tables_require_pin,
                preorder_lead_s=config.booking.preorder_lead_minutes * 60,
            ),
            pacer,
        ),
        clock=clock,
        ids=ids,
        started_ms=clock.monotonic_ms(),
        broker_connected=None if bus is None else bus.connected,
        broker_error=None if bus is None else (lambda: bus.last_error),
        extra_health=extra_health,
        relay_status=None if relay is None else relay.status,
        limits=_limits(config, clock),
        printer_previews=dict(extras.printer_previews or {}),
        backup_keep=config.backup_keep,
        backup_schedule=None
        if config.backup_every_s <= 0
        else backup.Schedule(
            config.backup_every_s,
            config.backup_at_hour,
            ZoneInfo(config.timezone) if config.timezone else None,
        ),
        orders_in_flight_max=config.limits.orders_in_flight,
        demo_buttons=extras.demo_buttons,
        pacer=pacer,
    )
    link = _cloud_link(config, store, extra_health, clock)
    history = HistoryPruner(
        store,
        config.bridge.state_db if config.bridge is not None else None,
        now_ms=clock.now_ms,
        keep_days=config.history_keep_days,
        health=extra_health,
    )
    return _Parts(store_id, services, bus, relay, link, history)


def _printing(
    config: HubConfig,
    store: Store,
    catalog: Catalog,
    clock: Clock,
    live: LiveHub,
    store_id: str,
    bus: Bus | None,
) -> Printing:
    return Printing(
        store,
        catalog,
        clock,
        live,
        printers=config.printers,
        bill=config.bill,
        store_id=store_id,
        silent_after_s=config.kds_silent_after_s,
        ack_timeout_s=config.ack_timeout_s,
        publish=None if bus is None else bus.publish,
        connected=None if bus is None else bus.connected,
    )


def _relay(config: HubConfig, store: Store, store_id: str, bus: Bus) -> OutboxRelay:
    relay = OutboxRelay(
        store,
        store_id,
        bus.publish_many,
        bus.connected,
        connection=lambda: bus.connections,
        replay_s=config.broker.replay_s if config.broker else OutboxRelay.REPLAY_S,
    )
    bus.on_connected.append(relay.on_connected)  # an idle relay wakes on each reconnect
    return relay


def _limits(config: HubConfig, clock: Clock) -> dict[str, Any]:
    if not config.limits.enabled:
        return {}
    return {
        "orders": RateLimiter(config.limits.orders, clock.monotonic_ms),
        "calls": RateLimiter(config.limits.calls, clock.monotonic_ms),
        "client": RateLimiter(config.limits.client, clock.monotonic_ms),
    }


def _consumers(
    config: HubConfig, parts: _Parts, scale_line_overrides: Mapping[str, Any] | None
) -> list[Consumer]:
    """Everything that acts on commits or runs for the hub's life, in the order it starts
    (and the reverse of the order it stops)."""
    s = parts.services
    out: list[Consumer] = []
    if parts.bus is not None:
        out.append(Loop("mqtt-bus", parts.bus.run, stop=parts.bus.stop))
    out += [s.live, s.printing, s.calls, s.pacer, Loop("activity-log", ActivityLog(s).run)]
    out.append(Loop("forget-guests", s.booking.run_forgetting))
    if config.serve_ready_after_s > 0:
        after_s = config.serve_ready_after_s
        out.append(Loop("serve-ready", lambda: s.kitchen.run_serving_ready(after_s)))
    out.append(Loop("pre-orders", s.booking.run_preorders))
    if parts.relay is not None:
        out.append(parts.relay)
    plan = s.backup_schedule
    if plan is not None:
        db, keep = config.db_path, config.backup_keep
        out.append(
            Loop(
                "backups",
                lambda: backup.run_schedule(
                    db, every_s=plan.every_s, keep=keep, at_hour=plan.at_hour, tz=plan.tz
                ),
            )
        )
    if parts.link is not None:
        out += [Loop("outbox-prune", parts.link[0].run), Loop("bridge-health", parts.link[1].run)]
    out.append(Loop("history-prune", parts.history.run))
    out += build_agents(config, parts.store_id, scale_line_overrides=scale_line_overrides)
    return out


def _cloud_link(
    config: HubConfig, store: Store, extra_health: dict[str, Any], clock: Clock
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
        extra_health,
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


class WorkerDied(RuntimeError):
    """A consumer of the hub died; the hub stopped so that it can be restarted."""


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
            # the consumer's own line said why; systemd starts the hub again
            raise WorkerDied(hub.why or "a consumer of the hub died")
        log.info("stopping")


async def _first(*waits: Awaitable[Any]) -> None:
    """Until the first of `waits` is done; the others are cancelled."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel_all(tasks)
