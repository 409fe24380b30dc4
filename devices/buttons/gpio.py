"""The gpiozero seam of the button agent: `GpioBoard` owns the Button and LED devices.

gpiozero calls `when_pressed` / `when_released` from its own threads (lgpio's edge thread on
a Pi; whatever thread drives a MockPin in tests). The board never runs agent code there: it
stamps the edge with the clock and hops to the event loop with `loop.call_soon_threadsafe`.
The hardware comes in through gpiozero's `pin_factory` (None: gpiozero's default, or the
``GPIOZERO_PIN_FACTORY`` environment variable; `MockFactory()` in tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from gpiozero import LED, Button, GPIOZeroError

from devices.buttons.config import ButtonConfigError, Pin

log = logging.getLogger("tablehub.devices.buttons")

EdgeHandler = Callable[[int, bool, float], None]  # (button index, pressed, when)


class GpioBoard:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_edge: EdgeHandler,
        clock: Callable[[], float],
        pin_factory: Any = None,
    ) -> None:
        self._loop = loop
        self._on_edge = on_edge
        self._clock = clock
        self._factory = pin_factory
        self.buttons: list[Button] = []
        self.leds: list[LED] = []
        self._closed = False

    def __repr__(self) -> str:
        pressed = [str(b.pin) for b in self.buttons if b.is_pressed]
        lit = [str(led.pin) for led in self.leds if led.is_lit]
        return f"<GpioBoard buttons={len(self.buttons)} pressed={pressed} lit={lit}>"

    def add_button(self, pin: Pin, bounce_s: float | None) -> int:
        """A button to GND with the internal pull-up; returns its index for `on_edge`."""
        index = len(self.buttons)
        try:
            button = Button(
                pin, pull_up=True, bounce_time=bounce_s or None, pin_factory=self._factory
            )
        except (GPIOZeroError, ValueError) as exc:
            raise ButtonConfigError(f"button pin {pin}: {exc}") from exc
        button.when_pressed = lambda: self._edge(index, True)
        button.when_released = lambda: self._edge(index, False)
        self.buttons.append(button)
        return index

    def add_led(self, pin: Pin) -> LED:
        try:
            led = LED(pin, pin_factory=self._factory)
        except (GPIOZeroError, ValueError) as exc:
            raise ButtonConfigError(f"led pin {pin}: {exc}") from exc
        self.leds.append(led)
        return led

    def _edge(self, index: int, pressed: bool) -> None:
        # in a gpiozero thread: stamp, hop, nothing else
        if self._closed:
            return
        at = self._clock()
        with contextlib.suppress(RuntimeError):  # loop closed while shutting down
            self._loop.call_soon_threadsafe(self._on_edge, index, pressed, at)

    def close(self) -> None:
        """Release every pin. The devices close side by side: each button's hold thread
        takes up to 0.1 s to notice it is stopped, one after another a board of 12 buttons
        held the agent's stop (and so the hub's) for over a second."""
        self._closed = True
        devices = [*self.buttons, *self.leds]
        if devices:
            with ThreadPoolExecutor(len(devices), thread_name_prefix="gpio-close") as pool:
                list(pool.map(_close, devices))
        self.buttons.clear()
        self.leds.clear()


def _close(dev: Button | LED) -> None:
    try:
        dev.close()
    except GPIOZeroError as exc:
        log.warning("closing %s: %s", dev, exc)
