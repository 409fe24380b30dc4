"""The `tablehub` command line: run a store box, run the demo, print table QR targets and
staff tokens."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import errno
import json
import logging
import os
import re
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import hub
from hub.app import RunningHub, WorkerDied, serve_forever
from hub.bus.client import BrokerConfig
from hub.config import (
    CloudLinkConfig,
    ConfigInvalid,
    HubConfig,
    PrinterConfig,
    ScaleConfig,
    load_config,
    load_or_create_secret,
)
from hub.domain.ports import SystemClock
from hub.domain.tokens import hash_manager_pin
from hub.errors import HubError, MenuInvalid
from hub.ops.menu_file import demo_menu
from hub.ops.mosquitto import Mosquitto, MosquittoError
from hub.provision import register as register_provision
from hub.services import staff
from hub.services.catalog import Catalog
from hub.store import repos
from hub.store.db import Store, StoreDamaged, Tx
from plumbing import heap, logs, plugins
from plumbing.tasks import stop_event

if TYPE_CHECKING:
    from plumbing.plugins import DemoCloud, DemoCloudMaker

log = logging.getLogger("tablehub.cli")


# ---------------------------------------------------------------- run


async def _run(args: argparse.Namespace) -> int:
    config = load_config(Path(args.config))
    logs.setup(config.log_level)
    try:
        await serve_forever(config, stop=stop_event(), on_ready=_on_ready)
    except StoreDamaged as exc:  # its restore command names the config file given here
        raise exc.with_config(args.config) from None
    except MenuInvalid as exc:
        if config.menu_file is None or exc.field == "menu_file":
            raise
        # the file a person edits, then the field path the admin API would give
        where = f"{config.menu_file}: {exc.field}" if exc.field else str(config.menu_file)
        raise MenuInvalid(f"{where}: {exc.message}", field=exc.field) from None
    return 0


def _on_ready(hub: RunningHub) -> None:
    _remember_url(hub)
    # what start-up made lives as long as the process: out of the collector's way
    heap.settle()


def _remember_url(hub: RunningHub) -> None:
    async def unit(tx: Tx) -> None:
        await repos.set_meta(tx, "public_url", hub.services.catalog.base_url)

    asyncio.get_running_loop().create_task(hub.services.store.write(unit))


# ---------------------------------------------------------------- demo


def _parse_broker(url: str) -> BrokerConfig:
    rest = url.split("://", 1)[-1]
    host, _, port = rest.partition(":")
    return BrokerConfig(host=host or "127.0.0.1", port=int(port or 1883), client_id="tablehub-demo")


async def _demo_tokens(data: Path, config: HubConfig) -> dict[str, str]:
    path = data / "staff-tokens.json"
    if path.exists():
        saved: dict[str, str] = json.loads(path.read_text())
        return saved
    async with Store(config.db_path, clock=SystemClock().now_iso) as store:
        made = {
            role: await staff.issue(store, role, f"demo {role}")
            for role in ("kitchen", "floor", "admin")
        }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(made, fh)
    return made


# The demo's simulated devices: one printer per station, the bar's also prints bills; the
# kitchen stations print only when their screen is silent (a KDS-first kitchen), the bar
# always; a scale at the pass with a lobster on it; and a GPIO button board on mock pins:
# call buttons with LEDs for the first tables, bump and recall for each station.
DEMO_BUTTON_TABLES = 4
DEMO_PRINTERS = (
    ("grill-1", "grill", "fallback", False, "wok-1"),
    ("wok-1", "wok", "fallback", False, "grill-1"),
    ("cold-1", "cold", "fallback", False, "bar-1"),
    ("bar-1", "bar", "always", True, None),
)


async def _demo_cloud_ready(dsn: str) -> DemoCloudMaker | None:
    """Before anything starts: the demo cloud (an installed plugin, see `plumbing.plugins`)
    and its database are there (made when missing); None (the reason printed) when
    PostgreSQL, the cloud extra or the bridge is not."""
    try:  # asyncpg is an extra: a store box never needs it
        maker = plugins.demo_cloud()
    except ImportError as exc:
        print(f"error: {exc}; install tablehub[cloud]", file=sys.stderr)
        return None
    if maker is None:
        print("error: --cloud-dsn: no demo cloud is installed (tablehub's bridge)", file=sys.stderr)
        return None
    try:
        await maker.prepare(dsn)
    except plugins.PluginFailed as exc:
        print(f"error: --cloud-dsn: {exc.message}", file=sys.stderr)
        return None
    return maker


async def _demo(args: argparse.Namespace) -> int:
    logs.setup(args.log_level, json_lines=False, stream=sys.stderr)
    maker = await _demo_cloud_ready(args.cloud_dsn) if args.cloud_dsn else None
    if args.cloud_dsn and maker is None:
        return 2
    data = Path(args.data)
    await asyncio.to_thread(data.mkdir, parents=True, exist_ok=True)
    broker: Mosquitto | None = None
    if args.broker:
        broker_cfg = _parse_broker(args.broker)
    else:
        broker = Mosquitto(data / "mosquitto")
        try:
            broker.start()
        except MosquittoError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        broker_cfg = BrokerConfig(port=broker.port, client_id="tablehub-demo")
    # the simulated devices need the printer and scale extras (installed by `make setup`)
    from devices.agent import MqttSettings as ScaleMqtt
    from devices.buttons.demo import DemoButtons, demo_board
    from devices.printers.fake import FakeNetworkPrinter
    from devices.scales.fake import FakeScale

    with contextlib.ExitStack() as devices:
        fakes, printers = {}, []
        for pid, station, chits, bills, backup in DEMO_PRINTERS:
            fake = devices.enter_context(FakeNetworkPrinter())
            fakes[pid] = fake
            printers.append(
                PrinterConfig(
                    id=pid,
                    address=f"tcp://127.0.0.1:{fake.port}",
                    stations=(station,),
                    chits=chits,
                    bills=bills,
                    backup=backup,
                )
            )
        scale = devices.enter_context(FakeScale("mt-sics", link=data / "ttyDEMO-SCALE"))
        scale.set_weight(1180)
        config = HubConfig(
            data_dir=data,
            http_host=args.host,
            http_port=args.port,
            public_url=args.public_url or "",
            broker=broker_cfg,
            printers=tuple(printers),
            scales=(ScaleConfig(id="pass", port=scale.port, protocol="mt-sics"),),
        )
        try:
            stop = stop_event()
            tokens_holder: dict[str, dict[str, str]] = {}
            cloud: DemoCloud | None = None  # with --cloud-dsn

            def ready(hub: RunningHub) -> None:
                _remember_url(hub)
                tokens = tokens_holder["t"]
                if cloud is not None:
                    cloud.start_bridge(hub_url=hub.url, hub_admin_token=tokens["admin"])
                _print_demo(hub, tokens, broker, cloud.describe() if cloud is not None else [])

            # seed and make the staff tokens before serving
            async with Store(config.db_path, clock=SystemClock().now_iso) as store:
                cat = Catalog(store, load_or_create_secret(data))
                await cat.load(demo_menu())
                board = demo_board(
                    list(cat.tables)[:DEMO_BUTTON_TABLES], [st["id"] for st in cat.stations()]
                )
                store_id = cat.menu.store.id if cat.menu else "demo"
            tokens_holder["t"] = await _demo_tokens(data, config)
            buttons = DemoButtons(
                store_id,
                board,
                ScaleMqtt(
                    host=broker_cfg.host,
                    port=broker_cfg.port,
                    username=broker_cfg.username,
                    password=broker_cfg.password,
                    client_id=f"{broker_cfg.client_id}-{board.device}",
                ),
            )
            previews = {pid: fake.last_png for pid, fake in fakes.items()}
            async with contextlib.AsyncExitStack() as cloud_stack:
                if maker is not None:
                    cloud = await cloud_stack.enter_async_context(
                        maker.open(args.cloud_dsn, data, store_id)
                    )
                    link = CloudLinkConfig(state_db=cloud.state_db, health_every_s=2.0)
                    config = dataclasses.replace(config, bridge=link)
                await serve_forever(
                    config,
                    seed_menu=demo_menu(),
                    on_ready=ready,
                    stop=stop,
                    printer_previews=previews,
                    scale_line_overrides={"bytesize": 8, "parity": "N"},
                    demo_buttons=buttons,
                )
        except plugins.PluginFailed as exc:
            print(f"error: --cloud-dsn: {exc.message}", file=sys.stderr)
            return 2
        finally:
            if broker is not None:
                broker.stop()
    return 0


def _print_demo(
    hub: RunningHub, tokens: dict[str, str], broker: Mosquitto | None, cloud: list[str]
) -> None:
    cat, url = hub.services.catalog, hub.services.catalog.base_url
    out = [f"tablehub demo: {cat.menu.store.name if cat.menu else ''} is open at {url}", ""]
    if broker is not None:
        out.append(f"  MQTT broker    mqtt://127.0.0.1:{broker.port}")
    out.append("  Tables (the QR codes point here):")
    out += [f"    {t.name:<9} {cat.url_for(t.id)}" for t in cat.tables.values()]
    out.append("  Kitchen screens (open once to pair the screen):")
    for s in [*cat.stations(), {"id": "expo"}]:
        out.append(f"    {s['id']:<9} {url}/pair?token={tokens['kitchen']}&next=/kds/{s['id']}")
    out.append(f"  Floor view     {url}/pair?token={tokens['floor']}&next=/floor")
    out.append(f"  Demo buttons   {url}/pair?token={tokens['floor']}&next=/demo/devices")
    out.append(f"  Admin          {url}/pair?token={tokens['admin']}&next=/admin")
    out += cloud
    out.append("  Press Ctrl+C to stop.")
    print("\n".join(out), flush=True)


# ---------------------------------------------------------------- tables, token


def _store_in(data: Path) -> Store:
    """The store a hub or the demo made in `data` (not opened yet); a HubError if none."""
    if not (data / "tablehub.db").exists():
        raise HubError(f"no store in {data}: run the hub (or the demo) there first")
    return Store(data / "tablehub.db", clock=SystemClock().now_iso)


async def _open_catalog(data: Path) -> tuple[Store, Catalog]:
    store = _store_in(data)
    await store.open()
    cat = Catalog(store, load_or_create_secret(data))
    await cat.load()
    cat.base_url = await repos.get_meta(store, "public_url") or ""
    return store, cat


async def _tables(args: argparse.Namespace) -> int:
    store, cat = await _open_catalog(Path(args.data))
    try:
        rows = [
            {"table": t.id, "name": t.name, "url": cat.url_for(t.id)} for t in cat.tables.values()
        ]
    finally:
        await store.close()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
    else:
        for r in rows:
            print(f"{r['table']:<6} {r['name']:<12} {r['url']}")
    return 0


async def _token(args: argparse.Namespace) -> int:
    async with _store_in(Path(args.data)) as store:
        print(await staff.issue(store, args.role, args.label or ""))
    return 0


async def _tokens(args: argparse.Namespace) -> int:
    async with _store_in(Path(args.data)) as store:
        if args.revoke:
            await staff.revoke(store, args.revoke)
            print(f"revoked {args.revoke}")
            return 0
        rows = await staff.listing(store)
    if args.json:
        print(json.dumps(rows))
    for r in [] if args.json else rows:
        state = f"revoked {r['revoked_at']}" if r["revoked_at"] else "active"
        print(f"{r['id']:<10} {r['role']:<8} {r['label']:<24} {r['created_at']}  {state}")
    return 0


async def _manager_pin(args: argparse.Namespace) -> int:
    """Read a manager PIN (4-12 digits) from stdin; print the hub.toml line that keeps only
    its hash."""
    pin = sys.stdin.readline().strip()
    if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 12):
        print("error: the manager PIN is 4-12 digits", file=sys.stderr)
        return 2
    line = hash_manager_pin(pin, secrets.token_bytes(16))
    print(f'[shift]\nmanager_pin_hash = "{line}"')
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tablehub", description=__doc__)
    p.add_argument("--version", action="version", version=f"tablehub {hub.__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a store box from its config file")
    run.add_argument("--config", required=True, help="the hub's config (hub.toml)")
    run.set_defaults(func=_run)
    demo = sub.add_parser("demo", help="run a whole demo store on this machine")
    demo.add_argument("--data", required=True, help="data directory (created on first run)")
    demo.add_argument("--port", type=int, default=8080, help="HTTP port (8080)")
    demo.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (0.0.0.0 lets phones on the LAN in)",
    )
    demo.add_argument(
        "--public-url",
        default="",
        help="base URL the QR codes point at, e.g. http://192.168.1.20:8080",
    )
    demo.add_argument("--broker", default="", help="use this broker (mqtt://host:port)")
    demo.add_argument(
        "--cloud-dsn",
        default="",
        help="also run the cloud: the reference receiver on this PostgreSQL database "
        "(made when missing; postgresql://user@127.0.0.1:5432/dbname) and a bridge to it",
    )
    demo.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="how much to log (info)",
    )
    demo.set_defaults(func=_demo)
    tables = sub.add_parser("tables", help="print the tables and their QR URLs")
    tables.add_argument("--data", required=True, help="the hub's data directory")
    tables.add_argument("--json", action="store_true", help="as JSON")
    tables.set_defaults(func=_tables)
    token = sub.add_parser("token", help="issue a staff bearer token")
    token.add_argument("--data", required=True, help="the hub's data directory")
    token.add_argument(
        "--role",
        required=True,
        choices=["kitchen", "floor", "admin"],
        help="what the token may do",
    )
    token.add_argument("--label", default="", help="a name to recognise it by (a screen, a person)")
    token.set_defaults(func=_token)
    tokens = sub.add_parser("tokens", help="list staff tokens, or revoke one")
    tokens.add_argument("--data", required=True, help="the hub's data directory")
    tokens.add_argument("--revoke", metavar="ID", help="revoke the token with this id")
    tokens.add_argument("--json", action="store_true", help="as JSON")
    tokens.set_defaults(func=_tokens)
    pin = sub.add_parser(
        "manager-pin", help="hash a manager PIN (read from stdin) for hub.toml's [shift]"
    )
    pin.set_defaults(func=_manager_pin)
    # the technician's commands (provision, doctor, backup, restore), then those installed
    # packages add (the cloud bridge's), found through their entry points
    register_provision(sub)
    for register in plugins.commands():
        register(sub)
    return p


def _one_line(exc: HubError) -> str:
    """The message with the field path the API would give (`items[3].station: unknown
    station`), unless the message names it already."""
    if isinstance(exc, MenuInvalid) and exc.field and exc.field not in exc.message:
        return f"{exc.field}: {exc.message}"
    return exc.message


_BIND = re.compile(r"\('([^']*)', (\d+)\)")


def _bind_problem(exc: OSError) -> str:
    """One line for a port the hub (or the demo's broker) cannot listen on."""
    found = _BIND.search(str(exc))
    where = f"port {found.group(2)} on {found.group(1) or '*'}" if found else "a port"
    if exc.errno == errno.EADDRINUSE:
        return f"{where} is already in use (another hub?): stop it or choose another port"
    if exc.errno == errno.EACCES:
        return f"{where}: not allowed (ports below 1024 need privileges)"
    return f"{where}: {exc.strerror or exc}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code: int = asyncio.run(args.func(args))
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise
        print(f"error: {_bind_problem(exc)}", file=sys.stderr)
        return 1
    except ConfigInvalid as exc:  # already one line: the file, the key, what is allowed
        print(exc.message, file=sys.stderr)
        return 2
    except HubError as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except WorkerDied as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code
