"""`GET /metrics`: the hub's numbers in Prometheus text format, for a staff token or a scrape
from this box itself (loopback).

Nothing on the hot paths is instrumented for it: a custom collector reads the hub's own
counters and state when scraped (orders placed, open tickets per station, the print queue and
printer state, device presence, the cloud bridge's backlog, the store's commits and bytes
written). The one histogram, order → kitchen screen, is fed where a new ticket is written to
the first screen of its station (`LiveHub.sent`, hub/consumers/live.py)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from hub.services.container import Services
from hub.store import repos
from hub.web import auth
from hub.web.keys import SERVICES

routes = web.RouteTableDef()
PENDING = ("queued", "sent")  # print jobs not yet printed
# the classic text format, which every Prometheus (2.x and 3.x) reads; the names are ASCII
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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


def _from_loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


@routes.get("/metrics")
async def get_metrics(request: web.Request) -> web.Response:
    """Prometheus text format; a staff token, or a scrape from this box itself."""
    if not _from_loopback(request):
        await auth.require(request, "read")
    from hub.web import prom  # loaded on the first scrape: see hub/web/prom.py

    return web.Response(
        body=prom.exposition(await read(request.app[SERVICES])),
        headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"},
    )
