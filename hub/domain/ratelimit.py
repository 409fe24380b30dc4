"""Token-bucket rate limits for what diners can do: place orders and call staff.

Each key (a table, a client address) has a bucket of `burst` tokens refilled at `per_minute`;
an action takes one token or is refused with HTTP 429 and a Retry-After. Buckets live in a
bounded LRU, so a flood of new keys cannot grow memory without limit (the oldest idle bucket
goes first, and a fresh bucket is full, so forgetting one only ever errs towards allowing)."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from hub.errors import RateLimited


@dataclass(frozen=True, slots=True)
class Limit:
    burst: int
    per_minute: float


class RateLimiter:
    def __init__(self, limit: Limit, now_ms: Callable[[], int], *, max_keys: int = 10_000):
        self.limit = limit
        self._now_ms = now_ms
        self._buckets: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._max_keys = max_keys
        self.refused = 0

    def check(self, key: str, what: str, field: str | None = None) -> None:
        """Refuse like `take` when `key` has no token left, without taking one."""
        now = self._now_ms()
        tokens, at = self._buckets.get(key, (float(self.limit.burst), now))
        tokens = min(self.limit.burst, tokens + (now - at) * self.limit.per_minute / 60_000)
        if tokens < 1:
            self.refused += 1
            wait = math.ceil((1 - tokens) * 60 / self.limit.per_minute)
            raise RateLimited(f"too many {what}; please wait {wait} s", wait, field=field)

    def take(self, key: str, what: str, field: str | None = None) -> None:
        now = self._now_ms()
        tokens, at = self._buckets.pop(key, (float(self.limit.burst), now))
        tokens = min(self.limit.burst, tokens + (now - at) * self.limit.per_minute / 60_000)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            self.refused += 1
            wait = math.ceil((1 - tokens) * 60 / self.limit.per_minute)
            raise RateLimited(f"too many {what}; please wait {wait} s", wait, field=field)
        self._buckets[key] = (tokens - 1, now)
        while len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
