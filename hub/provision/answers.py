"""The answers file: what a technician knows about one store, read once into frozen dataclasses.

Pure: no IO but `load_answers` reading the file. Every problem raises `AnswersInvalid`, whose
`field` is a path into the file (``printers[1].address``) and whose message starts with it.

```toml
[store]
id = "harbour"                      # topic segment and menu store id
name = "Golden Lantern, Harbour St"

[tables]
count = 12                          # T1..T12 named "Table 1".. — or:
# names = ["Window", "Patio 1", {id = "B1", name = "Bar 1"}]   # a text gets id T<position>

[kitchen]
stations = ["grill", "wok"]         # optional: default every station of the menu

[http]
port = 8080
public_url = "http://192.168.1.10:8080"   # what the QR codes point at
host = "0.0.0.0"                    # optional: the address the hub listens on

[broker]                            # optional
lan_host = "192.168.1.10"           # what ESP32 boards connect to (default: public_url's host)
lan_port = 1884                     # the LAN listener (the hub itself uses 127.0.0.1:<port>)
port = 1883                         # the loopback listener of the hub and the box's agents
lan_bind = "0.0.0.0"                # the address the LAN listener binds

[[printers]]
id = "grill-1"
address = "tcp://192.168.1.50:9100" # or usb://04b8:0202, serial:///dev/ttyUSB0?baud=9600
stations = ["grill"]
chits = "always"                    # always | fallback | never
backup = "wok-1"
bills = false
remote = false                      # true: its agent runs on another board (see below)
profile = "TM-T88V"                 # optional: python-escpos profile of the printer
width = 42                          # optional: characters a line, 42 (80 mm) or 32 (58 mm)
encoding = "big5"                   # optional: Chinese as gb18030 | big5 (the printer's
                                    # own font) | raster (drawn as an image)

[[scales]]
id = "deli-1"
port = "/dev/ttyUSB0"               # or socket://10.0.0.20:4001
protocol = "auto"
remote = false

[[buttons.gpio]]                    # buttons wired to the Pi (board device "buttons-gpio")
pin = 17
table = "T4"
kind = "waiter"                     # waiter | bill | water
[[buttons.gpio]]
pin = 22
station = "grill"
action = "bump"                     # bump | recall | next | prev

[[buttons.esp32]]                   # ESPHome boards (firmware_configs/esphome/)
id = "table-button-T1"
kind = "table-button"               # or bump-bar (with station = "...")
table = "T1"
substitutions = { led_pin = "GPIO17" }   # optional: the template's pins, debounce

[wifi]                              # required with ESP32 boards
ssid = "store-wifi"
password = "..."

[cloud]                             # optional
url = "https://cloud.example.com"
token = "..."

[hub.bill]                          # optional: [hub.<section>] is copied into hub.toml as
taxes = [{name = "Tax", percent = 8.875}]   # [<section>]: bill, kitchen, floor, limits,
                                    # tables, log
```

Printer and scale agents run inside the hub (`hub/consumers/agents.py`), each logged in as its
own device (the broker ties every login to one client id, so no two processes share one). A
`remote` one runs on another board with the same login (agents/<device>.toml, LAN listener);
the Pi's GPIO buttons run as `tablehub-agent@buttons-gpio`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn
from urllib.parse import urlsplit

import msgspec

from devices.printers.config import PaperSettings, paper_problem
from hub.bus import contract
from hub.config import (
    BillSection,
    FloorSection,
    KitchenSection,
    LimitsSection,
    LogSection,
    TablesSection,
)
from hub.errors import InvalidInput
from plumbing.settings import (
    Settings,
    SettingsError,
    decode,
    dotted,
    read_toml,
    steps,
    suggest,
)

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")
PIN_RE = re.compile(r"^(GPIO|BOARD)\d{1,2}$")
USB_RE = re.compile(r"^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$")
CALL_KINDS = ("waiter", "bill", "water")
BUMP_ACTIONS = ("bump", "recall", "next", "prev")
CHITS = ("always", "fallback", "never")
ESP32_KINDS = ("table-button", "bump-bar")
HUB_SECTIONS = ("bill", "kitchen", "floor", "limits", "tables", "log")
RESERVED_SUBSTITUTIONS = ("store", "table", "station", "node", "device")
HUB_USER = "hub"
DOCTOR_USER = "doctor"  # `tablehub doctor`: reads statuses, publishes nothing
TOP_LEVEL = (
    "store",
    "tables",
    "kitchen",
    "http",
    "broker",
    "printers",
    "scales",
    "buttons",
    "wifi",
    "cloud",
    "hub",
)
GPIO_BOARD = "gpio"  # the Pi's own button board: device "buttons-gpio"


class AnswersInvalid(InvalidInput):
    """An answers file that cannot make a working store; `field` says where."""

    code = "invalid_answers"

    def __init__(
        self, field: str, problem: str, *, line: str | None = None, table: bool = False
    ) -> None:
        super().__init__(line or f"{field}: {problem}", field=field)
        self.problem = problem
        self.table = table  # `field` names a whole section


def _fail(path: str, problem: str) -> NoReturn:
    raise AnswersInvalid(path, problem)


@dataclass(frozen=True, slots=True)
class Table:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Printer:
    id: str
    address: str
    stations: tuple[str, ...] = ()
    chits: str = "always"
    backup: str | None = None
    bills: bool = False
    remote: bool = False  # its agent runs on another board, not inside the hub
    # the paper keys its agent reads (devices.printers.config); () = the agent's defaults
    paper: tuple[tuple[str, str | int], ...] = ()

    @property
    def device(self) -> str:
        return f"printer-{self.id}"


@dataclass(frozen=True, slots=True)
class Scale:
    id: str
    port: str
    protocol: str = "auto"
    remote: bool = False  # its agent runs on another board, not inside the hub

    @property
    def device(self) -> str:
        return f"scale-{self.id}"


@dataclass(frozen=True, slots=True)
class GpioCall:
    pin: int | str
    table: str
    kind: str


@dataclass(frozen=True, slots=True)
class GpioBump:
    pin: int | str
    station: str
    action: str


@dataclass(frozen=True, slots=True)
class Esp32:
    id: str
    kind: Literal["table-button", "bump-bar"]
    target: str  # the table (table-button) or station (bump-bar)
    substitutions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Cloud:
    url: str
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Wifi:
    ssid: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Answers:
    store_id: str
    store_name: str
    tables: tuple[Table, ...]
    public_url: str
    http_port: int = 8080
    stations: tuple[str, ...] = ()  # empty: every station of the menu
    printers: tuple[Printer, ...] = ()
    scales: tuple[Scale, ...] = ()
    gpio_calls: tuple[GpioCall, ...] = ()
    gpio_bumps: tuple[GpioBump, ...] = ()
    esp32: tuple[Esp32, ...] = ()
    wifi: Wifi | None = None
    cloud: Cloud | None = None
    lan_host: str = ""
    lan_port: int = 1884
    http_host: str = "0.0.0.0"  # noqa: S104 - phones on the store Wi-Fi
    mqtt_port: int = 1883  # the broker's loopback listener
    lan_bind: str = "0.0.0.0"  # noqa: S104 - the address the LAN listener binds
    hub_sections: tuple[tuple[str, Mapping[str, Any]], ...] = ()

    @property
    def gpio_device(self) -> str | None:
        return f"buttons-{GPIO_BOARD}" if self.gpio_calls or self.gpio_bumps else None

    def device_ids(self) -> tuple[str, ...]:
        """Every device that logs in to the broker, in a stable order (not the hub)."""
        ids = [p.device for p in self.printers] + [s.device for s in self.scales]
        if self.gpio_device:
            ids.append(self.gpio_device)
        return (*ids, *(e.id for e in self.esp32))


# ---------------------------------------------------------------- the file's shape
# Keys and types only: decoded first, so a misspelt key or a wrong type is refused with a
# suggestion; the rules between keys (ids, addresses, which table a button names) follow.


class StoreShape(Settings, frozen=True, kw_only=True):
    id: str
    name: str


class TableName(Settings, frozen=True, kw_only=True):
    id: str
    name: str | None = None


class TablesShape(Settings, frozen=True, kw_only=True):
    count: int | None = None
    names: tuple[str | TableName, ...] | None = None


class KitchenShape(Settings, frozen=True, kw_only=True):
    stations: tuple[str, ...] = ()


class HttpShape(Settings, frozen=True, kw_only=True):
    port: int = 8080
    public_url: str
    host: str = "0.0.0.0"  # noqa: S104 - phones on the store Wi-Fi


class BrokerShape(Settings, frozen=True, kw_only=True):
    lan_host: str | None = None
    lan_port: int = 1884
    port: int = 1883
    lan_bind: str = "0.0.0.0"  # noqa: S104 - boards on the store's LAN


class PrinterShape(Settings, frozen=True, kw_only=True):
    id: str
    address: str
    stations: tuple[str, ...] = ()
    chits: Literal["always", "fallback", "never"] = "always"
    backup: str | None = None
    bills: bool = False
    remote: bool = False
    profile: str | None = None
    width: int | None = None
    encoding: Literal["gb18030", "big5", "raster", "codepage"] | None = None


class ScaleShape(Settings, frozen=True, kw_only=True):
    id: str
    port: str
    protocol: str = "auto"
    remote: bool = False


class GpioShape(Settings, frozen=True, kw_only=True):
    pin: int | str
    table: str | None = None  # a call button: table + kind
    kind: Literal["waiter", "bill", "water"] | None = None
    station: str | None = None  # a bump key: station + action
    action: Literal["bump", "recall", "next", "prev"] | None = None


class Esp32Shape(Settings, frozen=True, kw_only=True):
    id: str
    kind: Literal["table-button", "bump-bar"]
    table: str | None = None
    station: str | None = None
    substitutions: dict[str, str | int] = msgspec.field(default_factory=dict)


class ButtonsShape(Settings, frozen=True, kw_only=True):
    gpio: tuple[GpioShape, ...] = ()
    esp32: tuple[Esp32Shape, ...] = ()


class WifiShape(Settings, frozen=True, kw_only=True):
    ssid: str
    password: str = ""


class CloudShape(Settings, frozen=True, kw_only=True):
    url: str
    token: str


class HubShape(Settings, frozen=True, kw_only=True):
    """Sections copied into hub.toml, checked with hub.toml's own schema."""

    bill: BillSection | None = None
    kitchen: KitchenSection | None = None
    floor: FloorSection | None = None
    limits: LimitsSection | None = None
    tables: TablesSection | None = None
    log: LogSection | None = None


