"""The lines between the packages hold, read from the source (every import, also those inside
functions and under TYPE_CHECKING), so a new import that crosses one fails here:

- `hub` never imports `cloud_bridge` (the CLI finds the bridge through entry points);
- `cloud_bridge` takes from `hub` only the event catalogue (`hub.domain.events`) and the
  topic contract (`hub.bus.contract`), and what those import;
- `devices` take from `hub` only the topic contract, and what it imports;
- `plumbing` imports nothing of `hub`, `devices` or `cloud_bridge`;
- the pure core (`hub/domain`, `hub/bus/contract.py`, and every project module they import)
  imports no IO library and none of the hub's IO packages;
- no import cycle among the project's modules.

Each rule is also run on a small made-up tree that breaks it, so each is shown able to fail.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hub", "devices", "cloud_bridge", "plumbing")

IO_LIBRARIES = {"asyncio", "aiosqlite", "aiomqtt", "paho", "aiohttp", "sqlite3", "socket"}
HUB_IO = ("hub.store", "hub.web", "hub.services")
PURE_ROOTS = ("hub.domain", "hub.bus.contract")
BRIDGE_MAY_USE = ("hub.domain.events", "hub.bus.contract")
DEVICES_MAY_USE = ("hub.bus.contract",)


@dataclass(frozen=True, slots=True)
class Import:
    module: str  # the importing module
    target: str  # what it imports, resolved to a module where the name is one
    line: int

    def __str__(self) -> str:
        return f"{self.module} imports {self.target} (line {self.line})"


# ---------------------------------------------------------------- reading the tree


def modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module of the project's packages under `root`."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _under(name: str, prefixes: Iterable[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _resolve_from(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(
    source: str, module: str, known: Iterable[str], *, is_package: bool = False
) -> Iterator[Import]:
    """Every import in `source` (module `module`). `from a import b` gives `a.b` when that
    is a module of the project (`known`), else `a`. Constant arguments of
    `importlib.import_module(...)` and `__import__(...)` count too."""
    known = set(known)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_from(node, module, is_package)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield Import(module, full if full in known else base, node.lineno)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            arg = node.args[0]
            if name in ("import_module", "__import__") and isinstance(arg, ast.Constant):
                yield Import(module, str(arg.value), node.lineno)


def all_imports(root: Path) -> list[Import]:
    """Every import of every project module, each (module, target, line) once."""
    mods = modules(root)
    out: set[Import] = set()
    for name, path in mods.items():
        is_package = path.name == "__init__.py"
        out.update(imports_of(path.read_text("utf-8"), name, mods, is_package=is_package))
    return sorted(out, key=lambda i: (i.module, i.line, i.target))


def project_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    mods = modules(root)
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for imp in all_imports(root):
        if imp.target in mods and imp.target != imp.module:
            graph[imp.module].add(imp.target)
    return graph


def closure(graph: dict[str, set[str]], starts: Iterable[str]) -> set[str]:
    """The modules under `starts` and every project module they import, transitively."""
    todo = [m for m in graph if _under(m, starts)]
    seen = set(todo)
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


# ---------------------------------------------------------------- the rules


def hub_imports_no_bridge(root: Path) -> list[str]:
    return [
        str(i)
        for i in all_imports(root)
        if _under(i.module, ["hub"]) and _under(i.target, ["cloud_bridge"])
    ]


def _only_from_hub(root: Path, who: str, allowed_roots: tuple[str, ...]) -> list[str]:
    allowed = closure(project_graph(root), allowed_roots) | set(allowed_roots)
    return [
        str(i)
        for i in all_imports(root)
        if _under(i.module, [who])
        and _under(i.target, ["hub"])
        and i.target not in allowed
        and not any(a.startswith(i.target + ".") for a in allowed_roots)  # `import hub.bus`
    ]


def bridge_takes_only_events_and_contract(root: Path) -> list[str]:
    return _only_from_hub(root, "cloud_bridge", BRIDGE_MAY_USE)


def devices_take_only_the_contract(root: Path) -> list[str]:
    return _only_from_hub(root, "devices", DEVICES_MAY_USE)


def plumbing_imports_no_project_package(root: Path) -> list[str]:
    return [
        str(i)
        for i in all_imports(root)
        if _under(i.module, ["plumbing"]) and _under(i.target, ["hub", "devices", "cloud_bridge"])
    ]


def pure_core_does_no_io(root: Path) -> list[str]:
    pure = closure(project_graph(root), PURE_ROOTS)
    return [
        str(i)
        for i in all_imports(root)
        if i.module in pure and (i.target.split(".")[0] in IO_LIBRARIES or _under(i.target, HUB_IO))
    ]


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a list of modules, the first repeated last) per strongly connected group
    of modules that import each other (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            nxt = next(edges, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    group.add(m)
                    if m == node:
                        break
                if len(group) > 1:
                    groups.append(group)
    return [_a_cycle(graph, g) for g in groups]


def _a_cycle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    first = min(group)
    paths = {first: [first]}
    todo = [first]
    while todo:
        node = todo.pop(0)
        for nxt in sorted(graph[node] & group):
            if nxt == first:
                return [*paths[node], first]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                todo.append(nxt)
    raise AssertionError(f"no cycle through {first}")  # a strongly connected group has one


def no_import_cycles(root: Path) -> list[str]:
    return [" -> ".join(c) for c in find_cycles(project_graph(root))]


RULES = [
    hub_imports_no_bridge,
    bridge_takes_only_events_and_contract,
    devices_take_only_the_contract,
    plumbing_imports_no_project_package,
    pure_core_does_no_io,
    no_import_cycles,
]


# ---------------------------------------------------------------- the project keeps them


def test_the_walk_finds_every_package_and_the_pure_core() -> None:
    mods = modules(ROOT)
    pure = closure(project_graph(ROOT), PURE_ROOTS)

    assert {"hub.cli", "devices.agent", "cloud_bridge.cli", "plumbing.mqtt"} <= set(mods)
    assert {
        "hub.domain.menu",
        "hub.domain.orders",
        "hub.domain.tickets",
        "hub.domain.tokens",
        "hub.domain.ports",
        "hub.bus.contract",
        "plumbing.clock",  # the domain's clock seam: pure too
    } <= pure


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
def test_the_project_keeps_the_rule(rule: object) -> None:
    assert callable(rule)
    assert rule(ROOT) == []


# ---------------------------------------------------------------- each rule can fail

BROKEN = {
    "hub/__init__.py": "",
    "hub/cli.py": "def main():\n    from cloud_bridge.cli import register\n",
    "hub/errors.py": "class HubError(Exception): ...\n",
    "hub/config.py": "import hub.errors\n",
    "hub/domain/__init__.py": "",
    "hub/domain/events.py": "from hub.errors import HubError\n",
    "hub/domain/menu.py": "import sqlite3\n",
    "hub/domain/ports.py": "from plumbing.clock import Clock\n",
    "hub/bus/__init__.py": "",
    "hub/bus/contract.py": "import msgspec\n",
    "hub/bus/client.py": "from hub.bus import contract\n",
    "hub/store/__init__.py": "",
    "hub/store/repos.py": "from . import db\n",
    "hub/store/db.py": "from .repos import x\n",
    "devices/__init__.py": "",
    "devices/agent.py": "from hub.bus import contract\nfrom hub.config import load\n",
    "cloud_bridge/__init__.py": "",
    "cloud_bridge/cli.py": "from hub.domain import events\nimport hub.store.repos\n",
    "plumbing/__init__.py": "",
    "plumbing/clock.py": "import importlib\nimportlib.import_module('aiohttp')\n",
    "plumbing/mqtt.py": "from devices.agent import DeviceLink\n",
}

EXPECTED = {
    hub_imports_no_bridge: ["hub.cli imports cloud_bridge.cli (line 2)"],
    bridge_takes_only_events_and_contract: ["cloud_bridge.cli imports hub.store.repos (line 2)"],
    devices_take_only_the_contract: ["devices.agent imports hub.config (line 2)"],
    plumbing_imports_no_project_package: ["plumbing.mqtt imports devices.agent (line 1)"],
    pure_core_does_no_io: [
        "hub.domain.menu imports sqlite3 (line 1)",
        "plumbing.clock imports aiohttp (line 2)",  # reached from the domain's ports
    ],
    no_import_cycles: ["hub.store.db -> hub.store.repos -> hub.store.db"],
}


@pytest.fixture
def broken_tree(tmp_path: Path) -> Path:
    for rel, text in BROKEN.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, "utf-8")
    return tmp_path


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
def test_the_rule_fails_on_a_tree_that_breaks_it(rule: object, broken_tree: Path) -> None:
    assert callable(rule)
    assert sorted(rule(broken_tree)) == EXPECTED[rule]


def test_the_allowed_imports_of_the_broken_tree_are_not_flagged(broken_tree: Path) -> None:
    flagged = "\n".join(v for rule in RULES for v in rule(broken_tree))

    assert "hub.bus.contract" not in flagged  # devices and the bridge may use the contract
    assert "hub.domain.events" not in flagged  # and the bridge the event catalogue
    assert "hub.errors" not in flagged  # which the catalogue itself imports


def test_a_longer_cycle_is_named_in_import_order() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}

    assert find_cycles(graph) == [["a", "b", "c", "a"]]


@pytest.mark.parametrize(
    ("source", "module", "is_package", "targets"),
    [
        ("import asyncio", "hub.domain.x", False, ["asyncio"]),
        ("import os, socket", "hub.domain.x", False, ["os", "socket"]),
        ("from aiohttp import web", "hub.domain.x", False, ["aiohttp"]),
        ("from ..store.db import Store", "hub.domain.x", False, ["hub.store.db"]),
        ("from .. import web", "hub.domain.x", False, ["hub.web"]),
        ("from . import menu", "hub.domain", True, ["hub.domain.menu"]),
        ("def f():\n    import asyncio\n", "hub.domain.x", False, ["asyncio"]),
        ("if TYPE_CHECKING:\n    from hub.web import app\n", "m", False, ["hub.web.app"]),
        (
            "import importlib\nimportlib.import_module('aiohttp')",
            "m",
            False,
            ["importlib", "aiohttp"],
        ),
    ],
)
def test_imports_are_read_and_resolved(
    source: str, module: str, is_package: bool, targets: list[str]
) -> None:
    known = {"hub.domain.menu", "hub.web", "hub.web.app", "hub.store.db"}

    got = [i.target for i in imports_of(source, module, known, is_package=is_package)]

    assert got == targets
