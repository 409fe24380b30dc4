"""The one road out: everything that acts on committed events or runs for the hub's whole life
is a `Consumer`, and one `Supervisor` runs them all under one asyncio.TaskGroup.

A consumer is told of each commit (`on_commit`, on the loop, in commit order; it must not
block: it queues, wakes its loop or sends to screens) and runs its own loop (`run`). One that
dies (its loop raises or returns, or its `on_commit` raises) is logged in one line naming it,
and the supervisor's `died` event is set: the hub then stops with a failure, and systemd starts
it again rather than leave it running without a part. `stop()` stops the consumers in the
reverse of their order, each asked to finish by itself first when it can (agents, the bus
saying `offline`), else cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from hub.store.db import Event, Store
from plumbing.tasks import cancel_all

log = logging.getLogger("tablehub")

GRACE_S = 5.0  # how long a consumer that stops by itself is given before it is cancelled


class Consumer(Protocol):
    """What the supervisor runs. `name` names it in logs and task names."""

    @property
    def name(self) -> str: ...

    def on_commit(self, events: Sequence[Event]) -> None:
        """Right after each commit, on the loop; must not block."""

    async def run(self) -> None:
        """The consumer's loop, until cancelled; raising or returning is dying."""

    async def stop(self) -> bool:
        """Ask `run` to end; True if it will return by itself (it gets `GRACE_S`), False to
        have it cancelled."""


class Loop:
    """A consumer that only runs a loop (backups, the activity log, pruning): it takes no
    notice of commits and is cancelled to stop; with `stop`, it is asked first."""

    def __init__(
        self,
        name: str,
        run: Callable[[], Awaitable[None]],
        *,
        stop: Callable[[], None] | None = None,
    ) -> None:
        self._name = name
        self._run = run
        self._stop = stop

    def __repr__(self) -> str:
        return f"<Loop {self._name}>"

    @property
    def name(self) -> str:
        return self._name

    def on_commit(self, events: Sequence[Event]) -> None:
        pass

    async def run(self) -> None:
        await self._run()

    async def stop(self) -> bool:
        if self._stop is None:
            return False
        self._stop()
        return True


class ConsumerDied(RuntimeError):
    """A consumer of the hub died; the hub stops so that it can be started again."""


class Supervisor:
    """Runs `consumers` under one TaskGroup (`run`) and hands them every commit of `store`."""

    def __init__(self, store: Store, consumers: Sequence[Consumer]) -> None:
        names = [c.name for c in consumers]
        if len(set(names)) != len(names):
            raise ValueError(f"consumer names must differ: {names}")
        self._consumers = list(consumers)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._stopping = False
        self.died = asyncio.Event()
        self.why: str | None = None  # "<name> died: <reason>" of the first that died
        store.on_commit(self._on_commit)

    def __repr__(self) -> str:
        running = sum(not t.done() for t in self._tasks.values())
        return f"<Supervisor {running}/{len(self._consumers)} running why={self.why!r}>"

    @property
    def names(self) -> list[str]:
        return [c.name for c in self._consumers]

    def _on_commit(self, events: list[Event]) -> None:
        for consumer in self._consumers:
            try:
                consumer.on_commit(events)
            except Exception as exc:
                self._died(consumer.name, exc)
                task = self._tasks.get(consumer.name)
                if task is not None:
                    task.cancel()

    async def run(self) -> None:
        """Run every consumer until `stop()`; returns when all have ended."""
        async with asyncio.TaskGroup() as group:
            for consumer in self._consumers:
                self._tasks[consumer.name] = group.create_task(
                    self._guard(consumer), name=consumer.name
                )

    async def _guard(self, consumer: Consumer) -> None:
        try:
            await consumer.run()
        except asyncio.CancelledError:
            if not self._stopping and not self.died.is_set():
                raise
            return
        except Exception as exc:
            self._died(consumer.name, exc)
            return
        if not self._stopping:
            self._died(consumer.name, "its loop ended")

    def _died(self, name: str, why: BaseException | str) -> None:
        if self._stopping:
            log.warning("%s failed while the hub stops: %r", name, why)
            return
        text = why if isinstance(why, str) else repr(why)
        exc_info = why if isinstance(why, BaseException) else None
        log.error(
            "%s died: %s; the hub stops (systemd starts it again)", name, text, exc_info=exc_info
        )
        if self.why is None:
            self.why = f"{name} died: {text}"
        self.died.set()

    async def stop(self) -> None:
        """Stop every consumer, the last started first."""
        self._stopping = True
        for consumer in reversed(self._consumers):
            task = self._tasks.get(consumer.name)
            if task is None or task.done():
                continue
            if await consumer.stop():
                _, still = await asyncio.wait([task], timeout=GRACE_S)
                if not still:
                    continue
            await cancel_all([task])
