"""The written broker security on a real Mosquitto: the hub's login works, a device may
publish only its own topics (MQTT v5 PUBACK 0x87 otherwise), a wrong password is refused."""

from __future__ import annotations

import threading
from pathlib import Path

import aiomqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.provision.conftest import WrittenBroker, secret

BASE = "tablehub/v1/harbour"
SUCCESS, NOT_AUTHORIZED = 0, 0x87


class Outcome:
    connect: int | None = None
    puback: int | None = None


NO_SUBSCRIBERS = 0x10  # a PUBACK that accepts the message: nobody is listening yet


def accepted(out: Outcome) -> bool:
    return out.connect == SUCCESS and out.puback in (SUCCESS, NO_SUBSCRIBERS)


def publish_as(port: int, user: str, password: str, topic: str) -> Outcome:
    """CONNECT (v5) as `user`, publish QoS 1 to `topic`; the CONNACK and PUBACK reason codes.

    paho directly: aiomqtt ignores PUBACK reason codes."""
    out = Outcome()
    connected, acked = threading.Event(), threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"test-{user}", protocol=mqtt.MQTTv5
    )
    client.username_pw_set(user, password)

    def on_connect(c: mqtt.Client, u: object, flags: object, rc: object, props: object) -> None:
        out.connect = rc.value  # type: ignore[attr-defined]
        connected.set()

    def on_publish(c: mqtt.Client, u: object, mid: int, rc: object, props: object) -> None:
        out.puback = rc.value  # type: ignore[attr-defined]
        acked.set()

    client.on_connect, client.on_publish = on_connect, on_publish
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    try:
        assert connected.wait(5), "no CONNACK in 5 s"
        if out.connect == SUCCESS:
            client.publish(topic, b'{"kind":"waiter","id":"t-1"}', qos=1)
            assert acked.wait(5), "no PUBACK in 5 s"
    finally:
        client.disconnect()
        client.loop_stop()
    return out


async def test_the_hub_logs_in_with_its_secret(
    written_broker: WrittenBroker, provisioned: Path
) -> None:
    async with aiomqtt.Client(
        "127.0.0.1",
        written_broker.port,
        username="hub",
        password=secret(provisioned, "hub"),
        identifier="test-hub",
        protocol=aiomqtt.ProtocolVersion.V5,
        timeout=5,
    ) as client:
        await client.publish(f"{BASE}/hub/status", b"online", qos=1, retain=True)


def test_a_call_button_publishes_only_its_own_table(
    written_broker: WrittenBroker, provisioned: Path
) -> None:
    pw = secret(provisioned, "table-button-T1")
    own = publish_as(written_broker.port, "table-button-T1", pw, f"{BASE}/tables/T1/call")
    assert accepted(own), own.__dict__
    other = publish_as(written_broker.port, "table-button-T1", pw, f"{BASE}/tables/T2/call")
    assert (other.connect, other.puback) == (SUCCESS, NOT_AUTHORIZED), written_broker.log
    status = publish_as(
        written_broker.port, "table-button-T1", pw, f"{BASE}/devices/table-button-T1/status"
    )
    assert accepted(status)
    theirs = publish_as(
        written_broker.port, "table-button-T1", pw, f"{BASE}/devices/printer-grill-1/status"
    )
    assert theirs.puback == NOT_AUTHORIZED


def test_the_lan_listener_takes_the_same_logins(
    written_broker: WrittenBroker, provisioned: Path
) -> None:
    # the ESP32 secrets.yaml holds the same password as the secrets directory
    yaml = (provisioned / "etc/tablehub/esphome/bump-bar-wok/secrets.yaml").read_text()
    pw = secret(provisioned, "bump-bar-wok")
    assert f'mqtt_password: "{pw}"' in yaml
    assert 'mqtt_broker: "192.168.1.10"' in yaml
    bump = publish_as(written_broker.lan_port, "bump-bar-wok", pw, f"{BASE}/kds/wok/bump")
    assert accepted(bump)
    grill = publish_as(written_broker.lan_port, "bump-bar-wok", pw, f"{BASE}/kds/grill/bump")
    assert grill.puback == NOT_AUTHORIZED


def test_a_printer_may_not_call_a_waiter(written_broker: WrittenBroker, provisioned: Path) -> None:
    pw = secret(provisioned, "printer-grill-1")
    acks = publish_as(written_broker.port, "printer-grill-1", pw, f"{BASE}/printers/grill-1/acks")
    assert accepted(acks)
    call = publish_as(written_broker.port, "printer-grill-1", pw, f"{BASE}/tables/T1/call")
    assert call.puback == NOT_AUTHORIZED


def test_a_wrong_password_is_refused(written_broker: WrittenBroker, provisioned: Path) -> None:
    out = publish_as(written_broker.port, "table-button-T1", "not-the-password", f"{BASE}/x")
    assert out.connect == NOT_AUTHORIZED  # 135
    anonymous = publish_as(written_broker.port, "", "", f"{BASE}/x")
    assert anonymous.connect != SUCCESS
