"""The services of one running hub, built by `hub.app` and handed to the web layer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.consumers.live import LiveHub
from hub.domain.ports import Clock, IdGen
from hub.services.booking import Booking
from hub.services.calls import Calls
from hub.services.catalog import Catalog
from hub.services.checks import Checks
from hub.services.corrections import Corrections
from hub.services.devices import Devices
from hub.services.kitchen import Kitchen
from hub.services.ordering import Ordering, Weighing
from hub.services.pacing import Pacer
from hub.services.printing import Printing
from hub.services.stock import Stock
from hub.store.backup import Schedule
from hub.store.db import Store


@dataclass
class Services:
    store: Store
    catalog: Catalog
    ordering: Ordering
    kitchen: Kitchen
    live: LiveHub
    calls: Calls
    weighing: Weighing
    devices: Devices
    printing: Printing
    corrections: Corrections
    checks: Checks
    stock: Stock
    booking: Booking
    clock: Clock
    ids: IdGen
    started_ms: int  # monotonic (Clock.monotonic_ms)
    pacer: Pacer  # courses held and fired, prep times learnt, waits quoted
    broker_connected: asyncio.Event | None = None
    # why the hub's last broker connection failed (e.g. its login refused), or None
    broker_error: Callable[[], str | None] | None = None
    extra_health: dict[str, Any] = field(default_factory=dict)
    # how far the MQTT relay is (None without a broker): /healthz's `mqtt_relay`
    relay_status: Callable[[], dict[str, Any]] | None = None
    limits: dict[str, Any] = field(default_factory=dict)  # name -> RateLimiter
    # what a simulated printer printed, as a picture (demo only)
    printer_previews: dict[str, Callable[[], bytes | None]] = field(default_factory=dict)
    accepting: bool = True
    backup_keep: int = 7  # how many online backups of the store are kept
    backup_schedule: Schedule | None = None  # when the hub makes them (None: never)
    orders_in_flight: int = 0  # orders between request and answer right now
    orders_in_flight_max: int = 256
    refused_in_flight: int = 0
    demo_buttons: Any = None  # the demo's mock button board (devices.buttons.demo), or None
