"""Table token versions as the hub will see them, so printed QR codes match what it accepts.

The hub keeps each table's ``token_version`` in its SQLite ``tables`` table; a QR code signs
(table id, version). Provisioning never lowers a version and raises one only when asked to
rotate that table.

- The store exists (``<data_dir>/tablehub.db``): tables the answers add are inserted, names
  follow the answers, rotated tables get version + 1, all through the store's own writer
  (`hub.store.repos`, the only SQL) in one transaction. A pending file left from before the
  first run is applied (never lowering a version) and removed. The hub reads versions at
  start: restart it to apply.
- No store yet: versions go to ``<data_dir>/table-versions.json`` (``{"tables": {"T1":
  {"name": "Table 1", "token_version": 1}}}``) for the hub to apply on its first run.

Tables in the store that the answers no longer list are left alone (reported).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
from collections.abc import Callable, Coroutine, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from hub.errors import HubError
from hub.provision.answers import Table
from hub.store import repos
from hub.store.db import Store, Tx
from plumbing.clock import SYSTEM_CLOCK

T = TypeVar("T")

PENDING = "table-versions.json"
DB = "tablehub.db"


@dataclass(slots=True)
class Versions:
    versions: dict[str, int]
    db_changes: list[str] = field(default_factory=list)  # what changed in the store
    pending: str | None = None  # the pending file's new text (no store yet)
    remove_pending: bool = False
    notes: list[str] = field(default_factory=list)


def _read_pending(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text("utf-8"))
        tables: dict[str, dict[str, Any]] = doc["tables"]
        return {str(k): dict(v) for k, v in tables.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}


@contextlib.contextmanager
def owned_like_store(db: Path) -> Iterator[None]:
    """Around a session on the store: when run as root, leave any -wal/-shm it created owned
    like the store (so the hub, another user, can still open it)."""
    sidecars = [db.with_name(db.name + s) for s in ("-wal", "-shm")]
    existed = [p.exists() for p in sidecars]
    try:
        yield
    finally:
        if os.geteuid() == 0:
            st = db.stat()
            for p, was in zip(sidecars, existed, strict=True):
                if not was and p.exists():
                    os.chown(p, st.st_uid, st.st_gid)


def on_own_loop(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to its end on an event loop of its own, in a thread of its own.
    Provisioning is synchronous, and its callers (the CLI's worker thread, a test) may
    already run a loop on theirs."""
    with ThreadPoolExecutor(1, thread_name_prefix="provision-store") as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def store_id(db: Path) -> str | None:
    """The store id of the menu saved in the store at `db`; None when it has no menu or
    cannot be read."""

    async def read() -> str | None:
        async with Store(db, clock=SYSTEM_CLOCK.now_iso) as store:
            saved = await repos.load_menu(store)
        return None if saved is None else saved[1].get("store", {}).get("id")

    try:
        with owned_like_store(db):
            return on_own_loop(read)
    except (sqlite3.Error, OSError, HubError):
        return None


def settle(data_dir: Path, tables: Sequence[Table], rotate: set[str]) -> Versions:
    db, pending_path = data_dir / DB, data_dir / PENDING
    pending = _read_pending(pending_path)
    if db.exists():
        with owned_like_store(db):
            out = on_own_loop(lambda: _settle_store(db, tables, rotate, pending))
        out.remove_pending = pending_path.exists()
        return out
    versions = {}
    for t in tables:
        v = int(pending.get(t.id, {}).get("token_version", 1))
        versions[t.id] = v + 1 if t.id in rotate else v
    doc = {
        "tables": {t.id: {"name": t.name, "token_version": versions[t.id]} for t in tables},
    }
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    return Versions(versions, pending=text)


def plan(
    rows: dict[str, tuple[str, int]],
    tables: Sequence[Table],
    rotate: set[str],
    pending: dict[str, dict[str, Any]],
) -> tuple[Versions, list[tuple[str, str, int, int]]]:
    """What to write (id, name, version, position) for the tables in the store (`rows`: id
    -> (name, version)), and the report of it. Pure."""
    out, writes = Versions({}), []
    for pos, t in enumerate(tables):
        floor = int(pending.get(t.id, {}).get("token_version", 1))
        if t.id not in rows:
            v = floor + 1 if t.id in rotate else floor
            writes.append((t.id, t.name, v, pos))
            out.db_changes.append(f"table {t.id} added (version {v})")
        else:
            name, current = rows[t.id]
            v = max(current, floor) + (1 if t.id in rotate else 0)
            if v != current:
                out.db_changes.append(f"table {t.id} token version {current} -> {v}")
            if name != t.name:
                out.db_changes.append(f"table {t.id} renamed '{name}' -> '{t.name}'")
            if v != current or name != t.name:
                writes.append((t.id, t.name, v, pos))
        out.versions[t.id] = v
    extra = sorted(set(rows) - {t.id for t in tables})
    if extra:
        out.notes.append(
            f"tables {', '.join(extra)} are in the store but not in the answers: left as they are"
        )
    return out, writes


async def _settle_store(
    db: Path, tables: Sequence[Table], rotate: set[str], pending: dict[str, dict[str, Any]]
) -> Versions:
    """Through the store's own writer, in one transaction. `repos.provision_table` never
    lowers a version, so a rotation the hub made meanwhile is kept."""
    async with Store(db, clock=SYSTEM_CLOCK.now_iso) as store:
        rows = {
            str(r["id"]): (str(r["name"]), int(r["token_version"]))
            for r in await repos.list_tables(store)
        }
        out, writes = plan(rows, tables, rotate, pending)

        async def unit(tx: Tx) -> None:
            for table_id, name, version, position in writes:
                await repos.provision_table(tx, table_id, name, version, position)

        if writes:
            await store.write(unit)
    return out
