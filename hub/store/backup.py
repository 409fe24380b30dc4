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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from hub.errors import HubError

if TYPE_CHECKING:  # the store imports this module; keep the import graph flat
    from hub.config import HubConfig

log = logging.getLogger("tablehub.backup")

BACKUPS = "backups"
KEEP = 7
EVERY_S = 24 * 3600
AT_HOUR = 4  # local: a store is closed then, and a copy does not compete with its rush
FIRST_AFTER_S = 300.0  # after a start, before a backup that is due (the hub serves first)
RETRY_S = 3600.0
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


@dataclass(frozen=True, slots=True)
class Schedule:
    """The hub's backups: `every_s` apart, from `at_hour` local time (None: from the newest)."""

    every_s: float = EVERY_S
    at_hour: int | None = AT_HOUR
    tz: tzinfo | None = None

    def next_at(self, newest: datetime | None, now: datetime) -> datetime:
        return next_backup_at(newest, now, every_s=self.every_s, at_hour=self.at_hour, tz=self.tz)


def backup_hours(every_s: float, at_hour: int) -> list[int]:
    """The local hours a schedule's backups start at: `at_hour`, then every `every_s` after
    it within the day (a day or more apart: `at_hour` alone)."""
    step = max(1, round(every_s / 3600))
    return sorted({(at_hour + k * step) % 24 for k in range(max(1, 24 // step))})


def next_backup_at(
    newest: datetime | None,
    now: datetime,
    *,
    every_s: float,
    at_hour: int | None = None,
    tz: tzinfo | None = None,
) -> datetime:
    """When the schedule's next backup is due (UTC; `now` or earlier: at once), from the
    newest backup there is (made by the schedule, by hand or before an upgrade): restarts add
    none.

    With `at_hour`, the first of the backup hours (`backup_hours`, local time) after the newest
    (days apart: after the newest and `every_s` less a day), so the copy is made while the store
    is closed, not in its rush; without, `every_s` after the newest. None yet: at once. A time
    that passed while the box was off: at once."""
    if newest is None:
        return now
    newest = min(newest, now)  # one named by a clock that was ahead must not stop the backups
    if at_hour is None:
        return newest + timedelta(seconds=every_s)
    after = newest + timedelta(seconds=max(0.0, every_s - 86400))
    zone = tz or datetime.now().astimezone().tzinfo
    local = after.astimezone(zone)
    hours = backup_hours(every_s, at_hour)
    for day in range(3):
        d = (local + timedelta(days=day)).date()
        later = [
            t.astimezone(UTC)
            for t in (datetime(d.year, d.month, d.day, h, tzinfo=zone) for h in hours)
            if t > after
        ]
        if later:
            return later[0]
    return now  # not reached: every day has a backup hour


async def run_schedule(
    db: Path,
    *,
    every_s: float = EVERY_S,
    keep: int = KEEP,
    at_hour: int | None = AT_HOUR,
    tz: tzinfo | None = None,
    first_after_s: float = FIRST_AFTER_S,
) -> None:
    """The hub's backup loop: from `first_after_s` after the start (the hub serves first), a
    backup whenever `next_backup_at` says. A failure is logged, never fatal: the next try is
    `RETRY_S` later. Cancel the task to stop."""
    folder = backups_dir(db.parent)
    await asyncio.sleep(first_after_s)
    retry_at: datetime | None = None
    while True:
        now = datetime.now(UTC)
        found = list_backups(folder)
        due = next_backup_at(
            backup_time(found[0]) if found else None, now, every_s=every_s, at_hour=at_hour, tz=tz
        )
        if retry_at is not None:
            due = max(due, retry_at)
        if due > now:
            # looked at again at least every minute: a clock set at boot, a backup by hand
            await asyncio.sleep(min((due - now).total_seconds(), 60.0))
            continue
        try:
            path = await asyncio.to_thread(backup, db, folder, keep=keep)
            log.info("store backed up: %s", path.name)
            retry_at = None
        except BackupError as exc:
            log.error("backup failed: %s; trying again in %.0f min", exc.message, RETRY_S / 60)
            retry_at = datetime.now(UTC) + timedelta(seconds=RETRY_S)


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
