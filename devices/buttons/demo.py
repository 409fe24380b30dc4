"""The demo's button board: the real button agent on gpiozero's MockFactory.

`tablehub demo` has no GPIO header to wire buttons to, so it runs the same `ButtonAgent` a
store box runs, on mock pins, and lets a person press them from the demo's devices page
(`/demo/devices`). A press drives the pin low and high again from another thread, the way
lgpio delivers edges on a Pi, so it takes the whole real path: gpiozero → agent → MQTT →
hub. The LEDs are the agent's own LED pins, lit by the retained call state the hub publishes.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Sequence
from typing import Any

from devices.agent import MqttSettings
from devices.buttons.agent import ButtonAgent
from devices.buttons.config import BumpButton, ButtonConfig, CallButton, CallLed

PRESS_S = 0.08  # how long a finger holds a button: longer than the agent's debounce


def demo_board(tables: Sequence[str], stations: Sequence[str]) -> ButtonConfig:
    """Call buttons (waiter, bill, water) and an LED for each of `tables`, and bump and
    recall buttons for each station, on BCM pins counted up from 2."""
    pins = iter(range(2, 2 + 4 * len(tables) + 2 * len(stations)))
    calls: list[CallButton] = []
    leds: list[CallLed] = []
    for table in tables:
        calls += [CallButton(next(pins), table, kind) for kind in ("waiter", "bill", "water")]
        leds.append(CallLed(next(pins), table))
    bumps = [
        BumpButton(next(pins), station, action)
        for station in stations
        for action in ("bump", "recall")
    ]
    return ButtonConfig(name="demo", calls=tuple(calls), leds=tuple(leds), bumps=tuple(bumps))


class DemoButtons:
    """A button board on mock pins that a page can press and whose LEDs it can read."""

    def __init__(self, store_id: str, config: ButtonConfig, mqtt: MqttSettings) -> None:
        from gpiozero.pins.mock import MockFactory

        self.config = config
        self.factory = MockFactory()
        self.agent = ButtonAgent(store_id, config, mqtt, self.factory)
        self._task: asyncio.Task[None] | None = None
        self._lock = threading.Lock()  # one press at a time per board, as with one finger
        self._pressing = False

    def __repr__(self) -> str:
        return f"<DemoButtons {self.config.device} {self.agent!r}>"

    async def start(self) -> None:
        self._task = asyncio.create_task(self.agent.run(), name="demo-buttons")

    async def stop(self) -> None:
        self.agent.stop()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, 5)
        self.factory.reset()
        self.factory.close()

    def buttons(self) -> list[dict[str, Any]]:
        """Every button and LED with what it does; an LED's `lit` is its pin's state now."""
        out: list[dict[str, Any]] = [
            {"pin": c.pin, "kind": "call", "table": c.table, "call": c.kind}
            for c in self.config.calls
        ]
        out += [
            {"pin": b.pin, "kind": "bump", "station": b.station, "action": b.action}
            for b in self.config.bumps
        ]
        out += [
            {"pin": led.pin, "kind": "led", "table": led.table, "lit": self._lit(led.pin)}
            for led in self.config.leds
        ]
        return out

    def _lit(self, pin: int | str) -> bool:
        return bool(self.factory.pin(pin).state)

    def pressable(self, pin: int) -> bool:
        return any(c.pin == pin for c in self.config.calls) or any(
            b.pin == pin for b in self.config.bumps
        )

    @property
    def pressing(self) -> bool:
        return self._pressing

    async def press(self, pin: int) -> None:
        """Press and release `pin` from another thread (an edge thread on a Pi). One press at
        a time: the caller refuses a press while one is under way (`pressing`)."""
        mock = self.factory.pin(pin)

        def finger() -> None:
            with self._lock:
                mock.drive_low()
                time.sleep(PRESS_S)
                mock.drive_high()
                time.sleep(PRESS_S)  # released long enough to count the next press

        self._pressing = True  # set on the loop, before the thread starts: no second one
        try:
            await asyncio.to_thread(finger)
        finally:
            self._pressing = False
