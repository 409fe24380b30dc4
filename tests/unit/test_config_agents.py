"""The agents' own TOML files (printer, scale, button board) are decoded the same way as
hub.toml: one line per mistake; the documented and the provisioned forms still load."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import devices.buttons.config
import devices.printers.__main__ as printer_main
import devices.scales.__main__ as scale_main
from devices.buttons.config import ButtonConfigError, load_board
from devices.errors import DeviceConfigError
from devices.printers.__main__ import AgentFile, load_config
from devices.scales.__main__ import ScaleFile, agent_from_file
from devices.scales.protocols import ProtocolFileError
from plumbing.settings import decode, parse_toml
from tests.unit.conftest import error_line

PRINTER = (
    'store = "demo"\nprinter = "grill-1"\naddress = "tcp://127.0.0.1:9100"\nstate_dir = "/tmp/s"\n'
)
SCALE = 'store = "demo"\nscale = "deli-1"\nport = "/dev/ttyUSB0"\n'
BOARD = 'store = "demo"\nname = "front"\n'


def one_line(tmp_path: Path, text: str, load: Callable[[Path], Any], error: type[Exception]) -> str:
    path = tmp_path / "agent.toml"
    path.write_text(text, "utf-8")
    return error_line(load, error, path)


PRINTER_BAD = [
    (PRINTER + "widht = 32\n", "widht: unknown key (did you mean width?)"),
    (PRINTER + "width = '32'\n", 'width: expected an integer from 24 to 64, got "32"'),
    (
        PRINTER + "encoding = 'big'\n",
        "encoding: must be one of codepage, gb18030, big5, raster (did you mean big5?)",
    ),
    (
        PRINTER + "cjk_encoding = 'bg5'\n",
        "cjk_encoding: must be one of gb18030, big5 (did you mean big5?)",
    ),
    (PRINTER.replace('printer = "grill-1"\n', ""), "printer: missing required key"),
    (PRINTER + "[mqtt]\nhots = 'x'\n", "[mqtt] hots: unknown key (did you mean host?)"),
    (PRINTER + "[mqqt]\nhost = 'x'\n", "[mqqt]: unknown section (did you mean mqtt?)"),
    (
        PRINTER + "profile = 'TM-T88VI'\n",
        "profile: unknown python-escpos profile 'TM-T88VI' (did you mean TM-T88V?)",
    ),
    (
        PRINTER + "width = 64\nprofile = 'TM-U220'\n",
        "width: 64 columns need 512 dots, TM-U220 prints 400",
    ),
    (PRINTER + "timeout = \n", "invalid TOML at line 5, column 11: Invalid value"),
]


@pytest.mark.parametrize(("text", "expected"), PRINTER_BAD, ids=[e for _, e in PRINTER_BAD])
def test_printer_agent_file(tmp_path: Path, text: str, expected: str) -> None:
    assert one_line(tmp_path, text, load_config, DeviceConfigError) == expected


def test_printer_agent_file_reads_both_encoding_forms(tmp_path: Path) -> None:
    path = tmp_path / "p.toml"
    path.write_text(PRINTER + 'encoding_mode = "codepage"\ncjk_encoding = "big5"\nwidth = 32\n')
    old = load_config(path).settings
    path.write_text(PRINTER + 'encoding = "big5"\nwidth = 32\n')
    new = load_config(path).settings
    assert old == new
    assert (new.encoding_mode, new.profile.cjk_encoding, new.profile.dots) == (
        "codepage",
        "big5",
        384,
    )


SCALE_BAD = [
    (SCALE + "stable_hold = 900\n", "stable_hold: unknown key (did you mean stable_hold_ms?)"),
    (SCALE + "heartbeat_s = 'often'\n", 'heartbeat_s: expected a number more than 0, got "often"'),
    (SCALE.replace('port = "/dev/ttyUSB0"\n', ""), "port: missing required key"),
    (SCALE + "[mqtt]\nport = 0\n", "[mqtt] port: expected an integer from 1 to 65535, got 0"),
    (SCALE + "protocol = mt-sics\n", "invalid TOML at line 4, column 12: Invalid value"),
]


@pytest.mark.parametrize(("text", "expected"), SCALE_BAD, ids=[e for _, e in SCALE_BAD])
def test_scale_agent_file(tmp_path: Path, text: str, expected: str) -> None:
    assert one_line(tmp_path, text, agent_from_file, ProtocolFileError) == expected


BOARD_BAD = [
    (
        BOARD + "[[call]]\npin = 17\ntable = 'T4'\nknid = 'bill'\n",
        "[call[0]] knid: unknown key (did you mean kind?)",
    ),
    (
        BOARD + "[[call]]\npin = 17\ntable = 'T4'\nkind = 'bil'\n",
        "[call[0]] kind: must be one of waiter, bill, water (did you mean bill?)",
    ),
    (BOARD + "[[bump]]\npin = 22\nstation = 'grill'\n", "[bump[0]] action: missing required key"),
    (BOARD + "bounce_ms = 5000\n", "bounce_ms: expected an integer from 0 to 1000, got 5000"),
    ('name = "front"\n', "store: missing required key"),
    (BOARD + "[[calls]]\npin = 1\n", "calls: unknown key (did you mean call?)"),
    (
        BOARD + "[[call]\n",
        "invalid TOML at line 3, column 7: Expected ']]' at the end of an array declaration",
    ),
    (
        BOARD
        + "[[call]]\npin = 17\ntable = 'T4'\nkind = 'bill'\n[[led]]\npin = 17\ntable = 'T4'\n",
        "pin(s) 17 used more than once",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BOARD_BAD, ids=[e for _, e in BOARD_BAD])
def test_button_board_file(tmp_path: Path, text: str, expected: str) -> None:
    assert one_line(tmp_path, text, load_board, ButtonConfigError) == expected


def _example(doc: str | None, marker: str) -> str:
    assert doc is not None
    body = doc.split(marker, 1)[1]
    lines = body.split("```", 1)[0] if marker.startswith("```") else body
    out = []
    for line in lines.splitlines():
        if marker == "::" and line and not line.startswith("    "):
            if out:
                break
            continue
        out.append(line[4:] if marker == "::" else line)
    return "\n".join(out)


@pytest.mark.parametrize(
    ("doc", "marker", "schema"),
    [
        (printer_main.__doc__, "```toml", AgentFile),
        (scale_main.__doc__, "scale.toml::", ScaleFile),
    ],
    ids=["printer", "scale"],
)
def test_the_documented_agent_files_decode(doc: str, marker: str, schema: type[Any]) -> None:
    text = _example(doc, marker if marker.startswith("```") else "::")
    decoded = decode(parse_toml(text, "doc"), schema, file="doc")
    assert decoded.store == "demo"


def test_the_documented_board_loads(tmp_path: Path) -> None:
    path = tmp_path / "board.toml"
    path.write_text(_example(devices.buttons.config.__doc__, "::"))
    board = load_board(path)
    assert [c.kind for c in board.board.calls] == ["waiter"]
    assert [b.action for b in board.board.bumps] == ["bump"]
