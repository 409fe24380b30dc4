"""Pairing a device with a one-time PIN: an admin makes the PIN, the device types it on /pair
and gets the same HttpOnly, SameSite=Strict session cookie as pairing with a token.

PINs live in this process only (`hub.services.staff.PairingPins`); attempts are limited per client
address, and the login POST needs the same `X-Requested-With: tablehub` header as every
cookie-authenticated write, so another site cannot post a PIN from a staff browser."""

from __future__ import annotations

from aiohttp import web

from hub.domain.ports import iso_from_ms
from hub.domain.ratelimit import Limit, RateLimiter
from hub.errors import Forbidden, InvalidInput
from hub.services import staff
from hub.services.container import Services
from hub.web import auth
from hub.web.keys import SERVICES
from hub.web.schemas import PinPairingIn, TokenIn, decode

PINS = web.AppKey("pairing_pins", staff.PairingPins)
ATTEMPTS = web.AppKey("pairing_attempts", RateLimiter)

# per client address: 5 attempts at once, then one every 30 s
ATTEMPT_LIMIT = Limit(burst=5, per_minute=2)

routes = web.RouteTableDef()


def setup(app: web.Application, services: Services) -> None:
    """Give `app` its PIN book and attempt limiter, and the pairing routes."""
    app[PINS] = staff.PairingPins(services.clock, services.ids)
    app[ATTEMPTS] = RateLimiter(ATTEMPT_LIMIT, services.clock.monotonic_ms)
    app.add_routes(routes)


@routes.post("/api/v1/admin/pairing-pins")
async def post_pairing_pin(request: web.Request) -> web.Response:
    """Make a one-time PIN for `role`; the PIN is shown only in this answer."""
    await auth.require(request, "admin")
    body = decode(await request.read(), TokenIn)
    made = request.app[PINS].create(body.role, body.label)
    s: Services = request.app[SERVICES]
    return web.json_response(
        {
            "pin": made.pin,
            "role": made.role,
            "label": made.label,
            "expires_at": iso_from_ms(made.expires_ms),
            "expires_in_s": max(0, (made.expires_ms - s.clock.now_ms()) // 1000),
        },
        status=201,
    )


@routes.post("/api/v1/pair/pin")
async def post_pair_pin(request: web.Request) -> web.Response:
    """Trade a live pairing PIN for a session cookie carrying a new staff token."""
    if request.headers.get(auth.CSRF_HEADER) != auth.CSRF_VALUE:
        raise Forbidden(
            f"header {auth.CSRF_HEADER}: {auth.CSRF_VALUE} is required", field=auth.CSRF_HEADER
        )
    request.app[ATTEMPTS].take(request.remote or "?", "pairing attempts", field="pin")
    body = decode(await request.read(), PinPairingIn)
    pin = body.pin.strip()
    if not (pin.isascii() and pin.isdigit() and len(pin) == staff.PIN_DIGITS):
        raise InvalidInput(f"the PIN has {staff.PIN_DIGITS} digits", field="pin")
    s: Services = request.app[SERVICES]
    paired = await staff.pair_with_pin(s.store, request.app[PINS], pin)
    if paired is None:
        raise Forbidden(
            "that PIN is not right or has expired; ask a manager for a new one", field="pin"
        )
    token, role, label = paired
    nxt = auth.safe_next(body.next)
    resp = web.json_response({"role": role, "label": label, "next": nxt})
    auth.set_session(resp, token, secure=request.secure)
    return resp
