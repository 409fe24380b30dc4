"""ESPHome configs for the store's ESP32 boards, made from the templates in
firmware_configs/esphome/ without editing them.

Each board gets its own folder, because ESPHome looks for ``secrets.yaml`` beside the config
and every board has its own MQTT login::

    esphome/templates/table-button.yaml        a verbatim copy of the template
    esphome/<device>/<device>.yaml             substitutions + packages: !include the template
    esphome/<device>/secrets.yaml              Wi-Fi, broker address, its own user/password and
                                               its OTA password (0600)

The wrapper sets the template's substitutions (store, table or station, node, device, and
``mqtt_port``: the broker's LAN listener). Pure: text in, text out.
"""

from __future__ import annotations

import json

from hub.provision.answers import Esp32, Wifi

TEMPLATES = {"table-button": "table-button.yaml", "bump-bar": "bump-bar.yaml"}
WHAT = {"table-button": "call button for table", "bump-bar": "bump bar for station"}


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escapes are YAML's)."""
    return json.dumps(text, ensure_ascii=False)


def node_name(device: str) -> str:
    """ESPHome node names are lowercase letters, digits and hyphens."""
    return device.lower().replace("_", "-")


def wrapper(device: Esp32, *, store_id: str, lan_port: int, config_path: str) -> str:
    target_key = "table" if device.kind == "table-button" else "station"
    subs = {
        "store": store_id,
        target_key: device.target,
        "node": node_name(device.id),
        "device": device.id,
        "mqtt_port": str(lan_port),  # the broker's LAN listener
        **dict(device.substitutions),
    }
    lines = [
        f"# {device.id}: ESP32 {WHAT[device.kind]} {device.target} of store {store_id}.",
        "# Written by `tablehub provision` from the template it includes; re-run provisioning",
        "# instead of editing. Its own MQTT login and OTA password are in secrets.yaml beside",
        "# this file. First flash over USB, later ones over Wi-Fi (`tablehub firmware --upload`):",
        f"#   esphome run {config_path}",
        "substitutions:",
        *(f"  {k}: {_q(v)}" for k, v in subs.items()),
        "",
        "packages:",
        f"  device: !include ../templates/{TEMPLATES[device.kind]}",
    ]
    return "\n".join(lines) + "\n"


def secrets(
    *, wifi: Wifi, broker_host: str, username: str, password: str, ota_password: str
) -> str:
    lines = [
        f"# {username}'s secrets (mode 0600). Written by `tablehub provision`.",
        f"wifi_ssid: {_q(wifi.ssid)}",
        f"wifi_password: {_q(wifi.password)}",
        f"mqtt_broker: {_q(broker_host)}",
        f"mqtt_username: {_q(username)}",
        f"mqtt_password: {_q(password)}",
        f"ota_password: {_q(ota_password)}",
    ]
    return "\n".join(lines) + "\n"
