"""Device presence: every printer, scale, button and screen reports a retained status with a
last will; the hub keeps the last one, logs transitions once and tells the screens.

Scales' stable readings also go into the outbox as telemetry (stream `telemetry`, kind
`scale.reading`), the lane the cloud bridge may shed under its disk budget: only a stable,
non-zero weight that differs from the last one recorded (or follows an empty scale), at
most one per scale per `scale_every_s` (a changed weight inside the window is dropped and
counted; the scale sends its weight again every few seconds, so the settled value is
recorded once the window ends). A reading is queued to the store without waiting for its
commit, and waits up to `SCALE_LINGER_S` to share one: telemetry nobody waits on, where a
commit of its own rewrote a page of the outbox, the file's header and more every time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection

from hub.domain.events import Detail, Device, DeviceStatusChanged, ScaleReading
from hub.errors import Conflict, NotFound, StoreUnavailable
from hub.store import repos
from hub.store.db import Store, Tx

# clears a device's retained status on the broker (an empty retained message); raises
# ConnectionError when the broker cannot be reached
ClearStatus = Callable[[str], Awaitable[None]]

log = logging.getLogger("tablehub.devices")

MAX_SCALES = 64  # readings kept per scale id; a store has a handful
SCALE_LINGER_S = 5.0  # a recorded reading waits this long for company in a group commit
VOLATILE = frozenset({"queue"})  # status fields that do not make a new presence row


def _reading_saved(fut: asyncio.Future[None]) -> None:
    exc = None if fut.cancelled() else fut.exception()
    if exc is not None:  # telemetry: the next changed weight is recorded again
        log.debug("a scale reading was not saved: %r", exc)


def _monotonic_ms() -> int:
    return time.monotonic_ns() // 1_000_000


class Devices:
    def __init__(
        self,
        store: Store,
        *,
        now_ms: Callable[[], int] = _monotonic_ms,
        scale_every_s: float = 10.0,
    ) -> None:
        self._store = store
        self._last: dict[str, tuple[str, str]] = {}
        self._now_ms = now_ms
        self.scale_every_ms = int(scale_every_s * 1000)
        self._weights: dict[str, tuple[int, int]] = {}  # scale -> (grams recorded, at ms)
        self.readings_recorded = 0
        self.readings_dropped = 0  # changed weights inside a scale's window
        self._too_many_logged = False
        self.stopping = False  # the hub is stopping: its own agents going offline is expected
        self.clear_status: ClearStatus | None = None  # set when the hub has a broker
        self.configured: Collection[str] = ()  # device ids of this hub's config (its printers)

    async def weight(self, scale: str, grams: int, stable: bool) -> bool:
        """Record a scale's reading as telemetry when it is worth it; True if recorded."""
        last = self._weights.get(scale)
        if last is None and len(self._weights) >= MAX_SCALES:
            if not self._too_many_logged:
                log.warning("more than %d scales report weights; ignoring %s", MAX_SCALES, scale)
                self._too_many_logged = True
            return False
        if not stable or grams <= 0:
            if stable and last is not None:  # emptied: the same weight again is a new reading
                self._weights[scale] = (0, last[1])
            return False
        now = self._now_ms()
        if last is not None:
            if last[0] == grams:
                return False
            if now - last[1] < self.scale_every_ms:
                self.readings_dropped += 1
                return False

        async def unit(tx: Tx) -> None:
            tx.emit(ScaleReading(scale=scale, grams=grams, stable=True))

        try:  # queued in order, not waited for: the MQTT handler goes on to the next message
            saved = self._store.submit(unit, linger_s=SCALE_LINGER_S)
        except StoreUnavailable as exc:
            log.debug("scale %s: reading not recorded: %s", scale, exc)
            return False
        self._weights[scale] = (grams, now)
        saved.add_done_callback(_reading_saved)
        self.readings_recorded += 1
        return True

    async def report(
        self, device_id: str, state: str, kind: str | None, detail: Detail | None
    ) -> None:
        detail = detail or {}
        # what a person needs to see: a printer's queue length changes with every job, and
        # writing (and uploading) a presence row for each would cost more than it tells
        steady = {k: v for k, v in detail.items() if k not in VOLATILE}
        fingerprint = (state, repos.dumps(steady))
        if self._last.get(device_id) == fingerprint:
            return  # a repeated heartbeat, or only a volatile field changed
        self._last[device_id] = fingerprint

        async def unit(tx: Tx) -> bool:
            row = await repos.tx_device(tx, device_id)
            changed = row is None or row["state"] != state
            await repos.upsert_device(tx, device_id, kind, state, detail, changed)
            row = await repos.tx_device(tx, device_id)
            assert row is not None
            tx.emit(DeviceStatusChanged(device=repos.device_from_row(row)))
            return changed

        changed = await self._store.write(unit)
        if changed:
            if state == "offline" and not self.stopping:
                log.warning("device %s is offline", device_id)
            else:
                log.info("device %s is %s", device_id, state)

    async def forget(self, device_id: str) -> Device:
        """Forget a device that has gone away for good (a printer replaced, a button
        retired): its row goes, its retained status is cleared on the broker so that it does
        not come back at the next start, and the screens drop it (a `device.status` with the
        state `forgotten`). A device that reports again later is shown again. An online
        device, or one of this hub's own config (its printers: take it out there), is not
        forgotten."""
        if device_id in self.configured:
            raise Conflict(
                f"{device_id} is in this hub's config: take it out there first", field="device"
            )
        row = await repos.read_device(self._store, device_id)
        if row is None:
            raise NotFound(f"no device '{device_id}'", field="device")
        if row.state == "online":
            raise Conflict(
                f"{device_id} is online: only a device that has gone away can be forgotten",
                field="device",
            )
        if self.clear_status is not None:
            try:
                await self.clear_status(device_id)
            except ConnectionError as exc:
                raise StoreUnavailable(
                    f"the broker cannot be reached to forget {device_id}: try again ({exc})",
                    field="device",
                ) from None

        async def unit(tx: Tx) -> Device | None:
            got = await repos.tx_device(tx, device_id)
            if got is None or got["state"] == "online":  # came back meanwhile: keep it
                return None
            await repos.delete_device(tx, device_id)
            gone = Device(
                id=device_id,
                state="forgotten",
                kind=got["kind"],
                changed_at=tx.now,
                seen_at=got["seen_at"],
            )
            tx.emit(DeviceStatusChanged(device=gone))
            return gone

        gone = await self._store.write(unit)
        if gone is None:
            raise Conflict(f"{device_id} came back online meanwhile", field="device")
        self._last.pop(device_id, None)
        return gone
