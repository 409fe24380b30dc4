"""A line a minute of what the hub did, instead of a line per order.

At a rush an order a second is ordinary and two thousand a second is a stress test; a log
line each cost a tenth of the core at the latter, and journald writes them all to the SD
card. The store keeps every order; the log keeps the shape of the minute: orders placed and
refused, commits, screens, and how far MQTT is behind. A quiet minute writes nothing.
"""

from __future__ import annotations

import asyncio
import logging

from hub.services.container import Services

log = logging.getLogger("tablehub.activity")

EVERY_S = 60.0


class ActivityLog:
    def __init__(self, services: Services, *, every_s: float = EVERY_S) -> None:
        self._s = services
        self._every_s = every_s
        self._last = self._counts()

    def _counts(self) -> tuple[int, int, int]:
        s = self._s
        refused = s.ordering.refused_busy + s.refused_in_flight
        return s.ordering.placed, refused, s.store.commits

    def line(self) -> str | None:
        """The summary of what happened since the last call, or None if nothing did."""
        now = self._counts()
        placed, refused, commits = (a - b for a, b in zip(now, self._last, strict=True))
        self._last = now
        if not (placed or refused or commits):
            return None
        text = (
            f"last {self._every_s:g} s: {placed} orders placed, {refused} refused as busy, "
            f"{commits} commits; {self._s.live.count} screens open"
        )
        if self._s.relay_status is not None:
            text += f"; mqtt {self._s.relay_status()['behind']} events behind"
        return text

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._every_s)
            text = self.line()
            if text is not None:
                log.info("%s", text)
