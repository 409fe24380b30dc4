"""The down-link: menu changes from the cloud to the hub, and the hub's verdict back up.

Every `menu_poll_seconds` the bridge asks the cloud for the store's menu with
`If-None-Match: <etag of the last version handled>`; a 304 costs nothing. A new version is
handed to the hub's admin API exactly like an edit made on the admin page
(`PUT /api/v1/admin/menu` with `If-Match: <hub's current version>`), so the hub validates it
the same way. The hub's answer is reported up (`POST .../menu/results`): applied (with the
hub's version) or rejected (with the hub's error code, field and message).

The etag is saved with the result in one transaction, and the report is kept until the cloud
has it, so a crash or an outage repeats at most the report, never a rejected menu. A crash
between the hub's 200 and that save applies the same document once more on restart: the hub
then holds one more version with the same content, which is harmless.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from cloud_bridge.config import BridgeConfig
from cloud_bridge.cursor import BridgeState
from cloud_bridge.errors import BridgeError, CloudUnavailable, HubRejected
from cloud_bridge.uploader import HttpClient
from plumbing.tasks import pause

log = logging.getLogger("tablehub.bridge.menu")


class MenuSync:
    """`await MenuSync(config, client, state).run(stop)`; `poll_once()` for one round."""

    def __init__(
        self,
        config: BridgeConfig,
        client: HttpClient,
        state: BridgeState,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self._client = client
        self._state = state
        self._sleep_fn = sleep
        self._stop = asyncio.Event()
        self._base = f"{config.endpoint}/v1/stores/{config.store_id}/menu"
        self._problem: str | None = None
        self.applied = 0
        self.rejected = 0

    def __repr__(self) -> str:
        return f"<MenuSync {self._base} applied={self.applied} rejected={self.rejected}>"

    def _cloud_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.token}"}

    def _hub_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.config.hub_admin_token}"}

    async def run(self, stop: asyncio.Event) -> None:
        self._stop = stop
        while not stop.is_set():
            try:
                outcome = await self.poll_once()
                if self._problem is not None:
                    log.info("menu down-link working again (%s)", outcome)
                    self._problem = None
            except BridgeError as exc:
                if exc.message != self._problem:
                    log.warning("menu down-link: %s; will try again", exc.message)
                    self._problem = exc.message
            await self._sleep(self.config.menu_poll_seconds)

    async def _sleep(self, seconds: float) -> None:
        if self._sleep_fn is not None:
            await self._sleep_fn(seconds)
        else:
            await pause(self._stop, seconds)

    async def poll_once(self) -> str:
        """One round: 'unchanged', 'none', 'applied', 'rejected' or 'conflict'."""
        await self._flush_report()
        etag = await self._state.get("menu_etag")
        headers = self._cloud_headers() | ({"If-None-Match": etag} if etag else {})
        answer = await self._client.request("GET", self._base, headers=headers)
        if answer.status == 304:
            return "unchanged"
        if answer.status == 404:
            return "none"
        if answer.status != 200:
            raise CloudUnavailable(f"GET menu: HTTP {answer.status}", status=answer.status)
        try:
            doc = json.loads(answer.body)
            version, menu = int(doc["version"]), doc["menu"]
        except (ValueError, KeyError, TypeError) as exc:
            raise CloudUnavailable(f"the cloud's menu answer is malformed: {exc}") from exc
        new_etag = answer.headers.get("etag", f'"{version}"')
        try:
            hub_version = await self._apply(menu)
        except HubRejected as exc:
            if exc.status == 409:
                return "conflict"  # an edit on the hub raced us: try again next round
            result = _result(version, "rejected", None, exc)
            self.rejected += 1
            log.error("ALERT the hub rejected cloud menu version %d: %s", version, exc.message)
        else:
            result = _result(version, "applied", hub_version, None)
            self.applied += 1
            log.info("cloud menu version %d applied as hub version %d", version, hub_version)
        await self._state.put_many(
            {"menu_etag": new_etag, "menu_result": result, "menu_report_pending": result}
        )
        await self._flush_report()
        return str(result["status"])

    async def _apply(self, menu: Any) -> int:
        """PUT the menu into the hub like an admin edit; the hub's new version."""
        hub = f"{self.config.hub_url}/api/v1/admin/menu"
        try:
            current = await self._client.request("GET", hub, headers=self._hub_headers())
            if current.status != 200:
                raise _hub_error(current.status, current.body)
            version = _version(current.body)
            answer = await self._client.request(
                "PUT",
                hub,
                headers=self._hub_headers()
                | {"If-Match": str(version), "Content-Type": "application/json"},
                data=json.dumps(menu, ensure_ascii=False).encode(),
            )
        except CloudUnavailable as exc:
            raise CloudUnavailable(f"the hub is unreachable: {exc.message}") from exc
        if answer.status != 200:
            raise _hub_error(answer.status, answer.body)
        return _version(answer.body)

    async def _flush_report(self) -> None:
        pending = await self._state.get("menu_report_pending")
        if not pending:
            return
        answer = await self._client.request(
            "POST",
            f"{self._base}/results",
            headers=self._cloud_headers() | {"Content-Type": "application/json"},
            data=json.dumps(pending).encode(),
        )
        if answer.status not in (200, 201):
            raise CloudUnavailable(f"menu report: HTTP {answer.status}", status=answer.status)
        await self._state.put_many({"menu_report_pending": None})


def _version(body: bytes) -> int:
    try:
        return int(json.loads(body)["version"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CloudUnavailable(f"the hub's menu answer is malformed: {exc}") from exc


def _hub_error(status: int, body: bytes) -> HubRejected | CloudUnavailable:
    try:
        doc = json.loads(body)
        error, field, message = str(doc["error"]), doc.get("field"), str(doc["message"])
    except (ValueError, KeyError, TypeError):
        error, field, message = "http", None, body[:200].decode("utf-8", "replace")
    if status in (400, 409, 413, 422):
        return HubRejected(message, status=status, error=error, field=field)
    return CloudUnavailable(f"the hub answered {status}: {message}", status=status)


def _result(
    version: int, status: str, hub_version: int | None, exc: HubRejected | None
) -> dict[str, Any]:
    return {
        "version": version,
        "status": status,
        "hub_version": hub_version,
        "error": None if exc is None else exc.error,
        "field": None if exc is None else exc.field,
        "message": None if exc is None else exc.message,
    }
