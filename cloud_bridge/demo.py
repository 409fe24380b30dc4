"""The demo's cloud on this machine: a PostgreSQL database (made when missing), the reference
receiver on a loopback port, and a bridge uploading the demo hub's outbox to it.

`tablehub demo --cloud-dsn postgresql://user@127.0.0.1:5432/db` uses it through the
`tablehub.demo_cloud` entry point (`MAKER`; see `plumbing.plugins`): the hub never imports
the bridge. What
it writes goes in the demo's data directory, beside the hub's store, and is kept for the
next run (the same tokens, the bridge's cursor)::

    cloud/tokens.toml        the receiver's tokens (0600): a chain admin token and the store's
    cloud/store-token        the store's token, as the bridge reads it (0600)
    cloud/hub-admin-token    the hub's admin staff token, for the menu down-link (0600)
    bridge.toml              the bridge's config (`tablehub bridge status --config` reads it)
    bridge/bridge.db         the bridge's state, which the hub shows on /healthz and the
                             admin page

The receiver and the bridge run in the demo's process and event loop (a store box runs the
bridge as its own process; the code is the same). `LocalCloud` is an async context manager:
entering starts the receiver, `start_bridge` starts the bridge once the hub serves, leaving
stops the bridge and then the receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import tomllib
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg
from aiohttp import web

from cloud_bridge.cli import run_bridge
from cloud_bridge.config import BridgeConfig, check_endpoint, load_config
from cloud_bridge.errors import BridgeError, CloudUnavailable, ConfigError
from cloud_bridge.receiver import Tokens, build_app
from plumbing.plugins import PluginFailed

log = logging.getLogger("tablehub.demo.cloud")

CONNECT_TIMEOUT_S = 5.0
MAINTENANCE_DB = "postgres"
BRIDGE_STOP_S = 8.0  # the bridge gives its loops 5 s, then cancels them


def _where(dsn: str) -> str:
    parts = urlsplit(dsn)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"


def masked(dsn: str) -> str:
    """The DSN with its password (if any) hidden, fit to print."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def database_name(dsn: str) -> str:
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(
            f"the cloud DSN must be postgresql://user@host:port/dbname, not {masked(dsn)!r}"
        )
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ConfigError("the cloud DSN must name a database: postgresql://user@host:5432/dbname")
    return name


def _unreachable(dsn: str, exc: BaseException) -> CloudUnavailable:
    reason = str(exc) or type(exc).__name__
    if isinstance(exc, asyncpg.PostgresError):  # it answered, and said no
        return CloudUnavailable(f"PostgreSQL at {_where(dsn)} refused: {reason}")
    return CloudUnavailable(f"PostgreSQL is not reachable at {_where(dsn)} ({reason})")


