"""WebSockets: live tickets for KDS screens, live order status for diner pages.

Each connection first gets a snapshot (state, not a diff) and then every committed change.
Changes already contained in the snapshot are skipped by sequence number, so a screen that
reconnects after a network cut misses nothing and doubles nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from hub.dispatch import Subscriber
from hub.services.container import Services
from hub.services.kitchen import all_day
from hub.store import repos
from hub.web import auth
from hub.web.keys import SERVICES

PING_SECONDS = 20.0


def _svc(request: web.Request) -> Services:
    s: Services = request.app[SERVICES]
    return s


async def _serve(
    request: web.Request, sub: Subscriber, snapshot: Callable[[], Awaitable[dict[str, Any]]]
) -> web.WebSocketResponse:
    s = _svc(request)
    ws = web.WebSocketResponse(heartbeat=PING_SECONDS, max_msg_size=4096)
    await ws.prepare(request)
    s.live.subscribe(sub)
    try:
        seen = s.store.committed_seq
        snap = await snapshot()
        snap["server_ms"] = s.clock.now_ms()
        snap["seq"] = seen
        await ws.send_str(repos.dumps(snap))
        reader = asyncio.create_task(_drain_incoming(ws))
        try:
            while not ws.closed:
                get = asyncio.ensure_future(sub.queue.get())
                over = asyncio.ensure_future(sub.overflowed.wait())
                done, _ = await asyncio.wait(
                    {get, over, reader}, timeout=PING_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
                for fut in (get, over):
                    if not fut.done():
                        fut.cancel()
                if reader in done or over in done:
                    break
                if get in done:
                    msg = get.result()
                    if msg.get("seq", seen + 1) <= seen:
                        continue
                    await ws.send_str(repos.dumps(msg))
                else:
                    await ws.send_str(repos.dumps({"type": "ping", "server_ms": s.clock.now_ms()}))
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        s.live.unsubscribe(sub)
        await ws.close()
    return ws


async def _drain_incoming(ws: web.WebSocketResponse) -> None:
    """Screens send nothing we act on; read until the socket closes."""
    async for msg in ws:
        if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
            break


async def ws_table(request: web.Request) -> web.StreamResponse:
    s = _svc(request)
    table = s.catalog.table_from_token(request.query.get("table", ""))

    async def snapshot() -> dict[str, Any]:
        return {
            "type": "snapshot",
            "orders": await repos.read_open_check_orders(s.store, table.id),
            "sold_out": s.catalog.menu.sold_out() if s.catalog.menu else [],
            "calls": [c for c in await repos.read_active_calls(s.store) if c["table"] == table.id],
        }

    return await _serve(request, Subscriber(table=table.id), snapshot)


async def ws_kds(request: web.Request) -> web.StreamResponse:
    await auth.require(request, "kds")
    s = _svc(request)
    station_id = request.match_info["station"]
    station = s.catalog.station(station_id)

    async def snapshot() -> dict[str, Any]:
        key = None if station_id == "expo" else station_id
        tickets = await repos.read_open_tickets(s.store, key)
        snap: dict[str, Any] = {
            "type": "snapshot",
            "station": station,
            "tickets": tickets,
            "recent": await repos.read_recent_bumped(s.store, key),
            "all_day": all_day(tickets),
            "sold_out": s.catalog.menu.sold_out() if s.catalog.menu else [],
            "orders": [],
            "devices": await repos.read_devices(s.store),
        }
        if station_id == "expo":
            snap["calls"] = await repos.read_active_calls(s.store)
            orders = await repos.read_open_orders(s.store)
            snap["orders"] = orders
            # the expo groups by order: it needs the bumped tickets of open orders too
            snap["order_tickets"] = await repos.read_tickets_of_orders(
                s.store, [o["order_id"] for o in orders]
            )
        return snap

    return await _serve(request, Subscriber(station=station_id), snapshot)


async def ws_floor(request: web.Request) -> web.StreamResponse:
    """Floor staff: open table calls, device presence and live scale weights."""
    await auth.require(request, "floor")
    s = _svc(request)

    async def snapshot() -> dict[str, Any]:
        return {
            "type": "snapshot",
            "calls": await repos.read_active_calls(s.store),
            "devices": await repos.read_devices(s.store),
            "weights": {k: {"grams": g, "stable": st} for k, (g, st) in s.live.weights.items()},
            "tables": [t.as_dict() for t in s.catalog.tables.values()],
            "escalate_after_s": s.calls.escalate_after_s,
        }

    return await _serve(request, Subscriber(station="floor"), snapshot)
