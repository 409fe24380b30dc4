"""What the hub and the cloud bridge share about the outbox and the bridge's state file,
so that neither imports the other: the two upload lanes, the SQL the hub runs to prune what
the bridge no longer needs (`PRUNE_ACKED_SQL`, `PRUNE_SHED_SQL`), and read-only views of the
bridge's state file (`prune_plan`, `acked_upto`, `read_state`). The bridge writes that file
(`cloud_bridge.cursor.BridgeState`); the hub only ever reads it, and only the hub deletes
from its outbox. See docs/cloud-protocol.md.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRIORITY = "priority"
TELEMETRY = "telemetry"
LANES = (PRIORITY, TELEMETRY)
# While a later lane has rows waiting, each batch leaves it at least this fraction (1/10) of
# its events and bytes: orders still go first when catching up, and no lane waits for ever.
LATER_SHARE = 10


def later_share(events: int) -> int:
    """The events a batch of at most `events` leaves a later lane that has rows waiting: a
    tenth, rounded up, so that a small batch still carries one; none in a batch of one."""
    return 0 if events < 2 else -(-events // LATER_SHARE)


def lane_of(stream: str) -> str:
    """Telemetry rides its own lane, behind everything else (orders first when catching up)."""
    return TELEMETRY if stream == TELEMETRY else PRIORITY


class StateUnreadable(Exception):
    """The bridge's state file is missing or cannot be read; `message` says which and why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# What the hub runs to prune its outbox (the bridge never writes there). Both statements
# take named parameters from `prune_plan()`; run them in one of the hub's write units.
PRUNE_ACKED_SQL = """\
DELETE FROM outbox
 WHERE seq <= :upto
   AND seq <= (SELECT COALESCE(MIN(seq), :upto) FROM cursors)
   AND created_at < :cutoff
   AND seq NOT IN (SELECT value FROM json_each(:keep))"""
"""Rows the cloud acknowledged, once older than the retention period (`:cutoff`, an ISO
time like the hub's `created_at`). Parked rows (`:keep`, a JSON list) stay, and so do rows
an in-hub consumer (table `cursors`) has not delivered yet."""

PRUNE_SHED_SQL = """\
DELETE FROM outbox WHERE stream = 'telemetry' AND seq BETWEEN :lo AND :hi"""
"""Telemetry the bridge shed (never to be uploaded), at once: run once per (lo, hi)."""

PRUNE_SQL = f"{PRUNE_ACKED_SQL};\n{PRUNE_SHED_SQL};\n"


# ---------------------------------------------------------------- read-only views (sync)


def _ro(path: Path) -> sqlite3.Connection:
    if not Path(path).exists():
        raise StateUnreadable(f"no bridge state at {path}: the bridge has not run yet")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.execute("PRAGMA busy_timeout=2000")
    except sqlite3.Error as exc:
        raise StateUnreadable(f"cannot read the bridge's state {path}: {exc}") from exc
    return conn


@dataclass(frozen=True, slots=True)
class PrunePlan:
    upto: int  # lane cursors' minimum: every row <= upto is acked, shed or parked
    keep: tuple[int, ...]  # parked seqs: never delete these
    shed: tuple[tuple[int, int], ...]  # (lo, hi): delete telemetry rows in these ranges
    retention_hours: float

    @property
    def keep_json(self) -> str:
        return json.dumps(list(self.keep))


def prune_plan(bridge_db: Path) -> PrunePlan:
    """What the hub may delete from its outbox; see `PRUNE_SQL`."""
    conn = _ro(bridge_db)
    try:
        lanes = dict(conn.execute("SELECT lane, seq FROM lanes").fetchall())
        keep = tuple(int(r[0]) for r in conn.execute("SELECT seq FROM parked_seqs ORDER BY seq"))
        shed = tuple(
            (int(r[0]), int(r[1])) for r in conn.execute("SELECT lo, hi FROM shed ORDER BY lo")
        )
        ret = conn.execute("SELECT value FROM state WHERE key = 'retention_hours'").fetchone()
    except sqlite3.Error as exc:
        raise StateUnreadable(f"cannot read the bridge's state {bridge_db}: {exc}") from exc
    finally:
        conn.close()
    upto = min(int(lanes.get(lane, 0)) for lane in LANES)
    return PrunePlan(upto, keep, shed, float(json.loads(ret[0])) if ret else 168.0)


