"""Online backups of the store and restoring one.

A backup is SQLite's online backup (`sqlite3.Connection.backup`) from a read-only connection,
safe while the hub runs (WAL: the copy is one consistent read; the hub's writer is not
blocked), into ``<data_dir>/backups/tablehub-<UTC timestamp>.db``: written as ``.partial``,
switched to a self-contained rollback journal, fsync'd, checked with ``PRAGMA quick_check``
and only then renamed into place. The newest `keep` are kept.

Restoring refuses while a hub is running (something answers on its HTTP port, or a process
has the store open), refuses a backup that fails its check, moves the live store aside as
``tablehub.db.before-restore-<ts>`` with its ``-wal``/``-shm``, and copies the backup in.

The hub calls `before_migration` before it upgrades the schema and runs `run_schedule` as one
of its loops. When run as root, files made here get the store's owner, so the hub (another
user) can still open them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import socket
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hub.errors import HubError

if TYPE_CHECKING:  # the store imports this module; keep the import graph flat
    from hub.config import HubConfig

log = logging.getLogger("tablehub.backup")

BACKUPS = "backups"
KEEP = 14
EVERY_S = 6 * 3600
_NAME = re.compile(r"^tablehub-(\d{8}T\d{6}Z)(?:-(\d+))?\.db$")


class BackupError(HubError):
    code = "backup"


class HubRunning(BackupError):
    code = "hub_running"


def backups_dir(data_dir: Path) -> Path:
    return data_dir / BACKUPS


def _stamp(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _same_owner(path: Path, like: Path) -> None:
    if os.geteuid() == 0 and like.exists():
        st = like.stat()
        os.chown(path, st.st_uid, st.st_gid)


@contextlib.contextmanager
def open_readonly(db: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection. In WAL mode SQLite may create -wal/-shm beside the store and
    leave them; made by root they would lock the hub out, so they get the store's owner."""
    sidecars = [db.with_name(db.name + s) for s in ("-wal", "-shm")]
    existed = [p.exists() for p in sidecars]
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()
        for p, was in zip(sidecars, existed, strict=True):
            if not was and p.exists():
                _same_owner(p, db)


def quick_check(path: Path) -> str:
    """'ok', or what is wrong with the database at `path`."""
    try:
        with open_readonly(path) as conn:
            rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.Error as exc:
        return str(exc)
    problems = [str(r[0]) for r in rows]
    return "ok" if problems == ["ok"] else "; ".join(problems[:5])


def _key(path: Path) -> tuple[str, int]:
    m = _NAME.match(path.name)
    return (m.group(1), int(m.group(2) or 0)) if m else ("", 0)


def list_backups(folder: Path) -> list[Path]:
    """Finished backups, newest first."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if _NAME.match(p.name)]
    return sorted(found, key=_key, reverse=True)


def backup_time(path: Path) -> datetime:
    stamp, _ = _key(path)
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def prune(folder: Path, keep: int) -> list[Path]:
    gone = list_backups(folder)[max(keep, 1) :]
    for p in gone:
        p.unlink(missing_ok=True)
    return gone


def backup(db: Path, folder: Path, *, keep: int = KEEP, now: datetime | None = None) -> Path:
    """Copy the store online into `folder`; the checked backup's path."""
    if not db.exists():
        raise BackupError(f"no store at {db}")
    folder.mkdir(mode=0o750, parents=True, exist_ok=True)
    _same_owner(folder, db)
    stamp, n = _stamp(now), 0
    target = folder / f"tablehub-{stamp}.db"
    while target.exists():
        n += 1
        target = folder / f"tablehub-{stamp}-{n}.db"
    partial = target.with_name(target.name + ".partial")
    try:
        with open_readonly(db) as src, contextlib.closing(sqlite3.connect(partial)) as dst:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        partial.chmod(0o640)
        _fsync(partial)
        problem = quick_check(partial)
        if problem != "ok":
            raise BackupError(f"the copy of {db} failed its check: {problem}")
        _same_owner(partial, db)
        os.replace(partial, target)
        _fsync(folder)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot back up {db}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    for old in prune(folder, keep):
        log.info("backup %s removed (keeping %d)", old.name, keep)
    return target


def before_migration(
    db: Path, from_version: int, to_version: int, *, keep: int = KEEP
) -> Path | None:
    """A backup before the schema changes (none for a new store). Raises `BackupError`: the
    migration must not run without it."""
    if from_version == 0 or not db.exists():
        return None
    path = backup(db, backups_dir(db.parent), keep=keep)
    log.info("store backed up before migration %d -> %d: %s", from_version, to_version, path)
    return path


async def run_schedule(
    db: Path, *, every_s: float = EVERY_S, keep: int = KEEP, first_after_s: float = 300.0
) -> None:
    """The hub's backup loop: one now-ish, then every `every_s`. A failure is logged, never
    fatal (the next round tries again); cancel the task to stop."""
    await asyncio.sleep(first_after_s)
    while True:
        try:
            path = await asyncio.to_thread(backup, db, backups_dir(db.parent), keep=keep)
            log.info("store backed up: %s", path.name)
        except BackupError as exc:
            log.error("backup failed: %s", exc.message)
        await asyncio.sleep(every_s)


# ---------------------------------------------------------------- restore


def hub_running(config: HubConfig, *, proc: Path = Path("/proc")) -> str | None:
    """Why we think a hub is running, or None: its HTTP port answers, or a process has the
    store (or its WAL) open."""
    host = config.http_host if config.http_host not in ("", "0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
    if config.http_port:
        with contextlib.suppress(OSError):
            socket.create_connection((host, config.http_port), timeout=0.5).close()
            return f"something answers on {host}:{config.http_port} (the hub?)"
    holders = _holders(config.db_path, proc)
    if holders:
        return f"process {', '.join(map(str, holders))} has {config.db_path} open"
    return None


def _holders(db: Path, proc: Path) -> list[int]:
    wanted = {str(db.resolve()), str(db.resolve()) + "-wal"}
    out = []
    for entry in proc.iterdir() if proc.is_dir() else []:
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in wanted:
                        out.append(int(entry.name))
                        break
    return out


def restore(
    db: Path,
    source: Path,
    *,
    running: Callable[[], str | None] = lambda: None,
    now: datetime | None = None,
) -> list[Path]:
    """Put `source` in place of the store; the live files moved aside."""
    if not source.is_file():
        raise BackupError(f"no backup at {source}")
    problem = quick_check(source)
    if problem != "ok":
        raise BackupError(f"refusing {source}: it fails its check ({problem})")
    why = running()
    if why:
        raise HubRunning(f"a hub is running: {why}; stop it first (systemctl stop tablehub)")
    stamp = _stamp(now)
    moved: list[Path] = []
    for suffix in ("", "-wal", "-shm"):
        live = db.with_name(db.name + suffix)
        if live.exists():
            aside = live.with_name(f"{live.name}.before-restore-{stamp}")
            os.replace(live, aside)
            moved.append(aside)
    partial = db.with_name(db.name + ".restoring")
    try:
        shutil.copyfile(source, partial)
        partial.chmod(0o640)
        if moved:
            _same_owner(partial, moved[0])
        _fsync(partial)
        os.replace(partial, db)
        _fsync(db.parent)
    finally:
        partial.unlink(missing_ok=True)
    problem = quick_check(db)
    if problem != "ok":
        raise BackupError(f"the restored store fails its check: {problem}")
    return moved
