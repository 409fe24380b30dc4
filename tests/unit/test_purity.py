"""The pure core stays pure: no module under hub/domain, nor hub/bus/contract.py, imports an
IO library or the hub's IO packages (store, web, services)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import hub

HUB = Path(hub.__file__).parent
PURE = sorted([*(HUB / "domain").rglob("*.py"), HUB / "bus" / "contract.py"])

FORBIDDEN_TOP = {"asyncio", "aiosqlite", "aiomqtt", "paho", "aiohttp", "sqlite3", "socket"}
FORBIDDEN_HUB = ("hub.store", "hub.web", "hub.services")


def _package_of(path: Path) -> str:
    """Dotted package name of a module file under the hub package."""
    return ".".join(path.relative_to(HUB.parent).parts[:-1])


def imported_modules(source: str, package: str) -> set[str]:
    """Every module a source imports, relative imports resolved against `package`.

    `from a import b` yields both `a` and `a.b` (b may be a submodule). String arguments of
    `importlib.import_module(...)` and `__import__(...)` count too.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            arg = node.args[0]
            if name in ("import_module", "__import__") and isinstance(arg, ast.Constant):
                found.add(str(arg.value))
    return found


def forbidden(modules: set[str]) -> list[str]:
    return sorted(
        m
        for m in modules
        if m.split(".")[0] in FORBIDDEN_TOP
        or any(m == bad or m.startswith(bad + ".") for bad in FORBIDDEN_HUB)
    )


def test_the_pure_modules_are_found() -> None:
    names = {p.relative_to(HUB).as_posix() for p in PURE}

    assert {
        "domain/menu.py",
        "domain/orders.py",
        "domain/tickets.py",
        "domain/tokens.py",
        "domain/ports.py",
        "bus/contract.py",
    } <= names


@pytest.mark.parametrize("path", PURE, ids=lambda p: p.relative_to(HUB).as_posix())
def test_pure_module_imports_no_io(path: Path) -> None:
    modules = imported_modules(path.read_text("utf-8"), _package_of(path))

    assert forbidden(modules) == []


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ("import asyncio", ["asyncio"]),
        ("import os, socket", ["socket"]),
        ("import paho.mqtt.client as mqtt", ["paho.mqtt.client"]),
        ("from aiohttp import web", ["aiohttp", "aiohttp.web"]),
        ("from sqlite3 import connect", ["sqlite3", "sqlite3.connect"]),
        ("import aiosqlite", ["aiosqlite"]),
        ("from aiomqtt import Client", ["aiomqtt", "aiomqtt.Client"]),
        ("from hub.store import repos", ["hub.store", "hub.store.repos"]),
        ("from hub import services", ["hub.services"]),
        ("import hub.web.api", ["hub.web.api"]),
        ("from ..store.db import Store", ["hub.store.db", "hub.store.db.Store"]),
        ("from .. import web", ["hub.web"]),
        ("def f():\n    import asyncio\n", ["asyncio"]),
        ("import importlib\nimportlib.import_module('aiohttp')", ["aiohttp"]),
        ("from hub.errors import HubError\nfrom hub.storefront import x", []),
        ("import asyncio_extras", []),
    ],
)
def test_the_checker_catches_forbidden_imports(source: str, bad: list[str]) -> None:
    assert forbidden(imported_modules(source, "hub.domain")) == bad
