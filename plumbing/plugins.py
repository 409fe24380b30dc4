"""What the `tablehub` command finds in other installed packages through package entry
points, so that the hub uses them without importing them:

- group ``tablehub.commands``: a function `register(subparsers)` that adds subcommands to
  the `tablehub` parser (the cloud bridge adds `bridge` and `cloud-receiver`);
- group ``tablehub.demo_cloud``: a `DemoCloudMaker` for `tablehub demo --cloud-dsn` (the
  reference receiver and a bridge on this machine).

pyproject.toml declares both; a hub installed without them simply has fewer commands.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self, cast

COMMANDS = "tablehub.commands"
DEMO_CLOUD = "tablehub.demo_cloud"

Register = Callable[[Any], None]  # argparse's sub-parser set, typed loosely like argparse


class PluginFailed(Exception):
    """A plugin could not do what was asked; `message` is fit to print after "error: "."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DemoCloud(Protocol):
    """An async context manager: entering starts the cloud (raising `PluginFailed` when it
    cannot), leaving stops it and its bridge."""

    @property
    def state_db(self) -> Path:
        """The bridge's state file, which the hub reads for /healthz and pruning."""
        ...

    def start_bridge(self, *, hub_url: str, hub_admin_token: str) -> None: ...

    def describe(self) -> list[str]:
        """Lines for the demo's banner."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class DemoCloudMaker(Protocol):
    async def prepare(self, dsn: str) -> None:
        """Make sure the cloud's database is there; `PluginFailed` when it cannot be."""
        ...

    def open(self, dsn: str, data: Path, store_id: str) -> DemoCloud: ...


def load(group: str) -> list[tuple[str, object]]:
    """(name, loaded object) of every entry point in `group`, by name. Loading imports the
    plugin's module: an ImportError (a missing extra) reaches the caller."""
    found = sorted(entry_points(group=group), key=lambda ep: ep.name)
    return [(ep.name, ep.load()) for ep in found]


def commands() -> list[Register]:
    return [cast(Register, obj) for _, obj in load(COMMANDS)]


def demo_cloud() -> DemoCloudMaker | None:
    """The first demo cloud installed, or None."""
    makers = load(DEMO_CLOUD)
    return cast(DemoCloudMaker, makers[0][1]) if makers else None
