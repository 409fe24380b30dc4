"""A whole box rehearsed in a folder, without sudo, from the command line: `tablehub
provision --root DIR` with ports chosen by flags writes files that name only paths under DIR;
the written Mosquitto config, `tablehub run` and `tablehub doctor` run from them as they
are; doctor exits 0 while the box serves and 1, naming the hub, once it stops."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.ops.mosquitto import free_port
from tests.waiting import until_sync

TEXT_SUFFIXES = {".toml", ".conf", ".yaml", ".json", ".acl", ".passwd", ""}


def tablehub(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Box:
    def __init__(self, root: Path) -> None:
        self.root = root
        ports: set[int] = set()
        while len(ports) < 3:  # free ports asked one after another may repeat
            ports.add(free_port())
        self.http, self.mqtt, self.lan = sorted(ports)
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def hub_toml(self) -> Path:
        return self.root / "etc/tablehub/hub.toml"

    def provision(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return tablehub(
            "provision",
            "--root",
            str(self.root),
            "--store-id",
            "harbour",
            "--store-name",
            "Golden Lantern",
            "--tables",
            "4",
            "--public-url",
            f"http://127.0.0.1:{self.http}",
            "--http-port",
            str(self.http),
            "--mqtt-port",
            str(self.mqtt),
            "--mqtt-lan-port",
            str(self.lan),
            "--bind",
            "127.0.0.1",
            *extra,
        )

    def start(self, argv: list[str], log: str) -> subprocess.Popen[bytes]:
        with (self.root / log).open("ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.root / name).read_text(errors="replace")[-3000:]

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    b = Box(tmp_path / "box")
    yield b
    for proc in reversed(b.procs):
        b.stop(proc)


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
    except OSError:
        return False
    return True


def healthz(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            body: dict[str, Any] = json.loads(r.read())
            return body
    except OSError:
        return None


def doctor(box: Box) -> tuple[int, dict[str, dict[str, Any]]]:
    done = tablehub("doctor", "--config", str(box.hub_toml), "--json")
    doc = json.loads(done.stdout)
    return done.returncode, {c["name"]: c for c in doc["checks"]}


def box_paths_outside(root: Path) -> list[str]:
    """Every absolute /etc or /var path a written text file sets (the systemd units aside:
    they are for the box) that is not under `root` (a path under it has /etc/ after a name,
    which the pattern skips)."""
    found = []
    pattern = re.compile(r"(?<![\w./-])/(?:etc|var)/[\w./@%-]*")
    for path in root.rglob("*"):
        if not path.is_file() or path.suffix not in TEXT_SUFFIXES:
            continue
        if "systemd" in path.parts or path.name == ".provisioned.json":  # box-relative list
            continue
        for line in path.read_text("utf-8", errors="replace").splitlines():
            setting = line.split("#", 1)[0]  # comments may speak of the box's own paths
            found += [f"{path.relative_to(root)}: {m}" for m in pattern.findall(setting)]
    return found


def test_a_rehearsed_box_runs_from_its_folder_and_doctor_says_when_it_stops(box: Box) -> None:
    done = box.provision()
    assert done.returncode == 0, done.stderr
    # everything the box runs with names only paths in the folder
    assert box_paths_outside(box.root) == []
    main_conf = box.root / "etc/mosquitto/mosquitto.conf"
    assert f"mosquitto -c {main_conf}" in done.stdout
    assert f"tablehub run --config {box.hub_toml}" in done.stdout

    broker = box.start(["mosquitto", "-c", str(main_conf)], "mosquitto.log")
    until_sync(lambda: listening(box.mqtt) and listening(box.lan), "the rehearsed broker")
    assert broker.poll() is None, box.log("mosquitto.log")
    hub = box.start([sys.executable, "-m", "hub", "run", "--config", str(box.hub_toml)], "hub.log")

    def serving() -> bool:
        assert hub.poll() is None, box.log("hub.log")
        body = healthz(box.http)
        return body is not None and body["broker_connected"] is True

    until_sync(serving, "the rehearsed hub to serve", every=0.1)

    code, checks = doctor(box)
    assert code == 0, checks
    assert checks["hub"]["status"] == "ok"
    assert checks["broker"]["status"] == "ok"
    assert checks["broker"]["data"]["hub"] == "online"
    assert checks["database"]["status"] == "ok"

    box.stop(hub)
    code, checks = doctor(box)
    assert code == 1
    assert checks["hub"]["status"] == "fail"
    assert "not running or not answering" in checks["hub"]["summary"]
    table = tablehub("doctor", "--config", str(box.hub_toml))
    assert table.returncode == 1
    assert "1 failed (hub)" in table.stdout, table.stdout


def test_a_second_rehearsal_beside_the_first_keeps_to_its_ports(tmp_path: Path) -> None:
    first, second = Box(tmp_path / "one"), Box(tmp_path / "two")
    assert first.provision().returncode == 0
    assert second.provision().returncode == 0
    for b in (first, second):
        conf = (b.root / "etc/mosquitto/conf.d/tablehub.conf").read_text()
        assert f"listener {b.mqtt} 127.0.0.1" in conf
        assert f"listener {b.lan} 127.0.0.1" in conf
        hub = b.hub_toml.read_text()
        assert f"port = {b.http}" in hub
        assert f"port = {b.mqtt}" in hub
        assert str(b.root / "var/lib/tablehub") in hub
