"""On the written broker each login is its own client id: a device's credentials that connect
with the hub's client id (or another device's) get a session of their own, so the hub and
the agents inside it stay connected and keep working; persistent sessions (QoS 1 queued
while a device is away) still work, keyed by the login."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from devices.printers.fake import FakeNetworkPrinter
from hub.app import running_hub
from hub.config import load_config
from hub.domain.orders import LineRequest
from hub.ops import doctor
from tests.provision.conftest import WrittenBroker, runnable_hub_toml, secret
from tests.provision.test_broker import publish_as
from tests.waiting import event, until, until_sync

BASE = "tablehub/v1/harbour"


class Device:
    """A paho client (MQTT v5, persistent session) logged in with a provisioned login."""

    def __init__(self, port: int, login: str, password: str, client_id: str) -> None:
        self.connack: int | None = None
        self.session_present: bool | None = None
        self.received: list[tuple[str, bytes]] = []
        self.published = threading.Event()
        self.subscribed = threading.Event()
        self._connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(login, password)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_publish = lambda *_a: self.published.set()
        self.client.on_subscribe = lambda *_a: self.subscribed.set()
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", port, keepalive=10, clean_start=False, properties=props)
        self.client.loop_start()
        assert self._connected.wait(5), f"{login}: no CONNACK in 5 s"

    def _on_connect(self, c: Any, u: Any, flags: Any, rc: Any, props: Any) -> None:
        self.connack, self.session_present = rc.value, flags.session_present
        self._connected.set()

    def _on_message(self, c: Any, u: Any, msg: mqtt.MQTTMessage) -> None:
        self.received.append((msg.topic, bytes(msg.payload)))

    def publish(self, topic: str, payload: bytes) -> None:
        self.published.clear()
        self.client.publish(topic, payload, qos=1)  # sent again after a reconnect (QoS 1)
        assert self.published.wait(15), f"no PUBACK for {topic}"

    def subscribe(self, topic: str) -> None:
        self.client.subscribe(topic, qos=1)
        assert self.subscribed.wait(5), f"no SUBACK for {topic}"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def hub_toml_with_printer(root: Path, broker: WrittenBroker, printer: str, out: Path) -> Path:
    """The runnable hub.toml, with `printer` at a fake network printer: its agent runs in
    the hub and logs in as printer-<id>, with the password provisioning wrote for it."""
    text = runnable_hub_toml(root, broker.port, out).read_text()
    marker = 'id = "grill-1"\naddress = ""'
    assert marker in text
    out.write_text(text.replace(marker, f'id = "grill-1"\naddress = "{printer}"'))
    return out


async def test_a_device_login_cannot_take_the_hubs_or_an_agents_session(
    written_broker: WrittenBroker, provisioned: Path, tmp_path: Path
) -> None:
    button = ("table-button-T1", secret(provisioned, "table-button-T1"))
    with FakeNetworkPrinter() as fake:
        toml = hub_toml_with_printer(provisioned, written_broker, fake.address, tmp_path / "h.toml")
        config = load_config(toml)
        assert config.broker is not None
        async with running_hub(config) as hub:
            assert hub.bus is not None
            await event(hub.bus.connected, "the hub to connect to the provisioned broker")
            await until(
                lambda: "as printer-grill-1 " in written_broker.log,
                "the in-hub printer agent to log in as itself",
            )
            before = hub.bus.connections
            # the button's credentials, again and again, with the hub's and the agent's ids
            ids = (config.broker.client_id, "hub", "printer-grill-1") * 2
            intruders = [
                await asyncio.to_thread(Device, written_broker.port, *button, client_id=cid)
                for cid in ids
            ]
            try:
                assert all(d.connack == 0 for d in intruders)
                # one login is one session: each intruder took the last one's, and paho keeps
                # reconnecting the ones pushed out (each pushing out the next). The first ones
                # give up; a press made meanwhile, through the last one: the hub acts on it
                for d in intruders[:-1]:
                    await asyncio.to_thread(d.close)
                press = json.dumps({"kind": "waiter", "id": "takeover-call-1"}).encode()
                await asyncio.to_thread(intruders[-1].publish, f"{BASE}/tables/T1/call", press)

                async def called() -> bool:
                    rows = await hub.services.store.read_all("SELECT table_id FROM calls")
                    return [tuple(r) for r in rows] == [("T1",)]

                await until(called, "the press to reach the hub", every=0.05)
                # and the printer agent in the hub still prints
                token = hub.services.catalog.token_for("T2")
                await hub.services.ordering.place(
                    token, "takeover-order-1", [LineRequest("chicken-satay", 1)]
                )
                await until(lambda: len(fake.printed) > 0, "the grill ticket to print")
            finally:
                for d in intruders:
                    await asyncio.to_thread(d.close)
            assert hub.bus.connected.is_set()
            assert hub.bus.connections == before, written_broker.log
    log = written_broker.log
    assert "already connected, closing old connection" not in log.replace(
        "Client table-button-T1 already connected, closing old connection", ""
    ), log
    # the broker saw the intruders as who they are
    assert "as table-button-T1 (p5" in log


def test_a_persistent_session_still_queues_for_its_login(
    written_broker: WrittenBroker, provisioned: Path
) -> None:
    """A printer away from the broker gets the jobs sent meanwhile when it comes back, with
    whatever client id its firmware sends: the session is its login's."""
    login = ("printer-grill-1", secret(provisioned, "printer-grill-1"))
    jobs = f"{BASE}/printers/grill-1/jobs"
    printer = Device(written_broker.port, *login, client_id="printer-grill-1")
    printer.subscribe(jobs)
    printer.close()
    hub = Device(written_broker.port, "hub", secret(provisioned, "hub"), client_id="tablehub-hub")
    for i in range(3):
        hub.publish(jobs, json.dumps({"job_id": f"j{i}", "doc": {}}).encode())
    hub.close()
    back = Device(written_broker.port, *login, client_id="esphome-1234abcd")
    try:
        assert back.session_present is True, written_broker.log
        until_sync(lambda: len(back.received) == 3, "the 3 queued jobs")
        assert [json.loads(p)["job_id"] for _, p in back.received] == ["j0", "j1", "j2"]
    finally:
        back.close()


