"""Bad input on the admin page's endpoints and the pairing link: a 4xx naming the field, and
never a redirect off the hub."""

from __future__ import annotations

import aiohttp
import pytest

from hub.app import RunningHub


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("hours", ["0000019999", "000001" + "9" * 5000, "0" * 7 + "12"])
async def test_stats_hours_with_leading_zeros_is_a_422_not_a_huge_window(
    hub: RunningHub, http: aiohttp.ClientSession, admin_token: str, hours: str
) -> None:
    async with http.get(
        f"{hub.url}/api/v1/stats", params={"hours": hours}, headers=bearer(admin_token)
    ) as r:
        assert r.status == 422, await r.text()
        body = await r.json()
    assert body["field"] == "hours"


async def test_stats_hours_at_the_limits_still_work(
    hub: RunningHub, http: aiohttp.ClientSession, admin_token: str
) -> None:
    for hours, n in (("1", 1), ("168", 168), ("012", 12)):
        async with http.get(
            f"{hub.url}/api/v1/stats", params={"hours": hours}, headers=bearer(admin_token)
        ) as r:
            assert r.status == 200, await r.text()
            assert len((await r.json())["orders_per_hour"]) == n


@pytest.mark.parametrize("nxt", ["/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example"])
async def test_pairing_link_never_redirects_off_the_hub(
    hub: RunningHub, http: aiohttp.ClientSession, admin_token: str, nxt: str
) -> None:
    # browsers drop tabs and newlines from a URL: "/\t/evil.example" is "//evil.example"
    async with http.get(
        hub.url + "/pair",
        params={"token": admin_token, "next": nxt},
        allow_redirects=False,
    ) as r:
        assert r.status == 302
        assert r.headers["Location"] == "/admin"
