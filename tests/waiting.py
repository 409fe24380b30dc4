"""Waiting in tests: on a condition or an event, until a deadline, never for a fixed time.

A test that sleeps "long enough" passes on a slow machine without testing anything, or fails
on a busy one. These helpers poll a check (or wait for an event) and, if the deadline
passes, fail with a message that says what was awaited and, when given, the state that was
seen. Deadlines are generous on purpose: they only bound a test that is already failing, so
a loaded machine never trips them; they are never a statement about speed (that belongs in
bench/).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable

import aiomqtt

DEADLINE = 30.0  # seconds: long enough for a busy machine, short enough to fail a broken test

Check = Callable[[], bool] | Callable[[], Awaitable[bool]]


def _failure(what: str, timeout: float, state: Callable[[], object] | None) -> AssertionError:
    seen = f"; last seen: {state()!r}" if state is not None else ""
    return AssertionError(f"timed out after {timeout:g} s waiting for {what}{seen}")


async def until(
    check: Check,
    what: str,
    *,
    timeout: float = DEADLINE,
    every: float = 0.01,
    state: Callable[[], object] | None = None,
) -> None:
    """Poll `check` (plain or async) until it is true; fail naming `what` at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() >= deadline:
            raise _failure(what, timeout, state)
        await asyncio.sleep(every)


async def event(ev: asyncio.Event, what: str, *, timeout: float = DEADLINE) -> None:
    """Wait until `ev` is set; fail naming `what` at the deadline."""
    try:
        async with asyncio.timeout(timeout):
            await ev.wait()
    except TimeoutError:
        raise _failure(what, timeout, None) from None


async def thread_event(ev: threading.Event, what: str, *, timeout: float = DEADLINE) -> None:
    """Wait, without blocking the event loop, until a `threading.Event` is set."""
    if not await asyncio.to_thread(ev.wait, timeout):
        raise _failure(what, timeout, None)


def until_sync(
    check: Callable[[], bool],
    what: str,
    *,
    timeout: float = DEADLINE,
    every: float = 0.005,
    state: Callable[[], object] | None = None,
) -> None:
    """`until` for synchronous tests: poll `check` until true; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            raise _failure(what, timeout, state)
        time.sleep(every)


class _Needle(logging.Handler):
    """Notes whether a log record containing `needle` was emitted."""

    def __init__(self, needle: str) -> None:
        super().__init__(logging.DEBUG)
        self.needle = needle
        self.found = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.needle in record.getMessage():
            self.found = True


async def hub_has_handled(client: aiomqtt.Client, topic: str, *, before: str) -> None:
    """Wait until the hub has handled every message `client` published on `topic` so far.

    A positive marker for tests that check something did NOT happen: publish on the same
    topic a message the hub refuses, carrying a unique value, and wait for the hub to log
    that rejection. The broker delivers one client's messages on one topic in order, and the
    hub handles its messages one at a time, so by then the earlier ones are done with. The
    marker only fails decoding (the topic's device must be known to the hub)."""
    marker = f"marker-{uuid.uuid4().hex[:12]}"
    payload = json.dumps({"action": marker, "kind": marker, "state": marker, "id": marker})
    logger = logging.getLogger("tablehub.router")
    needle, level = _Needle(marker), logger.level
    logger.addHandler(needle)
    if not logger.isEnabledFor(logging.WARNING):
        logger.setLevel(logging.WARNING)
    try:
        await client.publish(topic, payload, qos=1)
        await until(lambda: needle.found, f"the hub to refuse a marker sent after {before}")
    finally:
        logger.removeHandler(needle)
        logger.setLevel(level)
