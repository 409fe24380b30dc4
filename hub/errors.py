"""The hub's error tree.

    HubError                      base of everything the hub raises on purpose
    ├── InvalidInput (ValueError) a request or message failed validation; names the field
    │   ├── OrderRejected         an order the menu does not allow (unknown item, modifiers…)
    │   └── MenuInvalid           a menu document that cannot be loaded
    ├── SoldOut                   an ordered item is 86'd
    │   └── NotEnoughLeft         fewer portions left than ordered (says how many: `left`)
    ├── NotFound (LookupError)    unknown order, ticket, item, table, station
    ├── Conflict                  an action that does not fit the current state
    ├── AuthError                 missing/invalid credentials (401)
    │   ├── Forbidden             valid credentials, not allowed (403)
    │   ├── BadTableToken         forged, unknown or rotated table token (403)
    │   └── TableClosed           the store requires staff to open the table first (403)
    ├── IdempotencyMismatch       an idempotency key reused with a different body
    ├── RateLimited               too many requests from one table or phone (429)
    └── StoreUnavailable          the store cannot take writes (disk full, closing)
        └── StoreBusy             the writer is behind: try again in a moment (503)

Each carries a stable machine ``code``, an optional ``field`` (a JSON path into the input)
and an English ``message``. The web layer maps them to HTTP statuses in one place.
"""

from __future__ import annotations

from typing import Any


class HubError(Exception):
    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str | None]:
        return {"error": self.code, "field": self.field, "message": self.message}


class InvalidInput(HubError, ValueError):
    code = "invalid"


class OrderRejected(InvalidInput):
    code = "invalid"


class MenuInvalid(InvalidInput):
    code = "invalid_menu"


class SoldOut(HubError):
    code = "sold_out"


class NotEnoughLeft(SoldOut):
    """An order for more portions of a counted item than remain; `left` says how many."""

    code = "not_enough_left"

    def __init__(self, message: str, left: int, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.left = left

    def as_dict(self) -> dict[str, str | None]:
        out: dict[str, Any] = dict(super().as_dict(), left=self.left)
        return out


class NotFound(HubError, LookupError):
    code = "not_found"


class Conflict(HubError):
    code = "conflict"


class AuthError(HubError):
    code = "unauthorized"


class Forbidden(AuthError):
    code = "forbidden"


class BadTableToken(AuthError):
    code = "bad_table_token"


class TableClosed(Forbidden):
    code = "table_closed"


class IdempotencyMismatch(HubError):
    code = "idempotency_mismatch"


class RateLimited(HubError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after_s: int, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after_s = retry_after_s


class StoreUnavailable(HubError):
    code = "unavailable"


class StoreBusy(StoreUnavailable):
    """Orders are refused for a moment instead of queued without end (HTTP 503 with
    Retry-After); the phone tries again with the same key."""

    code = "busy"

    def __init__(self, message: str, retry_after_s: int = 1, *, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after_s = retry_after_s
