"""The ESPHome configs speak the hub's contract.

Each YAML under firmware_configs/esphome is read with a permissive loader (``!secret``,
``!lambda``, ``!include`` kept as tagged values), its substitutions expanded, and every MQTT
topic it publishes or follows collected: birth/will/shutdown messages, every
``mqtt.publish`` action, ``on_json_message``/``on_message``. Each must parse with
`hub.bus.contract.parse_topic` to the kind that direction allows, and each published
payload must decode with the contract's decoder (the JSON template inside a lambda is
filled with sample values). Then ESPHome itself (``.venv-esphome``, made by
scripts/check-firmware.sh) validates each file and its own expansion must agree.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.bus import contract

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware_configs" / "esphome"
ESPHOME = ROOT / ".venv-esphome" / "bin" / "esphome"
CONFIGS = sorted(p for p in FIRMWARE.glob("*.yaml") if not p.name.startswith("secrets"))
IDS = [p.name for p in CONFIGS]

# what a device may publish, and what it may follow
PUBLISH_DECODERS: dict[str, Callable[[bytes], object]] = {
    "table.call": contract.decode_call,
    "kds.bump": contract.decode_bump,
    "device.status": contract.decode_device_status,
    "scale.weight": contract.decode_weight,
}
FOLLOW_KINDS = {"table.call_state", "hub.status", "kds.events"}
ENTITY_DOMAINS = ("binary_sensor", "sensor", "switch", "light", "button", "text_sensor", "fan")


# ---------------------------------------------------------------- a permissive YAML loader


@dataclass(frozen=True)
class Tagged:
    """A value with an ESPHome tag: ``!secret name``, ``!lambda code``, ``!include file``."""

    tag: str
    value: Any


class Loader(yaml.SafeLoader):
    pass


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Tagged:
    if isinstance(node, yaml.ScalarNode):
        return Tagged(suffix, loader.construct_scalar(node))
    if isinstance(node, yaml.SequenceNode):
        return Tagged(suffix, loader.construct_sequence(node, deep=True))
    assert isinstance(node, yaml.MappingNode)
    return Tagged(suffix, loader.construct_mapping(node, deep=True))


Loader.add_multi_constructor("!", _tagged)

SUBST = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def substitute(value: Any, subs: dict[str, str]) -> Any:
    if isinstance(value, str):
        return SUBST.sub(lambda m: subs.get(m[1] or m[2], m[0]), value)
    if isinstance(value, Tagged):
        return Tagged(value.tag, substitute(value.value, subs))
    if isinstance(value, list):
        return [substitute(v, subs) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, subs) for k, v in value.items()}
    return value


def load(text: str) -> dict[str, Any]:
    doc = yaml.load(text, Loader=Loader)
    assert isinstance(doc, dict)
    subs = {k: str(v) for k, v in (doc.pop("substitutions", None) or {}).items()}
    expanded: dict[str, Any] = substitute(doc, subs)
    expanded["substitutions"] = subs
    return expanded


# ---------------------------------------------------------------- what a config says on MQTT


@dataclass(frozen=True)
class Use:
    direction: str  # "publish" | "follow"
    where: str
    topic: str
    payload: Any = None  # str, Tagged("lambda", code) or None
    qos: int | None = None
    retain: bool | None = None


def walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}[{i}]")
    elif isinstance(node, Tagged):
        yield from walk(node.value, path)


def mqtt_uses(doc: dict[str, Any]) -> list[Use]:
    mqtt = doc["mqtt"]
    uses = [
        Use("publish", f"mqtt.{k}", m["topic"], m["payload"], m.get("qos"), m.get("retain"))
        for k in ("birth_message", "will_message", "shutdown_message")
        if (m := mqtt.get(k))
    ]
    for key in ("on_json_message", "on_message"):
        entries = mqtt.get(key) or []
        for i, e in enumerate(entries if isinstance(entries, list) else [entries]):
            uses.append(Use("follow", f"mqtt.{key}[{i}]", e["topic"], qos=e.get("qos")))
    for path, node in walk(doc):
        if isinstance(node, dict) and "mqtt.publish" in node:
            a = node["mqtt.publish"]
            uses.append(
                Use("publish", path, a["topic"], a.get("payload"), a.get("qos"), a.get("retain"))
            )
    return uses


C_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
PRINTF = re.compile(r"%(0?\d*)([sux])")
SAMPLES = {"s": "table-button-T1", "u": "123456", "x": "0badf00d"}


def payload_of(use: Use) -> bytes:
    """The literal payload, or the JSON template inside a lambda filled with samples."""
    if isinstance(use.payload, str):
        return use.payload.encode()
    assert isinstance(use.payload, Tagged), use
    assert use.payload.tag == "lambda", use
    code: str = use.payload.value
    templates = [m for m in C_STRING.findall(code) if m.startswith("{")]
    assert len(templates) == 1, f"{use.where}: expected one JSON template in the lambda"
    template = templates[0].replace('\\"', '"').replace("\\\\", "\\")
    assert PRINTF.search(template), f"{use.where}: the id must be made at run time"
    return PRINTF.sub(lambda m: SAMPLES[m[2]], template).encode()


def config(path: Path) -> dict[str, Any]:
    return load(path.read_text())


# ---------------------------------------------------------------- tests


def test_the_configs_are_there() -> None:
    names = {p.name for p in CONFIGS}
    assert {"table-button.yaml", "table-button-single.yaml", "bump-bar.yaml"} <= names
    assert (FIRMWARE / "secrets.example.yaml").exists()


@pytest.mark.parametrize("path", CONFIGS, ids=IDS)
def test_every_topic_is_in_the_contract(path: Path) -> None:
    doc = config(path)
    uses = mqtt_uses(doc)
    assert uses
    for use in uses:
        topic = contract.parse_topic(use.topic)  # raises ContractError if not in the contract
        assert topic.store == doc["substitutions"]["store"], use.where
        if use.direction == "publish":
            assert topic.kind in PUBLISH_DECODERS, f"{use.where}: may not publish {topic.kind}"
        else:
            assert topic.kind in FOLLOW_KINDS, f"{use.where}: may not follow {topic.kind}"


@pytest.mark.parametrize("path", CONFIGS, ids=IDS)
def test_every_payload_decodes_with_the_contract(path: Path) -> None:
    for use in mqtt_uses(config(path)):
        if use.direction != "publish":
            continue
        kind = contract.parse_topic(use.topic).kind
        decoded = PUBLISH_DECODERS[kind](payload_of(use))
        if kind == "device.status":
            expected = "online" if use.where == "mqtt.birth_message" else "offline"
            assert getattr(decoded, "state", None) == expected, use.where
            assert (use.retain, use.qos) == (True, 1), use.where
        else:  # presses: QoS 1, never retained
            assert (use.qos, use.retain) == (1, False), use.where


@pytest.mark.parametrize("path", CONFIGS, ids=IDS)
def test_nothing_is_published_outside_the_contract_by_default(path: Path) -> None:
    doc = config(path)
    mqtt = doc["mqtt"]
    assert mqtt["discovery"] is False
    assert "log_topic" in mqtt
    assert mqtt["log_topic"] is None
    assert mqtt.get("discover_ip") is False
    status = contract.parse_topic(mqtt["birth_message"]["topic"])
    # ESPHome's default topics live under topic_prefix: keep them in the device's own space
    prefix = contract.parse_topic(mqtt["topic_prefix"] + "/status")
    assert prefix == status
    assert mqtt["client_id"] == status.subject
    for domain in ENTITY_DOMAINS:
        for entity in doc.get(domain) or []:
            assert entity.get("internal") is True, f"{domain} {entity.get('id')}: no state topics"
    for key in ("will_message", "shutdown_message"):
        assert contract.parse_topic(mqtt[key]["topic"]) == status


def test_the_table_buttons_and_bump_bar_cover_every_kind_and_action() -> None:
    def published(name: str, kind: str) -> list[Any]:
        decode = PUBLISH_DECODERS[kind]
        return [
            decode(payload_of(u))
            for u in mqtt_uses(config(FIRMWARE / name))
            if u.direction == "publish" and contract.parse_topic(u.topic).kind == kind
        ]

    assert sorted(m.kind for m in published("table-button.yaml", "table.call")) == [
        "bill",
        "waiter",
        "water",
    ]
    assert [m.kind for m in published("table-button-single.yaml", "table.call")] == ["waiter"]
    actions = sorted(m.action for m in published("bump-bar.yaml", "kds.bump"))
    assert actions == ["bump", "next", "prev", "recall", "start"]
    follows = [
        u for u in mqtt_uses(config(FIRMWARE / "table-button.yaml")) if u.direction == "follow"
    ]
    assert [contract.parse_topic(u.topic).kind for u in follows] == ["table.call_state"]


def test_the_loader_sees_what_a_broken_config_would_do() -> None:
    bad = """
