"""The floor's corrections and checks under /api/v1: void and change a line, staff orders,
move and merge tables, split a check, record payments, print the parts' bills, and the
admin's corrections report (see docs/api.md)."""

from __future__ import annotations

import re
from datetime import date

from aiohttp import web

from hub.domain.orders import LineRequest
from hub.errors import InvalidInput
from hub.services.corrections import Actor, ChangeRequest
from hub.web import auth
from hub.web.api import _int, _json, svc
from hub.web.schemas import (
    BillsIn,
    ChangeIn,
    MergeIn,
    MoveIn,
    OrderVoidIn,
    PaymentIn,
    SplitIn,
    StaffOrderIn,
    VoidIn,
    decode,
)

routes = web.RouteTableDef()
DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _is_date(text: str) -> bool:
    if not DAY_RE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _actor(staff: auth.Staff) -> Actor:
    return Actor(label=staff.label, admin=staff.role == "admin", token_id=staff.token_id)


# ---------------------------------------------------------------- lines


@routes.post("/api/v1/orders/{order_id}/lines/{line}/void")
async def post_void(request: web.Request) -> web.Response:
    """Void units of a line (a comp once the kitchen made it: admin or manager PIN)."""
    staff = await auth.require(request, "floor")
    body = decode(await request.read(), VoidIn)
    order = await svc(request).corrections.void(
        _int(request, "order_id"),
        _int(request, "line"),
        qty=body.qty,
        reason=body.reason,
        action_id=body.id,
        actor=_actor(staff),
        pin=body.pin,
    )
    return _json(order)


@routes.post("/api/v1/orders/{order_id}/void")
async def post_order_void(request: web.Request) -> web.Response:
    """Void a whole order: every line still charged, in one write."""
    staff = await auth.require(request, "floor")
    body = decode(await request.read(), OrderVoidIn)
    order = await svc(request).corrections.void_order(
        _int(request, "order_id"),
        reason=body.reason,
        action_id=body.id,
        actor=_actor(staff),
        pin=body.pin,
    )
    return _json(order)


@routes.post("/api/v1/orders/{order_id}/lines/{line}/change")
async def post_change(request: web.Request) -> web.Response:
    """Change a line's quantity, modifiers or note before the kitchen bumps it."""
    staff = await auth.require(request, "floor")
    body = decode(await request.read(), ChangeIn)
    want = ChangeRequest(qty=body.qty, modifiers=body.modifiers, note=body.note)
    order = await svc(request).corrections.change(
        _int(request, "order_id"),
        _int(request, "line"),
        want,
        action_id=body.id,
        actor=_actor(staff),
    )
    return _json(order)


# ---------------------------------------------------------------- staff orders


@routes.post("/api/v1/staff/orders")
async def post_staff_order(request: web.Request) -> web.Response:
    """An order taken by staff for a table; it says who entered it."""
    staff = await auth.require(request, "floor")
    body = decode(await request.read(), StaffOrderIn)
    lines = [
        LineRequest(ln.item, ln.qty, tuple(ln.modifiers), ln.note, ln.seat) for ln in body.lines
    ]
    order, replayed = await svc(request).ordering.place_for_staff(
        body.table, body.idempotency_key, lines, staff.label, all_together=body.all_together
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return _json(order, status=201, headers=headers)


# ---------------------------------------------------------------- checks


@routes.get("/api/v1/floor/tables")
async def get_floor_tables(request: web.Request) -> web.Response:
    """Every table: open, its open check's total and what is due (the table picker)."""
    await auth.require(request, "floor")
    return _json(await svc(request).checks.floor_tables())


@routes.get("/api/v1/tables/{table_id}/check")
async def get_table_check(request: web.Request) -> web.Response:
    await auth.require(request, "floor")
    return _json(await svc(request).checks.view(request.match_info["table_id"]))


@routes.post("/api/v1/tables/{table_id}/move")
async def post_move(request: web.Request) -> web.Response:
    """Move the party to a free table; its phones and tickets follow."""
    staff = await auth.require(request, "floor")
    body = decode(await request.read(), MoveIn)
    check = await svc(request).checks.move(
        request.match_info["table_id"], body.to, body.id, _actor(staff)
    )
    return _json(check)


@routes.post("/api/v1/tables/{table_id}/merge")
async def post_merge(request: web.Request) -> web.Response:
    """Merge another table's check (`from`) into this table's."""
    staff = await auth.require(request, "floor")
    body = decode(await request.read(), MergeIn)
    check = await svc(request).checks.merge(
        request.match_info["table_id"], body.from_, body.id, _actor(staff)
    )
    return _json(check)


@routes.post("/api/v1/tables/{table_id}/split")
async def post_split(request: web.Request) -> web.Response:
    staff = await auth.require(request, "floor")
    body = decode(await request.read(), SplitIn)
    parts = (
        None
        if body.parts is None
        else [
            [{"order_id": e.order_id, "line": e.line, "qty": e.qty} for e in p] for p in body.parts
        ]
    )
    check = await svc(request).checks.split(
        request.match_info["table_id"], body.mode, body.id, _actor(staff), parts=parts, n=body.n
    )
    return _json(check)


@routes.post("/api/v1/tables/{table_id}/payments")
async def post_payment(request: web.Request) -> web.Response:
    """Record a payment (recorded only); paid in full, the check closes."""
    staff = await auth.require(request, "floor")
    body = decode(await request.read(), PaymentIn)
    result = await svc(request).checks.pay(
        request.match_info["table_id"],
        method=body.method,
        amount_cents=body.amount_cents,
        tip_cents=body.tip_cents,
        part=body.part,
        action_id=body.id,
        actor=_actor(staff),
    )
    return _json(result, status=201)


@routes.post("/api/v1/tables/{table_id}/bills")
async def post_bills(request: web.Request) -> web.Response:
    """Print the bill of each part of the check (or of one part)."""
    await auth.require(request, "floor")
    body = decode(await request.read() or b"{}", BillsIn)
    result = await svc(request).checks.print_bills(request.match_info["table_id"], body.part)
    return _json(result, status=201)


# ---------------------------------------------------------------- the report


@routes.get("/api/v1/admin/corrections")
async def get_corrections(request: web.Request) -> web.Response:
    """Voids and comps of a business day by reason and by staff login, and the record."""
    await auth.require(request, "admin")
    s = svc(request)
    day = request.query.get("day")  # given, it is a real date (an empty one is not)
    if day is None:
        day = s.corrections.day_of(s.clock.now_iso())
    elif not _is_date(day):
        raise InvalidInput("day must be a date, YYYY-MM-DD", field="day")
    return _json(await s.corrections.report(day))


def setup(app: web.Application) -> None:
    app.add_routes(routes)
