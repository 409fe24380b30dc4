"""The cloud bridge's health as the hub shows it: /healthz, /api/v1/bridge, the admin page.

The bridge is its own process; what it knows (cursors, last success, last error, parked
batches, shed telemetry, its own count of the backlog) is in its state file, read here
read-only in a worker thread every `every_s`. The age of the oldest unsent event comes from
the hub's own outbox. Alerts (a parked batch; a stale bridge: an event waiting longer than
`stale_after_s` with no upload for as long) go into the health's alert list and to the log
once when they start and once when they end, never on every refresh.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.store.db import Store
from plumbing.clock import iso_from_ms, ms_from_iso
from plumbing.outbox import LANES, TELEMETRY, StateUnreadable, prune_plan, read_state

log = logging.getLogger("tablehub.bridge_health")

_LANE_SQL = {TELEMETRY: "stream = 'telemetry'"}
_PRIORITY_SQL = "stream != 'telemetry'"
UNPARK_HINT = "`tablehub bridge unpark` sends it again once the cloud is fixed"


def _read(state_db: Path) -> tuple[dict[str, Any], tuple[int, ...]] | None:
    """The bridge's state and its parked seqs; None when it has no state yet."""
    if not state_db.exists():
        return None
    return read_state(state_db), prune_plan(state_db).keep


