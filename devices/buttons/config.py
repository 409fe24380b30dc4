"""A button board's configuration, read once into frozen dataclasses.

TOML (``python -m devices.buttons board.toml``)::

    store = "demo"
    name = "front"            # device name: devices/buttons-front/status
    bounce_ms = 50            # presses closer than this to the last edge are bounce

    [mqtt]                    # host, port, username, password, keepalive, client_id
    host = "127.0.0.1"

    [[call]]                  # a call button: button to GND, internal pull-up
    pin = 17                  # BCM number, or "GPIO17" / "BOARD11"
    table = "T4"
    kind = "waiter"           # waiter | bill | water

    [[led]]                   # on while the table's call is open
    pin = 27
    table = "T4"

    [[bump]]
    pin = 22
    station = "grill"
    action = "bump"           # bump | recall | next | prev
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from devices.agent import MqttSettings
from devices.errors import DeviceConfigError
from hub.bus import contract

Pin = int | str
CALL_KINDS = ("waiter", "bill", "water")
BUMP_ACTIONS = ("bump", "recall", "next", "prev")


class ButtonConfigError(DeviceConfigError):
    """A button board config that cannot work; the message names the field."""


@dataclass(frozen=True, slots=True)
class CallButton:
    pin: Pin
    table: str
    kind: Literal["waiter", "bill", "water"]


@dataclass(frozen=True, slots=True)
class CallLed:
    pin: Pin
    table: str


@dataclass(frozen=True, slots=True)
class BumpButton:
    pin: Pin
    station: str
    action: Literal["bump", "recall", "next", "prev"]


@dataclass(frozen=True, slots=True)
class ButtonConfig:
    name: str
    calls: tuple[CallButton, ...] = ()
    leds: tuple[CallLed, ...] = ()
    bumps: tuple[BumpButton, ...] = ()
    bounce_ms: int = 50

    @property
    def device(self) -> str:
        return f"buttons-{self.name}"

    @property
    def tables(self) -> tuple[str, ...]:
        """Tables whose call state the LEDs follow."""
        return tuple(dict.fromkeys(led.table for led in self.leds))

    def check(self, store_id: str) -> None:
        """Every name a valid topic segment, every pin used once, known kinds/actions."""
        try:
            contract.device_status(store_id, self.device)
            for c in self.calls:
                contract.table_call(store_id, c.table)
            for led in self.leds:
                contract.table_call_state(store_id, led.table)
            for b in self.bumps:
                contract.kds_bump(store_id, b.station)
        except contract.ContractError as exc:
            raise ButtonConfigError(str(exc)) from exc
        for c in self.calls:
            if c.kind not in CALL_KINDS:
                raise ButtonConfigError(f"call pin {c.pin}: kind must be one of {CALL_KINDS}")
        for b in self.bumps:
            if b.action not in BUMP_ACTIONS:
                raise ButtonConfigError(f"bump pin {b.pin}: action must be one of {BUMP_ACTIONS}")
        pins: list[Pin] = [
            *(c.pin for c in self.calls),
            *(led.pin for led in self.leds),
            *(b.pin for b in self.bumps),
        ]
        dupes = sorted({str(p) for p in pins if pins.count(p) > 1})
        if dupes:
            raise ButtonConfigError(f"pin(s) {', '.join(dupes)} used more than once")
        if not 0 <= self.bounce_ms <= 1000:
            raise ButtonConfigError("bounce_ms must be 0-1000")


@dataclass(frozen=True, slots=True)
class BoardFile:
    store: str
    board: ButtonConfig
    mqtt: MqttSettings


def config_from_dict(d: Mapping[str, Any]) -> ButtonConfig:
    def entries(key: str) -> list[Mapping[str, Any]]:
        value = d.get(key, [])
        if not isinstance(value, list) or not all(isinstance(e, Mapping) for e in value):
            raise ButtonConfigError(f"{key}: expected a list of tables ([[{key}]])")
        return value

    try:
        return ButtonConfig(
            name=str(d["name"]),
            calls=tuple(CallButton(e["pin"], str(e["table"]), e["kind"]) for e in entries("call")),
            leds=tuple(CallLed(e["pin"], str(e["table"])) for e in entries("led")),
            bumps=tuple(
                BumpButton(e["pin"], str(e["station"]), e["action"]) for e in entries("bump")
            ),
            bounce_ms=int(d.get("bounce_ms", 50)),
        )
    except KeyError as exc:
        raise ButtonConfigError(f"missing field {exc}") from exc


def load_board(path: str | Path) -> BoardFile:
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        board = config_from_dict(doc)
        store = str(doc["store"])
        mqtt = MqttSettings.from_dict(doc.get("mqtt", {}))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, ButtonConfigError):
            raise ButtonConfigError(f"{path}: {exc}") from exc
        raise ButtonConfigError(f"{path}: {exc!r}") from exc
    board.check(store)
    return BoardFile(store, board, mqtt)
