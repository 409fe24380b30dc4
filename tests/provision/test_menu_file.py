"""`tablehub provision --menu` takes the store's menu as JSON or TOML; the box keeps it as
menu.json with the store's id and the provisioned tables, and a broken file is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hub.provision.answers import AnswersInvalid
from tests.conftest import FIXTURES
from tests.provision.conftest import run_provision


def wok_only(doc: dict[str, Any]) -> dict[str, Any]:
    """The answers of a store whose one station is the wok (the TOML menu's only station)."""
    doc["kitchen"] = {"stations": ["wok"]}
    doc["printers"] = [p for p in doc["printers"] if p["id"] == "wok-1"]
    doc["buttons"]["gpio"] = [b for b in doc["buttons"]["gpio"] if "table" in b]
    return doc


def test_a_toml_menu_becomes_the_boxs_menu(root: Path, answers_doc: dict[str, Any]) -> None:
    run_provision(root, wok_only(answers_doc), menu=FIXTURES / "menus" / "small.toml")
    menu = json.loads((root / "etc/tablehub/menu.json").read_text())
    assert menu["store"]["id"] == "harbour"
    assert [i["id"] for i in menu["items"]] == ["mapo-tofu", "rice"]
    assert [t["id"] for t in menu["tables"]] == [f"T{i}" for i in range(1, 7)]


def test_a_broken_menu_is_refused_naming_the_flag(
    root: Path, answers_doc: dict[str, Any], tmp_path: Path
) -> None:
    bad = tmp_path / "menu.toml"
    bad.write_text("[store\n")
    with pytest.raises(AnswersInvalid) as err:
        run_provision(root, answers_doc, menu=bad)
    assert "--menu" in str(err.value)
    assert "menu.toml: invalid TOML at line 1" in str(err.value)
    assert not (root / "etc/tablehub/menu.json").exists()
