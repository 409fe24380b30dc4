"""A store box's menu file may be JSON or TOML: the hub loads either on its first run, and a
file it cannot read stops the start with an error naming `menu_file` and the problem."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import aiohttp
import pytest

from hub.app import running_hub
from hub.config import HubConfig
from hub.errors import MenuInvalid
from hub.ops.menu_file import read_menu_file
from tests.conftest import FIXTURES, order_body, table_token

SMALL = FIXTURES / "menus" / "small.toml"


async def test_a_toml_menu_serves_and_prices(
    hub_config: HubConfig, http: aiohttp.ClientSession
) -> None:
    config = dataclasses.replace(hub_config, menu_file=SMALL)
    async with running_hub(config) as hub:
        token = table_token(hub, "T2")
        async with http.get(f"{hub.url}/api/v1/menu", params={"table": token}) as r:
            assert r.status == 200
            menu = await r.json()
        names = {i["id"]: i["name"] for i in menu["items"]}
        assert names["mapo-tofu"]["zh-Hans"] == "麻婆豆腐"
        assert sorted(hub.services.catalog.tables) == ["T1", "T2", "T3", "T4"]
        line = {"item": "mapo-tofu", "qty": 2, "modifiers": ["numbing"]}
        body = order_body(token, "toml-order-1", [line])
        async with http.post(f"{hub.url}/api/v1/orders", json=body) as r:
            assert r.status == 201, await r.text()
            assert (await r.json())["total_cents"] == 2 * (1450 + 100)


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("menu.toml", 'store = { id = "x"\n', "menu.toml: invalid TOML at line 1, column"),
        ("menu.json", '{"store": ', "menu.json: invalid JSON at line 1, column 11"),
        ("menu.json", "[1, 2]", "not a menu document"),
    ],
)
def test_a_broken_menu_file_names_the_problem(
    tmp_path: Path, name: str, text: str, says: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(MenuInvalid) as err:
        read_menu_file(path)
    assert err.value.field == "menu_file"
    assert says in err.value.message


def test_a_missing_menu_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(MenuInvalid, match="cannot read the menu file") as err:
        read_menu_file(tmp_path / "nowhere.toml")
    assert err.value.field == "menu_file"
