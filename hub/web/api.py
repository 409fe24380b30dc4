"""The JSON API under /api/v1 (see docs/api.md and /api/v1/openapi.json)."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from hub.consumers.bridge_health import BridgeHealth
from hub.domain.orders import LineRequest
from hub.errors import Conflict, InvalidInput, NotFound, StoreBusy, StoreUnavailable
from hub.services import staff as staff_tokens
from hub.services.container import Services
from hub.store import repos
from hub.web import auth, qr
from hub.web.bodies import read_in_time
from hub.web.keys import SERVICES
from hub.web.schemas import (
    MAX_GRAMS,
    ActionIn,
    AvailabilityIn,
    BumpIn,
    CallIn,
    OrderIn,
    StockIn,
    TokenIn,
    WeightIn,
    decode,
)

routes = web.RouteTableDef()
# the cloud bridge's health watch, on hubs that have a bridge (see hub.consumers.bridge_health)
BRIDGE_HEALTH = web.AppKey("bridge_health", BridgeHealth)


def svc(request: web.Request) -> Services:
    s: Services = request.app[SERVICES]
    return s


def _int(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:
        raise NotFound(f"no {name} '{raw[:20]}'", field=name)
    return int(raw)


def _limit(request: web.Request, name: str, table_id: str, what: str) -> None:
    """Per-table and per-client limits on what diners can do (bursts allowed)."""
    limits = svc(request).limits
    if name in limits:
        limits[name].take(table_id, what)
    if "client" in limits:
        limits["client"].take(request.remote or "?", "requests from this device")


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers, dumps=_dumps)


def _dumps(data: Any) -> str:
    return repos.dumps(data)


# ---------------------------------------------------------------- diner


@routes.get("/api/v1/menu")
async def get_menu(request: web.Request) -> web.Response:
    s = svc(request)
    table = s.catalog.table_from_token(request.query.get("table", ""))
    rules = {
        "open": table.is_open or not (s.ordering.require_open or s.ordering.require_pin),
        "requires_pin": s.ordering.require_pin,
    }
    view = dict(s.catalog.public_menu(), table=dict(table.as_dict(), **rules))
    menu = s.catalog.menu
    if menu is not None:
        waits = s.pacer.menu_waits(menu)
        view["items"] = [dict(it, **waits["items"].get(it["id"], {})) for it in view["items"]]
        view["wait_s"] = waits["wait_s"]
        view["wait_range_s"] = waits["wait_range_s"]
    return _json(view)


@routes.post("/api/v1/orders")
async def post_order(request: web.Request) -> web.Response:
    s = svc(request)
    if not s.accepting:
        raise StoreUnavailable("the hub is restarting; please try again in a moment")
    # an order counts against the cap only once its whole body is here (read within the body
    # timeout by the middleware) and its table token is good: a client that sends a head and
    # then nothing, or a forged token, holds no slot another table needs
    body = decode(await request.read(), OrderIn)
    s.catalog.table_from_token(body.table)
    if s.orders_in_flight >= s.orders_in_flight_max:
        # cheap, and the phone sends it again with the same key
        s.refused_in_flight += 1
        raise StoreBusy("the kitchen is very busy; your order is being sent again shortly")
    s.orders_in_flight += 1
    try:
        lines = [LineRequest(ln.item, ln.qty, tuple(ln.modifiers), ln.note) for ln in body.lines]
        order, replayed = await s.ordering.place(
            body.table,
            body.idempotency_key,
            lines,
            body.pin,
            # a new order only: a retry of one already taken is answered even when limited
            admit=lambda table: _limit(request, "orders", table.id, "orders from this table"),
            all_together=body.all_together,
        )
    finally:
        s.orders_in_flight -= 1
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return _json(order, status=201, headers=headers)


@routes.get("/api/v1/orders/{order_id}")
async def get_order(request: web.Request) -> web.Response:
    s = svc(request)
    order_id = _int(request, "order_id")
    token = request.query.get("table")
    if token is None:
        await auth.require(request, "read")
        table_id = None
    else:
        table_id = s.catalog.table_from_token(token).id
    row = await repos.read_order_row(s.store, order_id)
    order = None if row is None else repos.order_from_row(row)
    if row is None or order is None or (table_id is not None and order.table.id != table_id):
        raise NotFound(f"no order {order_id}", field="order_id")
    tickets = await repos.read_tickets_of_orders(s.store, [order_id])
    pacing = s.pacer.order_view(order, tickets, repos.order_body(row).served)
    return _json(dict(msgspec.to_builtins(order), **pacing))


@routes.get("/api/v1/check")
async def get_check(request: web.Request) -> web.Response:
    s = svc(request)
    table = s.catalog.table_from_token(request.query.get("table", ""))
    orders = await repos.read_open_check_orders(s.store, table.id)
    return _json(
        {
            "table": table.as_dict(),
            "orders": orders,
            "total_cents": sum(o.total_cents for o in orders),
        }
    )


# ---------------------------------------------------------------- kitchen


@routes.get("/api/v1/stations")
async def get_stations(request: web.Request) -> web.Response:
    await auth.require(request, "read")
    return _json({"stations": svc(request).catalog.stations()})


@routes.get("/api/v1/stations/{station}/tickets")
async def get_station_tickets(request: web.Request) -> web.Response:
    await auth.require(request, "kds")
    return _json(await svc(request).kitchen.station_view(request.match_info["station"]))


@routes.post("/api/v1/tickets/{ticket_id}/bump")
async def post_bump(request: web.Request) -> web.Response:
    await auth.require(request, "bump")
    body = decode(await request.read() or b"{}", BumpIn)
    ticket = await svc(request).kitchen.bump(_int(request, "ticket_id"), body.item, body.id)
    return _json(ticket)


@routes.post("/api/v1/tickets/{ticket_id}/start")
async def post_start(request: web.Request) -> web.Response:
    await auth.require(request, "bump")
    body = decode(await request.read() or b"{}", ActionIn)
    return _json(await svc(request).kitchen.start(_int(request, "ticket_id"), body.id))


@routes.post("/api/v1/tickets/{ticket_id}/recall")
async def post_recall(request: web.Request) -> web.Response:
    await auth.require(request, "bump")
    body = decode(await request.read() or b"{}", ActionIn)
    return _json(await svc(request).kitchen.recall(_int(request, "ticket_id"), action_id=body.id))


@routes.post("/api/v1/stations/{station}/recall")
async def post_station_recall(request: web.Request) -> web.Response:
    await auth.require(request, "bump")
    body = decode(await request.read() or b"{}", ActionIn)
    return _json(
        await svc(request).kitchen.recall(
            None, station=request.match_info["station"], action_id=body.id
        )
    )


@routes.post("/api/v1/orders/{order_id}/serve")
async def post_serve(request: web.Request) -> web.Response:
    await auth.require(request, "serve")
    body = decode(await request.read() or b"{}", ActionIn)
    return _json(await svc(request).kitchen.serve(_int(request, "order_id"), body.id))


@routes.get("/api/v1/items")
async def get_items(request: web.Request) -> web.Response:
    await auth.require(request, "read")
    return _json({"items": svc(request).catalog.staff_items()})


@routes.post("/api/v1/items/{item_id}/availability")
async def post_availability(request: web.Request) -> web.Response:
    await auth.require(request, "availability")
    body = decode(await request.read(), AvailabilityIn)
    item = await svc(request).catalog.set_availability(
        request.match_info["item_id"], body.available
    )
    return _json(item)


@routes.post("/api/v1/items/{item_id}/stock")
async def post_stock(request: web.Request) -> web.Response:
    """Count an item's portions ("12 tonight"); at zero it is sold out."""
    staff = await auth.require(request, "stock")
    body = decode(await request.read(), StockIn)
    item = await svc(request).stock.set_count(
        request.match_info["item_id"], body.count, body.low_at, action_id=body.id, by=staff.label
    )
    return _json(item)


