"""The answers file: a good one reads into dataclasses, each bad one is refused with an error
that names the field."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub.provision.answers import AnswersInvalid, answers_from_flags, load_answers, parse_answers
from tests.provision.conftest import ANSWERS

Doc = dict[str, Any]


def test_a_full_store_reads() -> None:
    a = parse_answers(ANSWERS)
    assert a.store_id == "harbour"
    assert [t.id for t in a.tables] == ["T1", "T2", "T3", "T4", "T5", "T6"]
    assert a.tables[0].name == "Table 1"
    assert a.lan_host == "192.168.1.10"
    assert a.lan_port == 1884
    assert a.device_ids() == (
        "printer-grill-1",
        "printer-wok-1",
        "printer-bar-1",
        "scale-deli-1",
        "buttons-gpio",
        "table-button-T1",
        "bump-bar-wok",
    )
    assert a.printers[0].backup == "wok-1"
    assert a.printers[1].bills is True
    assert "correct-horse" not in repr(a)  # secrets stay out of logs


def test_names_give_ids_by_position_or_explicitly() -> None:
    doc = copy.deepcopy(ANSWERS)
    doc["tables"] = {"names": ["Window", {"id": "B1", "name": "Bar 1"}, "窗边"]}
    doc["buttons"] = {}
    a = parse_answers(doc)
    assert [(t.id, t.name) for t in a.tables] == [("T1", "Window"), ("B1", "Bar 1"), ("T3", "窗边")]


def test_flags_make_the_common_case() -> None:
    a = answers_from_flags(
        store_id="s1", store_name="Shop", tables=3, public_url="https://shop.example/"
    )
    assert a.public_url == "https://shop.example"
    assert len(a.tables) == 3
    assert not a.printers


def test_a_file_that_is_not_toml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "answers.toml"
    bad.write_text("[store\n")
    with pytest.raises(AnswersInvalid) as err:
        load_answers(bad)
    assert err.value.field == "answers"
    assert "answers.toml" in err.value.message


def _set(path: list[Any], value: Any) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def _drop(path: list[Any]) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        node = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


BAD: list[tuple[Callable[[Doc], None], str]] = [
    (_drop(["store", "id"]), "store.id"),
    (_set(["store", "id"], "har/bour"), "store.id"),
    (_set(["store", "name"], ""), "store.name"),
    (_set(["store", "phone"], "555"), "store.phone"),
    (_set(["tables"], {"count": 0}), "tables.count"),
    (_set(["tables"], {"count": 3, "names": ["a"]}), "tables"),
    (_set(["tables"], {"names": ["A", {"id": "T1", "name": "dup"}]}), "tables.names[1]"),
    (_set(["kitchen", "stations"], ["grill", "grill"]), "kitchen.stations[1]"),
    (_set(["kitchen", "stations"], ["expo"]), "kitchen.stations[0]"),
    (_set(["http", "port"], 70000), "http.port"),
    (_set(["http", "public_url"], "ftp://x"), "http.public_url"),
    (_drop(["http", "public_url"]), "http.public_url"),
    (_set(["printers", 0, "address"], "lpt1"), "printers[0].address"),
    (_set(["printers", 0, "address"], "usb://4b8:202"), "printers[0].address"),
    (_set(["printers", 0, "address"], "tcp://10.0.0.5"), "printers[0].address"),
    (_set(["printers", 1, "id"], "grill-1"), "printers[1].id"),
    (_set(["printers", 0, "stations"], ["pastry"]), "printers[0].stations[0]"),
    (_set(["printers", 0, "chits"], "sometimes"), "printers[0].chits"),
    (_set(["printers", 0, "backup"], "grill-1"), "printers[0].backup"),
    (_set(["printers", 0, "backup"], "nope"), "printers[0].backup"),
    (_set(["printers", 1, "bills"], "yes"), "printers[1].bills"),
    (_set(["printers", 2, "remote"], 1), "printers[2].remote"),
    (_set(["scales", 0, "port"], "COM3"), "scales[0].port"),
    (_set(["scales", 0, "protocol"], "Mettler Toledo"), "scales[0].protocol"),
    (_set(["buttons", "gpio", 0, "pin"], 40), "buttons.gpio[0].pin"),
    (_set(["buttons", "gpio", 1, "pin"], 17), "buttons.gpio[1].pin"),
    (_set(["buttons", "gpio", 0, "table"], "T99"), "buttons.gpio[0].table"),
    (_set(["buttons", "gpio", 0, "kind"], "dessert"), "buttons.gpio[0].kind"),
    (_set(["buttons", "gpio", 1, "action"], "undo"), "buttons.gpio[1].action"),
    (_set(["buttons", "gpio", 1, "station"], "pastry"), "buttons.gpio[1].station"),
    (_set(["buttons", "esp32", 0, "kind"], "doorbell"), "buttons.esp32[0].kind"),
    (_set(["buttons", "esp32", 0, "table"], "T99"), "buttons.esp32[0].table"),
    (_set(["buttons", "esp32", 1, "id"], "printer-grill-1"), "buttons.esp32[1].id"),
    (_set(["buttons", "esp32", 1, "id"], "hub"), "buttons.esp32[1].id"),
    (_set(["buttons", "esp32", 0, "substitutions"], {"table": "T2"}), "buttons.esp32[0]"),
    (_drop(["wifi"]), "wifi.ssid"),
    (_set(["wifi", "password"], "short"), "wifi.password"),
    (_set(["broker"], {"lan_host": "127.0.0.1"}), "broker.lan_host"),
    (_set(["broker"], {"lan_port": 1883}), "broker.lan_port"),
    (_set(["cloud"], {"url": "http://cloud.example.com", "token": "t"}), "cloud.url"),
    (_set(["cloud"], {"url": "https://cloud.example.com", "token": "a b"}), "cloud.token"),
    (_set(["hub"], {"secrets": {}}), "hub.secrets"),
]


@pytest.mark.parametrize(("change", "field"), BAD, ids=[f for _, f in BAD])
def test_a_bad_answer_names_its_field(change: Callable[[Doc], None], field: str) -> None:
    doc = copy.deepcopy(ANSWERS)
    change(doc)
    with pytest.raises(AnswersInvalid) as err:
        parse_answers(doc)
    got = err.value.field or ""
    assert got.startswith(field), err.value.message
    assert err.value.message.startswith(got)
