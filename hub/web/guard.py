"""The connection guard: what one HTTP client may hold before aiohttp sees it.

`ConnectionGuard` wraps the aiohttp server's protocol factory (`runner.server`). Each new
connection is looked at by its peer address before a request handler is made for it:

- past `per_address` open connections from that address, or past `max_connections` in all,
  it gets a one-line 503 and is closed (a file descriptor is held for microseconds, not for as
  long as the client likes);
- its request head must arrive within `header_timeout_s`, or it is closed (a client that
  connects and sends nothing, or a byte a second, holds nothing for long).

aiohttp's own `keepalive_timeout` closes a kept-alive connection idle between requests, and
the app's middleware times out each request's body (hub/web/app.py)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

log = logging.getLogger("tablehub.web")


def _refusal(message: str) -> bytes:
    body = f'{{"error":"busy","field":null,"message":"{message}"}}'.encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


PER_ADDRESS = _refusal("too many connections from this address")
TOO_MANY = _refusal("the hub has too many connections; try again in a moment")


@dataclass(frozen=True, slots=True)
class GuardLimits:
    per_address: int
    max_connections: int
    header_timeout_s: float


class ConnectionGuard:
    """A protocol factory for `loop.create_server` in front of aiohttp's (module docstring).
    `on_accept` is called for every accepted connection (it ends an accept-failure episode)."""

    def __init__(
        self,
        server: web.Server,
        limits: GuardLimits,
        *,
        on_accept: Callable[[], None] | None = None,
    ) -> None:
        self.server = server
        self.limits = limits
        self.on_accept = on_accept
        self.by_address: Counter[str] = Counter()
        self.open = 0
        self.refused = 0  # since start, both caps
        self.slow_heads = 0  # closed for a request head that never arrived in time
        self._waiting: dict[RequestHandler, asyncio.TimerHandle] = {}
        self._refusing: dict[str, int] = {}  # address (or "*": all) -> refused this episode
        factory = server.request_factory

        def request_factory(
            message: RawRequestMessage,
            payload: StreamReader,
            protocol: RequestHandler,
            writer: AbstractStreamWriter,
            task: asyncio.Task[None],
        ) -> BaseRequest:
            timer = self._waiting.pop(protocol, None)
            if timer is not None:
                timer.cancel()
            return factory(message, payload, protocol, writer, task)

        server.request_factory = request_factory

    def __repr__(self) -> str:
        return f"<ConnectionGuard {self.open} open, {self.refused} refused>"

    def __call__(self) -> asyncio.Protocol:
        return _Guarded(self)

    # ------------------------------------------------------------ admission

    def admit(self, address: str) -> bytes | None:
        """None when a connection from `address` may be served, else the answer to refuse it."""
        if self.on_accept is not None:
            self.on_accept()
        if self.by_address[address] >= self.limits.per_address:
            return self._refuse(address, PER_ADDRESS)
        if self.open >= self.limits.max_connections:
            return self._refuse("*", TOO_MANY)
        self.by_address[address] += 1
        self.open += 1
        return None

    def _refuse(self, key: str, answer: bytes) -> bytes:
        self.refused += 1
        if key not in self._refusing:
            self._refusing[key] = 0
            if key == "*":
                log.warning("refusing connections: %d open, the most allowed", self.open)
            else:
                log.warning(
                    "refusing connections from %s: %d open, the most one address may hold",
                    key,
                    self.by_address[key],
                )
        self._refusing[key] += 1
        return answer

    def release(self, address: str, handler: RequestHandler) -> None:
        timer = self._waiting.pop(handler, None)
        if timer is not None:
            timer.cancel()
        self.open -= 1
        self.by_address[address] -= 1
        if self.by_address[address] <= 0:
            del self.by_address[address]
            self._episode_over(address)
        if self.open < self.limits.max_connections * 0.9:
            self._episode_over("*")

    def _episode_over(self, key: str) -> None:
        count = self._refusing.pop(key, None)
        if count is not None:
            who = "in all" if key == "*" else f"from {key}"
            log.warning("%d connections refused %s; accepting again", count, who)

    # ------------------------------------------------------------ the request head

    def await_head(self, handler: RequestHandler, transport: asyncio.BaseTransport) -> None:
        loop = asyncio.get_running_loop()
        self._waiting[handler] = loop.call_later(
            self.limits.header_timeout_s, self._too_slow, handler, transport
        )

    def _too_slow(self, handler: RequestHandler, transport: asyncio.BaseTransport) -> None:
        if self._waiting.pop(handler, None) is not None:
            self.slow_heads += 1
            transport.close()


class _Guarded(asyncio.Protocol):
    """One connection: refused at once, or served by an aiohttp request handler made for it."""

    def __init__(self, guard: ConnectionGuard) -> None:
        self._guard = guard
        self._inner: RequestHandler | None = None
        self._address = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        refusal = self._guard.admit(address)
        if refusal is not None:
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(refusal)
            transport.close()
            return
        self._address = address
        self._inner = self._guard.server()
        self._guard.await_head(self._inner, transport)
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        inner, self._inner = self._inner, None
        if inner is not None:
            self._guard.release(self._address, inner)
            inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> None:
        if self._inner is not None:
            self._inner.eof_received()

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()
