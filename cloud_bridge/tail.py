"""Reading the hub's outbox, read-only.

The hub is the only writer of its store; the bridge opens it with a `file:...?mode=ro` URI,
so it cannot write even by mistake, and keeps every read transaction short (one statement
group per batch), so a reader never holds back the hub's WAL checkpoints for long.

The outbox is split into two *lanes* by stream: `telemetry` (scale readings, heartbeats;
may be shed) and `priority` (everything else: orders, tickets, menu, devices, and any stream
added later, so a new kind of business event can never be shed by accident). A lane is read
from its own cursor: "every row of this lane with seq <= cursor is done".

One `read()` runs in one read transaction: the outbox's highest seq `high` and each lane's
next rows. The hub has one writer that commits seqs in order, so any snapshot holds every
seq up to `high`; a lane read that came back short is therefore complete up to `high`,
and that lane's cursor may jump to `high` once its rows are acknowledged.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import aiosqlite

from cloud_bridge.errors import HubDbReplaced, HubDbUnavailable
from plumbing.outbox import LANES, PRIORITY, TELEMETRY, lane_of, later_share
from plumbing.packed import unpack

# per-row bytes the budget adds to the JSON body: kind, key, timestamps, row header
ROW_OVERHEAD = 64

_LANE_SQL = {PRIORITY: "stream != 'telemetry'", TELEMETRY: "stream = 'telemetry'"}
_COLS = "seq, stream, kind, key, CAST(body AS BLOB), created_at"


@dataclass(frozen=True, slots=True)
class Row:
    """One outbox row; `body` is its JSON text (unpacked as `plumbing.packed` stored it),
    never decoded by the bridge."""

    seq: int
    stream: str
    kind: str
    key: str
    body: bytes
    created_at: str
    stored: int = -1  # the body's bytes as stored (packed or not); -1: its text's

    @property
    def lane(self) -> str:
        return lane_of(self.stream)

    @property
    def nbytes(self) -> int:
        """What the row weighs in the backlog budget, a budget of disk: its body as stored
        (the measure of `OutboxTail.sizes`, which never reads a body)."""
        return (len(self.body) if self.stored < 0 else self.stored) + ROW_OVERHEAD


@dataclass(frozen=True, slots=True)
class LaneRead:
    rows: tuple[Row, ...]
    complete: bool  # fewer rows than asked: the lane has nothing more up to `high`


@dataclass(frozen=True, slots=True)
class Snapshot:
    high: int
    lanes: Mapping[str, LaneRead]


def _row(r: sqlite3.Row) -> Row:
    stored = bytes(r[4])
    return Row(int(r[0]), str(r[1]), str(r[2]), str(r[3]), unpack(stored), str(r[5]), len(stored))


def _excluded(exclude: Iterable[int]) -> str:
    return json.dumps(sorted(exclude))


class OutboxTail:
    """`async with OutboxTail(path) as tail: snap = await tail.read(cursors, limits)`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._conn: aiosqlite.Connection | None = None

    def __repr__(self) -> str:
        return f"<OutboxTail {self.path} {'open' if self._conn else 'closed'}>"

    async def __aenter__(self) -> OutboxTail:
        await self.open()
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def open(self) -> None:
        if not self.path.exists():
            raise HubDbUnavailable(f"the hub's store {self.path} does not exist (yet)")
        try:
            conn = await aiosqlite.connect(
                f"file:{self.path}?mode=ro", uri=True, isolation_level=None
            )
            await conn.execute("PRAGMA busy_timeout=2000")
            await conn.execute("PRAGMA query_only=1")
        except sqlite3.Error as exc:
            raise HubDbUnavailable(f"cannot open the hub's store {self.path}: {exc}") from exc
        self._conn = conn

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    def _c(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise HubDbUnavailable("the outbox reader is closed")
        return self._conn

    async def _all(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        async with self._c().execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def _high(self) -> tuple[int, int]:
        """(highest seq in the outbox, highest seq ever given out)."""
        rows = await self._all(
            "SELECT (SELECT COALESCE(MAX(seq), 0) FROM outbox), "
            # the hub never prunes its newest row; a rebuilt outbox keeps its mark in meta
            "(SELECT COALESCE(MAX(CAST(value AS INTEGER)), 0) FROM meta WHERE key = 'outbox_high')"
        )
        return int(rows[0][0]), max(int(rows[0][0]), int(rows[0][1]))

    async def read(
        self, cursors: Mapping[str, int], limit: int, *, exclude: Iterable[int] = ()
    ) -> Snapshot:
        """The next rows of each lane after its cursor, skipping `exclude` (parked seqs), all
        in one snapshot: up to `limit` priority rows, then telemetry rows in the room left,
        and at least `later_share(limit)` of them (what `plan_batch` keeps for a later lane;
        a lane given no room is not read and is absent from the snapshot)."""
        skip = _excluded(exclude)
        try:
            await self._c().execute("BEGIN")
            try:
                high, mark = await self._high()
                if mark < max(cursors.values(), default=0):
                    raise HubDbReplaced(
                        f"the hub's outbox ends at seq {mark} but the bridge has sent up to "
                        f"{max(cursors.values())}: was the hub's database replaced?"
                    )
                lanes: dict[str, LaneRead] = {}
                room = limit
                for i, lane in enumerate(LANES):
                    ask = room if i == 0 else max(room, later_share(limit))
                    if ask <= 0:
                        break
                    rows = await self._all(
                        f"SELECT {_COLS} FROM outbox WHERE seq > ? AND {_LANE_SQL[lane]} "  # noqa: S608
                        "AND seq NOT IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT ?",
                        (cursors[lane], skip, ask),
                    )
                    lanes[lane] = LaneRead(tuple(_row(r) for r in rows), len(rows) < ask)
                    room -= len(rows)
            finally:
                await self._c().execute("COMMIT")
        except sqlite3.Error as exc:
            raise HubDbUnavailable(f"cannot read the hub's outbox: {exc}") from exc
        return Snapshot(high, lanes)

    async def rows(self, seqs: Iterable[int]) -> list[Row]:
        """Specific rows by seq (a parked batch being retried), in seq order."""
        try:
            found = await self._all(
                f"SELECT {_COLS} FROM outbox WHERE seq IN (SELECT value FROM json_each(?)) "  # noqa: S608
                "ORDER BY seq",
                (_excluded(seqs),),
            )
        except sqlite3.Error as exc:
            raise HubDbUnavailable(f"cannot read the hub's outbox: {exc}") from exc
        return [_row(r) for r in found]

    async def sizes(self, after: int, limit: int) -> list[tuple[int, str, int]]:
        """(seq, stream, bytes) of the rows after `after`, oldest first: how the backlog meter
        learns about new rows without ever rescanning the backlog. One short read."""
        try:
            rows = await self._all(
                "SELECT seq, stream, LENGTH(CAST(body AS BLOB)) FROM outbox WHERE seq > ? "
                "ORDER BY seq LIMIT ?",
                (after, limit),
            )
        except sqlite3.Error as exc:
            raise HubDbUnavailable(f"cannot read the hub's outbox: {exc}") from exc
        return [(int(r[0]), str(r[1]), int(r[2]) + ROW_OVERHEAD) for r in rows]

    async def first_unsent(
        self, cursors: Mapping[str, int], *, exclude: Iterable[int] = ()
    ) -> dict[str, tuple[int, str] | None]:
        """Each lane's oldest unsent row: (seq, created_at), or None."""
        skip = _excluded(exclude)
        out: dict[str, tuple[int, str] | None] = {}
        try:
            for lane in LANES:
                rows = await self._all(
                    f"SELECT seq, created_at FROM outbox WHERE seq > ? AND {_LANE_SQL[lane]} "  # noqa: S608
                    "AND seq NOT IN (SELECT value FROM json_each(?)) ORDER BY seq LIMIT 1",
                    (cursors[lane], skip),
                )
                out[lane] = (int(rows[0][0]), str(rows[0][1])) if rows else None
        except sqlite3.Error as exc:
            raise HubDbUnavailable(f"cannot read the hub's outbox: {exc}") from exc
        return out

    async def telemetry_sizes(
        self, after: int, limit: int, *, upto: int, exclude: Iterable[int] = ()
    ) -> list[tuple[int, int]]:
        """(seq, bytes) of the oldest unsent telemetry rows up to `upto`: what may be shed."""
        try:
            rows = await self._all(
                "SELECT seq, LENGTH(CAST(body AS BLOB)) FROM outbox WHERE seq > ? AND seq <= ? "
                "AND stream = 'telemetry' AND seq NOT IN (SELECT value FROM json_each(?)) "
                "ORDER BY seq LIMIT ?",
                (after, upto, _excluded(exclude), limit),
            )
        except sqlite3.Error as exc:
            raise HubDbUnavailable(f"cannot read the hub's outbox: {exc}") from exc
        return [(int(r[0]), int(r[1]) + ROW_OVERHEAD) for r in rows]
