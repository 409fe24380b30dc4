"""Provisioning fixtures: an answers document, a box provisioned into tmp_path, a private
Mosquitto running EXACTLY the written conf/passwd/ACL (only its listener ports moved to free
loopback ports, paths moved under the root, and `user root` when run as root), and the
written hub.toml made runnable here the same way."""

from __future__ import annotations

import copy
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from hub.ops.mosquitto import Mosquitto, free_port
from hub.provision.answers import parse_answers
from hub.provision.files import Owners, Report
from hub.provision.writer import provision

PUBLIC_URL = "http://192.168.1.10:8080"

ANSWERS: dict[str, Any] = {
    "store": {"id": "harbour", "name": "Golden Lantern"},
    "tables": {"count": 6},
    "kitchen": {"stations": ["grill", "wok", "cold", "bar"]},
    "http": {"port": 8080, "public_url": PUBLIC_URL},
    "printers": [
        {
            "id": "grill-1",
            "address": "tcp://192.168.1.50:9100",
            "stations": ["grill", "cold"],
            "backup": "wok-1",
        },
        {"id": "wok-1", "address": "usb://04b8:0202", "stations": ["wok"], "bills": True},
        # its agent runs on a board at the bar
        {"id": "bar-1", "address": "serial:///dev/ttyS0", "stations": ["bar"], "remote": True},
    ],
    "scales": [{"id": "deli-1", "port": "/dev/ttyUSB0", "protocol": "mt-sics"}],
    "buttons": {
        "gpio": [
            {"pin": 17, "table": "T5", "kind": "waiter"},
            {"pin": 22, "station": "grill", "action": "bump"},
        ],
        "esp32": [
            {"id": "table-button-T1", "kind": "table-button", "table": "T1"},
            {"id": "bump-bar-wok", "kind": "bump-bar", "station": "wok"},
        ],
    },
    "wifi": {"ssid": "store-wifi", "password": "correct-horse"},
}


@pytest.fixture
def answers_doc() -> dict[str, Any]:
    return copy.deepcopy(ANSWERS)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


def run_provision(root: Path, doc: dict[str, Any], **kw: Any) -> Report:
    # ownership is the box's business: here every file stays with the test's user
    return provision(parse_answers(doc), root, owners=Owners(enabled=False), **kw)


@pytest.fixture
def provisioned(root: Path, answers_doc: dict[str, Any]) -> Path:
    run_provision(root, answers_doc)
    return root


def rooted(text: str, root: Path) -> str:
    """Box paths (/etc/..., /var/lib/...) in a written file, moved under `root`."""
    return re.sub(r'(?<=[\s"])/(etc|var/lib)/', lambda m: f"{root}/{m.group(1)}/", text)


class WrittenBroker(Mosquitto):
    """The project's Mosquitto helper, run with the conf, passwd and ACL that provisioning
    wrote (listeners moved to free loopback ports, box paths moved under the root)."""

    def __init__(self, root: Path, workdir: Path) -> None:
        super().__init__(workdir)
        self.root = root
        self.lan_port = free_port()

    def conf_text(self) -> str:
        while self.lan_port == self.port:  # two free ports asked apart may be the same one
            self.lan_port = free_port()
        written = (self.root / "etc/mosquitto/conf.d/tablehub.conf").read_text()
        text = written.replace("listener 1883 127.0.0.1", f"listener {self.port} 127.0.0.1")
        text = text.replace("listener 1884 0.0.0.0", f"listener {self.lan_port} 127.0.0.1")
        listeners = [line for line in text.splitlines() if line.startswith("listener ")]
        assert len(listeners) == 2
        assert all(line.endswith(" 127.0.0.1") for line in listeners)
        text = rooted(text, self.root)
        # on a box persistence_location comes from Debian's main conf; here: our own folder
        text += f"persistence_location {self.dir / 'data'}/\n"
        if os.geteuid() == 0:  # as root mosquitto would drop to a user that cannot read here
            text += "user root\n"
        return text

    def _write_config(self) -> Path:
        (self.dir / "data").mkdir(parents=True, exist_ok=True)
        conf = self.dir / "mosquitto.conf"
        conf.write_text(self.conf_text())
        return conf

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def written_broker(provisioned: Path, tmp_path: Path) -> Iterator[WrittenBroker]:
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        pytest.fail("mosquitto is not installed: run `make setup`")
    mq = WrittenBroker(provisioned, tmp_path / "broker")
    mq.start()
    yield mq
    mq.stop()


def runnable_hub_toml(root: Path, broker_port: int, out: Path) -> Path:
    """The written hub.toml with box paths under `root`, HTTP on 127.0.0.1 port 0, the
    broker's test port, and no hardware: printers without an address and no scales, so the
    hub starts no device agent (they would reach for the store's LAN and USB)."""
    lines, section = [], ""
    for line in rooted((root / "etc/tablehub/hub.toml").read_text(), root).splitlines():
        if line.startswith("["):
            section = line.split("]")[0].strip("[")
        if section == "scales":
            continue
        if section == "printers" and line.startswith("address ="):
            line = 'address = ""'
        elif section == "http" and line.startswith("port ="):
            line = "port = 0"
        elif section == "http" and line.startswith("host ="):
            line = 'host = "127.0.0.1"'
        elif section == "broker" and line.startswith("port ="):
            line = f"port = {broker_port}"
        lines.append(line)
    out.write_text("\n".join(lines) + "\n")
    return out


def secret(root: Path, login: str) -> str:
    return (root / f"etc/tablehub/secrets/mqtt-{login}").read_text().strip()


def logged_in(broker: Mosquitto, root: Path, login: str, identifier: str) -> aiomqtt.Client:
    """An MQTT v5 client of the written broker, logged in as `login` with the password
    provisioning wrote for it."""
    return aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        username=login,
        password=secret(root, login),
        identifier=identifier,
        protocol=aiomqtt.ProtocolVersion.V5,
        timeout=5,
    )
