"""Stopping tasks for sure, and the stop every command's loops share: SIGINT and SIGTERM
set it, and a loop's pause ends as soon as it is set.

On Python 3.11 `asyncio.wait_for` (aiomqtt's publish and subscribe go through it) can swallow
a cancel that lands just as the awaited future completes; the task then carries on, and a
plain `cancel(); await gather(...)` waits for it forever. `cancel_all` cancels again until
every task is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable
from typing import Any


async def every(
    work: Callable[[], Awaitable[Any]],
    *,
    every_s: float,
    first_after_s: float,
    log: logging.Logger,
    what: str,
) -> None:
    """Run `work` `first_after_s` after the start, then every `every_s`, for ever (cancel to
    stop). A round that raises is logged with `what` and the next one tries again."""
    await asyncio.sleep(first_after_s)
    while True:
        try:
            await work()
        except Exception:
            log.exception("%s failed; trying again in %.0f s", what, every_s)
        await asyncio.sleep(every_s)


async def cancel_all(
    tasks: Iterable[asyncio.Task[Any]], *, again_after_s: float = 0.5
) -> list[Any]:
    """Cancel `tasks`, re-cancelling any still running every `again_after_s`, and return
    each one's result or exception (a cancelled task gives its CancelledError), in order."""
    tasks = list(tasks)
    pending = {t for t in tasks if not t.done()}
    while pending:
        for t in pending:
            t.cancel()
        _, pending = await asyncio.wait(pending, timeout=again_after_s)
    out: list[Any] = []
    for t in tasks:
        if t.cancelled():
            out.append(asyncio.CancelledError())
        elif t.exception() is not None:
            out.append(t.exception())
        else:
            out.append(t.result())
    return out


def on_stop_signals(callback: Callable[[], object]) -> None:
    """Call `callback` on SIGINT (Ctrl+C) and SIGTERM (the service manager's stop)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, callback)


def stop_event() -> asyncio.Event:
    """An event that SIGINT or SIGTERM sets: what a command's long-lived loops stop on."""
    stop = asyncio.Event()
    on_stop_signals(stop.set)
    return stop


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep `seconds`, or less when `stop` is set meanwhile: a loop's wait between rounds
    that never holds up its shutdown."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stop.wait()
