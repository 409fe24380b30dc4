"""Logging for every tablehub process: one JSON object per line on stdout (journald keeps
it), or plain text, and `Transitions`, which logs a trouble once and its end once.

The same line over and over (a fault repeating on every request, every retry) is limited by
`RepeatLimit`: at most `REPEAT_BURST` records of one kind (logger, level, message template)
per `REPEAT_WINDOW_S`; the rest are dropped and counted, and the count is written with the
next one let through. A flood of any kind leaves a bounded log (journald's own rate limit, in
the service unit, is the second fence).

The event loop only hands a record to a bounded queue; a listener thread formats and writes
it, so a slow journald or terminal never stalls orders. When the queue is full a record is
dropped and counted (`dropped()`), and the count is written with the next record that fits."""

from __future__ import annotations

import atexit
import copy
import json
import logging
import logging.handlers
import queue
import sys
import time
from collections.abc import Callable

from plumbing import journald

QUEUE_SIZE = 10_000
REPEAT_BURST = 10
REPEAT_WINDOW_S = 30.0
REPEAT_KINDS = 1_000  # kinds tracked at once; past it the oldest windows are forgotten


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg"[, "exc"]}`, one line per record."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            doc["exc"] = record.exc_text
        return json.dumps(doc, ensure_ascii=False)


class RepeatLimit(logging.Filter):
    """At most `burst` records of one kind per `window_s` (see the module docstring)."""

    def __init__(
        self,
        burst: int = REPEAT_BURST,
        window_s: float = REPEAT_WINDOW_S,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.window_s = window_s
        self._clock = clock
        # kind -> [window start, records let through, records dropped]
        self._windows: dict[tuple[str, int, str], list[float]] = {}
        self.dropped = 0  # since start

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        window = self._windows.get(key)
        if window is None or now - window[0] >= self.window_s:
            dropped = int(window[2]) if window is not None else 0
            if window is None and len(self._windows) >= REPEAT_KINDS:
                self._forget_oldest()
            self._windows[key] = [now, 1, 0]
            if dropped and isinstance(record.msg, str):
                record.msg = f"{record.msg} ({dropped} more like this dropped)"
            return True
        if window[1] < self.burst:
            window[1] += 1
            return True
        window[2] += 1
        self.dropped += 1
        return False

    def _forget_oldest(self) -> None:
        for key in list(self._windows)[: REPEAT_KINDS // 2]:
            del self._windows[key]


class _Handoff(logging.handlers.QueueHandler):
    """Puts records on the listener's queue without blocking; drops and counts when full."""

    def __init__(self, q: queue.Queue[logging.LogRecord]) -> None:
        super().__init__(q)
        self.dropped = 0
        self._plain = logging.Formatter()

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # the message and any traceback become text here (the arguments may change later);
        # the rest of the formatting happens on the listener's thread
        record = copy.copy(record)
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info:
            record.exc_text = self._plain.formatException(record.exc_info)
            record.exc_info = None
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        if self.dropped and record.levelno >= logging.INFO:
            record.msg = f"{record.msg} ({self.dropped} log lines dropped before this one)"
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1
            return
        self.dropped = 0


_listener: logging.handlers.QueueListener | None = None
_handoff: _Handoff | None = None


def dropped() -> int:
    """Records dropped because the writer thread fell behind (since the last one written)."""
    return _handoff.dropped if _handoff is not None else 0


def stop() -> None:
    """Write what is queued and stop the writer thread (also runs at exit)."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


def setup(level: str = "info", *, json_lines: bool = True, stream: object = None) -> None:
    global _listener, _handoff
    stop()
    out = stream or sys.stdout
    writer = logging.StreamHandler(out)  # type: ignore[arg-type]
    formatter = (
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    writer.setFormatter(journald.for_stream(formatter, out))  # `<3>` prefixes for journald
    q: queue.Queue[logging.LogRecord] = queue.Queue(QUEUE_SIZE)
    _handoff = _Handoff(q)
    _handoff.addFilter(RepeatLimit())
    _listener = logging.handlers.QueueListener(q, writer, respect_handler_level=False)
    _listener.start()
    root = logging.getLogger()
    root.handlers[:] = [_handoff]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


atexit.register(stop)


class Transitions:
    """Log a thing's trouble once when it starts (or its cause changes) and once when it ends:
    a dead broker or printer is one warning and one "recovered", never a line per retry."""

    def __init__(self, logger: logging.Logger, name: str) -> None:
        self._log = logger
        self._name = name
        self.cause: str | None = None

    def __repr__(self) -> str:
        return f"<Transitions {self._name} {self.cause or 'ok'}>"

    def trouble(self, cause: str) -> bool:
        """Note a failure; True (and one warning) when it is new or its cause changed."""
        if cause == self.cause:
            return False
        self.cause = cause
        self._log.warning("%s offline: %s", self._name, cause)
        return True

    def ok(self) -> bool:
        """Note a success; True (and one "recovered") when it ends a trouble."""
        if self.cause is None:
            return False
        self.cause = None
        self._log.info("%s recovered", self._name)
        return True
