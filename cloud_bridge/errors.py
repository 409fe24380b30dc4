"""The cloud bridge's error tree.

    BridgeError                    base of everything the bridge raises on purpose
    ├── ConfigError (ValueError)   a config file or secret file that cannot be used
    ├── StateError                 the bridge's own database does not fit this store
    ├── HubDbUnavailable           the hub's store cannot be read right now (missing, locked)
    │   └── HubDbReplaced          the hub's outbox is behind the bridge's cursor
    ├── CloudUnavailable           no usable answer: connection refused or cut, timeout,
    │   │                          5xx, 429, a body that is not the promised JSON
    │   └── CloudAuthError         401/403/404: the token or endpoint is wrong (retried,
    │                              alerted, never parked: the batch itself is fine)
    ├── BatchRejected              400/422: the cloud says the batch itself is bad;
    │   │                          `bad_seqs` names the events (empty: the whole batch)
    │   └── BatchTooLarge          413: send fewer events at a time
    └── HubRejected                the hub's admin API refused something the bridge handed
                                   it (a menu from the cloud); carries the hub's reason

`aiohttp.ClientError` and `asyncio.TimeoutError` never leave `cloud_bridge.uploader` (the one
module that makes HTTP requests; `menu_sync` goes through its `HttpClient`): they become
`CloudUnavailable` there (`raise ... from exc`). `sqlite3.Error` never leaves `tail` and
`cursor`. The receiver (`cloud_bridge.receiver`) is a server and raises none of these.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base of the tree. `message` is English text fit for a log line or the status page."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(BridgeError, ValueError):
    code = "config"


class StateError(BridgeError):
    code = "state"


class HubDbUnavailable(BridgeError):
    code = "hub_db_unavailable"


class HubDbReplaced(HubDbUnavailable):
    code = "hub_db_replaced"


class CloudUnavailable(BridgeError):
    code = "cloud_unavailable"

    def __init__(self, message: str, *, status: int | None = None, retry_after: float = 0) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class CloudAuthError(CloudUnavailable):
    code = "cloud_auth"


class BatchRejected(BridgeError):
    code = "batch_rejected"

    def __init__(
        self, message: str, *, status: int, error: str = "", bad_seqs: tuple[int, ...] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.bad_seqs = bad_seqs


class BatchTooLarge(BatchRejected):
    code = "batch_too_large"


class HubRejected(BridgeError):
    code = "hub_rejected"

    def __init__(
        self, message: str, *, status: int, error: str = "", field: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.field = field
