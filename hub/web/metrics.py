"""`GET /metrics`: the hub's numbers in Prometheus text format, for a staff token or a scrape
from this box itself (loopback).

Nothing on the hot paths is instrumented for it: a custom collector reads the hub's own
counters and state when scraped (orders placed, open tickets per station, the print queue and
printer state, device presence, the cloud bridge's backlog, the store's commits and bytes
written). The one histogram, order → kitchen screen, is fed where a new ticket is written to
the first screen of its station (`LiveHub.sent`, hub/consumers/live.py). The reading and the
metric families are in hub/web/prom.py, loaded on the first scrape."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from hub.web import auth
from hub.web.keys import SERVICES

routes = web.RouteTableDef()
# the classic text format, which every Prometheus (2.x and 3.x) reads; the names are ASCII
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


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
        body=prom.exposition(await prom.read(request.app[SERVICES])),
        headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"},
    )