class AnswersShape(Settings, frozen=True, kw_only=True):
    store: StoreShape
    tables: TablesShape
    kitchen: KitchenShape | None = None
    http: HttpShape
    broker: BrokerShape | None = None
    printers: tuple[PrinterShape, ...] = ()
    scales: tuple[ScaleShape, ...] = ()
    buttons: ButtonsShape | None = None
    wifi: WifiShape | None = None
    cloud: CloudShape | None = None
    hub: HubShape | None = None


# ---------------------------------------------------------------- reading


Overrides = Mapping[str, Mapping[str, Any]]  # section -> key -> value, over the file's


def with_overrides(doc: Mapping[str, Any], overrides: Overrides | None) -> dict[str, Any]:
    """`doc` with the given keys of its sections replaced (command-line flags win)."""
    out = dict(doc)
    for section, values in (overrides or {}).items():
        base = out.get(section, {})
        if not isinstance(base, Mapping):
            _fail(section, "must be a table")
        out[section] = {**base, **values}
    return out


def load_answers(path: Path, overrides: Overrides | None = None) -> Answers:
    """The answers in `path`, with `overrides` applied; any problem is an `AnswersInvalid`
    whose message is one line naming the file and the key (`answers.toml: [printers[0]]
    chits: must be one of ...`)."""
    try:
        doc = read_toml(path)
    except SettingsError as exc:
        raise AnswersInvalid("answers", exc.problem, line=str(exc)) from None
    try:
        return parse_answers(with_overrides(doc, overrides))
    except AnswersInvalid as exc:
        where = steps(exc.field or "")
        line = str(SettingsError(str(path), where, exc.problem, table=exc.table))
        raise AnswersInvalid(exc.field or "answers", exc.problem, line=line) from None


