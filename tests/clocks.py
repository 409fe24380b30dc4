"""Clocks a test moves by hand (the hub takes any object with these four methods)."""

from __future__ import annotations

from plumbing.clock import iso_from_ms


class SteppingClock:
    """Wall time that a test can step (or set: a wall clock set forward leaves the monotonic
    one where it was); monotonic time that only moves forward."""

    def __init__(self) -> None:
        self.wall = 1_780_000_000_000
        self.mono = 5_000

    def now_ms(self) -> int:
        return self.wall

    def now_iso(self) -> str:
        return iso_from_ms(self.wall)

    def monotonic_ms(self) -> int:
        return self.mono

    def advance(self, ms: int) -> None:
        self.wall += ms
        self.mono += ms
