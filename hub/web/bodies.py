"""Reading a request's body within the body timeout (hub.toml [http] body_timeout_seconds).

Bodies up to `LISTS_MAX_BODY` are read by the app's middleware before any
handler runs; a route that takes a big body (the admin menu) reads it with `read_in_time`
itself, after checking who is asking, so nobody unknown makes the hub hold megabytes. Past the
timeout the request is answered `408` and its connection closed: a client that sends the head
of a request and then nothing holds no order slot and no connection for long."""

from __future__ import annotations

import asyncio

from aiohttp import web

BODY_TIMEOUT = web.AppKey("body_timeout_s", float)
DEFAULT_BODY_TIMEOUT_S = 10.0

MAX_BODY = 64 * 1024  # every body but those below: what a diner or a screen sends is small
# bodies with lists of lists: the largest the document allows (an order of 50 lines, each with
# 50 options and a 140-character note of emoji, escaped as JSON does) is ~220 KB
LISTS_MAX_BODY = 256 * 1024
# a whole menu (hundreds of items in three languages, the cloud's menu down-link included)
MENU_MAX_BODY = 4 * 1024 * 1024
BODY_LIMITS = {
    ("PUT", "/api/v1/admin/menu"): MENU_MAX_BODY,
    ("POST", "/api/v1/orders"): LISTS_MAX_BODY,
    ("POST", "/api/v1/staff/orders"): LISTS_MAX_BODY,
    ("POST", "/api/v1/reservations"): LISTS_MAX_BODY,
    ("POST", "/api/v1/reservations/from-cloud"): LISTS_MAX_BODY,
    ("POST", "/api/v1/tables/{table_id}/split"): LISTS_MAX_BODY,
}


def route_body_limit(method: str, route: str) -> int:
    """The most bytes a body of `method` on `route` (its pattern, as the OpenAPI document names
    it) may have: `MAX_BODY` unless the route is one of `BODY_LIMITS`."""
    return BODY_LIMITS.get((method, route), MAX_BODY)


class BodyTooSlow(Exception):
    """The body did not all arrive within the body timeout (answered 408 by the middleware)."""


async def read_in_time(request: web.Request) -> bytes:
    """The whole body, kept by aiohttp for later `read()`s; `BodyTooSlow` past the timeout."""
    timeout_s = request.app.get(BODY_TIMEOUT, DEFAULT_BODY_TIMEOUT_S)
    try:
        async with asyncio.timeout(timeout_s):
            return await request.read()
    except TimeoutError:
        raise BodyTooSlow(f"the body did not arrive within {timeout_s:g} s") from None
