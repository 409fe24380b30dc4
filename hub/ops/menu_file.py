"""Reading a menu file: JSON (`.json`) or TOML (`.toml`), the same document either way; and
the demo's menu, shipped in the package (`demo_menu`).

TOML suits a menu kept by hand: tables of tables for names, ``[[items]]`` per dish; an
absent key is what ``null`` is in JSON. A file that does not parse is one line with the
file, line and column; the document is then checked by `hub.domain.menu.parse_menu`, which
names the field of any error (`items[3].station: unknown station`), as the API does.

    [store]
    id = "harbour"
    name = "Golden Lantern"

    [[stations]]
    id = "wok"
    name = { en = "Wok", zh-Hans = "炒锅", zh-Hant = "炒鍋" }

    [[categories]]
    id = "mains"
    name = "Mains"

    [[items]]
    id = "mapo-tofu"
    category = "mains"
    station = "wok"
    name = { en = "Mapo Tofu", zh-Hans = "麻婆豆腐" }
    price_cents = 1450

    [tables]
    count = 12
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from hub.errors import MenuInvalid
from plumbing.settings import SettingsError, parse_toml


def read_menu_file(path: Path) -> dict[str, Any]:
    """The menu document in `path`; `MenuInvalid` (field `menu_file`) if it cannot be read."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MenuInvalid(f"cannot read the menu file {path}: {exc}", field="menu_file") from exc
    doc: Any
    if path.suffix.lower() == ".toml":
        try:
            doc = parse_toml(text, str(path))
        except SettingsError as exc:  # "<file>: invalid TOML at line L, column C: ..."
            raise MenuInvalid(str(exc), field="menu_file") from None
    else:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno}, column {exc.colno}"
            raise MenuInvalid(
                f"{path}: invalid JSON at {where}: {exc.msg}", field="menu_file"
            ) from None
    if not isinstance(doc, dict):
        raise MenuInvalid(f"{path} is not a menu document (an object)", field="menu_file")
    return doc


def demo_menu() -> dict[str, Any]:
    """The demo store's menu (hub/demo/menu.json), a fresh copy on each call."""
    text = resources.files("hub.demo").joinpath("menu.json").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc
