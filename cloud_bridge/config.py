"""The bridge's configuration, read once into a frozen dataclass and passed in.

bridge.toml is decoded by `plumbing.settings` into `BridgeFile`: an unknown key, a wrong
type or a value out of range stops the bridge with one line naming the file and the key
(`bridge.toml: [bridge] batch_max_event: unknown key (did you mean batch_max_events?)`).

A store box's bridge config (TOML), with the defaults::

    [bridge]
    hub_db = "/var/lib/tablehub/tablehub.db"          # the hub's store, opened read-only
    state_db = "/var/lib/tablehub-bridge/bridge.db"   # the bridge's own cursor and state
    store_id = "demo"                                 # must match the menu's store.id
    endpoint = "https://cloud.example.com"            # https, or http on loopback only
    token_file = "/etc/tablehub/secrets/cloud-token"  # mode 0600
    batch_max_events = 500
    batch_max_bytes = 262144          # uncompressed JSON of the events
    batch_max_age_ms = 5000           # how long a lone event may wait for company
    backlog_budget_bytes = 2147483648 # stored bytes; over it, unsent telemetry is shed first
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
    log_level = "info"                # debug | info | warning | error
"""

from __future__ import annotations

import ipaddress
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec

from cloud_bridge.errors import ConfigError
from plumbing.settings import Settings, SettingsError, decode, fail, read_toml

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
    batch_max_age_ms: int = 5000
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


Whole = Annotated[int, msgspec.Meta(ge=0)]


class BridgeSection(Settings, frozen=True, kw_only=True):
    """The [bridge] table as written; paths are relative to the file's folder."""

    hub_db: str
    state_db: str
    store_id: str
    endpoint: str
    token_file: str
    batch_max_events: Annotated[int, msgspec.Meta(ge=1)] = 500
    batch_max_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 256 * 1024
    batch_max_age_ms: Whole = 5000
    backlog_budget_bytes: Whole = 2 * 1024**3
    retention_hours: Annotated[float, msgspec.Meta(ge=0)] = 168.0
    hub_url: str = ""
    hub_admin_token_file: str | None = None  # required with hub_url
    menu_poll_seconds: Annotated[float, msgspec.Meta(ge=0)] = 60.0
    poll_ms: Annotated[int, msgspec.Meta(ge=10)] = 200
    request_timeout_ms: Annotated[int, msgspec.Meta(ge=100)] = 30_000
    backoff_base_ms: Annotated[int, msgspec.Meta(ge=1)] = 1000
    backoff_cap_ms: Annotated[int, msgspec.Meta(ge=1)] = 60_000
    budget_check_seconds: Annotated[float, msgspec.Meta(ge=0.05)] = 10.0
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class BridgeFile(Settings, frozen=True, kw_only=True):
    bridge: BridgeSection


def parse_config(
    doc: dict[str, Any], *, base: Path | None = None, file: str = "bridge.toml"
) -> BridgeConfig:
    """A `BridgeConfig` from a decoded TOML document; secrets are read here, once. Anything
    wrong is a `ConfigError` of one line naming `file` and the key."""
    try:
        return _config(decode(doc, BridgeFile, file=file).bridge, base or Path.cwd(), file)
    except SettingsError as exc:
        raise ConfigError(str(exc)) from None


def _config(raw: BridgeSection, base: Path, file: str) -> BridgeConfig:
    def check(key: str, run: Callable[[], str]) -> str:
        try:
            return run()
        except ConfigError as exc:  # a secret file or URL: say which key it came from
            fail(file, ("bridge", key), exc.message.removeprefix(f"{key}: "))

    store_id = raw.store_id
    if not store_id or len(store_id) > 64 or not all(c.isalnum() or c in "-_" for c in store_id):
        fail(file, ("bridge", "store_id"), "must be 1-64 letters, digits, '-' or '_'")
    if raw.backoff_cap_ms < raw.backoff_base_ms:
        fail(file, ("bridge", "backoff_cap_ms"), "must not be below backoff_base_ms")
    hub_url, admin_token = "", ""
    if raw.hub_url:
        hub_url = check("hub_url", lambda: check_endpoint(raw.hub_url, "hub_url"))
        if raw.hub_admin_token_file is None:
            fail(file, ("bridge", "hub_admin_token_file"), "is required with hub_url")
        token_file = base / raw.hub_admin_token_file
        admin_token = check(
            "hub_admin_token_file", lambda: read_secret_file(token_file, "hub_admin_token_file")
        )
    return BridgeConfig(
        hub_db=base / raw.hub_db,
        state_db=base / raw.state_db,
        store_id=store_id,
        endpoint=check("endpoint", lambda: check_endpoint(raw.endpoint)),
        token=check("token_file", lambda: read_secret_file(base / raw.token_file, "token_file")),
        hub_url=hub_url,
        hub_admin_token=admin_token,
        log_level=raw.log_level,
        batch_max_events=raw.batch_max_events,
        batch_max_bytes=raw.batch_max_bytes,
        batch_max_age_ms=raw.batch_max_age_ms,
        backlog_budget_bytes=raw.backlog_budget_bytes,
        retention_hours=raw.retention_hours,
        menu_poll_seconds=raw.menu_poll_seconds,
        poll_ms=raw.poll_ms,
        request_timeout_ms=raw.request_timeout_ms,
        backoff_base_ms=raw.backoff_base_ms,
        backoff_cap_ms=raw.backoff_cap_ms,
        budget_check_seconds=raw.budget_check_seconds,
    )


def load_config(path: Path) -> BridgeConfig:
    """Read a config file; relative paths in it are taken from the file's folder."""
    try:
        doc = read_toml(path)
    except SettingsError as exc:
        raise ConfigError(str(exc)) from None
    return parse_config(doc, base=path.parent, file=str(path))
