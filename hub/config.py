"""Configuration, read once into frozen dataclasses and passed in. No global settings.

A store box's config file (TOML)::

    [store]
    data_dir = "/var/lib/tablehub"        # the SQLite store, secret key, backups
    menu_file = "/etc/tablehub/menu.json" # loaded on first run only
    public_url = "http://192.168.1.10:8080"  # what the QR codes point at

    [http]
    host = "0.0.0.0"
    port = 8080
    # tls_cert = "/etc/tablehub/tls/hub.crt"   # optional HTTPS (key file mode 0600)
    # tls_key = "/etc/tablehub/tls/hub.key"

    [broker]
    host = "127.0.0.1"
    port = 1883
    username = "hub"
    password_file = "/etc/tablehub/secrets/mqtt-hub"   # mode 0600
    # replay_after_reconnect_s = 15   # publish again what the broker took this long before
    #                                 # a drop (> its autosave_interval): a crash loses that

    [[printers]]                          # one block per printer
    id = "grill-1"
    address = "tcp://192.168.1.50:9100"
    stations = ["grill"]
    chits = "always"                      # always | fallback (screen silent) | never
    backup = "wok-1"
    backup_after_seconds = 30

    [bill]
    header = ["12 Harbour St"]
    taxes = [{name = "Sales tax 8.875%", percent = 8.875}]

    [kitchen]
    screen_silent_after_seconds = 30

    [limits]                              # what one table or phone may do
    orders_per_minute = 6                 # also: orders_burst, calls_per_minute,
    client_per_minute = 60                # calls_burst, client_burst; enabled = false
    orders_in_flight = 256                # all phones together; past it: 503, Retry-After

    [tables]
    require_open = false                  # staff open a table before it can order
    require_pin = false                   # and give the party a 4-digit PIN to order with

    [floor]
    escalate_after_seconds = 120          # an unanswered table call is highlighted

    [backups]                             # online copies in <data_dir>/backups
    every_hours = 6                       # 0: only `tablehub backup` and before upgrades
    keep = 14

    [log]
    level = "info"

    [bridge]                              # the cloud bridge seen from the hub (optional)
    state_db = "/var/lib/tablehub-bridge/bridge.db"  # the bridge's own state, read only;
                                          # default: state_db of a bridge.toml beside this
                                          # file, else none (no pruning, no bridge health)
    # retention_hours = 168               # keep acknowledged outbox rows this long;
                                          # default: the bridge's own retention_hours
    prune_every_seconds = 3600            # prune acknowledged and shed outbox rows
    prune_chunk_rows = 5000               # at most this many rows per write
    health_every_seconds = 5              # refresh the bridge's status for /healthz
    stale_after_seconds = 300             # alert: an event waits this long, no upload since
"""

from __future__ import annotations

import os
import secrets
import stat
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from hub.bus.client import BrokerConfig
from hub.domain.ratelimit import Limit
from hub.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class PrinterConfig:
    """One ESC/POS printer. `chits`: 'always' prints every ticket of its stations,
    'fallback' only while the station's screen is silent, 'never' none."""

    id: str
    address: str = ""  # tcp://host:9100, usb://04b8:0202, serial:///dev/ttyUSB0; "" = remote agent
    stations: tuple[str, ...] = ()
    chits: str = "always"
    bills: bool = False
    backup: str | None = None
    backup_after_s: int = 30
    lang: str = "en"
    encoding: str = "codepage"  # or "raster" (CJK text as an image)
    width: int = 42


@dataclass(frozen=True, slots=True)
class ScaleConfig:
    """A serial scale read by an agent inside the hub (`port`: a device path such as
    /dev/serial/by-id/..., or socket://host:port for a serial server)."""

    id: str
    port: str
    protocol: str = "auto"
    stable_hold_ms: int = 1500


@dataclass(frozen=True, slots=True)
class BillConfig:
    header: tuple[str, ...] = ()
    footer: tuple[str, ...] = ("Thank you!",)
    taxes: tuple[tuple[str, int], ...] = ()  # (name, parts per million), added on top


@dataclass(frozen=True, slots=True)
class Limits:
    """Rate limits on diners: (burst, sustained per minute)."""

    enabled: bool = True
    orders: Limit = field(default_factory=lambda: Limit(burst=6, per_minute=6))  # per table
    calls: Limit = field(default_factory=lambda: Limit(burst=4, per_minute=4))  # per table
    # per phone (its address), orders and calls together
    client: Limit = field(default_factory=lambda: Limit(burst=30, per_minute=60))
    # orders being taken at once, all phones together: past it an order is refused at once
    # (503, Retry-After) rather than queued behind thousands (memory and latency stay bounded)
    orders_in_flight: int = 256