def _age_s(now_ms: int, iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return round(max(0.0, (now_ms - ms_from_iso(iso)) / 1000), 1)
    except ValueError:
        return None


class BridgeHealth:
    """Keeps `status` (the whole picture, for the admin API) and `health` (the summary in
    /healthz, also written into `extra_health["cloud_bridge"]`) fresh."""

    def __init__(
        self,
        store: Store,
        state_db: Path,
        extra_health: dict[str, Any],
        *,
        now_ms: Callable[[], int],
        every_s: float = 5.0,
        stale_after_s: float = 300.0,
    ) -> None:
        self._store = store
        self.state_db = Path(state_db)
        self._extra = extra_health
        self._now_ms = now_ms
        self.every_s = every_s
        self.stale_after_s = stale_after_s
        self.status: dict[str, Any] = {"configured": True, "state": "unknown"}
        self._alerts: dict[str, str] = {}  # key -> text, the alerts raised now
        # lane -> (its cursor, the parked seqs, the seq up to which it was found to have
        # nothing unsent): while the first two hold, the next look starts there, so a lane
        # with no rows (no scales: no telemetry) is not sought through the whole outbox
        self._empty_upto: dict[str, tuple[int, str, int]] = {}

    def __repr__(self) -> str:
        state = self.status.get("state")
        return f"<BridgeHealth {self.state_db} {state} alerts={len(self._alerts)}>"

    @property
    def alerts(self) -> list[str]:
        return list(self._alerts.values())

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # a failed look is logged; the next one tries again
                log.exception("cloud bridge health: refresh failed")
            await asyncio.sleep(self.every_s)

    async def refresh(self) -> dict[str, Any]:
        now = self._now_ms()
        try:
            got = await asyncio.to_thread(_read, self.state_db)
        except StateUnreadable as exc:
            status = self._base("unreadable", now) | {"error": exc.message}
            # keep what was raised before: a state file busy for a moment changes nothing
            self._raise_alerts(self._alerts | {"unreadable": f"cloud bridge: {exc.message}"})
        else:
            status = await self._status(got, now)
        self.status = status
        self._extra["cloud_bridge"] = self.health
        return status

    @property
    def health(self) -> dict[str, Any]:
        s = self.status
        keys = (
            "state",
            "checked_at",
            "backlog",
            "last_success_at",
            "last_success_age_s",
            "last_error",
            "last_error_at",
            "acked_upto",
        )
        return {k: s.get(k) for k in keys} | {"parked": len(s.get("parked", []))}

    def _base(self, state: str, now: int) -> dict[str, Any]:
        return {
            "configured": True,
            "state": state,
            "state_db": str(self.state_db),
            "checked_at": iso_from_ms(now),
        }

    async def _status(
        self, got: tuple[dict[str, Any], tuple[int, ...]] | None, now: int
    ) -> dict[str, Any]:
        bridge, keep = got if got is not None else ({}, ())
        cursors = bridge.get("cursors") or dict.fromkeys(LANES, 0)
        acked = int(bridge.get("acked_upto") or 0)
        oldest_at = await self._oldest_unsent(cursors, keep)
        oldest_age = _age_s(now, oldest_at)
        counted = bridge.get("backlog") or {}
        backlog = {
            "events": counted.get("events"),
            "bytes": counted.get("bytes"),
            "counted_at": counted.get("at"),
            "unacked_seqs": max(0, self._store.committed_seq - acked),
            "oldest_unsent_at": oldest_at,
            "oldest_unsent_age_s": oldest_age,
        }
        last_ok = bridge.get("last_success_at")
        last_ok_age = _age_s(now, last_ok)
        waiting = oldest_age is not None and oldest_age > self.stale_after_s
        silent = last_ok_age is None or last_ok_age > self.stale_after_s
        if got is None:
            state = "stale" if waiting else "not_running_yet"
        else:
            state = "stale" if waiting and silent else "ok"
        alerts: dict[str, str] = {}
        for p in bridge.get("parked", []):
            alerts[f"parked:{p['id']}"] = (
                f"cloud bridge: batch {p['id']} parked (seqs {p['first_seq']}..{p['last_seq']}, "
                f"{p['count']} events): {p['error']}: {p['message']}; {UNPARK_HINT}"
            )
        n_parked = len(alerts)
        for text in bridge.get("alerts", [])[n_parked:]:
            alerts[text] = f"cloud bridge: {text}"
        if state == "stale":
            since = "has not run yet" if got is None else f"last uploaded {last_ok or 'never'}"
            alerts["stale"] = (
                f"cloud bridge: the oldest unsent event has waited {oldest_age:.0f} s and the "
                f"bridge {since}; {backlog['unacked_seqs']} events not yet in the cloud"
            )
        self._raise_alerts(alerts)
        return self._base(state, now) | {
            "backlog": backlog,
            "last_success_at": last_ok,
            "last_success_age_s": last_ok_age,
            "last_error": bridge.get("last_error"),
            "last_error_at": bridge.get("last_error_at"),
            "cloud_online": bridge.get("cloud_online"),
            "cloud_contiguous_seq": bridge.get("cloud_contiguous_seq"),
            "acked_upto": acked if got is not None else None,
            "cursors": cursors,
            "sent_events": bridge.get("sent_events", 0),
            "sent_batches": bridge.get("sent_batches", 0),
            "parked": bridge.get("parked", []),
            "shed": bridge.get("shed"),
            "menu": bridge.get("menu"),
            "alerts": list(alerts.values()),
        }

    async def _oldest_unsent(self, cursors: dict[str, int], keep: tuple[int, ...]) -> str | None:
        """The creation time of the oldest outbox row no lane has sent (parked rows aside)."""
        skip = "[" + ",".join(str(s) for s in keep) + "]"
        firsts = []
        for lane in LANES:
            where = _LANE_SQL.get(lane, _PRIORITY_SQL)
            cursor = int(cursors.get(lane, 0))
            seen_cursor, seen_skip, empty_upto = self._empty_upto.get(lane, (-1, "", 0))
            same = (seen_cursor, seen_skip) == (cursor, skip)
            start = max(cursor, empty_upto) if same else cursor
            mark = self._store.committed_seq  # the read below sees at least this much
            row = await self._store.read_one(
                f"SELECT seq, created_at FROM outbox WHERE seq > ? AND {where} "  # noqa: S608
                "AND seq NOT IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT 1",
                (start, skip),
            )
            if row is not None:
                firsts.append((int(row[0]), str(row[1])))
                self._empty_upto.pop(lane, None)
            else:
                self._empty_upto[lane] = (cursor, skip, mark)
        return min(firsts)[1] if firsts else None

    def _raise_alerts(self, alerts: dict[str, str]) -> None:
        """Log an alert once when it starts and once when it ends; keep the health's list
        (shared with other parts of the hub) holding exactly the current ones."""
        for key, text in alerts.items():
            if key not in self._alerts:
                log.warning("ALERT %s", text)
        for key, text in self._alerts.items():
            if key not in alerts:
                log.info("cloud bridge alert over: %s", text)
        mine = set(self._alerts.values())
        others = [a for a in self._extra.get("alerts", []) if a not in mine]
        self._alerts = dict(alerts)
        merged = others + list(alerts.values())
        if merged:
            self._extra["alerts"] = merged
        else:
            self._extra.pop("alerts", None)
