"""Who may do what: tables that must be opened by staff and give their PIN, staff tokens that
can be listed and revoked, and the headers every page carries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub import staff
from hub.app import RunningHub, running_hub
from hub.config import HubConfig, Limits
from tests.conftest import order_body, table_token


@pytest.fixture
async def pin_hub(tmp_path: Path, menu_doc: dict[str, Any]) -> AsyncIterator[RunningHub]:
    config = HubConfig(
        data_dir=tmp_path / "data",
        http_port=0,
        broker=None,
        limits=Limits(enabled=False),
        tables_require_open=True,
        tables_require_pin=True,
    )
    async with running_hub(config, seed_menu=menu_doc) as hub:
        yield hub


async def test_table_must_be_opened_and_pin_given(
    pin_hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    hub = pin_hub
    floor = {"Authorization": f"Bearer {await staff.issue(hub.services.store, 'floor')}"}
    token = table_token(hub, "T2")
    url = f"{hub.url}/api/v1/orders"
    async with http.get(f"{hub.url}/api/v1/menu", params={"table": token}) as r:
        assert (await r.json())["table"]["requires_pin"] is True
    async with http.post(url, json=order_body(token, "closed-table-1")) as r:
        assert (r.status, (await r.json())["error"]) == (403, "table_closed")
    async with http.post(f"{hub.url}/api/v1/tables/T2/open", headers=floor) as r:
        pin = (await r.json())["pin"]
    assert len(pin) == 4
    assert pin.isdigit()
    wrong = "0000" if pin != "0000" else "1111"
    async with http.post(url, json=order_body(token, "pin-order-01") | {"pin": wrong}) as r:
        assert (r.status, (await r.json())["field"]) == (403, "pin")
    async with http.post(url, json=order_body(token, "pin-order-02") | {"pin": pin}) as r:
        assert r.status == 201
    # guessing is limited: after a few wrong PINs even the right one waits
    statuses = []
    for n in range(6):
        async with http.post(url, json=order_body(token, f"guess-{n:05d}") | {"pin": wrong}) as r:
            statuses.append(r.status)
    assert statuses[-1] == 429
    # the party leaves: the table closes with its check, its PIN stops working
    async with http.post(f"{hub.url}/api/v1/tables/T2/close", headers=floor) as r:
        assert (await r.json())["open"] is False
    async with http.get(f"{hub.url}/api/v1/check", params={"table": token}) as r:
        assert (await r.json())["orders"] == []


async def test_staff_tokens_are_listed_and_revoked(
    hub: RunningHub, http: aiohttp.ClientSession, admin_token: str
) -> None:
    auth = {"Authorization": f"Bearer {admin_token}"}
    async with http.post(
        f"{hub.url}/api/v1/admin/tokens",
        json={"role": "kitchen", "label": "grill screen"},
        headers=auth,
    ) as r:
        assert r.status == 201
        kitchen = (await r.json())["token"]
    async with http.get(f"{hub.url}/api/v1/admin/tokens", headers=auth) as r:
        listed = (await r.json())["tokens"]
    assert kitchen not in str(listed)  # only ids and labels, never a token
    (grill,) = [t for t in listed if t["label"] == "grill screen"]
    k_auth = {"Authorization": f"Bearer {kitchen}"}
    async with http.get(f"{hub.url}/api/v1/stations", headers=k_auth) as r:
        assert r.status == 200
    async with http.post(f"{hub.url}/api/v1/admin/tokens/{grill['id']}/revoke", headers=auth) as r:
        assert r.status == 200
    async with http.get(f"{hub.url}/api/v1/stations", headers=k_auth) as r:
        assert r.status == 401  # revoked at once
    async with http.post(
        f"{hub.url}/api/v1/admin/tokens", json={"role": "root"}, headers=auth
    ) as r:
        assert (r.status, (await r.json())["field"]) == (422, "role")


async def test_every_page_carries_the_security_headers(
    hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    for path in (
        f"/t/{table_token(hub)}",
        "/static/js/diner.js",
        "/api/v1/openapi.json",
        "/healthz",
    ):
        async with http.get(hub.url + path) as r:
            assert r.status == 200, path
            csp = r.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp
            assert "frame-ancestors 'none'" in csp
            assert r.headers["X-Content-Type-Options"] == "nosniff"
    # a staff page without a session goes to pairing, never shows staff data
    async with http.get(hub.url + "/kds/grill", allow_redirects=False) as r:
        assert r.status == 302
        assert r.headers["Location"].startswith("/static/pair.html")
    # pairing never redirects to another site
    async with http.get(
        hub.url + "/pair", params={"token": "x", "next": "//evil.example"}, allow_redirects=False
    ) as r:
        assert "evil" not in r.headers["Location"]


async def test_https_with_a_given_certificate(tmp_path: Path, menu_doc: dict[str, Any]) -> None:
    import ssl
    import subprocess

    cert, key = tmp_path / "hub.crt", tmp_path / "hub.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    config = HubConfig(
        data_dir=tmp_path / "data", http_port=0, broker=None, tls_cert=cert, tls_key=key
    )
    async with running_hub(config, seed_menu=menu_doc) as hub:
        assert hub.url.startswith("https://")
        ctx = ssl.create_default_context(cafile=str(cert))
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{hub.url}/api/v1/menu", params={"table": table_token(hub)}, ssl=ctx) as r,
        ):
            assert r.status == 200
