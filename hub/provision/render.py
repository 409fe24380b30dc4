"""The TOML files a store box runs with, rendered from the answers. Pure: text out.

- ``hub.toml`` in the format `hub.config.load_config` reads, plus a ``[devices]`` section
  (ignored by the hub) listing the devices `tablehub doctor` expects to find;
- an agent config for each printer or scale that runs on another board (``remote``) and for
  the Pi's GPIO buttons, in the format of ``python -m devices.printers|scales|buttons``;
- ``bridge.toml`` for the cloud bridge;
- systemd drop-ins: the hardware groups of the hub (its in-process agents) and of the button
  agent, the kiosk's hub URL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from hub.errors import InvalidInput
from hub.provision.answers import DOCTOR_USER, HUB_USER, Answers, Printer, Scale
from hub.provision.broker import AUTOSAVE_INTERVAL
from hub.provision.files import ON_BOX, Box

ETC = "/etc/tablehub"
DATA = "/var/lib/tablehub"
SECRETS = f"{ETC}/secrets"
AGENTS = f"{ETC}/agents"

HEADER = (
    "# Written by `tablehub provision` from the store's answers file. Re-run provisioning\n"
    "# instead of editing: it rewrites this file.\n"
)
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def secret_path(username: str) -> str:
    return f"{SECRETS}/mqtt-{username}"


def value(v: Any, path: str = "value") -> str:
    """One TOML value: texts, numbers, booleans, lists and inline tables."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(value(x, path) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{key(k)} = {value(x, path)}" for k, x in v.items()) + " }"
    raise InvalidInput(f"{path}: cannot write a {type(v).__name__} to TOML", field=path)


def key(k: str) -> str:
    return k if _BARE.fullmatch(k) else json.dumps(k, ensure_ascii=False)


def _pairs(table: Mapping[str, Any], path: str) -> list[str]:
    return [f"{key(k)} = {value(v, f'{path}.{k}')}" for k, v in table.items()]


def hub_toml(a: Answers, box: Box = ON_BOX) -> str:
    out = [
        HEADER,
        "[store]",
        f"data_dir = {value(box(DATA))}",
        f"menu_file = {value(box(f'{ETC}/menu.json'))}   # read on the first run only",
        f"public_url = {value(a.public_url)}   # what the table QR codes point at",
        "",
        "[http]",
        f"host = {value(a.http_host)}   # phones on the store Wi-Fi",
        f"port = {a.http_port}",
        "",
        "[broker]",
        'host = "127.0.0.1"',
        f"port = {a.mqtt_port}",
        f'username = "{HUB_USER}"',
        f"password_file = {value(box(secret_path(HUB_USER)))}",
        # what a broker crash can lose is what it took since its last snapshot
        f"replay_after_reconnect_s = {AUTOSAVE_INTERVAL + 5}   "
        f"# > the broker's autosave_interval ({AUTOSAVE_INTERVAL} s)",
        "# the printer and scale agents inside the hub log in as themselves (mqtt-<device>)",
        f"agent_password_dir = {value(box(SECRETS))}",
    ]
    for p in a.printers:
        out += ["", "[[printers]]", *_pairs(_printer(p), "printers")]
    for sc in a.scales:
        if not sc.remote:  # the hub runs the agents of the scales it lists
            scale = {"id": sc.id, "port": sc.port, "protocol": sc.protocol}
            out += ["", "[[scales]]", *_pairs(scale, "scales")]
    out += [
        "",
        "[devices]   # what `tablehub doctor` expects online; the hub itself ignores this",
        f"expected = {value(list(a.device_ids()))}",
        "",
        "[doctor]   # `tablehub doctor`'s own broker login, read-only; the hub ignores this",
        f'username = "{DOCTOR_USER}"',
        f"password_file = {value(box(secret_path(DOCTOR_USER)))}",
    ]
    for name, section in a.hub_sections:
        out += ["", f"[{name}]", *_pairs(section, f"hub.{name}")]
    return "\n".join(out) + "\n"


def _printer(p: Printer) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": p.id,
        # with an address the hub runs the printer's agent; "" = its agent runs elsewhere
        "address": "" if p.remote else p.address,
        "stations": list(p.stations),
        "chits": p.chits,
        "bills": p.bills,
    }
    if p.backup:
        doc["backup"] = p.backup
    doc.update(p.paper)  # profile, width, encoding: as given in the answers
    return doc


def _mqtt(host: str, port: int, username: str, password: str) -> list[str]:
    return [
        "",
        "[mqtt]",
        f"host = {value(host)}",
        f"port = {port}",
        f"username = {value(username)}",
        f"password = {value(password)}",
    ]