@dataclass(frozen=True, slots=True)
class CloudLinkConfig:
    """What the hub knows of the cloud bridge (its own process): where the bridge keeps its
    state (read only here), how long acknowledged outbox rows stay, how often the hub prunes
    them and looks at the bridge's health."""

    state_db: Path
    retention_hours: float | None = None  # None: the bridge's own retention_hours
    prune_every_s: float = 3600.0
    prune_chunk_rows: int = 5000
    health_every_s: float = 5.0
    stale_after_s: float = 300.0


@dataclass(frozen=True, slots=True)
class HubConfig:
    data_dir: Path
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    public_url: str = ""
    menu_file: Path | None = None
    broker: BrokerConfig | None = field(default_factory=BrokerConfig)
    log_level: str = "info"
    escalate_after_s: int = 120
    printers: tuple[PrinterConfig, ...] = ()
    scales: tuple[ScaleConfig, ...] = ()
    timezone: str | None = None  # IANA zone for printed times; None: the machine's
    bill: BillConfig = field(default_factory=BillConfig)
    kds_silent_after_s: int = 30
    ack_timeout_s: float = 10.0
    limits: Limits = field(default_factory=Limits)
    tables_require_open: bool = False  # staff open a table before it can order
    tables_require_pin: bool = False  # orders carry the PIN shown to the seated party
    tls_cert: Path | None = None  # serve HTTPS with this certificate chain and key
    tls_key: Path | None = None
    bridge: CloudLinkConfig | None = None  # None: no cloud bridge on this box
    backup_every_s: float = 6 * 3600.0  # online backups of the store; 0 turns them off
    backup_keep: int = 14

    @property
    def db_path(self) -> Path:
        return self.data_dir / "tablehub.db"


def _section(doc: dict[str, Any], name: str) -> dict[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise InvalidInput(f"[{name}] must be a table", field=name)
    return value


def read_secret_file(path: Path) -> str:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidInput(
            f"{path} must not be readable by others (chmod 600)", field="password_file"
        )
    return path.read_text("utf-8").strip()


def load_config(path: Path) -> HubConfig:
    try:
        doc = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"cannot read config {path}: {exc}", field="config") from exc
    store, http, broker, logcfg, floor = (
        _section(doc, n) for n in ("store", "http", "broker", "log", "floor")
    )
    if "data_dir" not in store:
        raise InvalidInput("store.data_dir is required", field="store.data_dir")
    password = broker.get("password")
    if "password_file" in broker:
        password = read_secret_file(Path(broker["password_file"]))
    broker_cfg = (
        None
        if broker.get("enabled", True) is False
        else BrokerConfig(
            host=str(broker.get("host", "127.0.0.1")),
            port=int(broker.get("port", 1883)),
            username=broker.get("username"),
            password=password,
            client_id=str(broker.get("client_id", "tablehub-hub")),
            replay_s=float(broker.get("replay_after_reconnect_s", 15.0)),
        )
    )
    return HubConfig(
        data_dir=Path(store["data_dir"]),
        http_host=str(http.get("host", "127.0.0.1")),
        http_port=int(http.get("port", 8080)),
        public_url=str(store.get("public_url", "")),
        menu_file=Path(store["menu_file"]) if "menu_file" in store else None,
        broker=broker_cfg,
        log_level=str(logcfg.get("level", "info")),
        escalate_after_s=int(floor.get("escalate_after_seconds", 120)),
        backup_every_s=float(_section(doc, "backups").get("every_hours", 6)) * 3600.0,
        backup_keep=int(_section(doc, "backups").get("keep", 14)),
        printers=tuple(_printer(p, i) for i, p in enumerate(doc.get("printers", []))),
        bill=_bill(_section(doc, "bill")),
        scales=tuple(
            ScaleConfig(
                id=str(s["id"]),
                port=str(s["port"]),
                protocol=str(s.get("protocol", "auto")),
                stable_hold_ms=int(s.get("stable_hold_ms", 1500)),
            )
            for s in doc.get("scales", [])
        ),
        timezone=store.get("timezone"),
        kds_silent_after_s=int(_section(doc, "kitchen").get("screen_silent_after_seconds", 30)),
        limits=_limits(_section(doc, "limits")),
        tls_cert=Path(http["tls_cert"]) if "tls_cert" in http else None,
        tls_key=Path(http["tls_key"]) if "tls_key" in http else None,
        tables_require_open=bool(_section(doc, "tables").get("require_open", False)),
        tables_require_pin=bool(_section(doc, "tables").get("require_pin", False)),
        bridge=_bridge(_section(doc, "bridge"), path.parent),
    )


