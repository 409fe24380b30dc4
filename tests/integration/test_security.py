"""Who may do what: tables that must be opened by staff and give their PIN, staff tokens that
can be listed and revoked, and the headers every page carries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.app import RunningHub, running_hub
from hub.config import HubConfig, Limits
from hub.domain.ports import iso_from_ms
from hub.services import staff
from tests.conftest import order_body, table_token


@pytest.fixture
async def floor(pin_hub: RunningHub) -> dict[str, str]:
    """The headers of the floor staff, who open and close the PIN hub's tables."""
    return {"Authorization": f"Bearer {await staff.issue(pin_hub.services.store, 'floor')}"}


async def test_table_must_be_opened_and_pin_given(
    pin_hub: RunningHub, floor: dict[str, str], http: aiohttp.ClientSession
) -> None:
    hub = pin_hub
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


async def test_a_locked_out_table_refuses_even_the_right_pin(
    pin_hub: RunningHub, floor: dict[str, str], http: aiohttp.ClientSession
) -> None:
    """Else a guesser tries all 10,000 PINs and watches for the one answer that is not 429."""
    hub = pin_hub
    token = table_token(hub, "T4")
    url = f"{hub.url}/api/v1/orders"
    async with http.post(f"{hub.url}/api/v1/tables/T4/open", headers=floor) as r:
        pin = (await r.json())["pin"]
    wrong = "0000" if pin != "0000" else "1111"
    answers = []
    for n in range(5):
        async with http.post(url, json=order_body(token, f"lock-{n:06d}") | {"pin": wrong}) as r:
            answers.append((r.status, (await r.json())["field"]))
    assert answers == [(403, "pin")] * 5
    async with http.post(url, json=order_body(token, "lock-right-1") | {"pin": pin}) as r:
        body = await r.json()
        assert (r.status, body["error"], body["field"]) == (429, "rate_limited", "pin")
        assert int(r.headers["Retry-After"]) > 0
    rows = await hub.services.store.read_all("SELECT COUNT(*) FROM orders WHERE table_id = 'T4'")
    assert rows[0][0] == 0


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


# ---------------------------------------------------------------- pairing with a PIN


class ManualClock:
    """Wall-clock time that moves only when a test moves it."""

    def __init__(self) -> None:
        self.ms = 1_767_000_000_000

    def now_ms(self) -> int:
        return self.ms

    def now_iso(self) -> str:
        return iso_from_ms(self.ms)

    def monotonic_ms(self) -> int:
        return self.ms


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def plain_hub(
    tmp_path: Path, menu_doc: dict[str, Any], clock: ManualClock
) -> AsyncIterator[RunningHub]:
    config = HubConfig(
        data_dir=tmp_path / "data", http_port=0, broker=None, limits=Limits(enabled=False)
    )
    async with running_hub(config, seed_menu=menu_doc, clock=clock) as hub:
        yield hub


DEVICE = {"X-Requested-With": "tablehub"}


async def make_pin(
    http: aiohttp.ClientSession, hub: RunningHub, role: str, label: str = ""
) -> dict[str, Any]:
    admin = await staff.issue(hub.services.store, "admin", "manager")
    async with http.post(
        f"{hub.url}/api/v1/admin/pairing-pins",
        json={"role": role, "label": label},
        headers={"Authorization": f"Bearer {admin}"},
    ) as r:
        assert r.status == 201, await r.text()
        made: dict[str, Any] = await r.json()
    return made


async def pair_pin(
    session: aiohttp.ClientSession, hub: RunningHub, pin: str, next_: str = "/kds/grill"
) -> tuple[int, dict[str, Any], str]:
    async with session.post(
        f"{hub.url}/api/v1/pair/pin", json={"pin": pin, "next": next_}, headers=DEVICE
    ) as r:
        return r.status, await r.json(), r.headers.get("Set-Cookie", "")


