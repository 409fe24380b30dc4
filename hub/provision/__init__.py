"""Provisioning and running a store box: the `provision`, `doctor`, `backup` and `restore`
commands (`register(subparsers)` adds them to the `tablehub` CLI).

    tablehub provision --answers store.toml [--root DIR] [--rotate T4 ...] [--menu FILE]
    tablehub provision --store-id harbour --store-name "Golden Lantern" --tables 12 \\
                       --public-url http://192.168.1.10:8080
    tablehub doctor --config /etc/tablehub/hub.toml [--json]
    tablehub firmware [--root DIR] [--upload [--compile]] [--host DEVICE=ADDRESS ...]
    tablehub backup --config /etc/tablehub/hub.toml [--keep 14]
    tablehub restore --config /etc/tablehub/hub.toml /var/lib/tablehub/backups/tablehub-....db

Each command is `async (args) -> exit code`; a `HubError` is printed by the CLI's `main`.
The work is in `hub.provision.writer`, `hub.ops.doctor` and `hub.store.backup`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.errors import HubError

if TYPE_CHECKING:  # the answers load with the command that reads them, not with `hub run`
    from hub.provision.answers import Answers


def register(subparsers: Any) -> None:
    """Add provision, doctor, backup and restore to an argparse sub-parser set."""
    p = subparsers.add_parser(
        "provision",
        help="write a store box's config, broker logins, QR sheet and units",
        usage="tablehub provision (--answers FILE | --store-id ID --store-name NAME "
        "--tables N --public-url URL) [options]",
    )
    p.add_argument(
        "--answers", help="the store's answers file (TOML, see hub/provision/answers.py)"
    )
    simple = p.add_argument_group(
        "a store without an answers file",
        "--store-id, --store-name, --tables and --public-url are REQUIRED without --answers",
    )
    simple.add_argument("--store-id", help="required without --answers: the store id")
    simple.add_argument("--store-name", help="required without --answers: the store's name")
    simple.add_argument(
        "--tables", type=int, help="required without --answers: number of tables T1..Tn"
    )
    simple.add_argument(
        "--public-url", help="required without --answers: what the QR codes point at"
    )
    p.add_argument(
        "--http-port", type=int, help="the hub's HTTP port (over the answers; default 8080)"
    )
    p.add_argument(
        "--mqtt-port",
        type=int,
        help="the broker's loopback listener for the hub and the box's agents (default 1883)",
    )
    p.add_argument(
        "--mqtt-lan-port",
        type=int,
        help="the broker's LAN listener for ESP32 boards and remote agents (default 1884)",
    )
    p.add_argument(
        "--bind",
        metavar="ADDRESS",
        help="the address the hub's HTTP and the LAN listener bind (default 0.0.0.0; "
        "127.0.0.1 for a rehearsal nobody else reaches)",
    )
    simple.add_argument(
        "--stations", default="", help="without --answers: grill,wok,... (default all)"
    )
    simple.add_argument("--cloud-url", help="without --answers: the cloud endpoint")
    simple.add_argument(
        "--cloud-token-file", help="without --answers: a file holding the cloud token"
    )
    p.add_argument(
        "--root",
        default="/",
        help="write under this directory (default /); the written files then name paths "
        "under it too, so the box runs from there without sudo (a rehearsal)",
    )
    p.add_argument(
        "--image",
        action="store_true",
        help="with --root: build an SD card image instead; the files name /etc/... as on the box",
    )
    p.add_argument(
        "--rotate",
        nargs="+",
        default=[],
        metavar="NAME",
        help="new QR token for these tables / new password for these broker logins",
    )
    p.add_argument("--menu", help="the menu for a new box (default: the demo menu)")
    p.add_argument("--source", help="the tablehub checkout (systemd/, firmware_configs/)")
    p.add_argument("--json", action="store_true", help="the report as JSON")
    p.set_defaults(func=_provision)

    f = subparsers.add_parser(
        "firmware",
        help="validate every ESP32 board's ESPHome config; with --upload, update each "
        "board that answers over Wi-Fi, one at a time",
    )
    f.add_argument("--root", default="/", help="the box's root, as given to provision")
    f.add_argument("--esphome", help="the esphome executable (default: .venv-esphome, PATH)")
    f.add_argument("--upload", action="store_true", help="send each valid board its firmware")
    f.add_argument(
        "--compile",
        action="store_true",
        help="with --upload: compile each board's firmware first (needs the internet once)",
    )
    f.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="DEVICE=ADDRESS",
        help="where a board answers (default <node>.local); repeat for each board",
    )
    f.add_argument("--only", nargs="+", default=[], metavar="DEVICE", help="just these boards")
    f.add_argument("--source", help="the tablehub checkout (to find .venv-esphome)")
    f.set_defaults(func=_firmware)

    d = subparsers.add_parser("doctor", help="check a store box like a technician would")
    d.add_argument("--config", required=True, help="the hub's config (hub.toml)")
    d.add_argument("--json", action="store_true", help="the checks as JSON")
    d.set_defaults(func=_doctor)

    b = subparsers.add_parser("backup", help="back the store up now (online)")
    b.add_argument("--config", required=True, help="the hub's config (hub.toml)")
    b.add_argument("--keep", type=int, default=14, help="backups to keep (default 14)")
    b.set_defaults(func=_backup)

    r = subparsers.add_parser("restore", help="put a backup in place of the store (hub stopped)")
    r.add_argument("--config", required=True, help="the hub's config (hub.toml)")
    r.add_argument("backup", help="the backup file")
    r.set_defaults(func=_restore)


def _overrides(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The answers the flags give, over the file's."""
    http: dict[str, Any] = {}
    mqtt: dict[str, Any] = {}
    if args.http_port is not None:
        http["port"] = args.http_port
    if args.mqtt_port is not None:
        mqtt["port"] = args.mqtt_port
    if args.mqtt_lan_port is not None:
        mqtt["lan_port"] = args.mqtt_lan_port
    if args.bind is not None:
        http["host"] = mqtt["lan_bind"] = args.bind
    return {k: v for k, v in (("http", http), ("broker", mqtt)) if v}


