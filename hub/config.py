"""Configuration, read once into frozen dataclasses and passed in. No global settings.

hub.toml is decoded by `plumbing.settings` into the schema below (`HubFile`): a key or
section it does not know, a wrong type or a bad value stops the hub with one line naming
the file and the key (`hub.toml: [tables] requre_pin: unknown key (did you mean
require_pin?)`). Printers take the paper keys of `devices.printers.config.PaperSettings`
(width, profile, encoding = gb18030 | big5 | raster, ...).

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
    # what one client may hold, and how long the hub waits on it (see SECURITY.md)
    connections_per_address = 64          # a phone, screen or agent holds a few; past it: 503
                                          # (diners behind one NAT address: raise it)
    max_connections = 0                   # all clients together; 0: 4096, or the open-file
                                          # limit (raised to its hard one at start) less 256
    header_timeout_seconds = 5            # a new connection's request head must arrive by then
    body_timeout_seconds = 10             # a request's whole body (408 and closed past it)
    idle_timeout_seconds = 30             # a kept-alive connection with no request is closed

    [broker]
    host = "127.0.0.1"
    port = 1883
    username = "hub"
    password_file = "/etc/tablehub/secrets/mqtt-hub"   # mode 0600
    # replay_after_reconnect_s = 15   # publish again what the broker took this long before
    #                                 # a drop (> its autosave_interval): a crash loses that
    agent_password_dir = "/etc/tablehub/secrets"  # agents in the hub log in as themselves
                                          # (mqtt-<device>); unset: as the hub

    [[printers]]                          # one block per printer
    id = "grill-1"
    address = "tcp://192.168.1.50:9100"
    stations = ["grill"]
    chits = "always"                      # always | fallback (screen silent) | never
    backup = "wok-1"
    backup_after_seconds = 30
    encoding = "big5"                     # gb18030 | big5 | raster (codepage = gb18030)
    profile = "TM-T88V"                   # python-escpos profile; width = 42 (32: 58 mm)

    [bill]
    header = ["12 Harbour St"]
    taxes = [{name = "Sales tax 8.875%", percent = 8.875}]

    [kitchen]
    screen_silent_after_seconds = 30
    serve_ready_after_minutes = 60        # an order ready (all bumped) this long without a
                                          # serve is served by the hub (0: never)

    [limits]                              # what one table or phone may do
    orders_per_minute = 6                 # also: orders_burst, calls_per_minute,
    client_per_minute = 60                # calls_burst, client_burst; enabled = false
    orders_in_flight = 256                # all phones together; past it: 503, Retry-After

    [tables]
    require_open = false                  # staff open a table before it can order
    require_pin = false                   # and give the party a 4-digit PIN to order with

    [floor]
    escalate_after_seconds = 120          # an unanswered table call is highlighted

    [shift]                               # voids, comps and the shift's report
    void_reasons = ["Guest changed mind", "Wrong item", "Too long", "Quality"]
    manager_pin_hash = "pbkdf2_sha256$100000$..."  # `tablehub manager-pin`: lets a floor
                                          # login comp (void what the kitchen made)
    day_starts_at_hour = 4                # a night past midnight counts to the day before

    [booking]                             # reservations and the waitlist
    forget_after_days = 30                # guests' names, phones and notes are deleted
                                          # this many days after the visit
    default_turn_minutes = 75             # a table's turn until enough checks are learned
    preorder_lead_minutes = 20            # pre-ordered dishes fire this long before the time
    [pacing]                              # courses held and fired, quoted waits
    auto_fire = "ready"                   # fire the next course when the previous one is
                                          # ready (bumped), served, or "manual" (a tap only)
    fire_after_seconds = 0                # and at the latest this long after the previous
                                          # course fired (0: no timer)
    pace = true                           # start a fired course's items to land together
    flag_after_seconds = 600              # a table waiting this long between courses is flagged
    slack_seconds = 60                    # paced tickets start this much early

    [stations.grill]                      # per station (ids of the menu)
    cooks = 2                             # how many tickets it makes at once
    wait_limit_seconds = 1800             # past this projected wait diners are warned
    pause_over_limit = false              # and its items are paused until the load falls
    show_held = false                     # held courses shown greyed on its screens
    pause_message = ""                    # what diners read while it is paused (optional)

    [backups]                             # online copies in <data_dir>/backups
    every_hours = 24                      # 0: only `tablehub backup` and before upgrades
    at_hour = 4                           # local hour of the first of the day (the store
                                          # closed, not in its rush); -1: every_hours after
                                          # the newest backup, whatever the hour
    keep = 7

    [history]                             # the store's closed business on the hub
    keep_days = 35                        # closed checks, their orders, tickets, payments,
                                          # print jobs, calls go once this old and in the
                                          # cloud (never without a bridge); 0: kept for ever

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

    [devices]                             # written by provisioning for `tablehub doctor`;
    expected = ["printer-grill-1"]        # the hub itself ignores it

    [doctor]                              # `tablehub doctor`'s own broker login (the hub
    username = "doctor"                   # ignores it); unset: the [broker] login
    password_file = "/etc/tablehub/secrets/mqtt-doctor"
"""

