"""hub.toml is decoded into typed structs: every mistake is one line naming the file, the
key and what is allowed; every documented file still loads with the same meaning."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import hub.config
from hub.config import ConfigInvalid, HttpLimits, HubConfig, HubFile, load_config
from plumbing.settings import SettingsError, decode, parse_toml
from tests.unit.conftest import error_line

ROOT = Path(__file__).parents[2]
STORE = '[store]\ndata_dir = "/var/lib/tablehub"\n'


def error_of(tmp_path: Path, text: str) -> str:
    path = tmp_path / "hub.toml"
    path.write_text(text, "utf-8")
    return error_line(load_config, ConfigInvalid, path)


BAD = [
    # the four
    (
        STORE + "[tables]\nrequre_pin = true\n",
        "[tables] requre_pin: unknown key (did you mean require_pin?)",
    ),
    (STORE + "[limts]\norders_per_minute = 3\n", "[limts]: unknown section (did you mean limits?)"),
    (
        STORE + '[http]\nport = "80a"\n',
        '[http] port: expected an integer from 0 to 65535, got "80a"',
    ),
    (
        STORE + '[log]\nlevel = "infoo"\n',
        "[log] level: must be one of debug, info, warning, error (did you mean info?)",
    ),
    # missing, wrong types, bounds, enums, lists of tables
    ("[http]\nport = 8080\n", "[store]: missing required section"),
    ("[store]\nmenu_file = 'm.json'\n", "[store] data_dir: missing required key"),
    (
        STORE + "[broker]\nport = 70000\n",
        "[broker] port: expected an integer from 1 to 65535, got 70000",
    ),
    (STORE + "[tables]\nrequire_pin = 1\n", "[tables] require_pin: expected true or false, got 1"),
    (
        STORE + "[history]\nkeep_days = 0.5\n",
        "[history] keep_days: must be 0 (keep for ever) or at least 1 day",
    ),
    (
        STORE + "[backups]\nat_hour = 24\n",
        "[backups] at_hour: expected an integer from -1 to 23, got 24",
    ),
    (
        STORE + "[limits]\norders_burst = 0\n",
        "[limits] orders_burst: expected an integer of at least 1, got 0",
    ),
    (
        STORE + "[http]\nconnections_per_address = 0\n",
        "[http] connections_per_address: expected an integer of at least 1, got 0",
    ),
    (
        STORE + "[http]\nbody_timeout_seconds = 0\n",
        "[http] body_timeout_seconds: expected a number more than 0, got 0",
    ),
    (
        STORE + "[http]\nheader_timeout = 5\n",
        "[http] header_timeout: unknown key (did you mean header_timeout_seconds?)",
    ),
    (
        STORE + "[limits]\norders_per_minute = 0\n",
        "[limits] orders_per_minute: expected a number more than 0, got 0",
    ),
    (
        STORE + "[[printers]]\nid = 'a'\nchits = 'sometimes'\n",
        "[printers[0]] chits: must be one of always, fallback, never",
    ),
    (
        STORE + "[[printers]]\nid = 'a'\nwidht = 32\n",
        "[printers[0]] widht: unknown key (did you mean width?)",
    ),
    (STORE + "[[printers]]\nstations = ['grill']\n", "[printers[0]] id: missing required key"),
    (
        STORE + "[[printers]]\nid = 'a'\nencoding = 'big6'\n",
        "[printers[0]] encoding: must be one of codepage, gb18030, big5, raster"
        " (did you mean big5?)",
    ),
    (
        STORE + "[[printers]]\nid = 'a'\nstations = 'grill'\n",
        '[printers[0]] stations: expected a list of texts, got "grill"',
    ),
    (
        STORE + "[bill]\ntaxes = [{name = 'Tax', percnt = 8}]\n",
        "[bill.taxes[0]] percnt: unknown key (did you mean percent?)",
    ),
    (
        STORE + "[bridge]\nprune_chunk_rows = 0\n",
        "[bridge] prune_chunk_rows: expected an integer of at least 1, got 0",
    ),
    # a free-form table's key (a station's id) is named with the key that is wrong under it
    (
        STORE + "[stations.grill]\ncoks = 2\n",
        "[stations.grill] coks: unknown key (did you mean cooks?)",
    ),
    (
        STORE + "[stations.cold]\ncooks = 1\n[stations.grill]\ncooks = 0\n",
        "[stations.grill] cooks: expected an integer from 1 to 50, got 0",
    ),
    (STORE + "[stations]\ngrill = 3\n", "[stations] grill: expected a table, got 3"),
    ("tables = 3\n" + STORE, "tables: expected a table, got 3"),
    (
        STORE + "[kitchen]\nscreen_silent = 30\n",
        "[kitchen] screen_silent: unknown key (did you mean screen_silent_after_seconds?)",
    ),
    (STORE + "[wifi]\nssid = 'x'\n", "[wifi]: unknown section"),
    # not TOML at all
    (
        STORE + "[http\nport = 1\n",
        "invalid TOML at line 3, column 6: Expected ']' at the end of a table declaration",
    ),
    (STORE + "[http]\nport = \n", "invalid TOML at line 4, column 8: Invalid value"),
]


@pytest.mark.parametrize(("text", "expected"), BAD, ids=[e for _, e in BAD])
def test_each_mistake_is_one_line_naming_the_key(tmp_path: Path, text: str, expected: str) -> None:
    assert error_of(tmp_path, text) == expected


def test_an_unreadable_file_and_password_file_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigInvalid, match=r"hub\.toml: cannot read: No such file"):
        load_config(tmp_path / "hub.toml")
    text = STORE + f'[broker]\npassword_file = "{tmp_path / "nope"}"\n'
    assert (
        error_of(tmp_path, text) == "[broker] password_file: cannot read: No such file or directory"
    )
    secret = tmp_path / "secret"
    secret.write_text("pw")
    secret.chmod(0o644)
    text = STORE + f'[broker]\npassword_file = "{secret}"\n'
    assert error_of(tmp_path, text).endswith("must not be readable by others (chmod 600)")


def test_an_in_process_printer_with_an_unknown_escpos_profile_stops_the_start(
    tmp_path: Path,
) -> None:
    text = STORE + "[[printers]]\nid = 'a'\naddress = 'tcp://127.0.0.1:9100'\nprofile = 'XYZZY'\n"
    assert error_of(tmp_path, text) == (
        "[printers[0]] profile: unknown python-escpos profile 'XYZZY'"
    )
    text = STORE + "[[printers]]\nid = 'a'\naddress = 'tcp://127.0.0.1:9100'\nprofile = 'TM-T88'\n"
    assert error_of(tmp_path, text).endswith("'TM-T88' (did you mean TM-T88V?)")
    text = (
        STORE + "[[printers]]\nid = 'a'\naddress = 'tcp://127.0.0.1:9100'\ntimezone = 'Mars/Base'\n"
    )
    assert error_of(tmp_path, text) == "[printers[0]] timezone: unknown timezone 'Mars/Base'"
    text = STORE + "[[printers]]\nid = 'a'\naddress = 'tcp://127.0.0.1:9100'\nprofile = 'TM-U220'\n"
    assert error_of(tmp_path, text) == (
        "[printers[0]] width: 42 columns need 512 dots, TM-U220 prints 400"
    )
    text = STORE + "timezone = 'Asia/Taipe'\n"
    assert error_of(tmp_path, text) == "[store] timezone: unknown timezone 'Asia/Taipe'"


def test_encoding_and_the_older_pair_cannot_disagree(tmp_path: Path) -> None:
    text = STORE + "[[printers]]\nid = 'a'\nencoding = 'big5'\ncjk_encoding = 'gb18030'\n"
    assert error_of(tmp_path, text) == (
        '[printers[0]]: encoding = "big5" already says it all; '
        "leave out encoding_mode and cjk_encoding"
    )


def test_a_minimal_file_keeps_every_default(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(STORE)
    assert load_config(path) == HubConfig(data_dir=Path("/var/lib/tablehub"))


def test_every_section_reads_as_before(tmp_path: Path) -> None:
    secret = tmp_path / "mqtt-hub"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    path = tmp_path / "hub.toml"
    path.write_text(
        f"""