def acked_upto(bridge_db: Path) -> int:
    """The highest seq such that every outbox row at or below it is acknowledged by the
    cloud (or shed), with no parked row at or below it: safe to prune up to, alone."""
    plan = prune_plan(bridge_db)
    return min([plan.upto, *(s - 1 for s in plan.keep[:1])])


def read_state(bridge_db: Path) -> dict[str, Any]:
    """Everything the bridge keeps, for `tablehub bridge status` and the hub's /healthz."""
    conn = _ro(bridge_db)
    try:
        values = {str(k): json.loads(v) for k, v in conn.execute("SELECT key, value FROM state")}
        lanes = {str(k): int(v) for k, v in conn.execute("SELECT lane, seq FROM lanes")}
        parked = [
            dict(
                zip(
                    (
                        "id",
                        "first_seq",
                        "last_seq",
                        "count",
                        "status",
                        "http_status",
                        "error",
                        "message",
                        "tries",
                        "parked_at",
                    ),
                    r,
                    strict=True,
                )
            )
            for r in conn.execute(
                "SELECT id, first_seq, last_seq, count, status, http_status, error, message, "
                "tries, parked_at FROM parked ORDER BY id"
            )
        ]
        unreported = conn.execute("SELECT COUNT(*) FROM shed WHERE reported_at IS NULL").fetchone()
    except sqlite3.Error as exc:
        raise StateUnreadable(f"cannot read the bridge's state {bridge_db}: {exc}") from exc
    finally:
        conn.close()
    cursors = dict.fromkeys(LANES, 0) | lanes
    first_parked = min((p["first_seq"] for p in parked), default=None)
    upto = min(cursors.values())
    return {
        "store_id": values.get("store_id"),
        "cursors": cursors,
        "acked_upto": upto if first_parked is None else min(upto, first_parked - 1),
        "last_success_at": values.get("last_success_at"),
        "last_error": values.get("last_error"),
        "last_error_at": values.get("last_error_at"),
        "cloud_online": values.get("cloud_online"),
        "cloud_contiguous_seq": values.get("cloud_contiguous_seq"),
        "sent_events": values.get("sent_events", 0),
        "sent_batches": values.get("sent_batches", 0),
        "backlog": values.get("backlog"),
        "parked": parked,
        "shed": {
            "events": values.get("shed_events_total", 0),
            "bytes": values.get("shed_bytes_total", 0),
            "unreported_notices": int(unreported[0]) if unreported else 0,
        },
        "menu": values.get("menu_result"),
        # bookings from the chain's booking site: the last seq handed over, and those the
        # hub refused as invalid (the latest 20)
        "bookings": {
            "after": values.get("bookings_after", 0),
            "rejected": values.get("bookings_rejected") or [],
        },
        "alerts": _alerts(values, parked),
    }


def _alerts(values: Mapping[str, Any], parked: list[dict[str, Any]]) -> list[str]:
    out = [
        f"parked batch {p['id']}: seqs {p['first_seq']}..{p['last_seq']} ({p['count']}): "
        f"{p['error']}: {p['message']}"
        for p in parked
    ]
    if values.get("over_budget_unsheddable"):
        out.append("backlog over its disk budget with no telemetry left to shed")
    if values.get("hub_db_error"):
        out.append(str(values["hub_db_error"]))
    out += [
        f"booking {b.get('id')} from the booking site refused by the hub: {b.get('why')}"
        for b in values.get("bookings_rejected") or []
    ]
    return out
