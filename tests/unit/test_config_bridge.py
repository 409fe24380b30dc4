"""bridge.toml is decoded like every config: one line naming the file and the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import cloud_bridge.config
from cloud_bridge.config import BridgeFile, load_config
from cloud_bridge.errors import ConfigError
from plumbing.settings import decode, parse_toml
from tests.unit.conftest import error_line

ROOT = Path(__file__).parents[2]


def write(tmp_path: Path, extra: str = "", *, head: str = "[bridge]\n") -> Path:
    token = tmp_path / "tok"
    token.write_text("s3cret")
    token.chmod(0o600)
    path = tmp_path / "bridge.toml"
    path.write_text(
        head
        + 'hub_db = "hub.db"\nstate_db = "bridge.db"\nstore_id = "demo"\n'
        + 'endpoint = "https://cloud.example.com"\ntoken_file = "tok"\n'
        + extra
    )
    return path


def error_of(path: Path) -> str:
    return error_line(load_config, ConfigError, path)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "batch_max_event = 5\n",
            "[bridge] batch_max_event: unknown key (did you mean batch_max_events?)",
        ),
        (
            "batch_max_events = 0\n",
            "[bridge] batch_max_events: expected an integer of at least 1, got 0",
        ),
        ("poll_ms = 2.5\n", "[bridge] poll_ms: expected an integer of at least 10, got 2.5"),
        (
            'log_level = "warn"\n',
            "[bridge] log_level: must be one of debug, info, warning, error"
            " (did you mean warning?)",
        ),
        (
            "backoff_base_ms = 10\nbackoff_cap_ms = 5\n",
            "[bridge] backoff_cap_ms: must not be below backoff_base_ms",
        ),
        ('store_id_ = "x"\n', "[bridge] store_id_: unknown key (did you mean store_id?)"),
        (
            'hub_url = "http://127.0.0.1:8080"\n',
            "[bridge] hub_admin_token_file: is required with hub_url",
        ),
        ("[clod]\nx = 1\n", "[clod]: unknown section"),
        ("retention_hours = \n", "invalid TOML at line 7, column 19: Invalid value"),
    ],
)
def test_each_mistake_is_one_line(tmp_path: Path, extra: str, expected: str) -> None:
    assert error_of(write(tmp_path, extra)) == expected


def test_missing_section_key_and_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "bridge.toml"
    path.write_text("[brigde]\n")
    assert error_of(path) == "[brigde]: unknown section (did you mean bridge?)"
    path.write_text("")
    assert error_of(path) == "[bridge]: missing required section"
    path.write_text('[bridge]\nhub_db = "x"\n')
    assert error_of(path) == "[bridge] state_db: missing required key"
    path = write(tmp_path)
    path.write_text(path.read_text().replace("https://cloud", "http://cloud"))
    assert error_of(path) == (
        "[bridge] endpoint: endpoint must use https (plain http is allowed on loopback only)"
    )
    path = write(tmp_path)
    (tmp_path / "tok").chmod(0o644)
    assert error_of(path).endswith("must not be readable by others (chmod 600)")


def test_a_good_file_keeps_its_meaning(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "batch_max_events = 50\nretention_hours = 24\n"))
    assert (cfg.hub_db, cfg.state_db, cfg.token) == (
        tmp_path / "hub.db",
        tmp_path / "bridge.db",
        "s3cret",
    )
    assert (cfg.batch_max_events, cfg.retention_hours, cfg.poll_ms, cfg.log_level) == (
        50,
        24.0,
        200,
        "info",
    )


def test_the_documented_bridge_toml_decodes() -> None:
    assert cloud_bridge.config.__doc__ is not None
    body = cloud_bridge.config.__doc__.split("::", 1)[1]
    text = "\n".join(line[4:] for line in body.splitlines() if line.startswith("    "))
    assert decode(parse_toml(text, "doc"), BridgeFile, file="doc").bridge.store_id == "demo"
    (docs,) = [
        b
        for b in re.findall(
            r"```toml\n(.*?)```", (ROOT / "docs/cloud-protocol.md").read_text(), re.S
        )
        if "hub_db" in b
    ]
    assert decode(parse_toml(docs, "doc"), BridgeFile, file="doc").bridge.hub_url
