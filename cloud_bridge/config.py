"""The bridge's configuration, read once into a frozen dataclass and passed in.

A store box's bridge config (TOML), with the defaults::

    [bridge]
    hub_db = "/var/lib/tablehub/tablehub.db"          # the hub's store, opened read-only
    state_db = "/var/lib/tablehub-bridge/bridge.db"   # the bridge's own cursor and state
    store_id = "demo"                                 # must match the menu's store.id
    endpoint = "https://cloud.example.com"            # https, or http on loopback only
    token_file = "/etc/tablehub/secrets/cloud-token"  # mode 0600
    batch_max_events = 500
    batch_max_bytes = 262144          # uncompressed JSON of the events
    batch_max_age_ms = 1000           # how long a lone event may wait for company
    backlog_budget_bytes = 2147483648 # over it, unsent telemetry is shed oldest first
    retention_hours = 168             # how long acknowledged outbox rows are kept
    hub_url = "http://127.0.0.1:8080" # the down-link hands menus to this hub ("" = off)
    hub_admin_token_file = "/etc/tablehub/secrets/bridge-admin-token"  # mode 0600
    menu_poll_seconds = 60            # 0 = no down-link

    # tuning, rarely changed
    poll_ms = 200                     # how often the outbox is looked at when idle
    request_timeout_ms = 30000
    backoff_base_ms = 1000            # decorrelated jitter from base ...
    backoff_cap_ms = 60000            # ... up to cap
    budget_check_seconds = 10
    log_level = "info"
"""

from __future__ import annotations

import ipaddress
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cloud_bridge.errors import ConfigError

LOOPBACK_NAMES = ("localhost",)


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    hub_db: Path
    state_db: Path
    store_id: str
    endpoint: str
    token: str = field(repr=False)
    batch_max_events: int = 500
    batch_max_bytes: int = 256 * 1024
    batch_max_age_ms: int = 1000
    backlog_budget_bytes: int = 2 * 1024**3
    retention_hours: float = 168.0
    hub_url: str = ""
    hub_admin_token: str = field(default="", repr=False)
    menu_poll_seconds: float = 60.0
    poll_ms: int = 200
    request_timeout_ms: int = 30_000
    backoff_base_ms: int = 1000
    backoff_cap_ms: int = 60_000
    budget_check_seconds: float = 10.0
    log_level: str = "info"

    @property
    def menu_sync_enabled(self) -> bool:
        return bool(self.hub_url) and self.menu_poll_seconds > 0


def read_secret_file(path: Path, name: str) -> str:
    """A secret from a file only its owner may read (mode 0600 or stricter)."""
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{name}: {path} must not be readable by others (chmod 600)")
        value = path.read_text("utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {path}: {exc.strerror}") from exc
    if not value:
        raise ConfigError(f"{name}: {path} is empty")
    return value


def check_endpoint(url: str, name: str = "endpoint") -> str:
    """https anywhere; plain http only to this machine (tests, a TLS-terminating sidecar)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(f"{name} must be an http(s) URL, not {url!r}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(f"{name} must use https (plain http is allowed on loopback only)")
    return url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _num(doc: dict[str, Any], key: str, default: float, *, lo: float, integer: bool) -> Any:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"bridge.{key} must be a number")
    if integer and not isinstance(value, int):
        raise ConfigError(f"bridge.{key} must be a whole number")
    if value < lo:
        raise ConfigError(f"bridge.{key} must be at least {lo}")
    return value


def _str(doc: dict[str, Any], key: str, default: str | None = None) -> str:
    value = doc.get(key, default)
    if value is None:
        raise ConfigError(f"bridge.{key} is required")
    if not isinstance(value, str):
        raise ConfigError(f"bridge.{key} must be a text")
    return value


INTS = {
    "batch_max_events": (500, 1),
    "batch_max_bytes": (256 * 1024, 1024),
    "batch_max_age_ms": (1000, 0),
    "backlog_budget_bytes": (2 * 1024**3, 0),
    "poll_ms": (200, 10),
    "request_timeout_ms": (30_000, 100),
    "backoff_base_ms": (1000, 1),
    "backoff_cap_ms": (60_000, 1),
}
FLOATS = {"retention_hours": (168.0, 0.0), "menu_poll_seconds": (60.0, 0.0)}


def parse_config(doc: dict[str, Any], *, base: Path | None = None) -> BridgeConfig:
    """A `BridgeConfig` from a decoded TOML document; secrets are read here, once."""
    section = doc.get("bridge")
    if not isinstance(section, dict):
        raise ConfigError("the config needs a [bridge] table")
    base = base or Path.cwd()
    store_id = _str(section, "store_id")
    if not store_id or len(store_id) > 64 or not all(c.isalnum() or c in "-_" for c in store_id):
        raise ConfigError("bridge.store_id must be 1-64 letters, digits, '-' or '_'")
    hub_url = _str(section, "hub_url", "")
    admin_token = ""
    if hub_url:
        hub_url = check_endpoint(hub_url, "hub_url")
        admin_token = read_secret_file(
            base / _str(section, "hub_admin_token_file"), "hub_admin_token_file"
        )
    numbers: dict[str, Any] = {
        k: _num(section, k, d, lo=lo, integer=True) for k, (d, lo) in INTS.items()
    }
    numbers |= {
        k: float(_num(section, k, d, lo=lo, integer=False)) for k, (d, lo) in FLOATS.items()
    }
    numbers["budget_check_seconds"] = float(
        _num(section, "budget_check_seconds", 10.0, lo=0.05, integer=False)
    )
    if numbers["backoff_cap_ms"] < numbers["backoff_base_ms"]:
        raise ConfigError("bridge.backoff_cap_ms must not be below backoff_base_ms")
    return BridgeConfig(
        hub_db=base / _str(section, "hub_db"),
        state_db=base / _str(section, "state_db"),
        store_id=store_id,
        endpoint=check_endpoint(_str(section, "endpoint")),
        token=read_secret_file(base / _str(section, "token_file"), "token_file"),
        hub_url=hub_url,
        hub_admin_token=admin_token,
        log_level=_str(section, "log_level", "info"),
        **numbers,
    )


def load_config(path: Path) -> BridgeConfig:
    """Read a config file; relative paths in it are taken from the file's folder."""
    try:
        doc = tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {path} is not valid TOML: {exc}") from exc
    return parse_config(doc, base=path.parent)
