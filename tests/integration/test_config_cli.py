"""A config file with a mistake stops each command with exit 2 and exactly one line on
stderr (the file, the key, what is allowed), never a traceback; a bad menu names its field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hub.config import load_config
from hub.domain.tokens import verify_manager_pin

STORE = '[store]\ndata_dir = "{data}"\n'

ISSUE = [
    (
        "[tables]\nrequre_pin = true\n",
        "[tables] requre_pin: unknown key (did you mean require_pin?)",
    ),
    ("[limts]\norders_per_minute = 3\n", "[limts]: unknown section (did you mean limits?)"),
    ('[http]\nport = "80a"\n', '[http] port: expected an integer from 0 to 65535, got "80a"'),
    (
        '[log]\nlevel = "infoo"\n',
        "[log] level: must be one of debug, info, warning, error (did you mean info?)",
    ),
]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.mark.parametrize(("section", "expected"), ISSUE, ids=[e for _, e in ISSUE])
def test_tablehub_run_stops_on_the_issues_examples(
    tmp_path: Path, section: str, expected: str
) -> None:
    (tmp_path / "hub.toml").write_text(STORE.format(data=tmp_path / "data") + section)
    proc = run("-m", "hub", "run", "--config", "hub.toml", cwd=tmp_path)
    assert one_error_line(proc) == f"hub.toml: {expected}"
    assert not (tmp_path / "data").exists()  # nothing was started


def test_invalid_toml_and_the_other_commands(tmp_path: Path) -> None:
    (tmp_path / "hub.toml").write_text(STORE.format(data=tmp_path / "data") + "[http\n")
    expected = (
        "hub.toml: invalid TOML at line 3, column 6: Expected ']' at the end of a table declaration"
    )
    assert one_error_line(run("-m", "hub", "run", "--config", "hub.toml", cwd=tmp_path)) == expected
    proc = run("-m", "hub", "backup", "--config", "hub.toml", cwd=tmp_path)
    assert one_error_line(proc) == expected


def test_agents_and_the_bridge_stop_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "printer.toml").write_text(
        'store = "demo"\nprinter = "p"\naddress = "fake://"\nstate_dir = "s"\nencoding = "big-5"\n'
    )
    proc = run("-m", "devices.printers", "--config", "printer.toml", cwd=tmp_path)
    assert one_error_line(proc) == (
        "printer.toml: encoding: must be one of codepage, gb18030, big5, raster"
        " (did you mean big5?)"
    )
    (tmp_path / "scale.toml").write_text('store = "demo"\nscale = "s"\nprt = "/dev/ttyUSB0"\n')
    proc = run("-m", "devices.scales", "scale.toml", cwd=tmp_path)
    assert one_error_line(proc) == "scale.toml: prt: unknown key (did you mean port?)"
    (tmp_path / "board.toml").write_text('store = "demo"\nname = "b"\nbounce = 20\n')
    proc = run("-m", "devices.buttons", "board.toml", cwd=tmp_path)
    assert one_error_line(proc) == "board.toml: bounce: unknown key (did you mean bounce_ms?)"
    (tmp_path / "bridge.toml").write_text('[bridge]\nhub_db = "h.db"\nstate_db = "b.db"\n')
    proc = run("-m", "hub", "bridge", "--config", "bridge.toml", cwd=tmp_path)
    assert one_error_line(proc) == "error: bridge.toml: [bridge] store_id: missing required key"


def test_a_bad_menu_names_the_file_and_the_field(
    tmp_path: Path, menu_doc: dict[str, object]
) -> None:
    items = menu_doc["items"]
    assert isinstance(items, list)
    items[2]["station"] = "pastry"
    (tmp_path / "menu.json").write_text(json.dumps(menu_doc))
    (tmp_path / "hub.toml").write_text(
        STORE.format(data=tmp_path / "data")
        + f'menu_file = "{tmp_path / "menu.json"}"\n[http]\nport = 0\n[broker]\nenabled = false\n'
    )
    proc = run("-m", "hub", "run", "--config", "hub.toml", cwd=tmp_path)
    assert (
        one_error_line(proc)
        == f"error: {tmp_path / 'menu.json'}: items[2].station: unknown station"
    )


def test_tablehub_manager_pin_prints_the_line_for_hub_toml(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "hub", "manager-pin"],
        input="13579\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cfg = tmp_path / "hub.toml"
    cfg.write_text(f'[store]\ndata_dir = "{tmp_path}"\n{out}')
    config = load_config(cfg)
    assert config.shift.manager_pin_hash is not None
    assert verify_manager_pin("13579", config.shift.manager_pin_hash)