def parse_answers(doc: Mapping[str, Any]) -> Answers:
    try:
        decode(doc, AnswersShape, file="answers")
    except SettingsError as exc:
        raise AnswersInvalid(dotted(exc.path), exc.problem, table=exc.table) from None
    _known(doc, "", TOP_LEVEL)
    store = _table(doc, "store", required=True)
    _known(store, "store", ("id", "name"))
    store_id = _ident(store.get("id"), "store.id")
    name = _text(store.get("name"), "store.name", 80)
    tables = _tables(_table(doc, "tables", required=True))
    kitchen = _table(doc, "kitchen")
    _known(kitchen, "kitchen", ("stations",))
    stations = _ids(kitchen.get("stations", []), "kitchen.stations")
    if "expo" in stations:
        _fail(f"kitchen.stations[{stations.index('expo')}]", "'expo' is reserved")
    http = _table(doc, "http", required=True)
    _known(http, "http", ("port", "public_url", "host"))
    port = _port(http.get("port", 8080), "http.port")
    public_url = _url(http.get("public_url"), "http.public_url")
    http_host = _text(http.get("host", "0.0.0.0"), "http.host", 253)  # noqa: S104
    printers = _printers(doc.get("printers", []), stations)
    scales = _scales(doc.get("scales", []))
    buttons = _table(doc, "buttons")
    _known(buttons, "buttons", ("gpio", "esp32"))
    table_ids = {t.id for t in tables}
    calls, bumps = _gpio(buttons.get("gpio", []), table_ids, stations)
    esp32 = _esp32(buttons.get("esp32", []), table_ids, stations)
    broker = _broker(_table(doc, "broker"), public_url, esp32=bool(esp32))
    wifi = _wifi(doc)
    if esp32 and wifi is None:
        _fail("wifi.ssid", "ESP32 boards need the store's Wi-Fi ([wifi] ssid, password)")
    answers = Answers(
        store_id=store_id,
        store_name=name,
        tables=tables,
        public_url=public_url,
        http_port=port,
        stations=stations,
        printers=printers,
        scales=scales,
        gpio_calls=calls,
        gpio_bumps=bumps,
        esp32=esp32,
        wifi=wifi,
        cloud=_cloud(doc),
        http_host=http_host,
        **broker,
        hub_sections=_hub_sections(doc),
    )
    _unique_devices(answers)
    return answers


