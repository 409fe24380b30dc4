"""Incoming MQTT messages to the hub's use cases. A message that breaks the contract is
logged once per device and reason, never acted on."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

from hub.bus import contract
from hub.consumers.live import LiveHub
from hub.errors import Conflict, HubError, InvalidInput, StoreUnavailable
from hub.services.calls import Calls
from hub.services.catalog import Catalog
from hub.services.devices import Devices
from hub.services.kitchen import Kitchen
from hub.services.pacing import Pacer
from hub.services.printing import Printing

log = logging.getLogger("tablehub.router")

M = TypeVar("M")


class RejectLog:
    """Logs a rejected message once per (device, reason); remembers the last 1024 pairs."""

    def __init__(self, size: int = 1024) -> None:
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._size = size
        self.rejected = 0

    def reject(self, device: str, reason: str) -> None:
        self.rejected += 1
        key = (device, reason[:200])
        if key in self._seen:
            self._seen.move_to_end(key)
            return
        self._seen[key] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        log.warning("mqtt: rejected message from %s: %s", device, reason[:200])


class Router:
    """Turns contract messages into use-case calls. Never trusts a payload: decode, check,
    then act; anything else is logged once per device and reason and dropped."""

    def __init__(
        self,
        kitchen: Kitchen,
        calls: Calls,
        devices: Devices,
        live: LiveHub,
        catalog: Catalog,
        printing: Printing | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self._printing = printing
        self._pacer = pacer
        self._kitchen = kitchen
        self._calls = calls
        self._devices = devices
        self._live = live
        self._catalog = catalog
        self.rejects = RejectLog()
        # topic kind -> handler of (subject, payload); other kinds are not the hub's to act on
        self._handlers: dict[str, Callable[[str, bytes], Awaitable[None]]] = {
            "kds.bump": self._bump,
            "table.call": self._call,
            "device.status": self._device,
            "scale.weight": self._weight,
            "printer.acks": self._ack,
        }

    async def handle(self, topic: contract.Topic, payload: bytes) -> None:
        try:
            await self._route(topic, payload)
        except StoreUnavailable as exc:
            # a full disk or a closing store: said once per device and reason, no traceback
            # (the device sends again: a button is pressed again, a status is retained)
            self.rejects.reject(f"{topic.kind} {topic.subject}", exc.message)

    async def _route(self, topic: contract.Topic, payload: bytes) -> None:
        handler = self._handlers.get(topic.kind)
        if handler is not None:
            await handler(topic.subject, payload)

    def _decode(self, device: str, decode: Callable[[bytes], M], payload: bytes) -> M | None:
        """The message in `payload`, or None when it breaks the contract (rejected)."""
        try:
            return decode(payload)
        except contract.ContractError as exc:
            self.rejects.reject(device, str(exc))
            return None

    async def _bump(self, station: str, payload: bytes) -> None:
        device = f"bump bar at {station}"
        menu = self._catalog.menu
        if menu is None or (menu.station(station) is None and station != "expo"):
            self.rejects.reject(device, f"unknown station '{station}'")
            return
        msg = self._decode(device, contract.decode_bump, payload)
        if msg is None:
            return
        action_id = f"mqtt:{station}:{msg.id}"
        try:
            if msg.action == "fire":
                await self._fire(station, msg, action_id)
            elif station == "expo":
                self.rejects.reject(device, "the expo's bar only fires courses")
            elif msg.action == "bump":
                ticket = msg.ticket
                if ticket is None:
                    view = await self._kitchen.station_view(station)
                    if not view["tickets"]:
                        return
                    ticket = view["tickets"][0].id
                await self._kitchen.bump(ticket, msg.item, action_id, station=station)
            elif msg.action == "start":
                ticket = msg.ticket
                if ticket is None:
                    ticket = await self._kitchen.next_to_start(station)
                    if ticket is None:
                        return
                await self._kitchen.start(
                    ticket, action_id, station=station, by=f"bump bar {station}"
                )
            elif msg.action == "recall":
                await self._kitchen.recall(msg.ticket, station=station, action_id=action_id)
            else:
                self._live.broadcast({"type": "cursor", "move": msg.action}, station)
        except HubError as exc:
            self.rejects.reject(device, exc.message)

    async def _fire(self, station: str, msg: contract.BumpMessage, action_id: str) -> None:
        if self._pacer is None:
            raise Conflict("courses are not paced on this hub", field="action")
        if msg.table is None:
            raise InvalidInput("a fire names its table", field="table")
        await self._pacer.fire(msg.table, msg.course, action_id[:64], f"bump bar {station}")

    async def _call(self, table: str, payload: bytes) -> None:
        device = f"call button at table {table}"
        if table not in self._catalog.tables:
            self.rejects.reject(device, f"unknown table '{table}'")
            return
        msg = self._decode(device, contract.decode_call, payload)
        if msg is None:
            return
        await self._calls.open(table, msg.kind, f"button:{msg.id[:40]}")

    async def _device(self, device_id: str, payload: bytes) -> None:
        if not payload:
            return  # a retained status cleared (the hub forgot the device): nothing to report
        msg = self._decode(f"device {device_id}", contract.decode_device_status, payload)
        if msg is None:
            return
        await self._devices.report(device_id, msg.state, msg.kind, msg.detail)
        if self._printing is not None:
            self._printing.on_device_status(device_id, msg.state, msg.detail or {})

    async def _ack(self, printer: str, payload: bytes) -> None:
        if self._printing is None or printer not in self._printing.printers:
            self.rejects.reject(f"printer agent {printer}", "no such printer in this store")
            return
        msg = self._decode(f"printer agent {printer}", contract.decode_print_ack, payload)
        if msg is None:
            return
        try:
            await self._printing.on_ack(printer, msg)
        except HubError as exc:  # another printer's job, named on this printer's topic
            self.rejects.reject(f"printer agent {printer}", exc.message)

    async def _weight(self, scale: str, payload: bytes) -> None:
        msg = self._decode(f"scale {scale}", contract.decode_weight, payload)
        if msg is None:
            return
        self._live.weights[scale] = (msg.grams, msg.stable)
        self._live.broadcast(
            {"type": "weight", "scale": scale, "grams": msg.grams, "stable": msg.stable},
            None,
            staff_only=True,
        )
        await self._devices.weight(scale, msg.grams, msg.stable)
