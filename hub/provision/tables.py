"""Table token versions as the hub will see them, so printed QR codes match what it accepts.

The hub keeps each table's ``token_version`` in its SQLite ``tables`` table; a QR code signs
(table id, version). Provisioning never lowers a version and raises one only when asked to
rotate that table.

- The store exists (``<data_dir>/tablehub.db``, schema 1 or later): tables the answers add are
  inserted, names follow the answers, rotated tables get version + 1, all with sqlite3 in one
  transaction. A pending file left from before the first run is applied (never lowering a
  version) and removed. The hub reads versions at start: restart it to apply.
- No store yet: versions go to ``<data_dir>/table-versions.json`` (``{"tables": {"T1":
  {"name": "Table 1", "token_version": 1}}}``) for the hub to apply on its first run.

Tables in the store that the answers no longer list are left alone (reported).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.provision.answers import Table

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
def connect(db: Path) -> Iterator[sqlite3.Connection]:
    """A read-write connection that, when run as root, leaves any -wal/-shm it created owned
    like the store (so the hub, another user, can still open it)."""
    sidecars = [db.with_name(db.name + s) for s in ("-wal", "-shm")]
    existed = [p.exists() for p in sidecars]
    conn = sqlite3.connect(db, timeout=5.0, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()
        if os.geteuid() == 0:
            st = db.stat()
            for p, was in zip(sidecars, existed, strict=True):
                if not was and p.exists():
                    os.chown(p, st.st_uid, st.st_gid)


def _schema_version(db: Path) -> int:
    with connect(db) as conn:
        row = conn.execute("PRAGMA user_version").fetchone()
        return int(row[0]) if row else 0


def settle(data_dir: Path, tables: Sequence[Table], rotate: set[str]) -> Versions:
    db, pending_path = data_dir / DB, data_dir / PENDING
    pending = _read_pending(pending_path)
    if db.exists() and _schema_version(db) >= 1:
        out = _settle_store(db, tables, rotate, pending)
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


def _settle_store(
    db: Path, tables: Sequence[Table], rotate: set[str], pending: dict[str, dict[str, Any]]
) -> Versions:
    out = Versions({})
    with connect(db) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = {
                r[0]: (r[1], int(r[2]))
                for r in conn.execute("SELECT id, name, token_version FROM tables")
            }
            for pos, t in enumerate(tables):
                floor = int(pending.get(t.id, {}).get("token_version", 1))
                if t.id not in rows:
                    v = floor + 1 if t.id in rotate else floor
                    conn.execute(
                        "INSERT INTO tables(id, name, position, token_version) VALUES (?, ?, ?, ?)",
                        (t.id, t.name, pos, v),
                    )
                    out.db_changes.append(f"table {t.id} added (version {v})")
                else:
                    name, current = rows[t.id]
                    v = max(current, floor) + (1 if t.id in rotate else 0)
                    if v != current:
                        conn.execute("UPDATE tables SET token_version=? WHERE id=?", (v, t.id))
                        out.db_changes.append(f"table {t.id} token version {current} -> {v}")
                    if name != t.name:
                        conn.execute("UPDATE tables SET name=? WHERE id=?", (t.name, t.id))
                        out.db_changes.append(f"table {t.id} renamed '{name}' -> '{t.name}'")
                out.versions[t.id] = v
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    extra = sorted(set(rows) - {t.id for t in tables})
    if extra:
        out.notes.append(
            f"tables {', '.join(extra)} are in the store but not in the answers: left as they are"
        )
    return out
