"""The written broker security on a real Mosquitto: the hub's login works, a device may
publish only its own topics (MQTT v5 PUBACK 0x87 otherwise) and a hub listening on the same
broker acts on none of the refused messages, a wrong password or no login at all is refused
(CONNACK 0x87)."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hub.app import running_hub
from hub.config import load_config
from hub.domain.orders import LineRequest
from tests.provision.conftest import WrittenBroker, logged_in, runnable_hub_toml, secret
from tests.waiting import event, until

BASE = "tablehub/v1/harbour"
SUCCESS, NOT_AUTHORIZED = 0, 0x87


class Outcome:
    connect: int | None = None
    puback: int | None = None


NO_SUBSCRIBERS = 0x10  # a PUBACK that accepts the message: nobody is listening yet


def accepted(out: Outcome) -> bool:
    return out.connect == SUCCESS and out.puback in (SUCCESS, NO_SUBSCRIBERS)


def publish_as(
    port: int,
    user: str | None,
    password: str,
    topic: str,
    payload: bytes = b'{"kind":"waiter","id":"t-1"}',
) -> Outcome:
    """CONNECT (v5) as `user` (None: no login at all), publish QoS 1 `payload` to `topic`; the
    CONNACK and PUBACK reason codes.

    paho directly: aiomqtt ignores PUBACK reason codes."""
    out = Outcome()
    connected, acked = threading.Event(), threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"test-{user}", protocol=mqtt.MQTTv5
    )
    if user is not None:
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
            client.publish(topic, payload, qos=1)
            assert acked.wait(5), "no PUBACK in 5 s"
    finally:
        client.disconnect()
        client.loop_stop()
    return out


async def test_the_hub_logs_in_with_its_secret(
    written_broker: WrittenBroker, provisioned: Path
) -> None:
    async with logged_in(written_broker, provisioned, "hub", "test-hub") as client:
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
    empty = publish_as(written_broker.port, "", "", f"{BASE}/x")
    assert empty.connect == NOT_AUTHORIZED, empty.__dict__
    anonymous = publish_as(written_broker.port, None, "", f"{BASE}/tables/T1/call")
    assert anonymous.connect == NOT_AUTHORIZED, anonymous.__dict__  # 0x87, not 0x00
    assert anonymous.puback is None  # never got as far as publishing
    on_lan = publish_as(written_broker.lan_port, None, "", f"{BASE}/tables/T1/call")
    assert on_lan.connect == NOT_AUTHORIZED, on_lan.__dict__


def _msg(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def _bump(action_id: str, ticket: int) -> bytes:
    return _msg(action="bump", id=action_id, ticket=ticket)


async def test_the_hub_acts_on_no_refused_message(
    written_broker: WrittenBroker, provisioned: Path, tmp_path: Path
) -> None:
    """Devices' credentials aimed at other devices' topics, on a hub that is listening: every
    publish is refused with PUBACK 0x87 and nothing changes; the same devices' own topics
    work (so the hub was listening all along)."""
    port = written_broker.port
    config = load_config(runnable_hub_toml(provisioned, port, tmp_path / "hub.toml"))
    async with running_hub(config) as hub:
        assert hub.bus is not None
        await event(hub.bus.connected, "the hub to connect to the provisioned broker")
        store = hub.services.store
        token = hub.services.catalog.token_for("T3")
        lines = [LineRequest("chicken-satay", 1), LineRequest("veggie-spring-rolls", 1)]
        await hub.services.ordering.place(token, "acl-order-0001", lines)
        tickets = {r[0]: int(r[1]) for r in await store.read_all("SELECT station, id FROM tickets")}
        jobs = {r[0]: str(r[1]) for r in await store.read_all("SELECT printer, id FROM print_jobs")}
        assert set(tickets) == {"grill", "wok"}
        assert {"grill-1", "wok-1"} <= set(jobs)
        button, printer, bump = (
            (login, secret(provisioned, login))
            for login in ("table-button-T1", "printer-grill-1", "bump-bar-wok")
        )
        call = _msg(kind="waiter", id="acl-call-1")
        refused = [
            (*button, f"{BASE}/tables/T2/call", call),
            (*button, f"{BASE}/printers/wok-1/acks", _msg(job_id=jobs["wok-1"], ok=True)),
            (*button, f"{BASE}/printers/grill-1/jobs", _msg(job_id="forged", doc={})),
            (*printer, f"{BASE}/printers/wok-1/acks", _msg(job_id=jobs["wok-1"], ok=True)),
            (*printer, f"{BASE}/hub/status", b"offline"),
            (*bump, f"{BASE}/kds/grill/bump", _bump("acl-b1", tickets["grill"])),
        ]
        for user, pw, topic, payload in refused:
            out = await asyncio.to_thread(publish_as, port, user, pw, topic, payload)
            assert (out.connect, out.puback) == (SUCCESS, NOT_AUTHORIZED), (user, topic)

        # the devices' own topics go through and the hub acts on them
        allowed = [
            (*button, f"{BASE}/tables/T1/call", call),
            (*bump, f"{BASE}/kds/wok/bump", _bump("acl-b2", tickets["wok"])),
        ]
        for user, pw, topic, payload in allowed:
            out = await asyncio.to_thread(publish_as, port, user, pw, topic, payload)
            assert accepted(out), (user, topic, out.__dict__)

        async def acted() -> bool:
            calls = await store.read_all("SELECT table_id FROM calls")
            wok = await store.read_all("SELECT status FROM tickets WHERE station = 'wok'")
            return [tuple(r) for r in calls] == [("T1",)] and wok[0][0] == "bumped"

        await until(acted, "the hub to act on the allowed messages", every=0.05)
        # and on nothing else: no call for T2, the grill ticket still open, no job acknowledged
        assert [tuple(r) for r in await store.read_all("SELECT table_id FROM calls")] == [("T1",)]
        grill = await store.read_all("SELECT status FROM tickets WHERE station = 'grill'")
        assert grill[0][0] == "open"
        states = await store.read_all("SELECT DISTINCT state FROM print_jobs")
        assert {r[0] for r in states} <= {"queued", "sent"}
        assert hub.bus.connected.is_set()  # the hub's own status was not overwritten
