"""The hub's process, once serving, puts what start-up made out of the cyclic collector's way
(`plumbing.heap.settle`), so that a full collection in a rush walks only what was made since;
garbage made later is still collected."""

from __future__ import annotations

import gc
import re
import signal
import weakref
from pathlib import Path
from typing import Any

import aiohttp

from hub.ops.mosquitto import Mosquitto, free_port
from plumbing import heap
from tests.integration.test_crash import start_hub, wait_serving, write_config
from tests.waiting import until


async def test_the_running_hub_settles_its_heap_once_serving(
    tmp_path: Path, broker: Mosquitto, menu_doc: dict[str, Any]
) -> None:
    port = free_port()
    cfg = write_config(tmp_path, port, broker.port, menu_doc)
    cfg.write_text(cfg.read_text().replace('level = "warning"', 'level = "info"'))
    log = tmp_path / "hub.log"
    proc = start_hub(cfg, log)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            await wait_serving(http, f"http://127.0.0.1:{port}", proc, log)
        await until(lambda: "heap settled" in log.read_text(), "the hub to settle its heap")
        found = re.findall(r"heap settled: (\d+) objects frozen", log.read_text())
        assert len(found) == 1, log.read_text()[-2000:]
        assert int(found[0]) > 10_000  # the modules, the menu, the routes: not a token few
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, log.read_text()[-2000:]


def test_what_is_made_after_settling_is_still_collected() -> None:
    class Node:
        other: Any = None

    try:
        frozen = heap.settle()
        assert frozen == gc.get_freeze_count() > 0
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle: only the cyclic collector frees it
        gone = weakref.ref(a)
        del a, b
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()