def _remote_header(device: str, module: str, groups: Sequence[str]) -> list[str]:
    need = f"SupplementaryGroups={' '.join(groups)}" if groups else "no extra groups"
    return [
        HEADER.rstrip("\n"),
        f"# {device}: python -m devices.{module}, on another board. Copy this file (mode 0600)",
        f"# there to /etc/tablehub/agents/{device}.toml and run tablehub-agent@{device}",
        f"# ({need}). It logs in to the hub's LAN listener with its own password.",
    ]


def printer_agent(a: Answers, p: Printer, password: str, box: Box = ON_BOX) -> str:
    out = [
        *_remote_header(p.device, "printers", _address_groups(p.address)),
        f"store = {value(a.store_id)}",
        f"printer = {value(p.id)}",
        f"address = {value(p.address)}",
        *(f"{k} = {value(v)}" for k, v in p.paper),
        f"state_dir = {value(box(f'{DATA}/agents'))}",
        *_mqtt(a.lan_host, a.lan_port, p.device, password),
    ]
    return "\n".join(out) + "\n"


def scale_agent(a: Answers, s: Scale, password: str) -> str:
    out = [
        *_remote_header(s.device, "scales", _port_groups(s.port)),
        f"store = {value(a.store_id)}",
        f"scale = {value(s.id)}",
        f"port = {value(s.port)}",
        f"protocol = {value(s.protocol)}",
        *_mqtt(a.lan_host, a.lan_port, s.device, password),
    ]
    return "\n".join(out) + "\n"


def buttons_agent(a: Answers, name: str, device: str, password: str) -> str:
    out = [
        HEADER.rstrip("\n"),
        f"# {device}: python -m devices.buttons on this box, run by tablehub-agent@{device}.",
        f"store = {value(a.store_id)}",
        f"name = {value(name)}",
        *_mqtt("127.0.0.1", a.mqtt_port, device, password),
    ]
    for c in a.gpio_calls:
        out += ["", "[[call]]", f"pin = {value(c.pin)}", f"table = {value(c.table)}"]
        out.append(f"kind = {value(c.kind)}")
    for b in a.gpio_bumps:
        out += ["", "[[bump]]", f"pin = {value(b.pin)}", f"station = {value(b.station)}"]
        out.append(f"action = {value(b.action)}")
    return "\n".join(out) + "\n"


def bridge_toml(a: Answers, box: Box = ON_BOX) -> str:
    assert a.cloud is not None
    out = [
        HEADER,
        "[bridge]",
        f"hub_db = {value(box(f'{DATA}/tablehub.db'))}",
        f"state_db = {value(box('/var/lib/tablehub-bridge/bridge.db'))}",
        f"store_id = {value(a.store_id)}",
        f"endpoint = {value(a.cloud.url)}",
        f"token_file = {value(box(f'{SECRETS}/cloud-token'))}",
        "# menu down-link: off until an admin token is in place (systemd/README.md)",
        'hub_url = ""',
    ]
    return "\n".join(out) + "\n"


def _address_groups(address: str) -> tuple[str, ...]:
    scheme = urlsplit(address).scheme
    return {"usb": ("lp", "plugdev"), "serial": ("dialout",)}.get(scheme, ())


def _port_groups(port: str) -> tuple[str, ...]:
    return ("dialout",) if port.startswith("/dev/") else ()


def hub_groups(a: Answers) -> tuple[tuple[str, ...], bool]:
    """The groups the agents inside the hub need for their hardware, and whether one of them
    is a USB printer (libusb needs AF_NETLINK)."""
    groups: list[str] = []
    for p in a.printers:
        if not p.remote:
            groups += _address_groups(p.address)
    for sc in a.scales:
        if not sc.remote:
            groups += _port_groups(sc.port)
    usb = any(not p.remote and p.address.startswith("usb://") for p in a.printers)
    return tuple(dict.fromkeys(groups)), usb


def hub_dropin(groups: Sequence[str], netlink: bool) -> str:
    lines = [
        "# Written by `tablehub provision`: what the device agents inside the hub need.",
        "[Service]",
        f"SupplementaryGroups={' '.join(groups)}",
    ]
    if netlink:
        lines += ["# libusb (USB printers) watches device hot-plug over netlink"]
        lines += ["RestrictAddressFamilies=AF_NETLINK"]
    return "\n".join(lines) + "\n"


def agent_dropin(device: str, groups: Sequence[str]) -> str:
    lines = [
        f"# {device}: written by `tablehub provision`: the groups its hardware needs.",
        "[Service]",
        f"SupplementaryGroups={' '.join(groups)}",
    ]
    return "\n".join(lines) + "\n"


def kiosk_dropin(http_port: int) -> str:
    lines = [
        "# Written by `tablehub provision`: the hub's port on this box.",
        "[Service]",
        f"Environment=KIOSK_URL=http://127.0.0.1:{http_port}/kds/%i",
    ]
    return "\n".join(lines) + "\n"
