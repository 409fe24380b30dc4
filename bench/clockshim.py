"""Run a module with its wall clock stepped by the seconds written in a file, as an NTP step
would: `time.time()` and `time.time_ns()` (and so the hub's `SystemClock`, log stamps and
anything else that reads them) jump; `time.monotonic()` does not.

    python -m bench.clockshim OFFSET_FILE -m hub run --config FILE

The file holds a number of seconds (e.g. `-3600`), read again at most every 0.2 s. The
fault suite uses this rather than libfaketime: libfaketime 0.9.10 with
FAKETIME_DONT_FAKE_MONOTONIC=1 slowed the hub's order path here from ~2 ms to hundreds of
ms (its wrappers around the threads' waits), which would test libfaketime, not the hub.
C code that reads the clock itself (SQLite's own date functions) is not shifted; the hub
passes its timestamps to SQL as parameters."""

from __future__ import annotations

import contextlib
import runpy
import sys
import time
from pathlib import Path

_real_time = time.time
_real_time_ns = time.time_ns
_real_mono = time.monotonic


class Offset:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds = 0.0
        self.read_at = -1.0

    def now(self) -> float:
        t = _real_mono()
        if t - self.read_at > 0.2:
            self.read_at = t
            with contextlib.suppress(OSError, ValueError):
                self.seconds = float(self.path.read_text().strip() or 0)
        return self.seconds


def main() -> None:
    if len(sys.argv) < 4 or sys.argv[2] != "-m":
        sys.exit("usage: python -m bench.clockshim OFFSET_FILE -m MODULE [ARGS...]")
    offset = Offset(Path(sys.argv[1]))
    module = sys.argv[3]
    time.time = lambda: _real_time() + offset.now()
    time.time_ns = lambda: _real_time_ns() + int(offset.now() * 1e9)
    sys.argv = [module, *sys.argv[4:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
