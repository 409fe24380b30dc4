"""An order's 201 means it is on disk: tested against the real SQLite file of a hub process,
with every fsync it makes logged (and slowed, or failed) by an LD_PRELOAD shim."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.durability.conftest import Fsync, ShimmedHub

FSYNC_DELAY_MS = 300  # long enough that an answer given before the fsync ends shows
ORDERS = 5


def _request(
    url: str, body: dict[str, Any] | None = None, token: str | None = None
) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    req.add_header("Content-Type", "application/json")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as answer:
            return answer.status, dict(answer.headers), json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            doc = json.loads(raw)
        except ValueError:
            pytest.fail(f"{url} answered {exc.code} without a JSON body: {raw[:200]!r}")
        return exc.code, dict(exc.headers), doc


def _order(table: str, key: str, item: str) -> dict[str, Any]:
    return {"table": table, "idempotency_key": key, "lines": [{"item": item, "qty": 1}]}


def _is_store_file(hub: ShimmedHub, f: Fsync) -> bool:
    return f.path in (str(hub.db), f"{hub.db}-wal")


def test_every_order_is_answered_after_an_fsync_that_began_after_it_was_sent(
    shimmed_hub: ShimmedHub,
) -> None:
    hub = shimmed_hub
    token = hub.table_token()
    hub.control("delay_ms", str(FSYNC_DELAY_MS))
    answered: list[tuple[str, int, int]] = []
    for n in range(ORDERS):
        key = f"durable-{n}"
        sent = time.monotonic_ns()  # before the request leaves: any fsync for it starts later
        status, _, doc = _request(f"{hub.url}/api/v1/orders", _order(token, key, "chicken-satay"))
        got = time.monotonic_ns()
        assert status == 201, doc
        answered.append((key, sent, got))
    fsyncs = [f for f in hub.fsyncs() if f.ok and _is_store_file(hub, f)]
    for key, sent, got in answered:
        covering = [f for f in fsyncs if f.start_ns > sent and f.end_ns < got]
        if not covering:
            near = [f for f in fsyncs if f.end_ns > sent - 50_000_000]  # from 50 ms before
            pytest.fail(
                f"order {key} was answered {(got - sent) / 1e6:.1f} ms after it was sent with "
                f"no fsync of the store begun and finished in between (a 201 before its data "
                "was on disk); the store's fsyncs around it (ms from sending: start..end): "
                + ", ".join(
                    f"{(f.start_ns - sent) / 1e6:.1f}..{(f.end_ns - sent) / 1e6:.1f} "
                    f"{f.path.rsplit('/', 1)[1]}"
                    for f in near[:10]
                )
            )


def _orders_with_key(hub: ShimmedHub, key: str) -> list[int]:
    conn = sqlite3.connect(f"file:{hub.db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT id FROM orders WHERE table_id='T1' AND idempotency_key=?", (key,)
        ).fetchall()
    finally:
        conn.close()
    return [int(r[0]) for r in rows]


def _kds_orders(hub: ShimmedHub, staff: str) -> set[int]:
    status, _, doc = _request(f"{hub.url}/api/v1/stations/expo/tickets", token=staff)
    assert status == 200, doc
    return {int(t["order_id"]) for t in doc["tickets"]}


def _health(hub: ShimmedHub) -> dict[str, Any]:
    status, _, doc = _request(f"{hub.url}/healthz")
    assert status == 200, doc
    health: dict[str, Any] = doc
    return health


@pytest.mark.parametrize("fault", ["EIO", "ENOSPC"])
def test_a_commit_that_fails_on_disk_is_answered_503_and_saves_nothing(
    shimmed_hub: ShimmedHub, fault: str
) -> None:
    """EIO: the WAL's fsync fails (a write-back error); ENOSPC: its writes fail (disk full)."""
    hub = shimmed_hub
    token = hub.table_token()
    staff = hub.cli("token", "--role", "kitchen", "--label", "durability")
    status, _, first = _request(
        f"{hub.url}/api/v1/orders", _order(token, "order-before", "chicken-satay")
    )
    assert status == 201, first
    assert _health(hub)["status"] == "ok"

    hub.control("fail", fault)
    status, _, doc = _request(
        f"{hub.url}/api/v1/orders", _order(token, "order-during-fault", "beef-chow-fun")
    )
    assert status == 503, f"a commit failing with {fault} was answered {status}: {doc}"
    assert doc["error"] == "unavailable", doc
    assert "try again" in doc["message"], doc
    assert _orders_with_key(hub, "order-during-fault") == [], "the refused order is in the store"
    assert _kds_orders(hub, staff) == {first["order_id"]}, "the refused order is on the KDS"
    health = _health(hub)  # a monitor or `tablehub doctor` must not read "ok" now
    assert health["status"] == "degraded", health
    assert health["store"]["saving"] is False, health
    assert health["store"]["problem"], health

    hub.control("fail", None)
    status, headers, placed = _request(
        f"{hub.url}/api/v1/orders", _order(token, "order-during-fault", "beef-chow-fun")
    )
    assert status == 201, placed
    assert "Idempotent-Replayed" not in headers, "nothing was saved, yet it says replayed"
    status, headers, again = _request(
        f"{hub.url}/api/v1/orders", _order(token, "order-during-fault", "beef-chow-fun")
    )
    assert status == 201, again
    assert headers.get("Idempotent-Replayed") == "true"
    assert again["order_id"] == placed["order_id"]
    assert _orders_with_key(hub, "order-during-fault") == [placed["order_id"]]
    assert _kds_orders(hub, staff) == {first["order_id"], placed["order_id"]}
    assert _health(hub)["store"]["saving"] is True