[store]
data_dir = "/d"
menu_file = "/etc/tablehub/menu.json"
public_url = "http://192.168.1.10:8080"
timezone = "Asia/Taipei"
[http]
host = "0.0.0.0"
port = 8081
tls_cert = "/c.crt"
tls_key = "/c.key"
[broker]
host = "127.0.0.1"
port = 1884
username = "hub"
password_file = "{secret}"
replay_after_reconnect_s = 20
[[printers]]
id = "grill-1"
stations = ["grill"]
chits = "fallback"
bills = true
backup = "wok-1"
backup_after_seconds = 12
lang = "zh-Hant"
encoding = "raster"
width = 32
[[scales]]
id = "deli-1"
port = "/dev/ttyUSB0"
protocol = "mt-sics"
stable_hold_ms = 900
[bill]
header = ["12 Harbour St"]
footer = ["Bye"]
taxes = [{{name = "Sales tax 8.875%", percent = 8.875}}, {{name = "City", percent = 1}}]
[kitchen]
screen_silent_after_seconds = 45
serve_ready_after_minutes = 90
[limits]
enabled = false
orders_per_minute = 3
orders_burst = 2
calls_per_minute = 1.5
client_burst = 10
orders_in_flight = 64
[tables]
require_open = true
require_pin = true
[floor]
escalate_after_seconds = 90
[backups]
every_hours = 0
keep = 3
[log]
level = "debug"
[bridge]
state_db = "/b/bridge.db"
retention_hours = 24
prune_every_seconds = 60
[devices]
expected = ["printer-grill-1"]
"""
    )
    c = load_config(path)
    assert (c.data_dir, c.menu_file, c.public_url, c.timezone) == (
        Path("/d"),
        Path("/etc/tablehub/menu.json"),
        "http://192.168.1.10:8080",
        "Asia/Taipei",
    )
    assert (c.http_host, c.http_port, c.tls_cert, c.tls_key) == (
        "0.0.0.0",
        8081,
        Path("/c.crt"),
        Path("/c.key"),
    )
    assert c.broker is not None
    assert (c.broker.port, c.broker.username, c.broker.password, c.broker.replay_s) == (
        1884,
        "hub",
        "s3cret",
        20.0,
    )
    (p,) = c.printers
    assert (p.id, p.stations, p.chits, p.bills, p.backup, p.backup_after_s, p.lang) == (
        "grill-1",
        ("grill",),
        "fallback",
        True,
        "wok-1",
        12,
        "zh-Hant",
    )
    assert (p.encoding, p.width, p.address) == ("raster", 32, "")
    assert [(s.id, s.protocol, s.stable_hold_ms) for s in c.scales] == [("deli-1", "mt-sics", 900)]
    assert c.bill.taxes == (("Sales tax 8.875%", 88750), ("City", 10000))
    assert (c.bill.header, c.bill.footer) == (("12 Harbour St",), ("Bye",))
    assert c.kds_silent_after_s == 45
    assert c.serve_ready_after_s == 90 * 60
    assert not c.limits.enabled
    assert (c.limits.orders.burst, c.limits.orders.per_minute) == (2, 3.0)
    assert (c.limits.calls.burst, c.limits.calls.per_minute) == (4, 1.5)
    assert (c.limits.client.burst, c.limits.client.per_minute) == (10, 60.0)
    assert c.limits.orders_in_flight == 64
    assert c.tables_require_open
    assert c.tables_require_pin
    assert (c.escalate_after_s, c.backup_every_s, c.backup_keep, c.log_level) == (
        90,
        0.0,
        3,
        "debug",
    )
    assert c.bridge is not None
    assert (c.bridge.state_db, c.bridge.retention_hours, c.bridge.prune_every_s) == (
        Path("/b/bridge.db"),
        24.0,
        60.0,
    )


def test_broker_off_and_a_bridge_toml_beside(tmp_path: Path) -> None:
    (tmp_path / "bridge.toml").write_text('[bridge]\nstate_db = "state/bridge.db"\n')
    path = tmp_path / "hub.toml"
    path.write_text(STORE + "[broker]\nenabled = false\n")
    c = load_config(path)
    assert c.broker is None
    assert c.bridge is not None
    assert c.bridge.state_db == tmp_path / "state/bridge.db"


@pytest.mark.parametrize(
    ("keys", "mode", "cjk"),
    [
        ("", "codepage", "gb18030"),
        ("encoding = 'codepage'", "codepage", "gb18030"),
        ("encoding = 'big5'", "codepage", "big5"),
        ("encoding = 'gb18030'", "codepage", "gb18030"),
        ("encoding = 'raster'", "raster", "gb18030"),
        ("encoding_mode = 'raster'", "raster", "gb18030"),
        ("cjk_encoding = 'big5'", "codepage", "big5"),
    ],
)
def test_printer_encodings(tmp_path: Path, keys: str, mode: str, cjk: str) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(STORE + f"[[printers]]\nid = 'a'\nprofile = 'TM-U220'\n{keys}\n")
    (p,) = load_config(path).printers
    assert (p.encoding, p.paper.mode, p.paper.cjk, p.paper.profile) == (mode, mode, cjk, "TM-U220")


def _toml_blocks(text: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", text, re.S)


def _docstring_example(module_doc: str) -> str:
    lines = module_doc.split("::", 1)[1].splitlines()
    return "\n".join(line[4:] for line in lines if line.startswith("    ") or not line.strip())


def test_the_documented_hub_toml_decodes() -> None:
    assert hub.config.__doc__ is not None
    doc = decode(parse_toml(_docstring_example(hub.config.__doc__), "doc"), HubFile, file="doc")
    assert doc.printers[0].encoding == "big5"
    assert doc.bridge is not None
    assert doc.bridge.prune_chunk_rows == 5000
    assert doc.http.connections_per_address == 64
    assert doc.http.body_timeout_seconds == 10


@pytest.mark.parametrize(
    "text",
    [
        *_toml_blocks((ROOT / "docs/printing.md").read_text()),
        _toml_blocks((ROOT / "docs/cloud-protocol.md").read_text())[2],
    ],
)
def test_the_hub_toml_pieces_in_docs_decode(text: str) -> None:
    decode(parse_toml(STORE + text, "doc"), HubFile, file="doc")


KEYS = st.from_regex(r"[a-z][a-z_]{0,20}", fullmatch=True)


@given(section=st.sampled_from(["http", "broker", "tables", "limits", "log", "floor"]), key=KEYS)
def test_any_key_a_section_does_not_know_is_one_line_naming_it(section: str, key: str) -> None:
    doc = parse_toml(STORE + f"[{section}]\n{key} = 1\n", "hub.toml")
    try:
        decode(doc, HubFile, file="hub.toml")
    except SettingsError as exc:
        text = str(exc)
        assert "\n" not in text
        assert text.startswith(f"hub.toml: [{section}] {key}: ")
    else:  # a key the section has: it must have been read, not ignored
        section_struct = getattr(decode(doc, HubFile, file="hub.toml"), section)
        assert key in section_struct.__struct_fields__


def test_the_http_connection_keys_reach_the_hub(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(
        STORE + "[http]\nconnections_per_address = 8\nmax_connections = 500\n"
        "header_timeout_seconds = 2.5\nbody_timeout_seconds = 4\nidle_timeout_seconds = 12\n"
    )
    assert load_config(path).http_limits == HttpLimits(
        connections_per_address=8,
        max_connections=500,
        header_timeout_s=2.5,
        body_timeout_s=4.0,
        idle_timeout_s=12.0,
    )
