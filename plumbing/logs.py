"""Logging for every tablehub process: one JSON object per line on stdout (journald keeps
it), or plain text, and `Transitions`, which logs a trouble once and its end once.

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

from plumbing import journald

QUEUE_SIZE = 10_000


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