from __future__ import annotations

import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from devices.printers.config import PaperSettings, paper_problem
from hub.bus.client import BrokerConfig
from hub.domain.ratelimit import Limit
from hub.domain.tokens import manager_pin_hash_ok
from hub.errors import HubError, InvalidInput
from plumbing.files import write_atomic
from plumbing.settings import Settings, SettingsError, decode, fail, read_toml

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
ListenPort = Annotated[int, msgspec.Meta(ge=0, le=65535)]  # 0: any free port
Count = Annotated[int, msgspec.Meta(ge=0)]
AtLeastOne = Annotated[int, msgspec.Meta(ge=1)]
Seconds = Annotated[float, msgspec.Meta(ge=0)]
PerMinute = Annotated[float, msgspec.Meta(gt=0)]
Timeout = Annotated[float, msgspec.Meta(gt=0, le=3600)]


class ConfigInvalid(InvalidInput):
    """hub.toml cannot be used; `message` is the one line to show (file, key, what is
    allowed)."""

    code = "invalid_config"


@dataclass(frozen=True, slots=True)
class PrinterConfig:
    """One ESC/POS printer. `chits`: 'always' prints every ticket of its stations,
    'fallback' only while the station's screen is silent, 'never' none. `paper`: width,
    escpos profile and Chinese encoding, the keys a remote agent's file has too."""

    id: str
    address: str = ""  # tcp://host:9100, usb://04b8:0202, serial:///dev/ttyUSB0; "" = remote agent
    stations: tuple[str, ...] = ()
    chits: str = "always"
    bills: bool = False
    backup: str | None = None
    backup_after_s: int = 30
    lang: str = "en"
    paper: PaperSettings = field(default_factory=PaperSettings)

    @property
    def encoding(self) -> str:
        """codepage (the printer's own Chinese font) or raster (CJK text as an image)."""
        return self.paper.mode

    @property
    def width(self) -> int:
        return self.paper.width


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
class HttpLimits:
    """What one HTTP client may hold and how long the hub waits on it: connections per peer
    address and in all (0: derived from the open-file limit at start), the request head of a
    new connection, a request's body, and a kept-alive connection between requests."""

    connections_per_address: int = 64
    max_connections: int = 0
    header_timeout_s: float = 5.0
    body_timeout_s: float = 10.0
    idle_timeout_s: float = 30.0


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


DEFAULT_VOID_REASONS = ("Guest changed mind", "Wrong item", "Took too long", "Quality")


@dataclass(frozen=True, slots=True)
class ShiftConfig:
    """Corrections on the floor: the reasons offered for a void (free text is allowed too),
    the manager PIN's hash (None: only an admin login comps) and when the business day
    starts (hours after local midnight), which the corrections report counts by."""

    void_reasons: tuple[str, ...] = DEFAULT_VOID_REASONS
    manager_pin_hash: str | None = None
    day_starts_at_hour: int = 4


