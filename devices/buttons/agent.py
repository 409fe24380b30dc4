"""`ButtonAgent`: call buttons, call LEDs and bump buttons of one board on the MQTT bus.

- A call button press publishes ``tables/{table}/call`` ``{"kind":"waiter","id":...}``,
  a bump button ``kds/{station}/bump`` ``{"action":"bump","id":...}``: QoS 1, not retained,
  each with a unique id (`PressIds`: device + boot random + counter), queued across
  reconnects (bounded: the oldest dropped and counted).
- Edges are debounced (`Debouncer`); a held button is one press.
- LEDs follow the retained ``tables/{table}/call/state``: on while ``open`` is true, off
  when false or cleared. A payload that breaks the contract is logged once per table and
  leaves the LED as it was.
- ``devices/buttons-{name}/status`` is retained, with a last will of ``offline``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import msgspec

from devices.agent import DeviceLink, MqttSettings
from devices.buttons.config import BumpButton, ButtonConfig, CallButton
from devices.buttons.gpio import GpioBoard
from devices.buttons.press import Debouncer, PressIds
from hub.bus import contract

log = logging.getLogger("tablehub.devices.buttons")


class ButtonAgent:
    def __init__(
        self,
        store_id: str,
        config: ButtonConfig,
        mqtt: MqttSettings,
        pin_factory: Any = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        ids: Callable[[], str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        config.check(store_id)
        self.store_id = store_id
        self.config = config
        self.mqtt = mqtt
        self._pin_factory = pin_factory
        self._clock = clock
        self.new_id = ids or PressIds(config.device)
        self._rng = rng
        self._inputs: list[CallButton | BumpButton] = [*config.calls, *config.bumps]
        self._debounce = [Debouncer(config.bounce_ms / 1000) for _ in self._inputs]
        self._state_topics = {contract.table_call_state(store_id, t): t for t in config.tables}
        self._leds: dict[str, list[Any]] = {}
        self._rejected: set[str] = set()
        self.board: GpioBoard | None = None
        self.link: DeviceLink | None = None
        self.presses = 0
        self._stopped = False

    def __repr__(self) -> str:
        return f"<ButtonAgent {self.config.device} presses={self.presses} {self.board!r}>"

    async def run(self) -> None:
        """Claim the pins, then keep the MQTT session up until `stop()`."""
        loop = asyncio.get_running_loop()
        self.link = DeviceLink(
            self.mqtt,
            store_id=self.store_id,
            device=self.config.device,
            kind="buttons",
            subscriptions=list(self._state_topics),
            on_message=self._on_message,
            default_client_id=self.config.device,
            persistent=False,
            offline_reasons=True,
            rng=self._rng,
        )
        self.link.set_status("online", self._detail())
        if self._stopped:  # stopped before it ran
            self.link.stop()
        self.board = GpioBoard(loop, self._on_edge, self._clock, self._pin_factory)
        try:
            bounce = self.config.bounce_ms / 1000
            for spec in self._inputs:
                self.board.add_button(spec.pin, bounce)
            for led_spec in self.config.leds:
                self._leds.setdefault(led_spec.table, []).append(self.board.add_led(led_spec.pin))
            await self.link.run()
        finally:
            self.board.close()

    def stop(self) -> None:
        """Publish a clean offline status, release the pins, return from `run()`."""
        self._stopped = True
        if self.link is not None:
            self.link.stop()

    def _detail(self) -> dict[str, Any]:
        c = self.config
        return {"calls": len(c.calls), "bumps": len(c.bumps), "leds": len(c.leds)}

    # -- on the event loop

    def _on_edge(self, index: int, pressed: bool, at: float) -> None:
        if not self._debounce[index].edge(pressed, at):
            return
        spec = self._inputs[index]
        self.presses += 1
        if isinstance(spec, CallButton):
            topic = contract.table_call(self.store_id, spec.table)
            payload = contract.encode(contract.CallMessage(kind=spec.kind, id=self.new_id()))
        else:
            topic = contract.kds_bump(self.store_id, spec.station)
            payload = contract.encode(contract.BumpMessage(action=spec.action, id=self.new_id()))
        log.info("%s: pin %s pressed -> %s", self.config.device, spec.pin, topic)
        assert self.link is not None
        self.link.publish(topic, payload, qos=1, retain=False)

    def _on_message(self, topic: str, payload: bytes) -> None:
        table = self._state_topics.get(topic)
        if table is None:
            return
        if not payload:  # retained state cleared: no open call
            self._light(table, False)
            return
        try:
            state = msgspec.json.decode(payload, type=contract.CallState)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            if table not in self._rejected:
                log.warning(
                    "%s: rejected call state for table %s: %s", self.config.device, table, exc
                )
                self._rejected.add(table)
            return
        self._rejected.discard(table)
        self._light(table, state.open)

    def _light(self, table: str, on: bool) -> None:
        for led in self._leds.get(table, []):
            if on:
                led.on()
            else:
                led.off()