# ---------------------------------------------------------------- admin


@routes.get("/api/v1/tables")
async def get_tables(request: web.Request) -> web.Response:
    await auth.require(request, "admin")
    cat = svc(request).catalog
    base = cat.base_url or f"{request.scheme}://{request.host}"
    return _json(
        {
            "tables": [
                {"id": t.id, "name": t.name, "url": f"{base}/t/{cat.token_for(t.id)}"}
                for t in cat.tables.values()
            ]
        }
    )


@routes.get("/api/v1/tables/{table_id}/qr.svg")
async def get_table_qr(request: web.Request) -> web.Response:
    await auth.require(request, "admin")
    cat = svc(request).catalog
    table_id = request.match_info["table_id"]
    base = cat.base_url or f"{request.scheme}://{request.host}"
    url = f"{base}/t/{cat.token_for(table_id)}"
    code = qr.svg(url, title=cat.tables[table_id].name)
    return web.Response(body=code, content_type="image/svg+xml")


@routes.post("/api/v1/tables/{table_id}/open")
async def post_table_open(request: web.Request) -> web.Response:
    """Seat a party: the table may order; the answer carries the PIN to give them."""
    await auth.require(request, "floor")
    s = svc(request)
    pin = s.ids.pin(4) if s.ordering.require_pin else None
    table = await s.catalog.set_open(request.match_info["table_id"], True, pin)
    return _json({"id": table.id, "name": table.name, "open": True, "pin": table.pin})


