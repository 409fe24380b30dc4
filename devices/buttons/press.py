"""Pure helpers of the button agent: `Debouncer` (edges -> presses) and `PressIds`."""

from __future__ import annotations

import itertools
import secrets


class Debouncer:
    """Turns raw edges into presses: a press counts only when the contact has been open for
    at least `lockout_s` and the last counted press is `lockout_s` old, so contact bounce on
    the way down *or* up is never a second press, and a held button is one press.
    (gpiozero's `bounce_time` does this in the kernel on a Pi; MockPin ignores it.)"""

    def __init__(self, lockout_s: float) -> None:
        self.lockout_s = lockout_s
        self._released_at = float("-inf")
        self._pressed_at = float("-inf")
        self.ignored = 0

    def edge(self, pressed: bool, at: float) -> bool:
        """Feed one edge at time `at`; True when it is a new press."""
        if not pressed:
            self._released_at = at
            return False
        if at - self._released_at < self.lockout_s or at - self._pressed_at < self.lockout_s:
            self.ignored += 1
            return False
        self._pressed_at = at
        return True


class PressIds:
    """Unique press ids: ``{device}-{boot}-{n}`` (boot: random per process start, so a
    restarted board never repeats an id the hub has seen). At most 64 characters."""

    def __init__(self, device: str, boot: str | None = None) -> None:
        self.boot = boot or secrets.token_hex(4)
        self.prefix = f"{device[: 64 - len(self.boot) - 12]}-{self.boot}-"
        self._n = itertools.count(1)

    def __call__(self) -> str:
        return f"{self.prefix}{next(self._n)}"
