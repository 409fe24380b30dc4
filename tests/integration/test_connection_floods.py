"""Connection floods over real sockets on 127.0.0.x against a real hub: clients that send the
head of an order and then nothing, or connect and send nothing at all, hold no order slot and
no connection for long, and every other table's orders are still taken.

(The open-file side, a hub under the service manager's 1,024-file limit, is in
tests/integration/test_open_files.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from hub.app import RunningHub, running_hub
from hub.config import HttpLimits, HubConfig
from hub.services import staff
from tests.conftest import order_body, table_token
from tests.waiting import until

STALLED = 256
ORDERS = 50
BODY_TIMEOUT_S = 2.0
HEADER_TIMEOUT_S = 1.0
LINGER_S = 2.0  # what aiohttp waits for the rest of a body after the answer (hub/web/server.py)
MARGIN_S = 5.0  # a loaded shared machine
ORDER_HEAD = (
    b"POST /api/v1/orders HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nContent-Length: 500\r\n\r\n"
)


@pytest.fixture
async def guarded_hub(hub_config: HubConfig, menu_doc: dict[str, Any]) -> AsyncIterator[RunningHub]:
    """The production connection limits, with short timeouts so the test is quick."""
    limits = HttpLimits(body_timeout_s=BODY_TIMEOUT_S, header_timeout_s=HEADER_TIMEOUT_S)
    config = replace(hub_config, broker=None, http_limits=limits)
    async with running_hub(config, seed_menu=menu_doc) as running:
        yield running


def port_of(hub: RunningHub) -> int:
    return int(hub.url.rsplit(":", 1)[1])


async def connect_from(
    address: str, port: int
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))


async def until_closed(reader: asyncio.StreamReader, deadline: float) -> bytes | None:
    """What the server sent before it closed the connection; None if still open at `deadline`."""
    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            return await reader.read()
    except TimeoutError:
        return None
    except ConnectionResetError:
        return b""


def status_of(answer: bytes | None) -> str:
    if answer is None:
        return "open"
    return answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/1.1 ") else "closed"


async def test_stalled_order_bodies_stop_no_other_table(
    guarded_hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    hub = guarded_hub
    port = port_of(hub)
    started = time.monotonic()
    stalled = [await connect_from("127.0.0.2", port) for _ in range(STALLED)]
    for _, writer in stalled:
        writer.write(ORDER_HEAD)  # a Content-Length, then no body and no table token
    # a round trip on a connection opened after them: the hub has taken all of them in
    async with http.get(f"{hub.url}/healthz") as r:
        assert r.status == 200
    token = table_token(hub, "T2")
    took: list[float] = []
    statuses: list[int] = []
    for i in range(ORDERS):  # another table's orders, from another address, meanwhile
        t = time.perf_counter()
        async with http.post(
            f"{hub.url}/api/v1/orders", json=order_body(token, f"flood-order-{i:04d}")
        ) as r:
            statuses.append(r.status)
            await r.read()
        took.append(time.perf_counter() - t)
    assert statuses == [201] * ORDERS, statuses
    took.sort()
    p99 = took[int(0.99 * (len(took) - 1))]
    print(
        f"orders during {STALLED} stalled bodies: p50 {took[len(took) // 2] * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms (bench: make bench-floods)"
    )
    assert hub.services.refused_in_flight == 0
    # every stalled connection is closed by the hub: refused at once past the per-address cap,
    # or answered 408 once the body timeout passed
    deadline = started + BODY_TIMEOUT_S + LINGER_S + MARGIN_S
    answers = await asyncio.gather(*(until_closed(r, deadline) for r, _ in stalled))
    got = [status_of(a) for a in answers]
    assert "open" not in got, f"{got.count('open')} stalled connections still open"
    cap = HttpLimits().connections_per_address
    assert got.count("408") == cap, got
    assert got.count("503") == STALLED - cap, got
    for _, writer in stalled:
        writer.close()


async def test_an_order_counts_only_once_its_body_and_token_are_in(
    guarded_hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    """With the in-flight cap at 4, eight stalled bodies from one phone (under its address
    cap) hold none of the four: another table's order is taken."""
    hub = guarded_hub
    hub.services.orders_in_flight_max = 4
    port = port_of(hub)
    stalled = [await connect_from("127.0.0.6", port) for _ in range(8)]
    for _, writer in stalled:
        writer.write(ORDER_HEAD)
    forged = order_body("T1.forged-token", "forged-order-0001")
    async with http.post(f"{hub.url}/api/v1/orders", json=forged) as r:
        assert r.status in (403, 422), await r.text()  # a bad token holds no slot either
    body = order_body(table_token(hub, "T3"), "while-stalled-001")
    async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
        assert r.status == 201, await r.text()
    assert hub.services.orders_in_flight == 0
    assert hub.services.refused_in_flight == 0
    for _, writer in stalled:
        writer.close()


