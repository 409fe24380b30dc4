"""Files the hub starts from, each damaged the way a power cut or a slip of the hand leaves
it: the hub refuses to start with one line on stderr (exit 2, no traceback) and leaves the
file as it found it; what the hub writes itself it writes whole."""

from __future__ import annotations

import copy
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.app import RunningHub, running_hub
from hub.config import SECRET_BYTES, HubConfig, load_or_create_secret
from hub.ops.menu_file import demo_menu
from hub.store import backup
from hub.web.bodies import LISTS_MAX_BODY, MAX_BODY, MENU_MAX_BODY
from tests.conftest import table_token
from tests.durability.conftest import fsync_shim  # noqa: F401 (the shim's fixture)


def hub_toml(tmp_path: Path, menu_doc: dict[str, Any] | None = None) -> Path:
    """A store box without a broker on any free port, its data in tmp_path/data; with a menu
    file, so that a hub given an empty store would start on it."""
    path = tmp_path / "hub.toml"
    menu = ""
    if menu_doc is not None:
        (tmp_path / "menu.json").write_text(json.dumps(menu_doc))
        menu = f'menu_file = "{tmp_path / "menu.json"}"\n'
    path.write_text(
        f'[store]\ndata_dir = "{tmp_path / "data"}"\n{menu}'
        '[http]\nhost = "127.0.0.1"\nport = 0\n'
        "[broker]\nenabled = false\n"
    )
    (tmp_path / "data").mkdir(exist_ok=True)
    return path


