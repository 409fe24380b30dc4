"""The seams through which time and randomness come in, so tests can hold them still.

The clock is the one every tablehub process shares (`plumbing.clock`, pure like the domain);
it is named here so the domain's code and its callers take their seams from one place."""

from __future__ import annotations

import secrets
from typing import Protocol

from plumbing.clock import Clock, SystemClock, iso_from_ms


class IdGen(Protocol):
    def token(self, nbytes: int) -> str:
        """A URL-safe random string from `nbytes` random bytes."""
        ...

    def pin(self, digits: int) -> str:
        """A random string of `digits` decimal digits."""
        ...


class SystemIds:
    def token(self, nbytes: int) -> str:
        return secrets.token_urlsafe(nbytes)

    def pin(self, digits: int) -> str:
        return "".join(str(secrets.randbelow(10)) for _ in range(digits))


__all__ = ["Clock", "IdGen", "SystemClock", "SystemIds", "iso_from_ms"]
