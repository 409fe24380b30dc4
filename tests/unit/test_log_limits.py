"""The log stays bounded under a flood: the same line repeated is let through `REPEAT_BURST`
times per window, then dropped and counted, and the count rides on the next one let through."""

from __future__ import annotations

import io
import logging

from plumbing import logs
from plumbing.logs import REPEAT_BURST, RepeatLimit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(msg: str, *args: object, name: str = "tablehub.web") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_a_repeated_line_is_let_through_a_burst_per_window_then_counted() -> None:
    clock = FakeClock()
    limit = RepeatLimit(burst=10, window_s=30.0, clock=clock)
    passed = [
        limit.filter(record("unhandled error on %s %s", "POST", f"/p{i}")) for i in range(100)
    ]
    assert passed == [True] * 10 + [False] * 90
    clock.now += 30.0
    nxt = record("unhandled error on %s %s", "POST", "/x")
    assert limit.filter(nxt)
    assert nxt.getMessage() == "unhandled error on POST /x (90 more like this dropped)"
    assert limit.dropped == 90


def test_kinds_are_limited_apart() -> None:
    limit = RepeatLimit(burst=2, window_s=30.0, clock=FakeClock())
    a = [limit.filter(record("printer %s offline", "grill-1")) for _ in range(3)]
    b = [limit.filter(record("store busy")) for _ in range(3)]
    c = [limit.filter(record("store busy", name="tablehub.store")) for _ in range(3)]
    assert a == b == c == [True, True, False]


def test_ten_thousand_tracebacks_leave_a_few_lines() -> None:
    out = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    logs.setup("info", stream=out)
    log = logging.getLogger("tablehub.flood")
    try:
        for i in range(10_000):
            try:
                raise OSError(24, "Too many open files")
            except OSError:
                log.exception("accept failed (%d)", i)
        log.info("after the flood")
    finally:
        logs.stop()
        root.handlers[:] = handlers
        root.setLevel(level)
    lines = out.getvalue().splitlines()
    assert len(lines) == REPEAT_BURST + 1, len(lines)
    assert "after the flood" in lines[-1]
    assert len(out.getvalue()) < 10_000
