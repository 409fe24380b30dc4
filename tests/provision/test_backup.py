"""Online backup while the hub serves, a corrupted store, restore, and the orders are back."""

from __future__ import annotations

import argparse
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.app import running_hub
from hub.config import load_config
from hub.ops import doctor
from hub.provision import register
from hub.store import backup
from tests.conftest import order_body
from tests.provision.conftest import WrittenBroker, runnable_hub_toml


def run_cli(argv: list[str]) -> Any:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def corrupt_first_page(db: Path) -> None:
    """What a power cut on a worn SD card can do: garbage over the schema page, and a WAL
    whose header no longer checks out (SQLite then ignores the WAL, so it cannot mask the
    damaged page with a good copy)."""
    with db.open("r+b") as fh:
        fh.seek(100)  # past the file header: the schema table's b-tree page header
        fh.write(b"\xff" * 200)
    wal = db.with_name(db.name + "-wal")
    if wal.exists() and wal.stat().st_size >= 32:
        with wal.open("r+b") as fh:
            fh.write(b"\x00" * 32)


async def test_backup_corrupt_restore(
    provisioned: Path,
    written_broker: WrittenBroker,
    tmp_path: Path,
    http: aiohttp.ClientSession,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = runnable_hub_toml(provisioned, written_broker.port, tmp_path / "hub.toml")
    config = load_config(path)
    async with running_hub(config) as hub:
        token = hub.services.catalog.token_for("T1")
        for key in ("before-backup-1", "before-backup-2"):
            async with http.post(f"{hub.url}/api/v1/orders", json=order_body(token, key)) as r:
                assert r.status == 201
        # online: the hub keeps serving
        assert await run_cli(["backup", "--config", str(path)]) == 0
        copy = Path(capsys.readouterr().out.strip())
        assert copy.parent == config.data_dir / "backups"
        assert copy.name.startswith("tablehub-")
        assert backup.quick_check(copy) == "ok"
        # a running hub has the store open: restore refuses
        with pytest.raises(backup.HubRunning):
            await run_cli(["restore", "--config", str(path), str(copy)])
        async with http.post(
            f"{hub.url}/api/v1/orders", json=order_body(token, "after-backup")
        ) as r:
            assert r.status == 201

    corrupt_first_page(config.db_path)
    assert backup.quick_check(config.db_path) != "ok"
    db_check = doctor._database(config)
    assert db_check.status == "fail"

    assert await run_cli(["restore", "--config", str(path), str(copy)]) == 0
    out = capsys.readouterr().out
    assert "moved aside" in out
    aside = {
        p.name.split(".before-restore-")[0] for p in config.data_dir.glob("*.before-restore-*")
    }
    assert "tablehub.db" in aside  # with its -wal and -shm when there were any
    assert backup.quick_check(config.db_path) == "ok"

    async with (
        running_hub(config) as hub,
        http.get(f"{hub.url}/api/v1/check", params={"table": token}) as r,
    ):
        assert r.status == 200
        orders = (await r.json())["orders"]
    assert len(orders) == 2  # the two before the backup; the one after it is in the aside copy


def test_keeps_the_newest(tmp_path: Path) -> None:
    db = tmp_path / "tablehub.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t(x)")
    conn.close()
    folder = tmp_path / "backups"
    start = datetime(2025, 3, 1, tzinfo=UTC)
    made = [backup.backup(db, folder, keep=3, now=start + timedelta(hours=h)) for h in range(5)]
    same_second = backup.backup(db, folder, keep=3, now=start + timedelta(hours=4))
    assert same_second.name == "tablehub-20250301T040000Z-1.db"
    assert backup.list_backups(folder) == [same_second, made[4], made[3]]
    assert not list(folder.glob("*.partial"))


def test_restore_refuses_a_bad_backup(tmp_path: Path) -> None:
    db, bad = tmp_path / "tablehub.db", tmp_path / "bad.db"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(backup.BackupError, match="fails its check"):
        backup.restore(db, bad)
    assert not db.exists()


def test_the_hub_backs_up_before_a_migration(tmp_path: Path) -> None:
    db = tmp_path / "tablehub.db"
    assert backup.before_migration(db, 0, 1) is None  # a new store: nothing to keep
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t(x)")
    conn.close()
    made = backup.before_migration(db, 1, 2)
    assert made is not None
    assert made.parent == tmp_path / "backups"