def _broker(broker: Mapping[str, Any], public_url: str, *, esp32: bool) -> dict[str, Any]:
    _known(broker, "broker", ("lan_host", "lan_port", "port", "lan_bind"))
    lan_host = _text(broker.get("lan_host", urlsplit(public_url).hostname), "broker.lan_host", 253)
    lan_port = _port(broker.get("lan_port", 1884), "broker.lan_port")
    mqtt_port = _port(broker.get("port", 1883), "broker.port")
    if lan_port == mqtt_port:
        _fail(
            "broker.lan_port",
            f"{lan_port} is the loopback listener of the hub (broker.port); use another",
        )
    if esp32 and _is_loopback(lan_host):
        _fail(
            "broker.lan_host", f"ESP32 boards cannot reach {lan_host}; give the hub's LAN address"
        )
    lan_bind = _text(broker.get("lan_bind", "0.0.0.0"), "broker.lan_bind", 253)  # noqa: S104
    return {
        "lan_host": lan_host,
        "lan_port": lan_port,
        "mqtt_port": mqtt_port,
        "lan_bind": lan_bind,
    }


def answers_from_flags(
    *,
    store_id: str,
    store_name: str,
    tables: int,
    public_url: str,
    stations: tuple[str, ...] = (),
    cloud_url: str | None = None,
    cloud_token: str | None = None,
    overrides: Overrides | None = None,
) -> Answers:
    """The common case without a file: a store, N tables, maybe the cloud."""
    doc: dict[str, Any] = {
        "store": {"id": store_id, "name": store_name},
        "tables": {"count": tables},
        "http": {"public_url": public_url},
    }
    if stations:
        doc["kitchen"] = {"stations": list(stations)}
    if cloud_url or cloud_token:
        doc["cloud"] = {"url": cloud_url, "token": cloud_token}
    return parse_answers(with_overrides(doc, overrides))


# ---------------------------------------------------------------- pieces


def _known(doc: Mapping[str, Any], path: str, keys: tuple[str, ...]) -> None:
    for key in doc:
        if key not in keys:
            where = f"{path}.{key}" if path else key
            _fail(where, f"unknown key here (known: {', '.join(keys)}){suggest(key, keys)}")