@routes.post("/api/v1/tables/{table_id}/close")
async def post_table_close(request: web.Request) -> web.Response:
    """The party left: the table's check is closed and it cannot order until opened."""
    await auth.require(request, "floor")
    table = await svc(request).catalog.set_open(request.match_info["table_id"], False, None)
    return _json({"id": table.id, "name": table.name, "open": False})


@routes.post("/api/v1/tables/{table_id}/rotate")
async def post_rotate(request: web.Request) -> web.Response:
    await auth.require(request, "admin")
    cat = svc(request).catalog
    table_id = request.match_info["table_id"]
    await cat.rotate(table_id)
    return _json({"id": table_id, "url": cat.url_for(table_id)})


@routes.post("/api/v1/orders/{order_id}/lines/{line}/weight")
async def post_weight(request: web.Request) -> web.Response:
    """Weigh a line sold by weight: from a scale's stable reading, or grams typed in."""
    staff = await auth.require(request, "weigh")
    s = svc(request)
    body = decode(await request.read(), WeightIn)
    if (body.scale is None) == (body.grams is None):
        raise InvalidInput("give either 'scale' or 'grams'", field="scale")
    if body.scale is not None:
        reading = s.live.weights.get(body.scale)
        if reading is None:
            raise NotFound(f"no reading from scale '{body.scale}'", field="scale")
        grams, stable = reading
        if not stable:
            raise Conflict(
                "the scale is not stable yet; wait for the weight to settle", field="scale"
            )
        source = f"scale {body.scale}"
    else:
        grams, source = int(body.grams or 0), f"typed by {staff.label}"
    if not 0 < grams <= MAX_GRAMS:
        raise InvalidInput("the weight must be between 1 g and 100 kg", field="grams")
    order = await s.weighing.record(_int(request, "order_id"), _int(request, "line"), grams, source)
    return _json(order)


# ---------------------------------------------------------------- calls and devices


@routes.post("/api/v1/calls")
async def post_call(request: web.Request) -> web.Response:
    """A diner's call button: opens a call, or returns the one already open."""
    s = svc(request)
    body = decode(await request.read(), CallIn)
    table = s.catalog.table_from_token(body.table)
    _limit(request, "calls", table.id, "calls from this table")
    call, created = await s.calls.open(table.id, body.kind, "diner")
    return _json(call, status=201 if created else 200)


@routes.get("/api/v1/calls")
async def get_calls(request: web.Request) -> web.Response:
    # calls are the floor's work; a KDS screen sees its expo calls through its WebSocket
    await auth.require(request, "floor")
    return _json({"calls": await repos.read_active_calls(svc(request).store)})


@routes.post("/api/v1/calls/{call_id}/ack")
async def post_call_ack(request: web.Request) -> web.Response:
    await auth.require(request, "floor")
    return _json(await svc(request).calls.acknowledge(_int(request, "call_id")))


@routes.post("/api/v1/calls/{call_id}/close")
async def post_call_close(request: web.Request) -> web.Response:
    await auth.require(request, "floor")
    return _json(await svc(request).calls.close(_int(request, "call_id")))


@routes.get("/api/v1/devices")
async def get_devices(request: web.Request) -> web.Response:
    await auth.require(request, "read")
    s = svc(request)
    weights = {k: {"grams": g, "stable": st} for k, (g, st) in s.live.weights.items()}
    return _json({"devices": await repos.read_devices(s.store), "weights": weights})


# ---------------------------------------------------------------- printing


@routes.get("/api/v1/printers")
async def get_printers(request: web.Request) -> web.Response:
    await auth.require(request, "read")
    s = svc(request)
    jobs = s.printing.as_known(await repos.read_jobs(s.store, 50))
    for job in jobs:
        job.pop("doc", None)
    printers = [
        p | {"preview": p["id"] in s.printer_previews} for p in s.printing.status()
    ]  # preview: a simulated printer whose last print is a picture (preview.png)
    return _json({"printers": printers, "jobs": jobs})


@routes.get("/api/v1/printers/{printer}/preview.png")
async def get_printer_preview(request: web.Request) -> web.Response:
    """What a simulated printer printed last, as a picture (the demo's printers)."""
    await auth.require(request, "read")
    preview = svc(request).printer_previews.get(request.match_info["printer"])
    png = preview() if preview is not None else None
    if png is None:
        raise NotFound(
            "no picture: not a simulated printer, or nothing printed yet", field="printer"
        )
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "no-store"})


@routes.post("/api/v1/printers/{printer}/test")
async def post_test_print(request: web.Request) -> web.Response:
    await auth.require(request, "admin")
    result = await svc(request).printing.test_print(request.match_info["printer"])
    return _json(result, status=200 if result["ok"] else 502)


@routes.post("/api/v1/tickets/{ticket_id}/reprint")
async def post_reprint(request: web.Request) -> web.Response:
    await auth.require(request, "bump")
    return _json(await svc(request).printing.reprint(_int(request, "ticket_id")), status=201)