@dataclass(frozen=True, slots=True)
class BookingConfig:
    """Reservations and the waitlist: how long a guest's personal data is kept after the
    visit, a table's turn until one is learned, and how long before a booking its
    pre-ordered dishes fire."""

    forget_after_days: int = 30
    default_turn_minutes: int = 75
    preorder_lead_minutes: int = 20


@dataclass(frozen=True, slots=True)
class StationPacing:
    """A station's capacity and load limit: `cooks` tickets at once; past `wait_limit_s` of
    projected wait (0: no limit) diners are told, and with `pause` its items are paused until
    the wait falls under the limit again; `show_held`: its screens show held courses greyed."""

    cooks: int = 1
    wait_limit_s: int = 0
    pause: bool = False
    show_held: bool = False
    pause_message: str = ""  # what diners read while its items are paused ("" the default)


@dataclass(frozen=True, slots=True)
class PacingConfig:
    """Courses and quoted waits: when a held course fires by itself (`auto_fire`: ready,
    served or manual; and `fire_after_s` after the previous course fired, 0: never), whether
    a fired course is paced, and each station's `StationPacing`."""

    auto_fire: str = "ready"
    fire_after_s: int = 0
    pace: bool = True
    flag_after_s: int = 600  # a table waiting this long for its next course is flagged
    slack_s: int = 60  # a paced ticket starts this much early (a busy cook still makes it)
    stations: Mapping[str, StationPacing] = field(default_factory=dict)

    def station(self, station_id: str) -> StationPacing:
        return self.stations.get(station_id, _DEFAULT_STATION)


_DEFAULT_STATION = StationPacing()


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
    serve_ready_after_s: int = 3600  # an order ready this long is served by the hub; 0: never
    ack_timeout_s: float = 10.0
    limits: Limits = field(default_factory=Limits)
    tables_require_open: bool = False  # staff open a table before it can order
    tables_require_pin: bool = False  # orders carry the PIN shown to the seated party
    tls_cert: Path | None = None  # serve HTTPS with this certificate chain and key
    tls_key: Path | None = None
    http_limits: HttpLimits = field(default_factory=HttpLimits)
    bridge: CloudLinkConfig | None = None  # None: no cloud bridge on this box
    backup_every_s: float = 24 * 3600.0  # online backups of the store; 0 turns them off
    backup_at_hour: int | None = 4  # local hour they start at; None: every_s after the newest
    backup_keep: int = 7
    history_keep_days: float = 35.0  # closed business the cloud has goes once this old; 0: never
    shift: ShiftConfig = field(default_factory=ShiftConfig)
    booking: BookingConfig = field(default_factory=BookingConfig)
    pacing: PacingConfig = field(default_factory=PacingConfig)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "tablehub.db"


# ---------------------------------------------------------------- the file's schema


class StoreSection(Settings, frozen=True, kw_only=True):
    data_dir: str
    menu_file: str | None = None
    public_url: str = ""
    timezone: str | None = None


class HttpSection(Settings, frozen=True, kw_only=True):
    host: str = "127.0.0.1"
    port: ListenPort = 8080
    tls_cert: str | None = None
    tls_key: str | None = None
    connections_per_address: AtLeastOne = 64
    max_connections: Count = 0
    header_timeout_seconds: Timeout = 5.0
    body_timeout_seconds: Timeout = 10.0
    idle_timeout_seconds: Timeout = 30.0


class BrokerSection(Settings, frozen=True, kw_only=True):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: Port = 1883
    username: str | None = None
    password: str | None = None
    password_file: str | None = None  # wins over password
    client_id: str = "tablehub-hub"
    replay_after_reconnect_s: Seconds = 15.0
    # a folder of mqtt-<device> password files: the device agents running inside the hub
    # log in as their own device (a broker that ties each login to one client id would
    # otherwise let them and the hub kick each other off); unset: as the hub
    agent_password_dir: str | None = None


