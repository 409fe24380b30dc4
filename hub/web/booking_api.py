"""The host stand under /api/v1: the day's reservations, booking, seating, cancel and
no-show; the waitlist and each walk-in's own page (see docs/api.md)."""

from __future__ import annotations

from aiohttp import web

from hub.domain.events import DishIn
from hub.errors import NotFound
from hub.services.booking import BookRequest
from hub.web import auth, qr
from hub.web.api import _json, svc
from hub.web.schemas import (
    ActionOnlyIn,
    CloudBookingIn,
    GuestMessageIn,
    ReservationIn,
    SeatIn,
    WaitIn,
    decode,
)

routes = web.RouteTableDef()


def _id(request: web.Request, name: str = "res_id") -> str:
    raw = request.match_info[name]
    if not 1 <= len(raw) <= 64:
        raise NotFound("no such id", field="id")
    return raw


# ---------------------------------------------------------------- reservations


@routes.get("/api/v1/reservations")
async def get_reservations(request: web.Request) -> web.Response:
    """A day's book (today without `date`) and each table's timeline."""
    await auth.require(request, "floor")
    return _json(await svc(request).booking.day_book(request.query.get("date")))


@routes.post("/api/v1/reservations")
async def post_reservation(request: web.Request) -> web.Response:
    staff = await auth.require(request, "floor")
    b = decode(await request.read(), ReservationIn)
    req = BookRequest(
        id=b.id,
        name=b.name,
        party=b.party,
        at=b.at,
        phone=b.phone,
        notes=b.notes,
        table=b.table,
        area=b.area,
        dishes=tuple(DishIn(d.item, d.qty, list(d.modifiers), d.note) for d in b.dishes),
        override=b.override,
    )
    info, warnings = await svc(request).booking.book(req, staff.label)
    return _json({"reservation": info, "warnings": warnings}, status=201)


@routes.post("/api/v1/reservations/from-cloud")
async def post_reservation_from_cloud(request: web.Request) -> web.Response:
    """The cloud bridge hands over a booking made on the chain's booking site (admin)."""
    await auth.require(request, "admin")
    b = decode(await request.read(), CloudBookingIn)
    req = BookRequest(
        id=b.id,
        name=b.name,
        party=b.party,
        at=b.at,
        phone=b.phone,
        notes=b.notes,
        table=b.table,
        area=b.area,
        dishes=tuple(DishIn(d.item, d.qty, list(d.modifiers), d.note) for d in b.dishes),
    )
    return _json(await svc(request).booking.from_cloud(req, b.status == "cancelled"))


@routes.post("/api/v1/reservations/{res_id}/seat")
async def post_reservation_seat(request: web.Request) -> web.Response:
    """Seat the party: its table opens with its check; pre-ordered dishes go to the kitchen."""
    staff = await auth.require(request, "floor")
    b = decode(await request.read(), SeatIn)
    return _json(await svc(request).booking.seat(_id(request), b.table, b.id, staff.label))


@routes.post("/api/v1/reservations/{res_id}/cancel")
async def post_reservation_cancel(request: web.Request) -> web.Response:
    staff = await auth.require(request, "floor")
    b = decode(await request.read(), ActionOnlyIn)
    return _json(await svc(request).booking.cancel(_id(request), b.id, staff.label, no_show=False))


@routes.post("/api/v1/reservations/{res_id}/no-show")
async def post_reservation_no_show(request: web.Request) -> web.Response:
    staff = await auth.require(request, "floor")
    b = decode(await request.read(), ActionOnlyIn)
    return _json(await svc(request).booking.cancel(_id(request), b.id, staff.label, no_show=True))


# ---------------------------------------------------------------- the waitlist


@routes.get("/api/v1/waitlist")
async def get_waitlist(request: web.Request) -> web.Response:
    await auth.require(request, "floor")
    return _json(await svc(request).booking.waitlist())


@routes.post("/api/v1/waitlist")
async def post_waitlist(request: web.Request) -> web.Response:
    """A walk-in joins: the answer quotes the wait and links the guest's own page."""
    staff = await auth.require(request, "floor")
    b = decode(await request.read(), WaitIn)
    doc = await svc(request).booking.join_wait(b.id, b.name, b.party, b.phone, staff.label)
    return _json(doc, status=201)


@routes.post("/api/v1/waitlist/{wait_id}/seat")
async def post_waitlist_seat(request: web.Request) -> web.Response:
    await auth.require(request, "floor")
    b = decode(await request.read(), SeatIn)
    return _json(await svc(request).booking.seat_walkin(_id(request, "wait_id"), b.table, b.id))


@routes.post("/api/v1/waitlist/{wait_id}/leave")
async def post_waitlist_leave(request: web.Request) -> web.Response:
    await auth.require(request, "floor")
    b = decode(await request.read(), ActionOnlyIn)
    return _json(await svc(request).booking.leave_wait(_id(request, "wait_id"), b.id))


@routes.post("/api/v1/waitlist/{wait_id}/message")
async def post_waitlist_message(request: web.Request) -> web.Response:
    """A message on the guest's page ("Your table is ready")."""
    await auth.require(request, "floor")
    b = decode(await request.read(), GuestMessageIn)
    return _json(await svc(request).booking.message_guest(_id(request, "wait_id"), b.text, b.id))


@routes.get("/api/v1/waitlist/{wait_id}/qr.svg")
async def get_waitlist_qr(request: web.Request) -> web.Response:
    """The QR code of a walk-in's page, for the host to show."""
    await auth.require(request, "floor")
    s = svc(request)
    doc = next(
        (w for w in (await s.booking.waitlist())["waiting"] if w["id"] == _id(request, "wait_id")),
        None,
    )
    if doc is None:
        raise NotFound("no walk-in waiting with this id", field="id")
    base = s.catalog.base_url or f"{request.scheme}://{request.host}"
    code = qr.svg(f"{base}/w/{doc['token']}", title="your place in the queue")
    return web.Response(body=code, content_type="image/svg+xml")


@routes.get("/api/v1/queue/{token}")
async def get_queue_place(request: web.Request) -> web.Response:
    """A walk-in's own page's data: position, quoted wait, the host's message, first name."""
    return _json(await svc(request).booking.guest_view(request.match_info["token"]))
