"""A tiny sd_notify client: tell systemd the hub is ready, alive, stopping, or what it does.

systemd (``Type=notify``) passes a unix datagram socket in ``NOTIFY_SOCKET`` (a path, or
``@name`` in the abstract namespace); each message is one datagram of ``KEY=value`` lines.
Without the variable (a laptop, the tests, the demo) every call is a no-op that returns False.
A send never blocks and never raises: a hub that cannot reach systemd keeps serving.

The watchdog is fed from the event loop (`watchdog_loop`), so a loop stalled by blocking code
stops the pings and systemd restarts the hub after ``WatchdogSec``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Mapping


def notify(state: str, *, env: Mapping[str, str] | None = None) -> bool:
    """Send one message (e.g. ``"READY=1\\nSTATUS=serving"``); True if it was sent."""
    address = (env if env is not None else os.environ).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.setblocking(False)
        try:
            sock.sendto(state.encode("utf-8"), address)
        except OSError:
            return False
    return True


def ready(status: str | None = None, *, env: Mapping[str, str] | None = None) -> bool:
    return notify("READY=1" + (f"\nSTATUS={status}" if status else ""), env=env)


def stopping(*, env: Mapping[str, str] | None = None) -> bool:
    return notify("STOPPING=1", env=env)


def status(text: str, *, env: Mapping[str, str] | None = None) -> bool:
    return notify(f"STATUS={text}", env=env)


def watchdog(*, env: Mapping[str, str] | None = None) -> bool:
    return notify("WATCHDOG=1", env=env)


def watchdog_interval(*, env: Mapping[str, str] | None = None) -> float | None:
    """Seconds between pings (half of WatchdogSec), or None when systemd wants none.

    ``WATCHDOG_PID``, when set, must be this process: a child must not feed its parent's
    watchdog."""
    env = env if env is not None else os.environ
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 1_000_000 / 2


async def watchdog_loop(interval: float, *, env: Mapping[str, str] | None = None) -> None:
    """Ping every `interval` seconds until cancelled. Run it as a task on the hub's loop."""
    while True:
        watchdog(env=env)
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def supervised(status_text: str = "serving") -> AsyncIterator[None]:
    """READY=1 on entry, WATCHDOG=1 from the loop while inside, STOPPING=1 on exit."""
    interval = watchdog_interval()
    task = asyncio.create_task(watchdog_loop(interval), name="sd-watchdog") if interval else None
    ready(status_text)
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        stopping()
