"""Open files and failing accepts of a serving process.

`raise_open_files()` lifts the soft RLIMIT_NOFILE to the hard limit at start (the service
manager's default soft limit, 1,024, is what a few hundred phones and an attacker exhaust).

`AcceptErrors` is an event-loop exception handler: when accept() fails for want of a file
descriptor (EMFILE, ENFILE, ENOBUFS, ENOMEM) asyncio reports it again on every retry, each
with a traceback; here it is one line when it starts and one line, with how many accepts
failed, when a connection is accepted again. Anything else goes to the handler that was there
before."""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("tablehub.accepts")

OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
# asyncio tries accept() again a second after a failure (asyncio.constants.ACCEPT_RETRY_DELAY);
# a connection made sooner than this after one was accepted before it, in the same batch
QUIET_S = 0.5


def raise_open_files() -> tuple[int, int]:
    """Raise the soft open-file limit to the hard one; (soft, hard) after the change."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and (hard == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:  # a container may forbid it: keep what we have
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, hard, exc)
    return soft, hard


def open_files_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def is_accept_failure(context: dict[str, Any]) -> bool:
    exc = context.get("exception")
    return (
        isinstance(exc, OSError)
        and exc.errno in OUT_OF_RESOURCES
        and "accept" in str(context.get("message", ""))
    )


Handler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


class AcceptErrors:
    """The loop's exception handler while a server runs (see the module's docstring)."""

    def __init__(self, previous: Handler | None = None) -> None:
        self._previous = previous
        self.failures = 0  # in the current episode
        self.episodes = 0
        self._since: float | None = None
        self._last = 0.0

    def __repr__(self) -> str:
        state = f"failing ({self.failures})" if self._since is not None else "ok"
        return f"<AcceptErrors {state}, {self.episodes} episodes>"

    @property
    def failing(self) -> bool:
        return self._since is not None

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if not is_accept_failure(context):
            if self._previous is not None:
                self._previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        self.failures += 1
        self._last = time.monotonic()
        if self._since is None:
            self._since = time.monotonic()
            self.episodes += 1
            exc = context["exception"]
            log.error(
                "accept failing: %s (open-file limit %d); new connections wait in the "
                "backlog until some close",
                exc.strerror or exc,
                open_files_limit(),
            )

    def accepted(self) -> None:
        """A connection was accepted: ends an episode of failures (one line with its count)
        unless it was accepted in the batch that failed."""
        if self._since is None or time.monotonic() - self._last < QUIET_S:
            return
        log.warning(
            "accepting again after %d failed accepts over %.1f s",
            self.failures,
            time.monotonic() - self._since,
        )
        self._since = None
        self.failures = 0
