"""The one clock seam: wall time and monotonic time come in through a `Clock` parameter, so
tests hold time still or step it; plus the ISO 8601 form every process stamps times with."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Wall-clock milliseconds since the epoch."""
        ...

    def now_iso(self) -> str:
        """Wall-clock time as an ISO 8601 UTC string with a Z."""
        ...

    def monotonic_ms(self) -> int:
        """Milliseconds that only ever move forward, at the rate of real time: for durations
        and ages inside one run. The wall clock steps (a Pi has no battery clock and sets it
        from NTP when the network comes) and would freeze or fire every timer."""
        ...


class SystemClock:
    def __repr__(self) -> str:
        return f"<SystemClock {self.now_iso()}>"

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def now_iso(self) -> str:
        return iso_from_ms(self.now_ms())

    def monotonic_ms(self) -> int:
        return time.monotonic_ns() // 1_000_000


SYSTEM_CLOCK = SystemClock()


def iso_from_ms(ms: int) -> str:
    """`2026-01-02T03:04:05.678Z` for epoch milliseconds (UTC, always three decimals)."""
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def ms_from_iso(text: str) -> int:
    """Epoch milliseconds of an ISO 8601 time; a trailing Z means UTC. Rounded, not cut:
    the float timestamp of `.133` is 8.132999..., and `iso_from_ms` must round-trip."""
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
