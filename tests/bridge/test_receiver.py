"""The reference receiver over a real PostgreSQL: idempotent storage, visible gaps, shed
notices, rejections, auth, and the menu down-link with ETags."""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any

import aiohttp
import pytest

from cloud_bridge.receiver import WINDOW
from tests.bridge.conftest import ADMIN_TOKEN, STORE, STORE_TOKEN, Receiver

AUTH = {"Authorization": f"Bearer {STORE_TOKEN}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def ev(seq: int, stream: str = "orders", **over: Any) -> dict[str, Any]:
    return {
        "store": STORE,
        "seq": seq,
        "stream": stream,
        "kind": f"{stream}.thing",
        "key": str(seq),
        "at": "2026-11-22T18:03:11.123Z",
        "body": {"n": seq},
    } | over


async def post(
    http: aiohttp.ClientSession,
    rec: Receiver,
    events: list[dict[str, Any]],
    shed: list[dict[str, Any]] | None = None,
    *,
    headers: dict[str, str] | None = None,
    key: str | None = None,
) -> tuple[int, dict[str, Any]]:
    seqs = [e["seq"] for e in events] or [0]
    body = gzip.compress(json.dumps({"events": events, "shed": shed or []}).encode())
    h = (headers if headers is not None else AUTH) | {
        "Content-Encoding": "gzip",
        "Content-Type": "application/json",
        "Idempotency-Key": key or f"{STORE}-{seqs[0]}-{seqs[-1]}-{len(events)}",
    }
    async with http.post(f"{rec.url}/v1/stores/{STORE}/events", data=body, headers=h) as r:
        return r.status, await r.json()


@pytest.fixture
async def http() -> Any:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_a_batch_is_stored_once_and_a_resent_one_is_recognised(
    http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    status, first = await post(http, receiver, [ev(1), ev(2), ev(3, "telemetry")])
    again_status, again = await post(http, receiver, [ev(1), ev(2), ev(3, "telemetry")])

    assert (status, first["acked"], first["contiguous_seq"], first["replayed"]) == (
        200,
        [1, 2, 3],
        3,
        False,
    )
    assert (again_status, again["replayed"], again["duplicates"]) == (200, True, 3)
    s = await receiver.status()
    assert (s["events"], s["duplicates"], s["batches"], s["replayed_batches"]) == (3, 3, 2, 1)


async def test_gaps_are_visible_until_filled(
    http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    await post(http, receiver, [ev(1), ev(2), ev(5), ev(9)])

    s = await receiver.status()
    assert (s["contiguous_seq"], s["max_seq"], s["missing"], s["gaps"]) == (
        2,
        9,
        5,
        [[3, 4], [6, 8]],
    )

    _, ack = await post(http, receiver, [ev(3), ev(4), ev(6), ev(7), ev(8)])
    assert ack["contiguous_seq"] == 9
    assert (await receiver.status())["gaps"] == []


async def test_a_shed_notice_marks_gaps_as_intended(
    http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    notice = {"lo": 2, "hi": 5, "count": 3, "bytes": 300, "ranges": [[2, 3], [5, 5]], "at": "t"}

    _, ack = await post(http, receiver, [ev(1), ev(4), ev(6)], [notice])
    await post(http, receiver, [], [notice], key=f"{STORE}-shed-2-5")  # resent: counted once

    s = await receiver.status()
    assert ack["contiguous_seq"] == 6
    assert (s["shed"], s["missing"], s["events"]) == (3, 0, 3)


async def test_bad_events_are_named_and_nothing_of_the_batch_is_stored(
    http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    status, body = await post(http, receiver, [ev(1), ev(2, "bogus"), ev(3, body=[1, 2])])

    assert status == 422
    assert body["error"] == "invalid_events"
    assert body["bad_seqs"] == [2, 3]
    assert (await receiver.status())["events"] == 0


async def test_tokens_are_per_store_and_the_key_is_required(
    http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    assert (await post(http, receiver, [ev(1)], headers={"Authorization": "Bearer nope"}))[0] == 401
    assert (await post(http, receiver, [ev(1)], headers={}))[0] == 401
    h = AUTH | {"Idempotency-Key": ""}
    async with http.post(
        f"{receiver.url}/v1/stores/{STORE}/events", json={"events": []}, headers=h
    ) as r:
        assert r.status == 400
    async with http.get(f"{receiver.url}/v1/stores/other/status", headers=AUTH) as r:
        assert r.status == 401  # a store's token is good for its own store only


async def test_concurrent_copies_of_batches_never_double_and_contiguity_holds(
    http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    a = [ev(s) for s in range(1, 301)]
    b = [ev(s) for s in range(201, 501)]

    results = await asyncio.gather(*(post(http, receiver, x) for x in (a, b, a, b, b)))

    assert all(status == 200 for status, _ in results)
    s = await receiver.status()
    assert (s["events"], s["contiguous_seq"], s["duplicates"]) == (500, 500, 1500 - 500)


async def test_contiguity_crosses_many_windows(
    http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    n = WINDOW + 2500
    for lo in range(2, n + 1, 5000):
        await post(http, receiver, [ev(s) for s in range(lo, min(n + 1, lo + 5000))])
    assert (await receiver.status())["contiguous_seq"] == 0

    _, ack = await post(http, receiver, [ev(1)])

    assert ack["contiguous_seq"] == n


async def test_menus_are_versioned_with_etags_and_results_reported(
    http: aiohttp.ClientSession, receiver: Receiver
) -> None:
    url = f"{receiver.url}/v1/stores/{STORE}/menu"
    async with http.get(url, headers=AUTH) as r:
        assert r.status == 404
    async with http.put(url, json={"store": {"id": STORE}}, headers=AUTH) as r:
        assert r.status == 401  # only the chain admin publishes menus
    async with http.put(url, json={"store": {"id": STORE}}, headers=ADMIN) as r:
        assert (r.status, r.headers["ETag"]) == (201, '"1"')
    async with http.put(url, json={"x": 1}, headers=ADMIN | {"If-Match": '"7"'}) as r:
        assert r.status == 409
    async with http.get(url, headers=AUTH) as r:
        assert (r.status, r.headers["ETag"]) == (200, '"1"')
        assert await r.json() == {"version": 1, "menu": {"store": {"id": STORE}}}
    async with http.get(url, headers=AUTH | {"If-None-Match": '"1"'}) as r:
        assert r.status == 304
    result = {
        "version": 1,
        "status": "rejected",
        "error": "invalid_menu",
        "field": "items",
        "message": "no",
    }
    async with http.post(url + "/results", json=result, headers=AUTH) as r:
        assert r.status == 200
    await post(http, receiver, [ev(1)])
    assert (await receiver.status())["menu"]["status"] == "rejected"