async def ensure_database(dsn: str) -> bool:
    """Make sure the database `dsn` names exists, creating it when the server has none of that
    name; True when it was created. `CloudUnavailable` when the server cannot be reached or
    refuses the login, `ConfigError` for a DSN that names no database."""
    name = database_name(dsn)
    try:
        con = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S)
    except asyncpg.InvalidCatalogNameError:
        pass
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise _unreachable(dsn, exc) from exc
    else:
        await con.close()
        return False
    admin_dsn = urlunsplit(urlsplit(dsn)._replace(path="/" + MAINTENANCE_DB))
    try:
        admin = await asyncpg.connect(admin_dsn, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise _unreachable(admin_dsn, exc) from exc
    try:
        quoted = '"' + name.replace('"', '""') + '"'
        await admin.execute(f"CREATE DATABASE {quoted}")
    except asyncpg.DuplicateDatabaseError:
        return False  # made by someone else a moment ago
    except asyncpg.PostgresError as exc:
        raise CloudUnavailable(
            f"cannot create database {name!r} at {_where(dsn)} ({exc}); create it yourself"
        ) from exc
    finally:
        await admin.close()
    log.info("created database %s at %s", name, _where(dsn))
    return True


def write_secret(path: Path, text: str) -> None:
    """Write a file only its owner may read (0600), also when it existed before."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    path.chmod(0o600)


def demo_tokens(path: Path, store_id: str) -> Tokens:
    """The receiver's tokens from `path`, made (and saved, 0600) when missing or not for
    this store."""
    with contextlib.suppress(OSError, tomllib.TOMLDecodeError):
        doc = tomllib.loads(path.read_text("utf-8"))
        stores = doc.get("stores")
        if isinstance(stores, dict) and isinstance(stores.get(store_id), str) and doc.get("admin"):
            path.chmod(0o600)
            return Tokens(str(doc["admin"]), {store_id: stores[store_id]})
    tokens = Tokens(secrets.token_urlsafe(24), {store_id: secrets.token_urlsafe(24)})
    write_secret(
        path,
        f"admin = {json.dumps(tokens.admin)}\n[stores]\n"
        f"{json.dumps(store_id)} = {json.dumps(tokens.stores[store_id])}\n",
    )
    return tokens


class LocalCloud:
    """The reference receiver on 127.0.0.1 (a free port) over `dsn`, and the bridge from the
    store in `data` to it. See the module's docstring."""

    def __init__(self, dsn: str, data: Path, store_id: str, *, menu_poll_seconds: float = 10.0):
        self.dsn = dsn
        self.data = data
        self.store_id = store_id
        self.menu_poll_seconds = menu_poll_seconds
        self.bridge_toml = data / "bridge.toml"
        self.state_db = data / "bridge" / "bridge.db"
        self.url = ""
        self._tokens: Tokens | None = None
        self._runner: web.AppRunner | None = None
        self._stop = asyncio.Event()
        self._bridge: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        bridge = "off" if self._bridge is None else ("done" if self._bridge.done() else "running")
        return f"<LocalCloud {masked(self.dsn)} receiver={self.url or '-'} bridge={bridge}>"

    @property
    def store_token(self) -> str:
        assert self._tokens is not None, "the receiver is not started"
        return self._tokens.stores[self.store_id]

    async def __aenter__(self) -> LocalCloud:
        tokens_file = self.data / "cloud" / "tokens.toml"
        self._tokens = await asyncio.to_thread(demo_tokens, tokens_file, self.store_id)
        runner = web.AppRunner(
            build_app(self.dsn, self._tokens, pool_size=4), access_log=None, shutdown_timeout=1.0
        )
        try:
            await runner.setup()  # opens the pool and makes the schema
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            await runner.cleanup()
            raise PluginFailed(_unreachable(self.dsn, exc).message) from exc
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
        except OSError as exc:
            await runner.cleanup()
            raise PluginFailed(f"the cloud receiver cannot listen: {exc}") from exc
        self._runner = runner
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        log.info("cloud receiver on %s over %s", self.url, masked(self.dsn))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._bridge is not None:
            done, _ = await asyncio.wait([self._bridge], timeout=BRIDGE_STOP_S)
            if not done:
                self._bridge.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._bridge
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start_bridge(self, *, hub_url: str = "", hub_admin_token: str = "") -> None:
        """Write the bridge's config (at once: the banner points at it) and start the bridge,
        a task of this loop; with `hub_url` and an admin staff token it also hands menus
        published to the receiver down to the hub. A failure is logged, never raised: the
        store goes on without its cloud."""
        if self._bridge is not None:
            return
        try:
            config = self._write_config(hub_url, hub_admin_token)
        except (BridgeError, OSError) as exc:
            log.error("the demo's cloud bridge cannot start: %s", exc)
            return
        run = self._run_bridge(config)
        self._bridge = asyncio.get_running_loop().create_task(run, name="demo-bridge")

    async def _run_bridge(self, config: BridgeConfig) -> None:
        try:
            await run_bridge(config, self._stop)
        except BridgeError as exc:
            log.error("the demo's cloud bridge stopped: %s", exc.message)
        except Exception:
            log.exception("the demo's cloud bridge crashed")

    def _write_config(self, hub_url: str, hub_admin_token: str) -> BridgeConfig:
        """Write bridge.toml and its secret files (paths relative to the data directory)."""
        write_secret(self.data / "cloud" / "store-token", self.store_token)
        lines = [
            "# the demo's bridge (tablehub demo --cloud-dsn); paths are relative to this file",
            "[bridge]",
            'hub_db = "tablehub.db"',
            'state_db = "bridge/bridge.db"',
            f"store_id = {json.dumps(self.store_id)}",
            f"endpoint = {json.dumps(self.url)}",
            'token_file = "cloud/store-token"',
        ]
        try:
            hub_url = check_endpoint(hub_url, "hub_url") if hub_url and hub_admin_token else ""
        except ConfigError as exc:
            log.warning("the demo's bridge will not bring menus down: %s", exc.message)
            hub_url = ""
        if hub_url:
            write_secret(self.data / "cloud" / "hub-admin-token", hub_admin_token)
            lines += [
                f"hub_url = {json.dumps(hub_url)}",
                'hub_admin_token_file = "cloud/hub-admin-token"',
                f"menu_poll_seconds = {self.menu_poll_seconds}",
            ]
        else:
            lines.append("menu_poll_seconds = 0")
        self.bridge_toml.write_text("\n".join(lines) + "\n", "utf-8")
        return load_config(self.bridge_toml)

    def describe(self) -> list[str]:
        """Lines for the demo's banner: where the cloud is and how to look at its copy."""
        status = f"{self.url}/v1/stores/{self.store_id}/status"
        query = "SELECT seq, stream, kind, key FROM events ORDER BY seq DESC LIMIT 10"
        return [
            f"  Cloud receiver {self.url}  (PostgreSQL {masked(self.dsn)})",
            f"    its status   curl -s -H 'Authorization: Bearer {self.store_token}' {status}",
            f"    its events   psql '{masked(self.dsn)}' -c '{query}'",
            f"    the bridge   tablehub bridge status --config {self.bridge_toml}",
        ]


class DemoCloudMaker:
    """The demo cloud as the hub's demo finds it (entry point ``tablehub.demo_cloud``): the
    bridge's errors become `PluginFailed`, the one error the hub knows of its plugins."""

    def __repr__(self) -> str:
        return "<DemoCloudMaker LocalCloud>"

    async def prepare(self, dsn: str) -> None:
        try:
            await ensure_database(dsn)
        except BridgeError as exc:
            raise PluginFailed(exc.message) from exc

    def open(self, dsn: str, data: Path, store_id: str) -> LocalCloud:
        return LocalCloud(dsn, data, store_id)


MAKER = DemoCloudMaker()
