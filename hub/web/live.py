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

from hub.consumers.live import Control, Subscriber, encode
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
    loop = asyncio.get_running_loop()
    last_sent = loop.time()
    pinger: asyncio.TimerHandle | None = None

    def ping() -> None:
        # the clock for the screen's offset, when nothing else was sent for a while
        nonlocal pinger
        idle = loop.time() - last_sent
        if idle >= PING_SECONDS:
            sub.control(Control.PING)
            idle = 0.0
        pinger = loop.call_later(PING_SECONDS - idle, ping)

    reader: asyncio.Task[None] | None = None
    try:
        seen = s.store.committed_seq
        snap = await snapshot()
        snap["server_ms"] = s.clock.now_ms()
        snap["seq"] = seen
        await ws.send_frame(encode(snap), WSMsgType.TEXT)
        reader = asyncio.create_task(_drain_incoming(ws))
        reader.add_done_callback(lambda _: sub.control(Control.CLOSE))
        pinger = loop.call_later(PING_SECONDS, ping)
        while True:
            item = await sub.queue.get()
            if item is Control.PING:
                data = encode({"type": "ping", "server_ms": s.clock.now_ms()})
            elif isinstance(item, Control):
                break  # closed, or fell behind: a reconnect resyncs from a snapshot
            elif 0 < item[0] <= seen:
                continue  # already in the snapshot
            else:
                data = item[1]
            await ws.send_frame(data, WSMsgType.TEXT)
            last_sent = loop.time()
            if not isinstance(item, Control) and item[0]:
                s.live.sent(sub, item[0], s.clock.now_ms())
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        if pinger is not None:
            pinger.cancel()
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
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
            "calls": [c for c in await repos.read_active_calls(s.store) if c.table == table.id],
        }

    return await _serve(request, Subscriber(table=table.id), snapshot)


async def ws_kds(request: web.Request) -> web.StreamResponse:
    me = await auth.require(request, "kds")
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
            "held": s.kitchen.held_view(station_id),
        }
        if station_id == "expo":
            snap["calls"] = await repos.read_active_calls(s.store)
            orders = await repos.read_open_orders(s.store)
            snap["orders"] = orders
            # the expo groups by order: it needs the bumped tickets of open orders too
            snap["order_tickets"] = await repos.read_tickets_of_orders(
                s.store, [o.order_id for o in orders]
            )
        return snap

    return await _serve(request, Subscriber(station=station_id, token_id=me.token_id), snapshot)


async def ws_floor(request: web.Request) -> web.StreamResponse:
    """Floor staff: open table calls, device presence and live scale weights."""
    me = await auth.require(request, "floor")
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

    return await _serve(request, Subscriber(station="floor", token_id=me.token_id), snapshot)