substitutions: {store: demo, table: T1}
mqtt:
  topic_prefix: x
  birth_message: {topic: "restaurant/tables/${table}/status", payload: online}
binary_sensor:
  - platform: gpio
    on_press:
      - mqtt.publish:
          topic: tablehub/v1/${store}/tables/${table}/call
          payload: '{"kind":"dessert","id":"x"}'
"""
    uses = mqtt_uses(load(bad))
    with pytest.raises(contract.ContractError):
        contract.parse_topic(uses[0].topic)
    assert uses[1].topic == "tablehub/v1/demo/tables/T1/call"
    with pytest.raises(contract.ContractError):
        contract.decode_call(payload_of(uses[1]))


# ---------------------------------------------------------------- ESPHome's own verdict


def esphome() -> Path:
    if not ESPHOME.exists():
        pytest.fail(
            f"{ESPHOME.relative_to(ROOT)} is missing: run scripts/check-firmware.sh once "
            "(it makes ESPHome's own venv; `make test` should run it first)"
        )
    return ESPHOME


@pytest.mark.parametrize("path", CONFIGS, ids=IDS)
def test_esphome_validates_the_config(path: Path, tmp_path: Path) -> None:
    exe = esphome()  # fails (never skips) when ESPHome's venv is missing
    shutil.copy(path, tmp_path / path.name)
    shutil.copy(FIRMWARE / "secrets.example.yaml", tmp_path / "secrets.yaml")
    run = subprocess.run(
        [str(exe), "config", str(tmp_path / path.name)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert "Configuration is valid" in out
    # ESPHome's own expansion of the config says the same things on MQTT as ours
    expanded = load(run.stdout[run.stdout.index("esphome:") :])
    ours = {(u.direction, u.topic, str(u.payload)) for u in mqtt_uses(config(path))}
    theirs = {(u.direction, u.topic, str(u.payload)) for u in mqtt_uses(expanded)}
    assert theirs == ours