def refused(tmp_path: Path, *args: str) -> str:
    """Run `tablehub ARGS`; it must stop with exit 2 and exactly one line on stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "hub", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, f"exit {proc.returncode}: {proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


# ---------------------------------------------------------------- secret.key

SHORT = f" key (at least {SECRET_BYTES} needed)"
WEAK_KEYS = [
    (b"", "holds a 0-byte" + SHORT),
    (b"\n", "holds a 0-byte" + SHORT),
    (b"ab", "holds a 1-byte" + SHORT),
    (b"ab" * (SECRET_BYTES - 1), f"holds a {SECRET_BYTES - 1}-byte" + SHORT),
    (b"zz" * SECRET_BYTES, "is not a hex key"),
    (b"\xff\xfe" * SECRET_BYTES, "is not a hex key"),
]


@pytest.mark.parametrize(("content", "problem"), WEAK_KEYS, ids=[p for _, p in WEAK_KEYS])
def test_a_weak_or_garbled_secret_key_stops_the_hub(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    config = hub_toml(tmp_path)
    key = tmp_path / "data" / "secret.key"
    key.write_bytes(content)
    line = refused(tmp_path, "run", "--config", str(config))
    assert line.startswith(f"error: {key} {problem}; "), line
    assert "move the file away" in line, line
    assert "QR code" in line, line
    assert key.read_bytes() == content  # the hub did not replace it
    assert not (tmp_path / "data" / "tablehub.db").exists()  # nothing else was started


def test_an_unreadable_secret_key_stops_the_hub(tmp_path: Path) -> None:
    config = hub_toml(tmp_path)
    key = tmp_path / "data" / "secret.key"
    key.mkdir()  # unreadable as a file even for root
    line = refused(tmp_path, "run", "--config", str(config))
    assert line.startswith(f"error: {key} cannot be read ("), line


def test_a_new_secret_key_is_whole_and_private(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # a lax umask must not widen the key's mode
    try:
        made = load_or_create_secret(tmp_path / "data")
    finally:
        os.umask(old_umask)
    key = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(made) == SECRET_BYTES
    assert key.read_text() == made.hex()
    assert load_or_create_secret(tmp_path / "data") == made  # read back, not made again
    assert sorted(p.name for p in key.parent.iterdir()) == ["secret.key"]  # no temp file left


def test_a_new_secret_key_reaches_the_disk_before_it_is_used(
    tmp_path: Path,
    fsync_shim: Path,  # noqa: F811 (the fixture imported above)
) -> None:
    """Under the fsync shim (LD_PRELOAD, every fsync logged with its file): the key's temp
    file is fsync'd, then the directory holding the renamed key, so a power cut right after
    leaves the whole key or none, never an empty secret.key."""
    data, log = tmp_path / "data", tmp_path / "fsyncs.log"
    env = {**os.environ, "LD_PRELOAD": str(fsync_shim), "FSYNCSHIM_LOG": str(log)}
    code = (
        "import pathlib, sys; from hub.config import load_or_create_secret; "
        "load_or_create_secret(pathlib.Path(sys.argv[1]))"
    )
    subprocess.run([sys.executable, "-c", code, str(data)], env=env, check=True, timeout=60)
    lines = log.read_text().splitlines() if log.exists() else []  # no file: no fsync at all
    synced = [line.split(" ", 5)[5] for line in lines]
    temp = [i for i, path in enumerate(synced) if path.startswith(f"{data}/.secret.key.")]
    folder = [i for i, path in enumerate(synced) if path == str(data)]
    assert temp, f"the key was never fsync'd: {synced}"
    assert folder, f"the rename was never made durable (no fsync of {data}): {synced}"
    assert temp[0] < folder[-1]
    assert len(bytes.fromhex((data / "secret.key").read_text())) == SECRET_BYTES


# ---------------------------------------------------------------- tablehub.db


async def store_with_a_backup(tmp_path: Path, menu_doc: dict[str, Any]) -> tuple[Path, Path]:
    """A store the hub made and used once, and a backup of it: (the store, the backup)."""
    config = HubConfig(data_dir=tmp_path / "data", http_port=0, broker=None)
    async with running_hub(config, seed_menu=menu_doc):
        pass
    return config.db_path, backup.backup(config.db_path, backup.backups_dir(config.data_dir))


def empty(db: Path) -> None:
    db.write_bytes(b"")  # a power cut between creating and writing the file


def garbled_pages(db: Path) -> None:
    with db.open("r+b") as fh:  # a bad SD card: garbage over the pages, the header intact
        fh.seek(100)
        fh.write(os.urandom(8192))


def garbled_header(db: Path) -> None:
    with db.open("r+b") as fh:
        fh.write(os.urandom(16))


DAMAGE = [
    (empty, "is empty (0 bytes)"),
    (garbled_pages, "fails its check ("),
    (garbled_header, "is not an SQLite database"),
]


@pytest.mark.parametrize(("damage", "problem"), DAMAGE, ids=[d.__name__ for d, _ in DAMAGE])
async def test_a_damaged_store_stops_the_hub_and_is_left_as_it_was(
    tmp_path: Path, menu_doc: dict[str, Any], damage: Callable[[Path], None], problem: str
) -> None:
    db, newest = await store_with_a_backup(tmp_path, menu_doc)
    damage(db)
    before = db.read_bytes()
    config = hub_toml(tmp_path, menu_doc)
    line = refused(tmp_path, "run", "--config", str(config))
    assert line.startswith(f"error: store {db} {problem}"), line
    assert f"newest backup {newest}" in line, line
    assert line.endswith(f"`tablehub restore --config {config} {newest}`"), line
    assert db.read_bytes() == before  # never replaced, never written to
    assert not list(db.parent.glob("tablehub.db.*"))  # nothing moved aside or made beside it
    # the other commands opening the store refuse it the same way
    token = refused(tmp_path, "token", "--data", str(db.parent), "--role", "admin")
    assert token.startswith(f"error: store {db} "), token
    assert db.read_bytes() == before


def test_an_empty_store_without_backups_says_so(tmp_path: Path, menu_doc: dict[str, Any]) -> None:
    config = hub_toml(tmp_path, menu_doc)
    db = tmp_path / "data" / "tablehub.db"
    db.write_bytes(b"")
    line = refused(tmp_path, "run", "--config", str(config))
    assert line == (
        f"error: store {db} is empty (0 bytes); left untouched; no backup in "
        f"{db.parent / 'backups'}; only if nothing can be recovered, move the file away and "
        "the hub starts an empty store"
    )
    assert db.read_bytes() == b""


# ---------------------------------------------------------------- a real menu over HTTP

MENU_ITEMS = 300


def big_menu(demo: dict[str, Any], count: int) -> dict[str, Any]:
    """The demo menu grown to `count` items in its three languages: its items repeated under
    new ids (their modifier groups and options too), each name and description numbered."""
    doc = copy.deepcopy(demo)
    items = []
    for n in range(count):
        item = copy.deepcopy(demo["items"][n % len(demo["items"])])
        item["id"] = f"{item['id']}-{n}"
        for lang in item["name"]:
            item["name"][lang] = f"{item['name'][lang]} {n}"
            item["description"][lang] = f"{item['description'][lang]} ({n})"
        for group in item["modifier_groups"]:
            group["id"] = f"{group['id']}-{n}"
            for option in group["options"]:
                option["id"] = f"{option['id']}-{n}"
        items.append(item)
    doc["items"] = items
    return doc


async def test_a_300_item_menu_in_three_languages_saves_and_loads(
    hub: RunningHub, http: aiohttp.ClientSession, admin_token: str
) -> None:
    auth = {"Authorization": f"Bearer {admin_token}"}
    async with http.get(f"{hub.url}/api/v1/admin/menu", headers=auth) as r:
        current = await r.json()
    doc = big_menu(demo_menu(), MENU_ITEMS)
    body = json.dumps(doc, ensure_ascii=False).encode()
    assert MAX_BODY * 4 < len(body) < MENU_MAX_BODY  # well past the diners' limit
    headers = {**auth, "Content-Type": "application/json", "If-Match": str(current["version"])}
    async with http.put(f"{hub.url}/api/v1/admin/menu", data=body, headers=headers) as r:
        assert r.status == 200, await r.text()
        assert (await r.json())["version"] == current["version"] + 1
    async with http.get(f"{hub.url}/api/v1/admin/menu", headers=auth) as r:
        saved = (await r.json())["menu"]
    assert [i["id"] for i in saved["items"]] == [i["id"] for i in doc["items"]]
    assert saved["items"][-1]["name"] == doc["items"][-1]["name"]  # all three languages
    assert set(saved["items"][-1]["name"]) == {"en", "zh-Hans", "zh-Hant"}
    params = {"table": table_token(hub)}
    async with http.get(f"{hub.url}/api/v1/menu", params=params) as r:
        assert r.status == 200
        assert len((await r.json())["items"]) == MENU_ITEMS  # what the diners' phones load


async def test_only_the_menu_route_takes_megabytes(
    hub: RunningHub, http: aiohttp.ClientSession, admin_token: str
) -> None:
    auth = {"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"}
    over = b'{"pad": "' + b"x" * MENU_MAX_BODY + b'"}'
    async with http.put(f"{hub.url}/api/v1/admin/menu", data=over, headers=auth) as r:
        assert r.status == 413
        assert await r.json() == {
            "error": "too_large",
            "field": None,
            "message": f"the body is over {MENU_MAX_BODY} bytes",
        }
    mid = b'{"role": "admin", "label": "' + b"x" * (MAX_BODY * 2) + b'"}'
    big = b'{"role": "admin", "label": "' + b"x" * LISTS_MAX_BODY + b'"}'
    cases = [  # staff and diners: small bodies; an order's lists of lists: 256 KiB
        ("/api/v1/admin/tokens", mid, MAX_BODY),
        ("/api/v1/calls", mid, MAX_BODY),
        ("/api/v1/orders", big, LISTS_MAX_BODY),
    ]
    for path, body, limit in cases:
        async with http.post(f"{hub.url}{path}", data=body, headers=auth) as r:
            assert r.status == 413, path
            assert (await r.json())["message"] == f"the body is over {limit} bytes"
