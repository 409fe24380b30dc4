"""The hub as its own process under an LD_PRELOAD shim (fsyncshim.c, compiled here with the
system C compiler) that logs every fsync with its file and can slow fsyncs down or make the
store's writes fail at the OS level, so tests see the disk, not a replaced method."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub.cli import demo_menu
from hub.ops.mosquitto import Mosquitto, free_port

HERE = Path(__file__).parent
START_S = 60.0


@pytest.fixture(scope="session")
def fsync_shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """fsyncshim.c built for this machine; a missing compiler fails the session loudly."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("no C compiler: the durability tests build fsyncshim.c with `cc` (apt gcc)")
    out = tmp_path_factory.mktemp("shim") / "fsyncshim.so"
    done = subprocess.run(
        [cc, "-shared", "-fPIC", "-O2", "-Wall", "-o", str(out), str(HERE / "fsyncshim.c"), "-ldl"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"building fsyncshim.c with {cc} failed:\n{done.stderr}")
    return out


@dataclass(frozen=True, slots=True)
class Fsync:
    """One fsync/fdatasync the hub made, as the shim logged it."""

    start_ns: int
    end_ns: int
    call: str
    ok: bool
    path: str


class ShimmedHub:
    """`python -m hub run` with the shim preloaded; its data dir, log and control files."""

    def __init__(self, work: Path, broker_port: int, shim: Path) -> None:
        self.work = work
        self.data = work / "data"
        self.ctl = work / "ctl"
        self.ctl.mkdir(parents=True)
        self.fsync_log = work / "fsync.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        menu = work / "menu.json"
        menu.write_text(json.dumps(demo_menu()))
        self.config = work / "hub.toml"
        self.config.write_text(
            f'[store]\ndata_dir = "{self.data}"\nmenu_file = "{menu}"\n'
            f'[http]\nhost = "127.0.0.1"\nport = {self.port}\n'
            f'[broker]\nport = {broker_port}\nclient_id = "durability-{self.port}"\n'
            '[log]\nlevel = "info"\n[limits]\nenabled = false\n'
        )
        self.env = dict(
            os.environ,
            LD_PRELOAD=str(shim),
            FSYNCSHIM_LOG=str(self.fsync_log),
            FSYNCSHIM_CTL=str(self.ctl),
            FSYNCSHIM_MATCH=str(self.data / "tablehub.db"),
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def db(self) -> Path:
        return self.data / "tablehub.db"

    def start(self) -> None:
        with (self.work / "hub.log").open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hub", "run", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        until = time.monotonic() + START_S
        while time.monotonic() < until:
            if self.proc.poll() is not None:
                pytest.fail(f"the hub exited ({self.proc.returncode}):\n{self.log_text()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)  # polling the port with a deadline
        pytest.fail(f"the hub did not answer /healthz in {START_S:.0f} s:\n{self.log_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def log_text(self) -> str:
        path = self.work / "hub.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def cli(self, *args: str) -> str:
        """The hub's own CLI on this data dir (not under the shim)."""
        env = {k: v for k, v in self.env.items() if not k.startswith(("LD_PRELOAD", "FSYNC"))}
        done = subprocess.run(
            [sys.executable, "-m", "hub", *args, "--data", str(self.data)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
        return done.stdout.strip()

    def table_token(self, table: str = "T1") -> str:
        rows = json.loads(self.cli("tables", "--json"))
        url: str = next(r["url"] for r in rows if r["table"] == table)
        return url.rsplit("/", 1)[1]

    def control(self, name: str, value: str | None) -> None:
        """Write (or, with None, remove) one of the shim's control files."""
        path = self.ctl / name
        if value is None:
            path.unlink(missing_ok=True)
        else:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(value)
            tmp.replace(path)  # the shim reads it whole or not at all

    def fsyncs(self) -> list[Fsync]:
        out = []
        if not self.fsync_log.exists():
            return out
        for line in self.fsync_log.read_text().splitlines():
            start, end, call, rc, _err, path = line.split(" ", 5)
            out.append(Fsync(int(start), int(end), call, rc == "0", path))
        return out


@pytest.fixture
def shimmed_hub(tmp_path: Path, broker: Mosquitto, fsync_shim: Path) -> Iterator[ShimmedHub]:
    hub = ShimmedHub(tmp_path, broker.port, fsync_shim)
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()
