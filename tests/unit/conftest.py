"""Helpers shared by the unit tests of the config files (hub, agents, bridge, answers)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


def error_line(load: Callable[[Path], object], error: type[Exception], path: Path) -> str:
    """What `load` says of the bad file at `path`: it raises `error` whose text is one line
    naming the file first, as every config error of the project reads; the rest of it."""
    with pytest.raises(error) as err:
        load(path)
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith(f"{path}: ")
    return line.removeprefix(f"{path}: ")
