"""The loop the hub's pruners run in: the first round after a delay, then one every period,
and a round that fails is logged and followed by the next, never the end of the loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from plumbing.tasks import every


async def test_rounds_go_on_after_one_fails(caplog: pytest.LogCaptureFixture) -> None:
    rounds: list[float] = []
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def work() -> None:
        rounds.append(loop.time() - start)
        if len(rounds) == 2:
            raise RuntimeError("disk I/O error")

    log = logging.getLogger("tablehub.test-every")
    task = asyncio.create_task(
        every(work, every_s=0.05, first_after_s=0.2, log=log, what="test pruning")
    )
    async with asyncio.timeout(5):  # a loop that ended at the failure never gets there
        while len(rounds) < 4:
            await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert rounds[0] >= 0.2  # not before its first delay
    failed = [r for r in caplog.records if "test pruning failed" in r.getMessage()]
    assert len(failed) == 1
    assert "disk I/O error" in (failed[0].exc_text or "")
