"""Reading a request's body within the body timeout (hub.toml [http] body_timeout_seconds).

Small bodies (up to `hub.web.app.MAX_BODY`) are read by the app's middleware before any
handler runs; a route that takes a big body (the admin menu) reads it with `read_in_time`
itself, after checking who is asking, so nobody unknown makes the hub hold megabytes. Past the
timeout the request is answered `408` and its connection closed: a client that sends the head
of a request and then nothing holds no order slot and no connection for long."""

from __future__ import annotations

import asyncio

from aiohttp import web

BODY_TIMEOUT = web.AppKey("body_timeout_s", float)
DEFAULT_BODY_TIMEOUT_S = 10.0


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
