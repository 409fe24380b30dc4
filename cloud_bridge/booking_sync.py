"""The down-link for reservations: bookings made on the chain's booking site, to the hub.

Every `menu_poll_seconds` the bridge asks the cloud for the store's bookings changed since
the last one it handed over (`GET .../bookings?after=<seq>`) and gives each to the hub's
`POST /api/v1/reservations/from-cloud`, oldest first; the seq is saved after each one the hub
answered, so an outage or a crash repeats at most one booking (the hub takes it again by its
id). The hub never refuses a booking for its table: one that clashes with a booking made at
the host stand (the two made while the internet was down) is saved with its conflict for the
host to see. A booking the hub refuses as invalid is logged, kept in the state for
`tablehub bridge status`, and passed over. The host stand's own changes go up as events.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from cloud_bridge.config import BridgeConfig
from cloud_bridge.cursor import BridgeState
from cloud_bridge.errors import BridgeError, CloudUnavailable
from cloud_bridge.uploader import HttpClient
from plumbing.tasks import pause

log = logging.getLogger("tablehub.bridge.bookings")

REJECTED_KEPT = 20


class BookingSync:
    """`await BookingSync(config, client, state).run(stop)`; `poll_once()` for one round."""

    def __init__(
        self,
        config: BridgeConfig,
        client: HttpClient,
        state: BridgeState,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self._client = client
        self._state = state
        self._sleep_fn = sleep
        self._stop = asyncio.Event()
        self._base = f"{config.endpoint}/v1/stores/{config.store_id}/bookings"
        self._problem: str | None = None
        self.handed = 0
        self.conflicts = 0

    def __repr__(self) -> str:
        return f"<BookingSync {self._base} handed={self.handed} conflicts={self.conflicts}>"

    async def run(self, stop: asyncio.Event) -> None:
        self._stop = stop
        while not stop.is_set():
            try:
                await self.poll_once()
                if self._problem is not None:
                    log.info("booking down-link working again")
                    self._problem = None
            except BridgeError as exc:
                if exc.message != self._problem:
                    log.warning("booking down-link: %s; will try again", exc.message)
                    self._problem = exc.message
            if self._sleep_fn is not None:
                await self._sleep_fn(self.config.menu_poll_seconds)
            else:
                await pause(stop, self.config.menu_poll_seconds)

    async def poll_once(self) -> int:
        """One round: every booking changed since the last, to the hub; how many."""
        after = int(await self._state.get("bookings_after") or 0)
        headers = {"Authorization": f"Bearer {self.config.token}"}
        answer = await self._client.request("GET", f"{self._base}?after={after}", headers=headers)
        if answer.status != 200:
            raise CloudUnavailable(f"GET bookings: HTTP {answer.status}", status=answer.status)
        try:
            page = [
                (str(b["id"]), int(b["seq"]), dict(b["booking"]))
                for b in json.loads(answer.body)["bookings"]
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise CloudUnavailable(f"the cloud's bookings answer is malformed: {exc}") from exc
        for booking_id, seq, booking in page:
            await self._hand_over(booking_id, booking)
            await self._state.put_many({"bookings_after": seq})
        return len(page)

    async def _hand_over(self, booking_id: str, booking: dict[str, Any]) -> None:
        url = f"{self.config.hub_url}/api/v1/reservations/from-cloud"
        body = json.dumps(booking | {"id": booking_id}, ensure_ascii=False).encode()
        headers = {
            "Authorization": f"Bearer {self.config.hub_admin_token}",
            "Content-Type": "application/json",
        }
        try:
            answer = await self._client.request("POST", url, headers=headers, data=body)
        except CloudUnavailable as exc:
            raise CloudUnavailable(f"the hub is unreachable: {exc.message}") from exc
        if answer.status in (200, 201):
            self.handed += 1
            doc = json.loads(answer.body)
            if doc.get("conflict"):
                self.conflicts += 1
                log.warning("booking %s from the cloud clashes: %s", booking_id, doc["conflict"])
            return
        if 400 <= answer.status < 500 and answer.status not in (401, 403, 408, 429):
            await self._rejected(booking_id, answer.status, answer.body)
            return
        raise CloudUnavailable(f"the hub answered {answer.status}", status=answer.status)

    async def _rejected(self, booking_id: str, status: int, body: bytes) -> None:
        try:
            doc = json.loads(body)
            why = f"{doc.get('field')}: {doc.get('message')}"
        except ValueError:
            why = body[:200].decode("utf-8", "replace")
        log.error(
            "ALERT the hub refused booking %s from the cloud (%d): %s", booking_id, status, why
        )
        kept = list(await self._state.get("bookings_rejected") or [])[-(REJECTED_KEPT - 1) :]
        await self._state.put_many(
            {"bookings_rejected": [*kept, {"id": booking_id, "status": status, "why": why}]}
        )