async def test_a_menu_upload_is_refused_before_its_body_without_an_admin(
    guarded_hub: RunningHub,
) -> None:
    """The one route that takes 4 MiB reads its body only once an admin asks: a head with a
    4 MB Content-Length and no token is a 401 at once, with one a 408 at the body timeout."""
    port = port_of(guarded_hub)
    admin_token = await staff.issue(guarded_hub.services.store, "admin", "menu editor")
    head = (
        "PUT /api/v1/admin/menu HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 4000000\r\n{auth}\r\n"
    )
    started = time.monotonic()
    anonymous = await connect_from("127.0.0.7", port)
    anonymous[1].write(head.format(auth="").encode())
    admin = await connect_from("127.0.0.7", port)
    admin[1].write(head.format(auth=f"Authorization: Bearer {admin_token}\r\n").encode())
    first = await anonymous[0].readuntil(b"\r\n")
    assert first.startswith(b"HTTP/1.1 401 "), first
    assert time.monotonic() - started < BODY_TIMEOUT_S
    answer = await until_closed(admin[0], started + BODY_TIMEOUT_S + LINGER_S + MARGIN_S)
    assert status_of(answer) == "408", answer
    assert answer is not None
    assert b'"error": "timeout"' in answer
    assert time.monotonic() - started >= BODY_TIMEOUT_S * 0.9
    for _, writer in (anonymous, admin):
        writer.close()


async def test_a_connection_that_sends_no_request_is_closed(guarded_hub: RunningHub) -> None:
    """Nothing at all, or a request head a byte at a time: closed at the header timeout."""
    port = port_of(guarded_hub)
    started = time.monotonic()
    silent = await connect_from("127.0.0.4", port)
    dripping = await connect_from("127.0.0.4", port)
    deadline = started + HEADER_TIMEOUT_S + MARGIN_S

    async def drip() -> None:
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\n"[: int(deadline - started) * 4]:
            if dripping[1].is_closing():
                return
            dripping[1].write(bytes([byte]))
            await asyncio.sleep(0.25)  # a slow client's pace, not a wait for the hub

    dripper = asyncio.create_task(drip())
    closed = await asyncio.gather(
        until_closed(silent[0], deadline), until_closed(dripping[0], deadline)
    )
    dripper.cancel()
    assert list(closed) == [b"", b""], closed  # closed, without an answer
    assert time.monotonic() - started >= HEADER_TIMEOUT_S * 0.9
    for _, writer in (silent, dripping):
        writer.close()


async def test_a_client_past_its_address_cap_gets_a_503_and_others_are_served(
    guarded_hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    hub = guarded_hub
    port = port_of(hub)
    cap = HttpLimits().connections_per_address
    held = [await connect_from("127.0.0.5", port) for _ in range(cap)]
    for _, writer in held:  # each connection in use: the head of a GET, its answer unread
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    async with http.get(f"{hub.url}/healthz") as r:
        assert r.status == 200
    reader, writer = await connect_from("127.0.0.5", port)
    answer = await until_closed(reader, time.monotonic() + MARGIN_S)
    assert answer is not None
    assert answer.startswith(b"HTTP/1.1 503 "), answer
    assert b"too many connections from this address" in answer
    assert b"Retry-After: 1" in answer
    writer.close()
    for _, w in held:  # once they go, the address is served again
        w.close()
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.5", 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as phone:

        async def served() -> bool:
            with contextlib.suppress(aiohttp.ClientError):
                async with phone.get(f"{hub.url}/healthz") as r:
                    return r.status == 200
            return False

        await until(served, "127.0.0.5 served again once its connections closed", every=0.05)