class PrinterSection(PaperSettings, frozen=True, kw_only=True):
    id: str
    address: str = ""
    stations: tuple[str, ...] = ()
    chits: Literal["always", "fallback", "never"] = "always"
    bills: bool = False
    backup: str | None = None
    backup_after_seconds: Count = 30
    lang: str = "en"


class ScaleSection(Settings, frozen=True, kw_only=True):
    id: str
    port: str
    protocol: str = "auto"
    stable_hold_ms: Count = 1500


class Tax(Settings, frozen=True, kw_only=True):
    name: str
    percent: Annotated[float, msgspec.Meta(ge=0)]


class BillSection(Settings, frozen=True, kw_only=True):
    header: tuple[str, ...] = ()
    footer: tuple[str, ...] = ("Thank you!",)
    taxes: tuple[Tax, ...] = ()


class KitchenSection(Settings, frozen=True, kw_only=True):
    screen_silent_after_seconds: Count = 30
    serve_ready_after_minutes: Count = 60


class LimitsSection(Settings, frozen=True, kw_only=True):
    enabled: bool = True
    orders_per_minute: PerMinute = 6.0
    orders_burst: AtLeastOne = 6
    calls_per_minute: PerMinute = 4.0
    calls_burst: AtLeastOne = 4
    client_per_minute: PerMinute = 60.0
    client_burst: AtLeastOne = 30
    orders_in_flight: AtLeastOne = 256


class TablesSection(Settings, frozen=True, kw_only=True):
    require_open: bool = False
    require_pin: bool = False


class FloorSection(Settings, frozen=True, kw_only=True):
    escalate_after_seconds: Count = 120


class ShiftSection(Settings, frozen=True, kw_only=True):
    void_reasons: tuple[Annotated[str, msgspec.Meta(min_length=1, max_length=140)], ...] = (
        DEFAULT_VOID_REASONS
    )
    manager_pin_hash: str | None = None
    day_starts_at_hour: Annotated[int, msgspec.Meta(ge=0, le=12)] = 4


class BookingSection(Settings, frozen=True, kw_only=True):
    forget_after_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 30
    default_turn_minutes: Annotated[int, msgspec.Meta(ge=15, le=300)] = 75
    preorder_lead_minutes: Annotated[int, msgspec.Meta(ge=0, le=240)] = 20


class PacingSection(Settings, frozen=True, kw_only=True):
    auto_fire: Literal["ready", "served", "manual"] = "ready"
    fire_after_seconds: Annotated[int, msgspec.Meta(ge=0, le=4 * 3600)] = 0
    pace: bool = True
    flag_after_seconds: Annotated[int, msgspec.Meta(ge=0, le=4 * 3600)] = 600
    slack_seconds: Annotated[int, msgspec.Meta(ge=0, le=1800)] = 60


class StationSection(Settings, frozen=True, kw_only=True):
    cooks: Annotated[int, msgspec.Meta(ge=1, le=50)] = 1
    wait_limit_seconds: Annotated[int, msgspec.Meta(ge=0, le=6 * 3600)] = 0
    pause_over_limit: bool = False
    show_held: bool = False
    pause_message: Annotated[str, msgspec.Meta(max_length=200)] = ""


class BackupsSection(Settings, frozen=True, kw_only=True):
    every_hours: Seconds = 24.0
    at_hour: Annotated[int, msgspec.Meta(ge=-1, le=23)] = 4
    keep: Count = 7


class HistorySection(Settings, frozen=True, kw_only=True):
    keep_days: Annotated[float, msgspec.Meta(ge=0, le=36500)] = 35.0


class LogSection(Settings, frozen=True, kw_only=True):
    level: Literal["debug", "info", "warning", "error"] = "info"


