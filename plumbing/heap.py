"""The cyclic garbage collector of a long-running process.

A full collection walks every object the process holds. Most of them were made at start (the
modules, the menu, the routes) and live as long as the process, so each full collection
pays to walk them again: in the hub, 20 to 60 ms with nothing else running, often enough to
be an order's worst latency at a rush. `settle()` is called once the process is set up: it
collects what start-up left and moves the survivors out of the collector's sight
(`gc.freeze`), so later full collections walk only what was made since.

Frozen objects are never collected again. That is why `settle` runs once, after start-up and
not on a timer: what start-up made is kept to the end anyway.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)


def settle() -> int:
    """Collect, then freeze what is left; returns the number of objects frozen."""
    t0 = time.perf_counter()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info(
        "heap settled: %d objects frozen in %.1f ms", frozen, 1000 * (time.perf_counter() - t0)
    )
    return frozen
