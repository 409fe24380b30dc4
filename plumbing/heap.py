"""The cyclic garbage collector of a long-running process.

A full collection walks every object the process holds. Most of them were made at start (the
modules, the menu, the routes) and live as long as the process, so each full collection
pays to walk them again: in the hub, 20 to 60 ms with nothing else running, often enough to
be an order's worst latency at a rush. `settle()` is called once the process is set up: it
collects the young generations (what start-up made last) and moves everything left out of
the collector's sight (`gc.freeze`), so later full collections walk only what was made
since. It does not run a full collection first: on a store reopened with a rush's thousands
of open tickets that took 50-70 ms, at the moment the hub starts answering.

Frozen objects are never collected by the cyclic collector again (reference counting still
frees what is not in a cycle): `settle` runs once, after start-up, not on a timer. What it
costs: a cycle that start-up left as garbage in the oldest generation, and a later cycle
that runs through a frozen object, stay in memory; start-up's own are a bounded few.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)


def settle() -> int:
    """Collect the young generations, then freeze what is left; returns the number of
    objects frozen."""
    t0 = time.perf_counter()
    gc.collect(1)
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info(
        "heap settled: %d objects frozen in %.1f ms", frozen, 1000 * (time.perf_counter() - t0)
    )
    return frozen
