"""The aiohttp application: routes, error mapping, security headers, pages and static files."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from hub.errors import (
    AuthError,
    BadTableToken,
    Conflict,
    Forbidden,
    HubError,
    IdempotencyMismatch,
    InvalidInput,
    NotFound,
    RateLimited,
    SoldOut,
    StoreUnavailable,
)
from hub.services.container import Services
from hub.web import (
    admin_api,
    api,
    auth,
    booking_api,
    demo_panel,
    live,
    metrics,
    pacing_api,
    pairing,
    shift_api,
)
from hub.web.bodies import (
    LISTS_MAX_BODY,
    MAX_BODY,
    BodyTooSlow,
    read_in_time,
    route_body_limit,
)
from hub.web.keys import SERVICES

log = logging.getLogger("tablehub.web")

STATIC = Path(str(resources.files("hub.web").joinpath("static")))

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}

AUTH_CHALLENGE = "Bearer"

STATUS: list[tuple[type[HubError], int]] = [
    (BadTableToken, 403),
    (Forbidden, 403),
    (AuthError, 401),
    (NotFound, 404),
    (SoldOut, 409),
    (Conflict, 409),
    (IdempotencyMismatch, 409),
    (StoreUnavailable, 503),
    (InvalidInput, 422),
    (RateLimited, 429),
]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def status_of(exc: HubError) -> int:
    if exc.code == "bad_json":
        return 400
    return next((code for typ, code in STATUS if isinstance(exc, typ)), 400)


def body_limit(request: web.Request) -> int:
    """This request's body limit, by its route's pattern (so no other path shares an
    allowance)."""
    resource = request.match_info.route.resource
    if resource is None:
        return MAX_BODY
    return route_body_limit(request.method, resource.canonical)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    limit = body_limit(request)
    if limit != request.client_max_size:
        request = request.clone(client_max_size=limit)
    try:
        if request.body_exists and limit <= LISTS_MAX_BODY:
            await read_in_time(request)  # small bodies, in time, before any handler runs
        return await handler(request)
    except BodyTooSlow:
        return _body_too_slow(request)
    except RateLimited as exc:
        return web.json_response(
            exc.as_dict(), status=429, headers={"Retry-After": str(exc.retry_after_s)}
        )
    except HubError as exc:
        return _hub_error(exc)
    except web.HTTPRequestEntityTooLarge:
        return web.json_response(
            {"error": "too_large", "field": None, "message": f"the body is over {limit} bytes"},
            status=413,
        )
    except web.HTTPException as exc:
        if exc.status >= 400 and request.path.startswith("/api/"):
            # a 405 keeps the methods the path does allow (RFC 9110: Allow is required)
            allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
            return web.json_response(
                {
                    "error": exc.reason.lower().replace(" ", "_"),
                    "field": None,
                    "message": exc.reason,
                },
                status=exc.status,
                headers=allow,
            )
        raise
    except ConnectionResetError:
        if _client_gone(request):
            # a phone losing Wi-Fi mid-request is routine, not a fault of the hub: one quiet
            # line; the answer below goes nowhere, but aiohttp needs one to finish the request
            log.debug("client hung up during %s %s", request.method, request.path)
            return web.json_response(
                {"error": "hung_up", "field": None, "message": "the client closed the connection"},
                status=400,
            )
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _internal_error()
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _internal_error()


def _body_too_slow(request: web.Request) -> web.StreamResponse:
    log.debug("body of %s %s too slow from %s", request.method, request.path, request.remote)
    response = web.json_response(
        {"error": "timeout", "field": None, "message": "the request's body did not arrive in time"},
        status=408,
    )
    response.force_close()  # what is left of the body is not waited for
    return response


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _internal_error() -> web.Response:
    return web.json_response(
        {"error": "internal", "field": None, "message": "something went wrong on the hub"},
        status=500,
    )


def _hub_error(exc: HubError) -> web.Response:
    status = status_of(exc)
    headers: dict[str, str] = {}
    retry = getattr(exc, "retry_after_s", None)  # StoreBusy: come back in a moment
    if retry:
        headers["Retry-After"] = str(retry)
    if status == 401:  # says how to sign in (RFC 9110 requires it on every 401)
        headers["WWW-Authenticate"] = AUTH_CHALLENGE
    return web.json_response(exc.as_dict(), status=status, headers=headers)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    if request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")


def _page(name: str) -> web.FileResponse:
    return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})


async def diner_page(request: web.Request) -> web.StreamResponse:
    return _page("diner.html")


async def queue_page(request: web.Request) -> web.StreamResponse:
    """`/w/<token>`: a walk-in's place in the queue (the token is the key; no login)."""
    return _page("wait.html")


async def start_page(request: web.Request) -> web.StreamResponse:
    """`/`: what this box is, and links to the staff pages (which still need pairing)."""
    return _page("start.html")


def _staff_page(name: str, action: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        staff = await auth.current_staff(request)
        if staff is None:
            raise web.HTTPFound(f"/static/pair.html?next={quote(request.path_qs, safe='')}")
        await auth.require(request, action)
        if name == "kds.html":
            request.app[SERVICES].catalog.station(request.match_info["station"])
        return _page(name)

    return handler


async def pair(request: web.Request) -> web.StreamResponse:
    """Pair a screen: trade a staff token for an HttpOnly session cookie."""
    token = request.query.get("token", "")
    nxt = auth.safe_next(request.query.get("next"))
    if not token:  # a device opening /pair to type a PIN or paste a token
        raise web.HTTPFound(f"/static/pair.html?next={quote(nxt, safe='')}")
    staff = await auth.staff_from_token(request.app[SERVICES].store, token)
    if staff is None:
        raise web.HTTPFound(f"/static/pair.html?error=1&next={quote(nxt, safe='')}")
    resp = web.HTTPFound(nxt)
    resp.set_cookie(
        auth.COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        path="/",
        max_age=400 * 24 * 3600,
        secure=request.secure,
    )
    raise resp


async def favicon(request: web.Request) -> web.StreamResponse:
    path = STATIC / "img" / "favicon.svg"
    if path.exists():
        return web.FileResponse(path)
    raise web.HTTPNotFound()


def build_app(services: Services) -> web.Application:
    app = web.Application(middlewares=[errors_middleware], client_max_size=MAX_BODY)
    app[SERVICES] = services
    app.on_response_prepare.append(_security_headers)
    app.add_routes(api.routes)
    shift_api.setup(app)
    pacing_api.setup(app)
    app.add_routes(booking_api.routes)
    app.add_routes(metrics.routes)
    admin_api.setup(app)
    pairing.setup(app, services)
    app.router.add_get("/ws/table", live.ws_table)
    app.router.add_get("/ws/kds/{station}", live.ws_kds)
    app.router.add_get("/ws/floor", live.ws_floor)
    app.router.add_get("/floor", _staff_page("floor.html", "floor"))
    app.router.add_get("/t/{token}", diner_page)
    app.router.add_get("/w/{token}", queue_page)
    app.router.add_get("/kds/{station}", _staff_page("kds.html", "kds"))
    app.router.add_get("/admin", _staff_page("admin.html", "admin"))
    demo_panel.setup(app, services, _staff_page("demo.html", "floor"))
    app.router.add_get("/", start_page)
    app.router.add_get("/pair", pair)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_static("/static", STATIC, follow_symlinks=False)
    return app