def _answers(args: argparse.Namespace) -> Answers:
    from hub.provision.answers import AnswersInvalid, answers_from_flags, load_answers

    if args.answers:
        return load_answers(Path(args.answers), _overrides(args))
    for flag in ("store_id", "store_name", "tables", "public_url"):
        if getattr(args, flag) is None:
            name = "--" + flag.replace("_", "-")
            raise AnswersInvalid(name, "is required without --answers")
    token = None
    if args.cloud_token_file:
        token = Path(args.cloud_token_file).read_text("utf-8").strip()
    return answers_from_flags(
        store_id=args.store_id,
        store_name=args.store_name,
        tables=args.tables,
        public_url=args.public_url,
        stations=tuple(s for s in args.stations.split(",") if s),
        cloud_url=args.cloud_url,
        cloud_token=token,
        overrides=_overrides(args),
    )


async def _provision(args: argparse.Namespace) -> int:
    from hub.provision.writer import provision

    answers = await asyncio.to_thread(_answers, args)
    report = await asyncio.to_thread(
        provision,
        answers,
        Path(args.root),
        rotate=set(args.rotate),
        menu=Path(args.menu) if args.menu else None,
        source=Path(args.source) if args.source else None,
        image=args.image,
    )
    if args.json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return 0
    for change in report.changes:
        print(f"{change.action:<10} {change.path}")
    changed = len(report.changed)
    print(f"\n{changed} file(s) changed, {len(report.changes) - changed} unchanged")
    for note in report.notes:
        print(f"  - {note}")
    return 0


async def _firmware(args: argparse.Namespace) -> int:
    from hub.provision import firmware
    from hub.provision.render import ETC
    from hub.provision.writer import find_source

    source = Path(args.source) if args.source else None
    try:
        source = find_source(source)
    except HubError:
        source = None
    exe = firmware.find_esphome(args.esphome, source)
    found = firmware.boards(Path(args.root) / ETC.lstrip("/") / "esphome", args.only)
    hosts = firmware.parse_hosts(args.host)

    def show(o: firmware.Outcome) -> None:
        print(f"{o.step:<14} {o.device:<24} {o.detail}".rstrip(), flush=True)

    outcomes = await asyncio.to_thread(
        firmware.update,
        exe,
        found,
        upload=args.upload,
        compile_first=args.compile,
        hosts=hosts,
        report=show,
    )
    failed = [o for o in outcomes if not o.ok]
    done = "uploaded" if args.upload else "valid"
    good = sum(o.step == done for o in outcomes)
    print(f"\n{len(found)} board(s): {good} {done}, {len(failed)} failed")
    return 1 if failed else 0


async def _doctor(args: argparse.Namespace) -> int:
    from hub.ops import doctor

    checks = await doctor.examine(Path(args.config))
    if args.json:
        print(json.dumps(doctor.as_json(checks), ensure_ascii=False, indent=2))
    else:
        print(f"tablehub doctor: {args.config}")
        print(doctor.as_table(checks))
    return doctor.exit_code(checks)


async def _backup(args: argparse.Namespace) -> int:
    from hub.config import load_config
    from hub.store import backup

    config = await asyncio.to_thread(load_config, Path(args.config))
    path = await asyncio.to_thread(
        backup.backup, config.db_path, backup.backups_dir(config.data_dir), keep=args.keep
    )
    print(path)
    return 0


async def _restore(args: argparse.Namespace) -> int:
    from hub.config import load_config
    from hub.store import backup

    config = await asyncio.to_thread(load_config, Path(args.config))
    moved = await asyncio.to_thread(
        backup.restore,
        config.db_path,
        Path(args.backup),
        running=lambda: backup.hub_running(config),
    )
    for path in moved:
        print(f"moved aside  {path}")
    print(f"restored     {config.db_path} from {args.backup}")
    return 0
