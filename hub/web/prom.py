"""The hub's numbers as Prometheus metric families, and their text (`exposition`). Loaded
when `/metrics` is first asked for (hub/web/metrics.py): prometheus_client is about 1.5 MB
a hub nobody scrapes need not hold."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from hub.services.container import Services
from hub.store import repos

PENDING = ("queued", "sent")  # print jobs not yet printed


@dataclass
class Reading:
    """What one scrape saw, read before the collector runs (the reads are async)."""

    services: Services
    open_tickets: dict[str, int] = field(default_factory=dict)
    print_queue: dict[tuple[str, str], int] = field(default_factory=dict)
    devices: list[tuple[str, str, bool]] = field(default_factory=list)  # id, kind, online
    written_bytes: int | None = None
    files: dict[str, int] = field(default_factory=dict)


async def read(s: Services) -> Reading:
    got = Reading(s)
    rows = await s.store.read_all(
        "SELECT station, COUNT(*) FROM tickets WHERE status = 'open' GROUP BY station"
    )
    got.open_tickets = {str(r[0]): int(r[1]) for r in rows}
    rows = await s.store.read_all(repos.PENDING_COUNTS_SQL, (s.printing.low,))
    got.print_queue = {(str(r[0]), str(r[1])): int(r[2]) for r in rows}
    got.devices = [
        (d.id, d.kind or "", d.state == "online") for d in await repos.read_devices(s.store)
    ]
    got.written_bytes = _process_write_bytes()
    for name, path in (("db", s.store.path), ("wal", Path(f"{s.store.path}-wal"))):
        try:
            got.files[name] = path.stat().st_size
        except OSError:
            continue
    return got


def _process_write_bytes() -> int | None:
    """Bytes this process caused to be written to storage (Linux /proc/self/io); the store is
    the hub's only writer of note (its logs go to the journal through a pipe)."""
    try:
        text = Path("/proc/self/io").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "write_bytes":
            return int(value)
    return None


def exposition(reading: Reading) -> bytes:
    """The text format of one reading."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector(reading))
    return generate_latest(registry)


class HubCollector(Collector):
    def __init__(self, reading: Reading) -> None:
        self.r = reading

    def collect(self) -> Iterator[Metric]:
        yield from self._orders()
        yield from self._kitchen()
        yield from self._printers()
        yield from self._devices()
        yield from self._bridge()
        yield from self._store()

    def _orders(self) -> Iterator[Metric]:
        s = self.r.services
        yield CounterMetricFamily(
            "tablehub_orders_placed", "Orders accepted since the hub started", s.ordering.placed
        )
        yield CounterMetricFamily(
            "tablehub_orders_refused_busy",
            "Orders answered 503 because too many were in flight",
            s.refused_in_flight,
        )
        yield GaugeMetricFamily(
            "tablehub_orders_in_flight", "Orders between request and answer", s.orders_in_flight
        )
        h = s.live.order_to_kds
        buckets = [(_bound(b), float(n)) for b, n in h.cumulative()]
        yield HistogramMetricFamily(
            "tablehub_order_to_kds_seconds",
            "From an order's acceptance to its new ticket written to a screen of its station",
            buckets=buckets,
            sum_value=h.sum,
        )

    def _kitchen(self) -> Iterator[Metric]:
        s = self.r.services
        tickets = GaugeMetricFamily(
            "tablehub_open_tickets", "Open (not bumped) tickets per station", labels=["station"]
        )
        stations = [str(st["id"]) for st in s.catalog.stations()]
        for station in sorted({*stations, *self.r.open_tickets}):
            tickets.add_metric([station], self.r.open_tickets.get(station, 0))
        yield tickets
        yield GaugeMetricFamily("tablehub_live_screens", "Open live screens", s.live.count)
        yield CounterMetricFamily(
            "tablehub_live_screens_dropped",
            "Screens dropped for falling behind (they resync on reconnect)",
            s.live.dropped_screens,
        )

    def _printers(self) -> Iterator[Metric]:
        status = self.r.services.printing.status()
        queue = GaugeMetricFamily(
            "tablehub_print_queue_jobs",
            "Print jobs not yet printed, per printer and state",
            labels=["printer", "state"],
        )
        printers = sorted({str(p["id"]) for p in status} | {p for p, _ in self.r.print_queue})
        for printer in printers:
            for state in PENDING:
                queue.add_metric([printer, state], self.r.print_queue.get((printer, state), 0))
        yield queue
        up = GaugeMetricFamily(
            "tablehub_printer_up",
            "1 while the printer prints, 0 while it is down",
            labels=["printer"],
        )
        for p in status:
            up.add_metric([str(p["id"])], 1 if p["up"] else 0)
        yield up

    def _devices(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "tablehub_device_online",
            "1 while the device reports itself online, 0 once it is offline",
            labels=["device", "kind"],
        )
        for device, kind, online in self.r.devices:
            up.add_metric([device, kind], 1 if online else 0)
        yield up

    def _bridge(self) -> Iterator[Metric]:
        bridge: Any = self.r.services.extra_health.get("cloud_bridge")
        if not isinstance(bridge, dict):
            return  # no cloud bridge configured
        found = bridge.get("backlog")
        backlog: dict[str, Any] = found if isinstance(found, dict) else {}
        numbers = (
            (
                "tablehub_bridge_backlog_events",
                "Events the cloud has not acknowledged yet",
                backlog.get("unacked_seqs"),
            ),
            (
                "tablehub_bridge_oldest_unsent_age_seconds",
                "How long the oldest event not yet sent to the cloud has waited",
                backlog.get("oldest_unsent_age_s"),
            ),
            (
                "tablehub_bridge_last_success_age_seconds",
                "Seconds since the cloud last acknowledged a batch",
                bridge.get("last_success_age_s"),
            ),
            (
                "tablehub_bridge_parked",
                "Batches the cloud refused, set aside",
                bridge.get("parked"),
            ),
        )
        for name, text, value in numbers:
            if isinstance(value, int | float) and not isinstance(value, bool):
                yield GaugeMetricFamily(name, text, value)

    def _store(self) -> Iterator[Metric]:
        s = self.r.services
        yield CounterMetricFamily("tablehub_store_commits", "Store commits", s.store.commits)
        yield CounterMetricFamily("tablehub_store_writes", "Write units committed", s.store.units)
        if self.r.written_bytes is not None:
            yield CounterMetricFamily(
                "tablehub_store_written_bytes",
                "Bytes the hub's process wrote to storage (the store, its WAL and backups)",
                self.r.written_bytes,
            )
        files = GaugeMetricFamily(
            "tablehub_store_file_bytes", "Size of the store's files", labels=["file"]
        )
        for name, size in self.r.files.items():
            files.add_metric([name], size)
        yield files
        yield GaugeMetricFamily(
            "tablehub_uptime_seconds",
            "Seconds since the hub started",
            (s.clock.monotonic_ms() - s.started_ms) / 1000,
        )
        if s.broker_connected is not None:
            yield GaugeMetricFamily(
                "tablehub_broker_connected",
                "1 while the hub is connected to the MQTT broker",
                1 if s.broker_connected.is_set() else 0,
            )


def _bound(b: float) -> str:
    return "+Inf" if b == float("inf") else repr(b)