@routes.post("/api/v1/tables/{table_id}/bill")
async def post_bill(request: web.Request) -> web.Response:
    await auth.require(request, "serve")
    return _json(await svc(request).printing.print_bill(request.match_info["table_id"]), status=201)


# ---------------------------------------------------------------- staff tokens


@routes.get("/api/v1/admin/tokens")
async def get_tokens(request: web.Request) -> web.Response:
    me = await auth.require(request, "admin")
    found = await staff_tokens.listing(svc(request).store)
    return _json({"tokens": [dict(t, current=t["id"] == me.token_id) for t in found]})


@routes.post("/api/v1/admin/tokens")
async def post_token(request: web.Request) -> web.Response:
    """Issue a staff token; the token itself is shown only in this answer."""
    await auth.require(request, "admin")
    body = decode(await request.read(), TokenIn)
    token = await staff_tokens.issue(svc(request).store, body.role, body.label)
    return _json({"token": token, "role": body.role, "label": body.label}, status=201)


@routes.post("/api/v1/admin/tokens/{token_id}/revoke")
async def post_revoke(request: web.Request) -> web.Response:
    me = await auth.require(request, "admin")
    token_id = request.match_info["token_id"]
    if token_id == me.token_id:
        raise Conflict("you cannot revoke the token you are signed in with", field="id")
    await staff_tokens.revoke(svc(request).store, token_id)
    closed = svc(request).live.close_token(token_id)  # its open screens stop at once
    return _json({"id": token_id, "revoked": True, "screens_closed": closed})


@routes.get("/api/v1/admin/menu")
async def get_admin_menu(request: web.Request) -> web.Response:
    await auth.require(request, "admin")
    cat = svc(request).catalog
    return _json({"version": cat.menu_version, "menu": cat.menu_document()})


@routes.put("/api/v1/admin/menu")
async def put_admin_menu(request: web.Request) -> web.Response:
    """Replace the menu document; `If-Match: <version>` guards against lost updates."""
    await auth.require(request, "admin")
    cat = svc(request).catalog
    expected = request.headers.get("If-Match")
    if expected is not None and expected.strip('"') != str(cat.menu_version):
        raise Conflict(f"the menu is at version {cat.menu_version}", field="If-Match")
    doc = decode(await read_in_time(request), dict)  # its big body: read once an admin asks
    version = await cat.import_menu(doc)
    return _json({"version": version, "menu": cat.menu_document()})


@routes.get("/api/v1/bridge")
async def get_bridge(request: web.Request) -> web.Response:
    """The cloud bridge as last looked at: backlog, oldest unsent event, last success and
    error, parked batches (released with `tablehub bridge unpark`), alerts."""
    await auth.require(request, "admin")
    health = request.app.get(BRIDGE_HEALTH)
    if health is None:
        return _json({"configured": False, "alerts": []})
    return _json(health.status)


@routes.get("/api/v1/openapi.json")
async def get_openapi(request: web.Request) -> web.Response:
    # the document and its schema builders load on the first ask, not in every hub's memory
    from hub.web.openapi import openapi_document

    return _json(openapi_document())


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    s = svc(request)
    broker = None if s.broker_connected is None else s.broker_connected.is_set()
    # the last commit failed (disk full, I/O error): orders are refused until one succeeds
    saving = s.store.failing is None
    body = {
        "status": "ok" if s.accepting and broker is not False and saving else "degraded",
        "store": {
            "commits": s.store.commits,
            "writes": s.store.units,
            "last_seq": s.store.committed_seq,
            "saving": saving,
            **({} if saving else {"problem": s.store.failing}),
            # what waits in the WAL to be copied into the file: growing without end means
            # checkpoints fail (the problem says why) or a reader holds the WAL
            "wal_frames_waiting": s.store.wal_frames_waiting(),
            "checkpoints": s.store.checkpoints,
            **(
                {"checkpoint_problem": s.store.checkpoint_failing}
                if s.store.checkpoint_failing
                else {}
            ),
        },
        "broker_connected": broker,
        # why not (e.g. "Not authorized": the broker refuses the hub's login)
        **({"broker_error": s.broker_error()} if broker is False and s.broker_error else {}),
        "mqtt_relay": s.relay_status() if s.relay_status is not None else None,
        "screens": s.live.count,
        "orders_placed": s.ordering.placed,
        "uptime_s": round((s.clock.monotonic_ms() - s.started_ms) / 1000, 1),
        **s.extra_health,
    }
    bridge = body.get("cloud_bridge")
    # anyone on the store's Wi-Fi may ask; the cloud's own error text is for staff
    if (
        isinstance(bridge, dict)
        and bridge.get("last_error")
        and await auth.current_staff(request) is None
    ):
        body["cloud_bridge"] = bridge | {"last_error": "(ask with a staff token)"}
    return _json(body)
