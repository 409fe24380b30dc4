"""Stopping tasks for sure.

On Python 3.11 `asyncio.wait_for` (aiomqtt's publish and subscribe go through it) can swallow
a cancel that lands just as the awaited future completes; the task then carries on, and a
plain `cancel(); await gather(...)` waits for it forever. `cancel_all` cancels again until
every task is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


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
