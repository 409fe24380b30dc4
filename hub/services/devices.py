"""Device presence: every printer, scale, button and screen reports a retained status with a
last will; the hub keeps the last one, logs transitions once and tells the screens."""

from __future__ import annotations

import logging
from typing import Any

from hub.store import repos
from hub.store.db import Store, Tx

log = logging.getLogger("tablehub.devices")


class Devices:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._last: dict[str, tuple[str, str]] = {}

    async def report(
        self, device_id: str, state: str, kind: str | None, detail: dict[str, Any] | None
    ) -> None:
        detail = detail or {}
        fingerprint = (state, repos.dumps(detail))
        if self._last.get(device_id) == fingerprint:
            return  # a repeated heartbeat: nothing changed
        self._last[device_id] = fingerprint

        async def unit(tx: Tx) -> bool:
            row = await repos.tx_device(tx, device_id)
            changed = row is None or row["state"] != state
            await repos.upsert_device(tx, device_id, kind, state, detail, changed)
            row = await repos.tx_device(tx, device_id)
            assert row is not None
            tx.emit("devices", "device.status", device_id, {"device": repos.device_from_row(row)})
            return changed

        changed = await self._store.write(unit)
        if changed:
            if state == "offline":
                log.warning("device %s is offline", device_id)
            else:
                log.info("device %s is %s", device_id, state)
