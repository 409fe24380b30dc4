"""The seams through which time and randomness come in, so tests can hold them still."""

from __future__ import annotations

import secrets
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
        and ages inside one run of the hub. The wall clock steps (a Pi has no battery clock
        and sets it from NTP when the network comes) and would freeze or fire every timer."""
        ...


class IdGen(Protocol):
    def token(self, nbytes: int) -> str:
        """A URL-safe random string from `nbytes` random bytes."""
        ...

    def pin(self, digits: int) -> str:
        """A random string of `digits` decimal digits."""
        ...


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def now_iso(self) -> str:
        return iso_from_ms(self.now_ms())

    def monotonic_ms(self) -> int:
        return time.monotonic_ns() // 1_000_000


class SystemIds:
    def token(self, nbytes: int) -> str:
        return secrets.token_urlsafe(nbytes)

    def pin(self, digits: int) -> str:
        return "".join(str(secrets.randbelow(10)) for _ in range(digits))


def iso_from_ms(ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
