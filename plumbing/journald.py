"""Log lines that journald understands: when a stream is the journal's (systemd sets
`JOURNAL_STREAM=<device>:<inode>` for a service whose stdout or stderr goes to the journal),
each line starts with its syslog priority, `<3>` for an error, `<4>` a warning, `<6>` info,
so `journalctl -p err -u tablehub` shows the errors only (journald's SyslogLevelPrefix=,
on by default, reads and strips the prefix)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import IO, Any

# logging level -> syslog priority (sd-daemon(3): <0> emerg ... <7> debug)
PRIORITIES = (
    (logging.CRITICAL, 2),
    (logging.ERROR, 3),
    (logging.WARNING, 4),
    (logging.INFO, 6),
)
DEBUG = 7


def priority(levelno: int) -> int:
    for at_least, prio in PRIORITIES:
        if levelno >= at_least:
            return prio
    return DEBUG


def is_journal(stream: IO[Any] | Any, env: Mapping[str, str] | None = None) -> bool:
    """Is `stream` connected to the journal? JOURNAL_STREAM names the journal's stream by
    device and inode; a stream redirected elsewhere (a file, a pipe to `less`) is not it."""
    value = (os.environ if env is None else env).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    return (st.st_dev, st.st_ino) == (int(device), int(inode))


class PriorityPrefix(logging.Formatter):
    """Wraps a formatter: every line of a record (a traceback's too) starts with `<N>`."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{priority(record.levelno)}>"
        text = self.inner.format(record)
        return "\n".join(prefix + line for line in text.split("\n"))


def for_stream(formatter: logging.Formatter, stream: IO[Any] | Any) -> logging.Formatter:
    """`formatter`, with priority prefixes when `stream` goes to the journal."""
    return PriorityPrefix(formatter) if is_journal(stream) else formatter
