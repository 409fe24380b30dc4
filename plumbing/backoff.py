"""How long to wait before the next try: the one jittered backoff of every retry loop.

Decorrelated jitter: each delay is uniform between `base` and three times the last delay,
capped at `cap`. A long outage backs off to the cap within a few failures; processes that
failed together (every agent when the broker restarts) do not retry in lockstep; `reset()`
after a success starts again from `base`. Randomness comes in as a parameter.
"""

from __future__ import annotations

import random


class Backoff:
    """`delay = backoff.next()` after each failure, `backoff.reset()` after a success."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        if base <= 0 or cap < base:
            raise ValueError(f"backoff needs 0 < base <= cap, got base={base} cap={cap}")
        self.base = base
        self.cap = cap
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        self._last = base
        self.failures = 0

    def __repr__(self) -> str:
        return f"<Backoff {self.base}..{self.cap}s failures={self.failures}>"

    def next(self) -> float:
        """The delay before the next try (seconds), counting one more failure."""
        self.failures += 1
        self._last = min(self.cap, self._rng.uniform(self.base, self._last * 3))
        return self._last

    def reset(self) -> None:
        self._last = self.base
        self.failures = 0
