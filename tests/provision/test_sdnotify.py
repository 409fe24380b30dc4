"""sd_notify over a real unix datagram socket standing in for systemd."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.ops import sdnotify
from tests.waiting import until


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[tuple[socket.socket, dict[str, str]]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify"
    sock.bind(str(path))
    sock.settimeout(2)
    yield sock, {"NOTIFY_SOCKET": str(path)}
    sock.close()


def received(sock: socket.socket) -> list[str]:
    out = []
    sock.setblocking(False)
    try:
        while True:
            out.append(sock.recv(4096).decode())
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(2)
    return out


def test_messages_reach_the_socket(systemd: tuple[socket.socket, dict[str, str]]) -> None:
    sock, env = systemd
    assert sdnotify.ready("serving on :8080", env=env)
    assert sock.recv(4096) == b"READY=1\nSTATUS=serving on :8080"
    assert sdnotify.watchdog(env=env)
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert sdnotify.status("3 printers", env=env)
    assert sock.recv(4096) == b"STATUS=3 printers"
    assert sdnotify.stopping(env=env)
    assert sock.recv(4096) == b"STOPPING=1"


def test_abstract_socket() -> None:
    name = f"tablehub-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        assert sdnotify.ready(env={"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(4096) == b"READY=1"


def test_without_systemd_nothing_happens(tmp_path: Path) -> None:
    assert sdnotify.ready(env={}) is False
    assert sdnotify.watchdog(env={"NOTIFY_SOCKET": str(tmp_path / "gone")}) is False
    assert sdnotify.watchdog_interval(env={}) is None


def test_watchdog_interval_is_half_and_only_for_us() -> None:
    mine = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
    assert sdnotify.watchdog_interval(env=mine) == 15.0
    assert sdnotify.watchdog_interval(env={"WATCHDOG_USEC": "30000000"}) == 15.0
    assert sdnotify.watchdog_interval(env={**mine, "WATCHDOG_PID": "1"}) is None
    assert sdnotify.watchdog_interval(env={"WATCHDOG_USEC": "0"}) is None


async def test_supervised_feeds_the_watchdog_from_the_loop(
    systemd: tuple[socket.socket, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, env = systemd
    monkeypatch.setenv("NOTIFY_SOCKET", env["NOTIFY_SOCKET"])
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # 0.1 s: pings every 0.05 s
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    got: list[str] = []

    def pinged_three_times() -> bool:
        # read as they come: the socket queues only 10 datagrams (net.unix.max_dgram_qlen)
        got.extend(received(sock))
        return got.count("WATCHDOG=1") >= 3

    async with sdnotify.supervised("serving"):
        await until(pinged_three_times, "three watchdog pings", state=lambda: got)
    got.extend(received(sock))
    assert got[0] == "READY=1\nSTATUS=serving" or got[1] == "READY=1\nSTATUS=serving"
    assert got.count("WATCHDOG=1") >= 3
    assert got[-1] == "STOPPING=1"