def _bridge(raw: dict[str, Any], folder: Path) -> CloudLinkConfig | None:
    """The [bridge] section; without `state_db`, the one of a bridge.toml beside the hub's
    config (the file `tablehub bridge --config` reads), resolved the way the bridge does."""
    state_db = raw.get("state_db")
    if state_db is None:
        state_db = _bridge_toml_state_db(folder / "bridge.toml")
    if state_db is None:
        return None

    def num(key: str, default: float, lo: float) -> float:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < lo:
            raise InvalidInput(f"must be a number of at least {lo:g}", field=f"bridge.{key}")
        return float(value)

    retention = raw.get("retention_hours")
    return CloudLinkConfig(
        state_db=Path(str(state_db)),
        retention_hours=None if retention is None else num("retention_hours", 168.0, 0.0),
        prune_every_s=num("prune_every_seconds", 3600.0, 1.0),
        prune_chunk_rows=int(num("prune_chunk_rows", 5000, 1)),
        health_every_s=num("health_every_seconds", 5.0, 0.1),
        stale_after_s=num("stale_after_seconds", 300.0, 1.0),
    )


def _bridge_toml_state_db(path: Path) -> Path | None:
    try:
        doc = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}", field="bridge.state_db") from exc
    section = doc.get("bridge")
    value = section.get("state_db") if isinstance(section, dict) else None
    return path.parent / value if isinstance(value, str) else None


def _limits(raw: dict[str, Any]) -> Limits:
    base = Limits()

    def one(name: str, default: Limit) -> Limit:
        per = float(raw.get(f"{name}_per_minute", default.per_minute))
        burst = int(raw.get(f"{name}_burst", default.burst))
        if per <= 0 or burst < 1:
            raise InvalidInput("limits must be positive", field=f"limits.{name}_per_minute")
        return Limit(burst=burst, per_minute=per)

    in_flight = int(raw.get("orders_in_flight", base.orders_in_flight))
    if in_flight < 1:
        raise InvalidInput("must be at least 1", field="limits.orders_in_flight")
    return Limits(
        orders_in_flight=in_flight,
        enabled=bool(raw.get("enabled", True)),
        orders=one("orders", base.orders),
        calls=one("calls", base.calls),
        client=one("client", base.client),
    )


def _printer(raw: Any, i: int) -> PrinterConfig:
    path = f"printers[{i}]"
    if not isinstance(raw, dict) or "id" not in raw:
        raise InvalidInput("each [[printers]] needs an id", field=path)
    chits = str(raw.get("chits", "always"))
    if chits not in ("always", "fallback", "never"):
        raise InvalidInput("chits must be always, fallback or never", field=f"{path}.chits")
    encoding = str(raw.get("encoding", "codepage"))
    if encoding not in ("codepage", "raster"):
        raise InvalidInput("encoding must be codepage or raster", field=f"{path}.encoding")
    return PrinterConfig(
        id=str(raw["id"]),
        address=str(raw.get("address", "")),
        stations=tuple(str(s) for s in raw.get("stations", [])),
        chits=chits,
        bills=bool(raw.get("bills", False)),
        backup=raw.get("backup"),
        backup_after_s=int(raw.get("backup_after_seconds", 30)),
        lang=str(raw.get("lang", "en")),
        encoding=encoding,
        width=int(raw.get("width", 42)),
    )


def _bill(raw: dict[str, Any]) -> BillConfig:
    taxes = tuple(
        (str(t["name"]), int(Decimal(str(t["percent"])) * 10_000)) for t in raw.get("taxes", [])
    )
    return BillConfig(
        header=tuple(raw.get("header", ())),
        footer=tuple(raw.get("footer", ("Thank you!",))),
        taxes=taxes,
    )


def load_or_create_secret(data_dir: Path) -> bytes:
    """The store's signing secret (table QR tokens), made on first run, mode 0600."""
    path = data_dir / "secret.key"
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())