def _table(doc: Mapping[str, Any], key: str, *, required: bool = False) -> Mapping[str, Any]:
    value = doc.get(key)
    if value is None:
        if required:
            _fail(key, "is required")
        return {}
    if not isinstance(value, Mapping):
        _fail(key, "must be a table")
    return value


def _entries(raw: Any, path: str) -> list[Mapping[str, Any]]:
    if not isinstance(raw, list) or not all(isinstance(e, Mapping) for e in raw):
        _fail(path, f"must be a list of tables ([[{path}]])")
    return raw


def _ident(value: Any, path: str) -> str:
    if value is None:
        _fail(path, "is required")
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        _fail(path, "must be 1-48 letters, digits, '-' or '_', starting with a letter or digit")
    return value


def _ids(raw: Any, path: str) -> tuple[str, ...]:
    if not isinstance(raw, list):
        _fail(path, "must be a list")
    out = tuple(_ident(v, f"{path}[{i}]") for i, v in enumerate(raw))
    for i, v in enumerate(out):
        if v in out[:i]:
            _fail(f"{path}[{i}]", f"'{v}' is listed twice")
    return out


def _text(value: Any, path: str, limit: int) -> str:
    if value is None:
        _fail(path, "is required")
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        _fail(path, f"must be a text of 1-{limit} characters")
    return value