async def test_doctor_reads_with_its_own_login_while_the_hub_runs(
    written_broker: WrittenBroker, provisioned: Path, tmp_path: Path
) -> None:
    """`tablehub doctor` on a running box: its own read-only login, so the hub keeps its
    session; and that login may publish nothing."""
    config = load_config(runnable_hub_toml(provisioned, written_broker.port, tmp_path / "h.toml"))
    async with running_hub(config) as hub:
        assert hub.bus is not None
        await event(hub.bus.connected, "the hub to connect")
        before = hub.bus.connections
        checks = {c.name: c for c in await doctor.examine(tmp_path / "h.toml")}
        assert checks["broker"].status == "ok", checks["broker"]
        assert "as doctor" in checks["broker"].summary
        assert checks["broker"].data["hub"] == "online"
        assert hub.bus.connections == before
        assert hub.bus.connected.is_set()
    out = await asyncio.to_thread(
        publish_as,
        written_broker.port,
        "doctor",
        secret(provisioned, "doctor"),
        f"{BASE}/hub/status",
        b"offline",
    )
    assert (out.connect, out.puback) == (0, 0x87)


async def test_doctor_without_its_own_login_leaves_a_running_hub_alone(
    written_broker: WrittenBroker, provisioned: Path, tmp_path: Path
) -> None:
    """A hub.toml from before the doctor had a login: with the hub running, logging in as
    the hub would take its session, so the doctor says so instead of doing it."""
    toml = runnable_hub_toml(provisioned, written_broker.port, tmp_path / "h.toml")
    text = toml.read_text()
    toml.write_text(text[: text.index("[doctor]")])
    config = load_config(toml)
    async with running_hub(config) as hub:
        assert hub.bus is not None
        await event(hub.bus.connected, "the hub to connect")
        before = hub.bus.connections
        # the doctor asks the hub on its own port: this hub listens on a free one
        port = int(hub.url.rsplit(":", 1)[1])
        toml.write_text(toml.read_text().replace("port = 0", f"port = {port}", 1))
        checks = {c.name: c for c in await doctor.examine(toml)}
        assert checks["hub"].status == "ok", checks["hub"]
        assert checks["broker"].status == "warn"
        assert "no [doctor] login" in checks["broker"].summary
        assert hub.bus.connections == before
        assert hub.bus.connected.is_set()
