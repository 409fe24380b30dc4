"""The bridge's command line and its composition root.

`register(subparsers)` adds two commands to an argparse parser (the `tablehub` CLI, or
`python -m cloud_bridge`):

    bridge [run|status|unpark] --config FILE [--json] [--id N]
    cloud-receiver --dsn DSN --token-file FILE [--host 127.0.0.1] [--port 8090]

Each command's function is `async (args) -> exit code` and prints its own errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from cloud_bridge.config import BridgeConfig, load_config
from cloud_bridge.cursor import BridgeState, ms_from_iso, prune_plan, read_state
from cloud_bridge.errors import BridgeError, HubDbUnavailable
from cloud_bridge.menu_sync import MenuSync
from cloud_bridge.tail import OutboxTail
from cloud_bridge.uploader import CloudSink, HttpClient, Uploader
from plumbing import logs
from plumbing.clock import SystemClock
from plumbing.tasks import stop_event

log = logging.getLogger("tablehub.bridge")


def setup_logging(level: str) -> None:
    """One JSON object per line on stdout (journald keeps it), written off the loop."""
    logs.setup(level)


# ---------------------------------------------------------------- the bridge process


async def _supervised(
    name: str, run: Callable[[asyncio.Event], Awaitable[None]], stop: asyncio.Event
) -> None:
    """Run a long-lived loop; a crash is logged and the loop restarted, never spread."""
    while not stop.is_set():
        try:
            await run(stop)
        except Exception:
            log.exception("%s crashed; restarting in 5 s", name)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await stop.wait()


async def run_bridge(config: BridgeConfig, stop: asyncio.Event, **seams: Any) -> None:
    """The composition root: state, outbox reader, HTTP client, uploader and menu sync,
    until `stop` is set. `seams` (clock, rng, sleep) go to the uploader, for tests."""
    clock = seams.pop("clock", None) or SystemClock()
    async with (
        BridgeState(
            config.state_db,
            store_id=config.store_id,
            now_ms=clock.now_ms,
            retention_hours=config.retention_hours,
        ) as state,
        HttpClient(timeout_s=config.request_timeout_ms / 1000) as client,
    ):
        tail = OutboxTail(config.hub_db)  # opened (and reopened) by the uploader
        sink = CloudSink(client, config.endpoint, config.store_id, config.token)
        uploader = Uploader(config, tail, state, sink, clock=clock, **seams)
        tasks = [
            asyncio.create_task(_supervised("uploader", uploader.run, stop), name="bridge-upload")
        ]
        if config.menu_sync_enabled:
            menu = MenuSync(config, client, state)
            tasks.append(
                asyncio.create_task(_supervised("menu sync", menu.run, stop), name="bridge-menu")
            )
        log.info(
            "bridge for store %s: %s -> %s (cursors %s)",
            config.store_id,
            config.hub_db,
            config.endpoint,
            state.cursors,
        )
        try:
            await stop.wait()
        finally:
            _, pending = await asyncio.wait(tasks, timeout=5)
            for task in pending:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await tail.close()
    log.info("bridge stopped")


# ---------------------------------------------------------------- status


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


async def bridge_status(config: BridgeConfig) -> dict[str, Any]:
    """The state the bridge keeps. The backlog's size is the running bridge's own count (as
    of `backlog.at`: counting afresh would read the whole backlog); its oldest unsent event
    is looked up now."""
    state = await asyncio.to_thread(read_state, config.state_db)
    keep = (await asyncio.to_thread(prune_plan, config.state_db)).keep
    backlog = state["backlog"] or {"lanes": {}}
    try:
        async with OutboxTail(config.hub_db) as tail:
            oldest = await tail.first_unsent(state["cursors"], exclude=keep)
    except HubDbUnavailable as exc:
        state["alerts"].append(exc.message)
    else:
        firsts = sorted(v for v in oldest.values() if v is not None)
        at = firsts[0][1] if firsts else None
        now = SystemClock().now_ms()
        backlog["oldest_at"] = at
        backlog["oldest_age_s"] = None if at is None else max(0.0, (now - ms_from_iso(at)) / 1000)
    state["backlog"] = backlog
    return state


def format_status(s: dict[str, Any]) -> str:
    b = s.get("backlog") or {}
    lanes = b.get("lanes", {})
    shed = s["shed"]
    rows = [
        ("store", s["store_id"]),
        (
            "backlog",
            f"{b.get('events', '?')} events ({_size(int(b.get('bytes', 0)))}) "
            f"as of {b.get('at', '-')}; oldest unsent {_age(b.get('oldest_age_s'))} old",
        ),
    ]
    for lane, cur in s["cursors"].items():
        n = lanes.get(lane, {}).get("events", "?")
        rows.append((f"  {lane}", f"{n} unsent, cursor at seq {cur}"))
    rows += [
        ("acked up to", str(s["acked_upto"])),
        ("cloud", {True: "online", False: "offline"}.get(s["cloud_online"], "not tried yet")),
        ("last success", s["last_success_at"] or "never"),
        ("last error", f"{s['last_error_at']}  {s['last_error']}" if s["last_error"] else "-"),
        ("sent", f"{s['sent_events']} events in {s['sent_batches']} batches"),
        ("shed", f"{shed['events']} telemetry events ({_size(int(shed['bytes']))})"),
        ("parked", f"{len(s['parked'])} batch(es)"),
    ]
    for p in s["parked"]:
        rows.append(
            (
                f"  #{p['id']}",
                f"seq {p['first_seq']}..{p['last_seq']} ({p['count']} events, {p['status']}): "
                f"{p['error']}: {p['message']}",
            )
        )
    menu = s.get("menu")
    if menu:
        verdict = (
            f"applied as hub version {menu['hub_version']}"
            if menu["status"] == "applied"
            else f"rejected: {menu['message']}"
        )
        rows.append(("menu", f"cloud version {menu['version']} {verdict}"))
    rows += [("ALERT", a) for a in s["alerts"]]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


# ---------------------------------------------------------------- commands


async def _bridge(args: argparse.Namespace) -> int:
    try:
        config = load_config(Path(args.config))
        if args.action == "status":
            status = await bridge_status(config)
            print(json.dumps(status, indent=2) if args.json else format_status(status))
            return 0
        if args.action == "unpark":
            async with BridgeState(
                config.state_db, store_id=config.store_id, now_ms=SystemClock().now_ms
            ) as state:
                n = await state.release(args.id)
            print(f"{n} parked batch(es) released; the running bridge sends them again")
            return 0
        setup_logging(config.log_level)
        await run_bridge(config, stop_event())
    except BridgeError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    return 0


async def _receiver(args: argparse.Namespace) -> int:
    try:  # asyncpg is an extra: a store box never needs it
        from cloud_bridge.receiver import build_app, load_tokens
    except ImportError as exc:
        print(f"error: {exc}; install tablehub[cloud]", file=sys.stderr)
        return 2

    try:
        tokens = load_tokens(Path(args.token_file))
    except BridgeError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    setup_logging(args.log_level)
    stop = stop_event()
    runner = web.AppRunner(build_app(args.dsn, tokens), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, args.host, args.port).start()
        log.info("cloud receiver on http://%s:%d", args.host, args.port)
        await stop.wait()
    finally:
        await runner.cleanup()
    return 0


def register(subparsers: Any) -> None:
    """Add `bridge` and `cloud-receiver` to an argparse sub-parser set."""
    bridge = subparsers.add_parser(
        "bridge", help="upload the outbox to the cloud, pull menus down (own process)"
    )
    bridge.add_argument(
        "action",
        nargs="?",
        default="run",
        choices=["run", "status", "unpark"],
        help="run the bridge (default), print its status, or release parked batches",
    )
    bridge.add_argument("--config", required=True, help="the bridge's TOML config file")
    bridge.add_argument("--json", action="store_true", help="status as JSON")
    bridge.add_argument("--id", type=int, default=None, help="unpark only this batch")
    bridge.set_defaults(func=_bridge)
    recv = subparsers.add_parser(
        "cloud-receiver", help="run the reference cloud receiver (PostgreSQL)"
    )
    recv.add_argument("--dsn", required=True, help="postgresql://user@host:port/db")
    recv.add_argument("--token-file", required=True, help="TOML tokens file, mode 0600")
    recv.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    recv.add_argument("--port", type=int, default=8090, help="port to listen on (8090)")
    recv.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="how much to log (info)",
    )
    recv.set_defaults(func=_receiver)
