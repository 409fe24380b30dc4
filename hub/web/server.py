"""Serving the aiohttp app on a TCP port behind the connection guard (hub/web/guard.py), with
the open-file limit raised and accept failures logged once per episode (plumbing/accepts.py).

`serving(app, ...)` is an async context manager: the port is bound when it yields the port
number; on exit new connections stop, then aiohttp closes the open ones."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from hub.config import HttpLimits
from hub.web.bodies import BODY_TIMEOUT
from hub.web.guard import ConnectionGuard, GuardLimits
from plumbing.accepts import AcceptErrors, raise_open_files

log = logging.getLogger("tablehub.web")

# file descriptors kept for the hub itself (store, backups, broker, printers, logs) and for
# what accept() takes in one go before the guard sees it (the listen backlog)
RESERVED_FILES = 256
# asyncio accepts up to BACKLOG connections in one go (each a file before the guard sees it);
# the kernel's queue of connections not yet accepted is longer, so that a burst of refused
# connections does not fill it and drop a phone's connection attempt (a 1 s SYN retry)
LISTEN_QUEUE = 1024
# the most connections by default even when the open-file limit allows more: a store's phones,
# screens and agents hold a few hundred; each costs memory on a small box
DEFAULT_MAX_CONNECTIONS = 4096
BACKLOG = 128


class MalformedRequests(logging.Filter):
    """aiohttp logs a request it cannot parse (a NUL byte in a header, a path that is not a
    path, a line too long) as an ERROR with a traceback. It is the client's doing, answered
    400 already, and anyone on the guest Wi-Fi can send it: one INFO line instead, naming
    the address and what was wrong, with a fixed template so that a flood of them is bounded
    like any repeated line (plumbing/logs.py `RepeatLimit`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= exc.code < 500:
            args = record.args if isinstance(record.args, tuple) else ()
            what = str(exc.message).strip().splitlines() or [type(exc).__name__]
            record.msg = "refused a malformed request from %s (%d): %s"
            record.args = (args[0] if args else "?", exc.code, what[0][:200])
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = None
            record.exc_text = None
        return True


_MALFORMED = MalformedRequests()


@dataclass
class Serving:
    port: int
    guard: ConnectionGuard
    accepts: AcceptErrors


def max_connections(limits: HttpLimits, open_files: int) -> int:
    """The configured cap, or (0) `DEFAULT_MAX_CONNECTIONS` within the open-file limit less
    what the hub keeps for itself; a configured cap above that is kept, with a warning."""
    safe = max(64, open_files - RESERVED_FILES)
    if limits.max_connections == 0:
        return min(DEFAULT_MAX_CONNECTIONS, safe)
    if limits.max_connections > safe:
        log.warning(
            "[http] max_connections %d is more than the open-file limit %d allows (%d): "
            "accepts may fail under load",
            limits.max_connections,
            open_files,
            safe,
        )
    return limits.max_connections


@contextlib.asynccontextmanager
async def serving(
    app: web.Application,
    host: str,
    port: int,
    limits: HttpLimits,
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[Serving]:
    soft, hard = raise_open_files()
    cap = max_connections(limits, soft)
    log.info(
        "open-file limit %d (hard %d); at most %d connections, %d per address",
        soft,
        hard,
        cap,
        limits.connections_per_address,
    )
    app[BODY_TIMEOUT] = limits.body_timeout_s
    server_log = logging.getLogger("aiohttp.server")
    if _MALFORMED not in server_log.filters:
        server_log.addFilter(_MALFORMED)
    runner = web.AppRunner(
        app,
        access_log=None,
        shutdown_timeout=2.0,
        keepalive_timeout=limits.idle_timeout_s,
        # a body not read when the answer is sent (a 408, 413 or 4xx) is drained this long
        lingering_time=2.0,
    )
    await runner.setup()
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    accepts = AcceptErrors(previous)
    loop.set_exception_handler(accepts)
    try:
        assert runner.server is not None
        guard = ConnectionGuard(
            runner.server,
            GuardLimits(limits.connections_per_address, cap, limits.header_timeout_s),
            on_accept=accepts.accepted,
        )
        # a TLS handshake comes before the guard sees the connection: it gets the header timeout
        handshake_s = limits.header_timeout_s if tls is not None else None
        server = await loop.create_server(
            guard,
            host,
            port,
            ssl=tls,
            backlog=BACKLOG,
            reuse_address=True,
            ssl_handshake_timeout=handshake_s,
        )
        for sock in server.sockets:  # a longer kernel queue (listen() again on a copy)
            with socket.fromfd(sock.fileno(), sock.family, sock.type) as listening:
                listening.listen(LISTEN_QUEUE)
        try:
            yield Serving(server.sockets[0].getsockname()[1], guard, accepts)
        finally:
            server.close()  # no new connections; aiohttp closes the open ones below
    finally:
        await runner.cleanup()
        if loop.get_exception_handler() is accepts:
            loop.set_exception_handler(previous)