class BridgeSection(Settings, frozen=True, kw_only=True):
    state_db: str | None = None  # default: the state_db of a bridge.toml beside hub.toml
    retention_hours: Seconds | None = None
    prune_every_seconds: Annotated[float, msgspec.Meta(ge=1)] = 3600.0
    prune_chunk_rows: AtLeastOne = 5000
    health_every_seconds: Annotated[float, msgspec.Meta(ge=0.1)] = 5.0
    stale_after_seconds: Annotated[float, msgspec.Meta(ge=1)] = 300.0


class DevicesSection(Settings, frozen=True, kw_only=True):
    """What `tablehub doctor` expects online (written by provisioning); the hub ignores it."""

    expected: tuple[str, ...] = ()


class DoctorSection(Settings, frozen=True, kw_only=True):
    """`tablehub doctor`'s own broker login (written by provisioning); the hub ignores it."""

    username: str | None = None
    password_file: str | None = None
    backup_max_age_hours: Annotated[float, msgspec.Meta(gt=0)] = 26.0
    bridge_behind_limit_s: Annotated[float, msgspec.Meta(gt=0)] = 600.0


class HubFile(Settings, frozen=True, kw_only=True):
    """hub.toml as written: every section and key the hub reads."""

    store: StoreSection
    http: HttpSection = msgspec.field(default_factory=HttpSection)
    broker: BrokerSection = msgspec.field(default_factory=BrokerSection)
    printers: tuple[PrinterSection, ...] = ()
    scales: tuple[ScaleSection, ...] = ()
    bill: BillSection = msgspec.field(default_factory=BillSection)
    kitchen: KitchenSection = msgspec.field(default_factory=KitchenSection)
    limits: LimitsSection = msgspec.field(default_factory=LimitsSection)
    tables: TablesSection = msgspec.field(default_factory=TablesSection)
    floor: FloorSection = msgspec.field(default_factory=FloorSection)
    shift: ShiftSection = msgspec.field(default_factory=ShiftSection)
    booking: BookingSection = msgspec.field(default_factory=BookingSection)
    backups: BackupsSection = msgspec.field(default_factory=BackupsSection)
    history: HistorySection = msgspec.field(default_factory=HistorySection)
    log: LogSection = msgspec.field(default_factory=LogSection)
    bridge: BridgeSection | None = None
    devices: DevicesSection = msgspec.field(default_factory=DevicesSection)
    doctor: DoctorSection = msgspec.field(default_factory=DoctorSection)
    pacing: PacingSection = msgspec.field(default_factory=PacingSection)
    stations: dict[str, StationSection] = msgspec.field(default_factory=dict)


# ---------------------------------------------------------------- reading


def read_secret_file(path: Path) -> str:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidInput(
            f"{path} must not be readable by others (chmod 600)", field="password_file"
        )
    return path.read_text("utf-8").strip()


def load_config(path: Path) -> HubConfig:
    """hub.toml as a `HubConfig`; anything wrong is a `ConfigInvalid` of one line."""
    try:
        raw = decode(read_toml(path), HubFile, file=str(path))
        return _config(raw, path)
    except SettingsError as exc:  # one line for a person; no traceback
        raise ConfigInvalid(str(exc), field=".".join(map(str, exc.path)) or "config") from None