def _port(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        _fail(path, "must be a port number 1-65535")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(value: Any, path: str, *, https_unless_loopback: bool = False) -> str:
    text = _text(value, path, 200)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        _fail(path, "must be an http(s)://host[:port] URL")
    if parts.query or parts.fragment:
        _fail(path, "must not have a query or fragment")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        _fail(path, "has a bad port")
    if https_unless_loopback and parts.scheme == "http" and not _is_loopback(parts.hostname):
        _fail(path, "must use https (plain http only to this machine)")
    return text.rstrip("/")


def _tables(raw: Mapping[str, Any]) -> tuple[Table, ...]:
    _known(raw, "tables", ("count", "names"))
    if ("count" in raw) == ("names" in raw):
        _fail("tables", "give either count or names")
    if "count" in raw:
        n = raw["count"]
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 500:
            _fail("tables.count", "must be a whole number 1-500")
        return tuple(Table(f"T{i}", f"Table {i}") for i in range(1, n + 1))
    names = raw["names"]
    if not isinstance(names, list) or not names:
        _fail("tables.names", "must be a non-empty list")
    out: list[Table] = []
    for i, entry in enumerate(names):
        path = f"tables.names[{i}]"
        if isinstance(entry, str):
            out.append(Table(f"T{i + 1}", _text(entry, path, 40)))
        elif isinstance(entry, Mapping):
            _known(entry, path, ("id", "name"))
            tid = _ident(entry.get("id"), f"{path}.id")
            out.append(Table(tid, _text(entry.get("name", tid), f"{path}.name", 40)))
        else:
            _fail(path, 'must be a name or {id = "...", name = "..."}')
        if out[-1].id in [t.id for t in out[:-1]]:
            _fail(path, f"table id '{out[-1].id}' is used twice")
    return tuple(out)


def _address(value: Any, path: str) -> str:
    text = _text(value, path, 200)
    parts = urlsplit(text)
    ok = False
    if parts.scheme == "tcp":
        try:
            ok = bool(parts.hostname) and parts.port is not None and not parts.path
        except ValueError:
            ok = False
    elif parts.scheme == "usb":
        ok = bool(USB_RE.fullmatch(parts.netloc)) and not parts.path
    elif parts.scheme == "serial":
        ok = not parts.netloc and parts.path.startswith("/dev/")
    if not ok:
        _fail(path, "must be tcp://host:port, usb://vid:pid (hex) or serial:///dev/...")
    return text


def _flag(doc: Mapping[str, Any], key: str, path: str) -> bool:
    value = doc.get(key, False)
    if not isinstance(value, bool):
        _fail(f"{path}.{key}", "must be true or false")
    return value


def _printers(raw: Any, stations: tuple[str, ...]) -> tuple[Printer, ...]:
    out: list[Printer] = []
    for i, p in enumerate(_entries(raw, "printers")):
        path = f"printers[{i}]"
        _known(p, path, ("id", "address", "stations", "chits", "backup", "bills", "remote", *PAPER))
        pid = _ident(p.get("id"), f"{path}.id")
        if pid in [o.id for o in out]:
            _fail(f"{path}.id", f"printer '{pid}' is listed twice")
        own = _ids(p.get("stations", []), f"{path}.stations")
        for j, s in enumerate(own):
            if stations and s not in stations:
                _fail(f"{path}.stations[{j}]", f"no station '{s}' in kitchen.stations")
        chits = p.get("chits", "always")
        if chits not in CHITS:
            _fail(f"{path}.chits", f"must be one of {', '.join(CHITS)}")
        bills = _flag(p, "bills", path)
        backup = p.get("backup")
        if backup is not None:
            backup = _ident(backup, f"{path}.backup")
        address = _address(p.get("address"), f"{path}.address")
        remote = _flag(p, "remote", path)
        paper = _paper(p, path)
        out.append(Printer(pid, address, own, chits, backup, bills, remote, paper))
    ids = [o.id for o in out]
    for i, o in enumerate(out):
        if o.backup is not None and (o.backup == o.id or o.backup not in ids):
            _fail(f"printers[{i}].backup", f"'{o.backup}' is not another printer of this store")
    return tuple(out)


PAPER = ("profile", "width", "encoding")


def _paper(p: Mapping[str, Any], path: str) -> tuple[tuple[str, str | int], ...]:
    """A printer's paper keys as its agent will read them, checked the way it checks them
    (an escpos profile it does not know, paper wider than the profile prints)."""
    given = {k: p[k] for k in PAPER if k in p}
    try:
        paper = decode(given, PaperSettings, file="answers")
    except SettingsError as exc:
        raise AnswersInvalid(f"{path}.{dotted(exc.path)}", exc.problem) from None
    problem = paper_problem(paper)
    if problem is not None:
        _fail(f"{path}.{problem[0]}", problem[1])
    return tuple(given.items())


def _scales(raw: Any) -> tuple[Scale, ...]:
    out: list[Scale] = []
    for i, s in enumerate(_entries(raw, "scales")):
        path = f"scales[{i}]"
        _known(s, path, ("id", "port", "protocol", "remote"))
        sid = _ident(s.get("id"), f"{path}.id")
        if sid in [o.id for o in out]:
            _fail(f"{path}.id", f"scale '{sid}' is listed twice")
        port = _text(s.get("port"), f"{path}.port", 200)
        if not (port.startswith("/dev/") or port.startswith("socket://")):
            _fail(f"{path}.port", "must be a /dev/... path or socket://host:port")
        protocol = s.get("protocol", "auto")
        if not isinstance(protocol, str) or not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", protocol):
            _fail(f"{path}.protocol", "must be auto or a protocol name like mt-sics")
        out.append(Scale(sid, port, protocol, _flag(s, "remote", path)))
    return tuple(out)


def _pin(value: Any, path: str) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 27:
        return value
    if isinstance(value, str) and PIN_RE.fullmatch(value):
        return value
    _fail(path, 'must be a BCM number 0-27 or "GPIO17" / "BOARD11"')


def _gpio(
    raw: Any, tables: set[str], stations: tuple[str, ...]
) -> tuple[tuple[GpioCall, ...], tuple[GpioBump, ...]]:
    calls: list[GpioCall] = []
    bumps: list[GpioBump] = []
    seen: list[str] = []
    for i, b in enumerate(_entries(raw, "buttons.gpio")):
        path = f"buttons.gpio[{i}]"
        pin = _pin(b.get("pin"), f"{path}.pin")
        if str(pin) in seen:
            _fail(f"{path}.pin", f"pin {pin} is used twice")
        seen.append(str(pin))
        if "table" in b:
            _known(b, path, ("pin", "table", "kind"))
            table = _ident(b["table"], f"{path}.table")
            if table not in tables:
                _fail(f"{path}.table", f"no table '{table}' in [tables]")
            kind = b.get("kind", "waiter")
            if kind not in CALL_KINDS:
                _fail(f"{path}.kind", f"must be one of {', '.join(CALL_KINDS)}")
            calls.append(GpioCall(pin, table, kind))
        elif "station" in b:
            _known(b, path, ("pin", "station", "action"))
            station = _station(b["station"], f"{path}.station", stations)
            action = b.get("action", "bump")
            if action not in BUMP_ACTIONS:
                _fail(f"{path}.action", f"must be one of {', '.join(BUMP_ACTIONS)}")
            bumps.append(GpioBump(pin, station, action))
        else:
            _fail(path, "needs table + kind (a call button) or station + action (a bump key)")
    return tuple(calls), tuple(bumps)


def _station(value: Any, path: str, stations: tuple[str, ...]) -> str:
    station = _ident(value, path)
    if stations and station not in stations:
        _fail(path, f"no station '{station}' in kitchen.stations")
    return station


def _esp32(raw: Any, tables: set[str], stations: tuple[str, ...]) -> tuple[Esp32, ...]:
    out: list[Esp32] = []
    for i, e in enumerate(_entries(raw, "buttons.esp32")):
        path = f"buttons.esp32[{i}]"
        kind = e.get("kind")
        if kind not in ESP32_KINDS:
            _fail(f"{path}.kind", f"must be one of {', '.join(ESP32_KINDS)}")
        if kind == "table-button":
            _known(e, path, ("id", "kind", "table", "substitutions"))
            target = _ident(e.get("table"), f"{path}.table")
            if target not in tables:
                _fail(f"{path}.table", f"no table '{target}' in [tables]")
        else:
            _known(e, path, ("id", "kind", "station", "substitutions"))
            target = _station(e.get("station"), f"{path}.station", stations)
        subs = e.get("substitutions", {})
        if not isinstance(subs, Mapping):
            _fail(f"{path}.substitutions", "must be a table of texts")
        for key, value in subs.items():
            if key in RESERVED_SUBSTITUTIONS or not re.fullmatch(r"[a-z_][a-z0-9_]*", key):
                _fail(f"{path}.substitutions.{key}", "is set by provisioning or not a valid name")
            if not isinstance(value, str | int):
                _fail(f"{path}.substitutions.{key}", "must be a text or number")
        out.append(
            Esp32(
                _ident(e.get("id"), f"{path}.id"),
                kind,
                target,
                tuple(sorted((k, str(v)) for k, v in subs.items())),
            )
        )
    return tuple(out)


def _wifi(doc: Mapping[str, Any]) -> Wifi | None:
    raw = _table(doc, "wifi")
    if not raw:
        return None
    _known(raw, "wifi", ("ssid", "password"))
    ssid = _text(raw.get("ssid"), "wifi.ssid", 32)
    password = raw.get("password", "")
    if not isinstance(password, str) or not (password == "" or 8 <= len(password) <= 63):
        _fail("wifi.password", "must be empty (open network) or 8-63 characters")
    return Wifi(ssid, password)


def _cloud(doc: Mapping[str, Any]) -> Cloud | None:
    raw = _table(doc, "cloud")
    if not raw:
        return None
    _known(raw, "cloud", ("url", "token"))
    url = _url(raw.get("url"), "cloud.url", https_unless_loopback=True)
    token = _text(raw.get("token"), "cloud.token", 4096)
    if any(c.isspace() for c in token):
        _fail("cloud.token", "must not contain spaces or line breaks")
    return Cloud(url, token)


def _hub_sections(doc: Mapping[str, Any]) -> tuple[tuple[str, Mapping[str, Any]], ...]:
    raw = _table(doc, "hub")
    _known(raw, "hub", HUB_SECTIONS)
    out = []
    for name in HUB_SECTIONS:
        if name in raw:
            out.append((name, _table(raw, name)))
    return tuple(out)


def _unique_devices(a: Answers) -> None:
    seen: dict[str, str] = {HUB_USER: "the hub", DOCTOR_USER: "tablehub doctor"}
    paths = [f"printers[{i}].id" for i in range(len(a.printers))]
    paths += [f"scales[{i}].id" for i in range(len(a.scales))]
    if a.gpio_device:
        paths.append("buttons.gpio")
    paths += [f"buttons.esp32[{i}].id" for i in range(len(a.esp32))]
    for device, path in zip(a.device_ids(), paths, strict=True):
        if device in seen:
            _fail(path, f"device '{device}' is already {seen[device]}")
        seen[device] = path
        try:
            contract.device_status(a.store_id, device)
        except contract.ContractError as exc:
            _fail(path, str(exc))
