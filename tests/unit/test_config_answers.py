"""The provisioning answers file goes through the same decoder: a misspelt key or a wrong
type is one line with the file, the key and a suggestion; the documented file loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import hub.provision.answers
from hub.provision.answers import AnswersInvalid, load_answers
from tests.unit.conftest import error_line

GOOD = """
[store]
id = "harbour"
name = "Golden Lantern"
[tables]
count = 4
[http]
public_url = "http://192.168.1.10:8080"
"""


def error_of(tmp_path: Path, text: str) -> str:
    path = tmp_path / "answers.toml"
    path.write_text(text, "utf-8")
    return error_line(load_answers, AnswersInvalid, path)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "[[printers]]\nid = 'p'\naddres = 'tcp://10.0.0.5:9100'\n",
            "[printers[0]] addres: unknown key (did you mean address?)",
        ),
        (
            "[[printers]]\nid = 'p'\naddress = 'tcp://10.0.0.5:9100'\nchits = 'allways'\n",
            "[printers[0]] chits: must be one of always, fallback, never (did you mean always?)",
        ),
        (
            "[[scales]]\nid = 's'\nport = '/dev/ttyUSB0'\nremote = 'no'\n",
            '[scales[0]] remote: expected true or false, got "no"',
        ),
        ("[clud]\nurl = 'https://x'\n", "[clud]: unknown section (did you mean cloud?)"),
        (
            "[hub.limits]\norders_per_minut = 3\n",
            "[hub.limits] orders_per_minut: unknown key (did you mean orders_per_minute?)",
        ),
        (
            "[hub.log]\nlevel = 'verbose'\n",
            "[hub.log] level: must be one of debug, info, warning, error",
        ),
        (
            "[[buttons.gpio]]\npin = 17\ntable = 'T9'\nkind = 'waiter'\n",
            "[buttons.gpio[0]] table: no table 'T9' in [tables]",
        ),
        (
            "[wifi]\nssid = 'x'\npassword = 'short'\n",
            "[wifi] password: must be empty (open network) or 8-63 characters",
        ),
        (
            "[kitchen]\nstations = 'grill'\n",
            '[kitchen] stations: expected a list of texts, got "grill"',
        ),
    ],
)
def test_each_mistake_is_one_line(tmp_path: Path, extra: str, expected: str) -> None:
    assert error_of(tmp_path, GOOD + extra) == expected


def test_missing_section_and_bad_toml(tmp_path: Path) -> None:
    assert (
        error_of(tmp_path, GOOD.replace("[tables]\ncount = 4\n", ""))
        == "[tables]: missing required section"
    )
    assert error_of(tmp_path, GOOD + "[wifi\n") == (
        "invalid TOML at line 9, column 6: Expected ']' at the end of a table declaration"
    )


def test_the_documented_answers_file_loads(tmp_path: Path) -> None:
    assert hub.provision.answers.__doc__ is not None
    (text,) = re.findall(r"```toml\n(.*?)```", hub.provision.answers.__doc__, re.S)
    path = tmp_path / "answers.toml"
    # the example shows every key; its one printer cannot back itself up, nor can "..." be
    # a Wi-Fi password
    text = text.replace('backup = "wok-1"', "").replace(
        'password = "..."', 'password = "correct-horse"'
    )
    path.write_text(text)
    a = load_answers(path)
    assert a.store_id == "harbour"
    assert [p.id for p in a.printers] == ["grill-1"]
