"""plumbing.settings, the one decoder behind every config file: how a path, a near miss and
an invalid file read, on small schemas of its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import msgspec
import pytest

from hub.errors import MenuInvalid
from hub.ops.menu_file import read_menu_file
from plumbing.settings import Settings, SettingsError, decode, dotted, load_toml, steps, suggest


class Inner(Settings, frozen=True, kw_only=True):
    colour: Literal["red", "green", "blue"] = "red"
    size: Annotated[float, msgspec.Meta(ge=0.5, le=2)] = 1.0
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.colour == "green" and self.size > 1:
            raise ValueError("a green one is at most size 1")


class Outer(Settings, frozen=True, kw_only=True):
    name: str
    inner: Inner = msgspec.field(default_factory=Inner)
    items: tuple[Inner, ...] = ()
    extra: dict[str, int] = msgspec.field(default_factory=dict)


def line(doc: dict[str, object]) -> str:
    with pytest.raises(SettingsError) as err:
        decode(doc, Outer, file="f.toml")
    text = str(err.value)
    assert "\n" not in text
    return text


def test_paths_read_like_the_file() -> None:
    assert line({"name": "x", "inner": {"colr": "red"}}) == (
        "f.toml: [inner] colr: unknown key (did you mean colour?)"
    )
    assert line({"name": "x", "items": [{}, {"colour": "gren"}]}) == (
        "f.toml: [items[1]] colour: must be one of red, green, blue (did you mean green?)"
    )
    assert line({"name": "x", "inner": {"tags": ["a", 3]}}) == (
        "f.toml: [inner] tags[1]: expected a text, got 3"
    )
    assert line({"name": "x", "inner": {"size": 3}}) == (
        "f.toml: [inner] size: expected a number from 0.5 to 2, got 3"
    )
    assert line({"name": "x", "inner": {"colour": "green", "size": 2}}) == (
        "f.toml: [inner]: a green one is at most size 1"
    )
    assert line({"name": "x", "extra": {"a": "b"}}) == (
        'f.toml: [extra] a: expected an integer, got "b"'
    )


def test_top_level_keys_and_sections() -> None:
    assert line({}) == "f.toml: name: missing required key"
    assert (
        line({"name": "x", "iner": {}}) == "f.toml: [iner]: unknown section (did you mean inner?)"
    )
    assert line({"name": "x", "zzz": 1}) == "f.toml: zzz: unknown key"
    assert line({"name": 5}) == "f.toml: name: expected a text, got 5"
    assert line({"name": True}) == "f.toml: name: expected a text, got true"


def test_a_far_miss_gets_no_suggestion() -> None:
    assert suggest("limts", ["limits", "log"]) == " (did you mean limits?)"
    assert suggest("qqqq", ["limits", "log"]) == ""


def test_dotted_paths_round_trip() -> None:
    assert dotted(("printers", 0, "stations", 2)) == "printers[0].stations[2]"
    assert steps("buttons.gpio[1].pin") == ("buttons", "gpio", 1, "pin")


def test_bad_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text('name = "a"\nname = "b"\n')
    with pytest.raises(SettingsError) as err:
        load_toml(path, Outer)
    assert str(err.value) == f"{path}: invalid TOML at line 2, column 11: Cannot overwrite a value"
    with pytest.raises(SettingsError, match=r"missing\.toml: cannot read: No such file"):
        load_toml(tmp_path / "missing.toml", Outer)
    path.write_bytes(b'name = "\xff"\n')
    with pytest.raises(SettingsError, match="not UTF-8"):
        load_toml(path, Outer)


def test_a_menu_file_that_does_not_parse_names_line_and_column(tmp_path: Path) -> None:
    toml = tmp_path / "menu.toml"
    toml.write_text("[store]\nid = harbour\n")
    with pytest.raises(MenuInvalid) as err:
        read_menu_file(toml)
    assert err.value.message == f"{toml}: invalid TOML at line 2, column 6: Invalid value"
    menu = tmp_path / "menu.json"
    menu.write_text('{"store": {"id": "x",}}')
    with pytest.raises(MenuInvalid) as err:
        read_menu_file(menu)
    assert err.value.message.startswith(f"{menu}: invalid JSON at line 1, column ")
    menu.write_text(json.dumps({"store": {"id": "x"}}))
    assert read_menu_file(menu) == {"store": {"id": "x"}}