def _config(raw: HubFile, path: Path) -> HubConfig:
    store, http = raw.store, raw.http
    if store.timezone is not None:
        try:
            ZoneInfo(store.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            fail(path, ("store", "timezone"), f"unknown timezone '{store.timezone}'")
    if 0 < raw.history.keep_days < 1:
        fail(path, ("history", "keep_days"), "must be 0 (keep for ever) or at least 1 day")
    return HubConfig(
        data_dir=Path(store.data_dir),
        http_host=http.host,
        http_port=http.port,
        public_url=store.public_url,
        menu_file=Path(store.menu_file) if store.menu_file is not None else None,
        broker=_broker(raw.broker, path),
        log_level=raw.log.level,
        escalate_after_s=raw.floor.escalate_after_seconds,
        backup_every_s=raw.backups.every_hours * 3600.0,
        backup_at_hour=raw.backups.at_hour if raw.backups.at_hour >= 0 else None,
        backup_keep=raw.backups.keep,
        history_keep_days=raw.history.keep_days,
        printers=tuple(_printer(p, i, path) for i, p in enumerate(raw.printers)),
        bill=_bill(raw.bill),
        scales=tuple(
            ScaleConfig(id=s.id, port=s.port, protocol=s.protocol, stable_hold_ms=s.stable_hold_ms)
            for s in raw.scales
        ),
        timezone=store.timezone,
        kds_silent_after_s=raw.kitchen.screen_silent_after_seconds,
        serve_ready_after_s=raw.kitchen.serve_ready_after_minutes * 60,
        limits=_limits(raw.limits),
        tls_cert=Path(http.tls_cert) if http.tls_cert is not None else None,
        tls_key=Path(http.tls_key) if http.tls_key is not None else None,
        http_limits=HttpLimits(
            connections_per_address=http.connections_per_address,
            max_connections=http.max_connections,
            header_timeout_s=http.header_timeout_seconds,
            body_timeout_s=http.body_timeout_seconds,
            idle_timeout_s=http.idle_timeout_seconds,
        ),
        tables_require_open=raw.tables.require_open,
        tables_require_pin=raw.tables.require_pin,
        bridge=_bridge(raw.bridge or BridgeSection(), path),
        shift=_shift(raw.shift, path),
        booking=BookingConfig(
            forget_after_days=raw.booking.forget_after_days,
            default_turn_minutes=raw.booking.default_turn_minutes,
            preorder_lead_minutes=raw.booking.preorder_lead_minutes,
        ),
        pacing=PacingConfig(
            auto_fire=raw.pacing.auto_fire,
            fire_after_s=raw.pacing.fire_after_seconds,
            pace=raw.pacing.pace,
            flag_after_s=raw.pacing.flag_after_seconds,
            slack_s=raw.pacing.slack_seconds,
            stations={
                sid: StationPacing(
                    cooks=st.cooks,
                    wait_limit_s=st.wait_limit_seconds,
                    pause=st.pause_over_limit,
                    show_held=st.show_held,
                    pause_message=" ".join(st.pause_message.split()),
                )
                for sid, st in raw.stations.items()
            },
        ),
    )


def _shift(raw: ShiftSection, path: Path) -> ShiftConfig:
    pin_hash = raw.manager_pin_hash
    if pin_hash is not None and not manager_pin_hash_ok(pin_hash):
        fail(path, ("shift", "manager_pin_hash"), "not a hash made by `tablehub manager-pin`")
    return ShiftConfig(
        void_reasons=raw.void_reasons,
        manager_pin_hash=pin_hash,
        day_starts_at_hour=raw.day_starts_at_hour,
    )


def _broker(raw: BrokerSection, path: Path) -> BrokerConfig | None:
    if not raw.enabled:
        return None
    password = raw.password
    if raw.password_file is not None:
        try:
            password = read_secret_file(Path(raw.password_file))
        except InvalidInput as exc:
            fail(path, ("broker", "password_file"), exc.message)
        except OSError as exc:
            fail(path, ("broker", "password_file"), f"cannot read: {exc.strerror or exc}")
    return BrokerConfig(
        host=raw.host,
        port=raw.port,
        username=raw.username,
        password=password,
        client_id=raw.client_id,
        replay_s=raw.replay_after_reconnect_s,
        agent_password_dir=(
            Path(raw.agent_password_dir) if raw.agent_password_dir is not None else None
        ),
    )


def _bridge(raw: BridgeSection, path: Path) -> CloudLinkConfig | None:
    """The [bridge] section; without `state_db`, the one of a bridge.toml beside the hub's
    config (the file `tablehub bridge --config` reads), resolved the way the bridge does."""
    state_db = Path(raw.state_db) if raw.state_db is not None else None
    if state_db is None:
        state_db = _bridge_toml_state_db(path.parent / "bridge.toml")
    if state_db is None:
        return None
    return CloudLinkConfig(
        state_db=state_db,
        retention_hours=raw.retention_hours,
        prune_every_s=raw.prune_every_seconds,
        prune_chunk_rows=raw.prune_chunk_rows,
        health_every_s=raw.health_every_seconds,
        stale_after_s=raw.stale_after_seconds,
    )


def _bridge_toml_state_db(path: Path) -> Path | None:
    # only the one key the hub needs: the rest of bridge.toml is the bridge's to judge
    if not path.exists():
        return None
    section = read_toml(path).get("bridge")
    value = section.get("state_db") if isinstance(section, dict) else None
    return path.parent / value if isinstance(value, str) else None


def _limits(raw: LimitsSection) -> Limits:
    return Limits(
        orders_in_flight=raw.orders_in_flight,
        enabled=raw.enabled,
        orders=Limit(burst=raw.orders_burst, per_minute=raw.orders_per_minute),
        calls=Limit(burst=raw.calls_burst, per_minute=raw.calls_per_minute),
        client=Limit(burst=raw.client_burst, per_minute=raw.client_per_minute),
    )


def _printer(raw: PrinterSection, i: int, path: Path) -> PrinterConfig:
    paper = PaperSettings(
        width=raw.width,
        profile=raw.profile,
        encoding=raw.encoding,
        encoding_mode=raw.encoding_mode,
        cjk_encoding=raw.cjk_encoding,
        cjk_font=raw.cjk_font,
        timezone=raw.timezone,
    )
    if raw.address:  # its agent runs in this process: an unknown profile stops the start here
        _check_paper(paper, path, ("printers", i))
    return PrinterConfig(
        id=raw.id,
        address=raw.address,
        stations=raw.stations,
        chits=raw.chits,
        bills=raw.bills,
        backup=raw.backup,
        backup_after_s=raw.backup_after_seconds,
        lang=raw.lang,
        paper=paper,
    )


def _check_paper(paper: PaperSettings, path: Path, where: tuple[str, int]) -> None:
    problem = paper_problem(paper)
    if problem is not None:
        fail(path, (*where, problem[0]), problem[1])


def _bill(raw: BillSection) -> BillConfig:
    taxes = tuple((t.name, int(Decimal(str(t.percent)) * 10_000)) for t in raw.taxes)
    return BillConfig(header=raw.header, footer=raw.footer, taxes=taxes)


SECRET_BYTES = 32  # HMAC-SHA256 keys shorter than its output make every table token weaker
SECRET_FILE = "secret.key"  # noqa: S105 (a file name, not a secret)


class SecretKeyInvalid(HubError):
    """secret.key cannot sign table tokens (too short, not hex, unreadable); `message` is the
    one line to show: the file, what is wrong, and how to make a new key."""

    code = "invalid_secret_key"


def load_or_create_secret(data_dir: Path) -> bytes:
    """The store's signing secret (table QR tokens): made on first run (written atomically,
    mode 0600), refused when shorter than `SECRET_BYTES` or unreadable (`SecretKeyInvalid`)."""
    path = data_dir / SECRET_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # a power cut leaves no key or the whole key, never an empty one
        write_atomic(path, secrets.token_hex(SECRET_BYTES).encode("ascii"), mode=0o600)
    try:
        key = bytes.fromhex(path.read_bytes().decode("ascii").strip())
    except OSError as exc:
        raise _bad_secret(path, f"cannot be read ({exc.strerror or exc})") from None
    except ValueError:  # not ASCII, or not hex digits
        raise _bad_secret(path, "is not a hex key") from None
    if len(key) < SECRET_BYTES:
        raise _bad_secret(path, f"holds a {len(key)}-byte key (at least {SECRET_BYTES} needed)")
    return key


def _bad_secret(path: Path, problem: str) -> SecretKeyInvalid:
    return SecretKeyInvalid(
        f"{path} {problem}; to make a new key, move the file away and start the hub again, "
        "then reprint every table's QR code (`tablehub tables`): codes printed with the old "
        "key stop working",
        field=SECRET_FILE,
    )
