"""A button board's configuration, decoded from its TOML into typed structs (a key it does
not know, a wrong type or a bad kind is one line naming the key) and then frozen dataclasses.

TOML (``python -m devices.buttons board.toml``)::

    store = "demo"
    name = "front"            # device name: devices/buttons-front/status
    bounce_ms = 50            # presses closer than this to the last edge are bounce

    [mqtt]                    # see devices.config: host, port, username, password(_file), ...
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

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from devices.agent import MqttSettings
from devices.config import MqttSection, read_agent_file
from devices.errors import DeviceConfigError
from hub.bus import contract
from plumbing.settings import Settings

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


class CallSection(Settings, frozen=True, kw_only=True):
    pin: int | str
    table: str
    kind: Literal["waiter", "bill", "water"]


class LedSection(Settings, frozen=True, kw_only=True):
    pin: int | str
    table: str


class BumpSection(Settings, frozen=True, kw_only=True):
    pin: int | str
    station: str
    action: Literal["bump", "recall", "next", "prev"]


class BoardSchema(Settings, frozen=True, kw_only=True):
    """The board's TOML, every key it reads."""

    store: str
    name: str
    bounce_ms: Annotated[int, msgspec.Meta(ge=0, le=1000)] = 50
    mqtt: MqttSection = msgspec.field(default_factory=MqttSection)
    call: tuple[CallSection, ...] = ()
    led: tuple[LedSection, ...] = ()
    bump: tuple[BumpSection, ...] = ()


def load_board(path: str | Path) -> BoardFile:
    """The board's file; a mistake is a one-line `ButtonConfigError` naming the file and
    the key (`board.toml: [call[0]] knid: unknown key (did you mean kind?)`)."""
    path = Path(path)
    raw, mqtt = read_agent_file(path, BoardSchema, ButtonConfigError)
    board = ButtonConfig(
        name=raw.name,
        calls=tuple(CallButton(c.pin, c.table, c.kind) for c in raw.call),
        leds=tuple(CallLed(led.pin, led.table) for led in raw.led),
        bumps=tuple(BumpButton(b.pin, b.station, b.action) for b in raw.bump),
        bounce_ms=raw.bounce_ms,
    )
    try:
        board.check(raw.store)
    except ButtonConfigError as exc:
        raise ButtonConfigError(f"{path}: {exc}") from None
    return BoardFile(raw.store, board, mqtt)