async def test_a_pairing_pin_pairs_one_device_once(
    plain_hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    hub = plain_hub
    made = await make_pin(http, hub, "kitchen", "grill screen")
    assert made["role"] == "kitchen"
    assert made["label"] == "grill screen"
    assert len(made["pin"]) == 6
    assert made["pin"].isdigit()
    assert made["expires_in_s"] == 600
    async with http.get(f"{hub.url}/api/v1/stations") as r:
        assert r.status == 401
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as device:
        status, body, cookie = await pair_pin(device, hub, made["pin"], "//evil.example/x")
        assert status == 200, body
        assert body == {"role": "kitchen", "label": "grill screen", "next": "/admin"}
        assert cookie.startswith("th_staff=")
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        # the session is a kitchen session: kitchen yes, admin no, writes need the header
        async with device.get(f"{hub.url}/api/v1/stations") as r:
            assert r.status == 200
        async with device.get(f"{hub.url}/api/v1/tables") as r:
            assert r.status == 403
        avail = f"{hub.url}/api/v1/items/sea-salt-edamame/availability"
        async with device.post(avail, json={"available": False}) as r:
            assert r.status == 403
        async with device.post(avail, json={"available": False}, headers=DEVICE) as r:
            assert r.status == 200
    # one time only: a second device gets nothing
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        status, body, cookie = await pair_pin(other, hub, made["pin"])
        assert (status, body["error"], body["field"], cookie) == (403, "forbidden", "pin", "")
    # the paired device has its own token, listed and revocable like any other
    tokens = [dict(r) for r in await staff.listing(hub.services.store)]
    (paired,) = [t for t in tokens if t["label"] == "grill screen (PIN)"]
    assert paired["role"] == "kitchen"
    await staff.revoke(hub.services.store, paired["id"])
    async with (
        aiohttp.ClientSession(cookie_jar=jar) as device,
        device.get(f"{hub.url}/api/v1/stations") as r,
    ):
        assert r.status == 401


async def test_a_pairing_pin_expires_after_ten_minutes(
    plain_hub: RunningHub, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    hub = plain_hub
    made = await make_pin(http, hub, "floor")
    clock.ms += 10 * 60_000 + 1
    status, body, cookie = await pair_pin(http, hub, made["pin"])
    assert (status, body["field"], cookie) == (403, "pin", "")
    fresh = await make_pin(http, hub, "floor")
    clock.ms += 9 * 60_000
    status, body, _ = await pair_pin(http, hub, fresh["pin"], "/floor")
    assert (status, body["role"], body["next"]) == (200, "floor", "/floor")


async def test_pin_guessing_is_limited_and_kills_the_pin(
    plain_hub: RunningHub, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    hub = plain_hub
    made = await make_pin(http, hub, "admin")
    wrong = f"{(int(made['pin']) + 1) % 1_000_000:06d}"
    answers = [(await pair_pin(http, hub, wrong))[:2] for _ in range(5)]
    assert [(s, b["field"]) for s, b in answers] == [(403, "pin")] * 5
    # this client is now slowed down, whatever it types
    async with http.post(
        f"{hub.url}/api/v1/pair/pin", json={"pin": made["pin"]}, headers=DEVICE
    ) as r:
        assert (r.status, (await r.json())["error"]) == (429, "rate_limited")
        assert int(r.headers["Retry-After"]) == 30
    # and after five wrong PINs the PIN itself is gone, even for a patient guesser
    clock.ms += 5 * 60_000
    status, body, cookie = await pair_pin(http, hub, made["pin"])
    assert (status, body["field"], cookie) == (403, "pin", "")
    labels = [t["label"] for t in await staff.listing(hub.services.store)]
    assert labels == ["manager"]  # no device was paired


async def test_pin_login_is_refused_cross_site_and_malformed(
    plain_hub: RunningHub, http: aiohttp.ClientSession
) -> None:
    hub = plain_hub
    made = await make_pin(http, hub, "admin")
    url = f"{hub.url}/api/v1/pair/pin"
    # another site can post a form, but cannot add the header
    async with http.post(url, data={"pin": made["pin"], "next": "/admin"}) as r:
        assert (r.status, (await r.json())["field"]) == (403, "X-Requested-With")
        assert "Set-Cookie" not in r.headers
    async with http.post(url, json={"pin": made["pin"]}) as r:
        assert r.status == 403
        assert "Set-Cookie" not in r.headers
    async with http.post(url, json={"pin": "12a456"}, headers=DEVICE) as r:
        assert (r.status, (await r.json())["field"]) == (422, "pin")
    async with http.post(url, json={"next": "/admin"}, headers=DEVICE) as r:
        assert (r.status, (await r.json())["field"]) == (422, "pin")
    # the PIN survived all that and still pairs
    status, body, _ = await pair_pin(http, hub, made["pin"], "/admin")
    assert (status, body["role"]) == (200, "admin")
    # only an admin makes PINs
    kitchen = await staff.issue(hub.services.store, "kitchen")
    async with http.post(
        f"{hub.url}/api/v1/admin/pairing-pins",
        json={"role": "admin"},
        headers={"Authorization": f"Bearer {kitchen}"},
    ) as r:
        assert r.status == 403
    async with http.post(f"{hub.url}/api/v1/admin/pairing-pins", json={"role": "kitchen"}) as r:
        assert r.status == 401
