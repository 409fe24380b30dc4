"""Requests aiohttp cannot parse (anyone on the guest Wi-Fi can send them) are answered 400
and logged as one line naming the address and the fault: no ERROR, no traceback, and a
flood of them is bounded by the log's repeat limit."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hub.app import RunningHub
from plumbing.logs import RepeatLimit

MALFORMED = [
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", "Invalid header value char"),
    (b"GET /he\x00althz HTTP/1.1\r\nHost: x\r\n\r\n", "Invalid char in url path"),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-" + b"A" * 9000 + b": 1\r\n\r\n", "Got more than"),
]


async def _raw(hub: RunningHub, data: bytes) -> bytes:
    host, port = hub.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(10):
            return await reader.read(4096)
    finally:
        writer.close()


@pytest.mark.parametrize(("data", "fault"), MALFORMED, ids=["nul-header", "nul-path", "long"])
async def test_a_malformed_request_is_a_400_and_one_info_line(
    hub: RunningHub, caplog: pytest.LogCaptureFixture, data: bytes, fault: str
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    answer = await _raw(hub, data)
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.")
    assert b" 400 " in status_line
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert records, "the refusal was not logged"
    assert all(r.levelno == logging.INFO for r in records), [r.levelname for r in records]
    assert all(r.exc_info is None and not r.exc_text for r in records)
    (line,) = [r.getMessage() for r in records]
    assert line.startswith("refused a malformed request from 127.0.0.1 (400): ")
    assert fault in line


async def test_a_flood_of_malformed_requests_leaves_a_bounded_log(
    hub: RunningHub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    for _ in range(50):
        await _raw(hub, MALFORMED[0][0])
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(records) == 50
    assert len({r.msg for r in records}) == 1  # one template: one kind for the repeat limit
    limit = RepeatLimit(burst=10, window_s=30.0, clock=lambda: 0.0)
    assert sum(limit.filter(r) for r in records) == 10
