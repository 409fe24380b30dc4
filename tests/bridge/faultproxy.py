"""A small HTTP/1.1-aware TCP proxy that injects faults between the bridge and receivers.

Per request it asks `faults()` what to do:

- `pass`          forward the request and the whole response
- `drop`          close the client's connection without an answer
- `http500`       answer 500 itself; the receiver never sees the request
- `stall`         hold the request, answer nothing, close after `stall_s`
- `cut_request`   forward half the request, then close both sides
- `cut_response`  forward the request, let the receiver commit, send back half its answer

`down = True` refuses every connection (the cloud is gone). Several upstreams are served
round robin (a load balancer; per connection, or per request with `per_request=True`); an
upstream that refuses is skipped, and `on_forward(index)` is told where each request went;
`on_request(message)` sees every request as it arrives (head and body), e.g. to count polls.
Messages are framed by Content-Length, which is all aiohttp's client and server use here.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from collections.abc import Callable

Fault = str
FAULTS = ("pass", "drop", "http500", "stall", "cut_request", "cut_response")
MAX_HEAD = 64 * 1024


async def read_message(reader: asyncio.StreamReader, *, response: bool = False) -> bytes | None:
    """One HTTP message (head and Content-Length body), or None at a clean EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise ConnectionError("connection closed inside a message head") from exc
        return None
    except asyncio.LimitOverrunError as exc:
        raise ConnectionError("message head too large") from exc
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
        elif name.strip().lower() == b"transfer-encoding":
            raise ConnectionError("chunked messages are not supported by this proxy")
    if response and head.split(b" ", 2)[1] in (b"204", b"304"):
        length = 0
    body = await reader.readexactly(length) if length else b""
    return head + body


def _abort(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(Exception):
        writer.transport.abort()


class FaultProxy:
    def __init__(
        self,
        upstreams: list[tuple[str, int]],
        *,
        faults: Callable[[], Fault] | None = None,
        stall_s: float = 3.0,
        per_request: bool = False,
    ) -> None:
        self.upstreams = list(upstreams)
        self.per_request = per_request  # a new upstream (round robin) for every request
        self.on_forward: Callable[[int], None] | None = None  # upstream index, request sent
        self.on_request: Callable[[bytes], None] | None = None  # every request, as it came
        self.faults = faults
        self.stall_s = stall_s
        self.down = False
        self.seen: Counter[str] = Counter()
        self.port = 0
        self._rr = itertools.count()
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()
        self._index: dict[asyncio.StreamWriter, int] = {}

    def __repr__(self) -> str:
        return f"<FaultProxy :{self.port} down={self.down} seen={dict(self.seen)}>"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, limit=MAX_HEAD)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._conns):
                _abort(w)
            await self._server.wait_closed()
            self._server = None

    def cut_all(self) -> None:
        """Abort every open connection (a network blip)."""
        for w in list(self._conns):
            _abort(w)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        for _ in range(len(self.upstreams)):
            index = next(self._rr) % len(self.upstreams)
            host, port = self.upstreams[index]
            try:
                reader, writer = await asyncio.open_connection(host, port, limit=MAX_HEAD)
            except OSError:
                self.seen[f"upstream{index}_refused"] += 1
                continue
            self._index[writer] = index
            return reader, writer
        return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.down:
            self.seen["refused"] += 1
            _abort(writer)
            return
        self._conns.add(writer)
        up: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            up = await self._serve(reader, writer)
        except (ConnectionError, OSError, asyncio.IncompleteReadError, ValueError):
            _abort(writer)
        finally:
            self._conns.discard(writer)
            if up is not None:
                _abort(up[1])
            with contextlib.suppress(Exception):
                writer.close()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        up: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        while True:
            request = await read_message(reader)
            if request is None or self.down:
                _abort(writer)
                return up
            if self.on_request is not None:
                self.on_request(request)
            fault = self.faults() if self.faults is not None else "pass"
            self.seen[fault] += 1
            if fault == "drop":
                _abort(writer)
                return up
            if fault == "http500":
                writer.write(
                    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
                    b"Content-Length: 5\r\n\r\noops!"
                )
                await writer.drain()
                continue
            if fault == "stall":
                await asyncio.sleep(self.stall_s)
                _abort(writer)
                return up
            if up is not None and self.per_request:
                _abort(up[1])
                up = None
            if up is None:
                up = await self._connect()
                if up is None:
                    self.seen["no_upstream"] += 1
                    _abort(writer)
                    return None
            if fault == "cut_request":
                up[1].write(request[: len(request) // 2])
                await up[1].drain()
                _abort(writer)
                return up
            up[1].write(request)
            await up[1].drain()
            if self.on_forward is not None:
                self.on_forward(self._index.pop(up[1], 0))
            response = await read_message(up[0], response=True)
            if response is None:
                _abort(writer)
                return up
            if fault == "cut_response":
                writer.write(response[: len(response) // 2])
                await writer.drain()
                _abort(writer)
                return up
            writer.write(response)
            await writer.drain()
