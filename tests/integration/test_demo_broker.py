"""The demo's own Mosquitto dies with the demo, even when the demo is killed with -9 (which can
run no clean-up): a broker left behind would keep its port and, started again by the next
demo on the same data directory, share one persistence file with a stray copy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from hub.ops.mosquitto import free_port
from tests.waiting import until_sync


def _brokers_of(conf: Path) -> list[int]:
    """Pids of live processes running Mosquitto with this config file."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if (
            state != "Z"
            and any(a.endswith(b"mosquitto") for a in argv)
            and str(conf).encode() in argv
        ):
            out.append(int(entry.name))
    return out


def test_a_killed_demo_leaves_no_broker_behind(tmp_path: Path) -> None:
    data = tmp_path / "data"
    conf = data / "mosquitto" / "mosquitto.conf"
    with (tmp_path / "demo.log").open("wb") as log:
        demo = subprocess.Popen(
            [sys.executable, "-m", "hub", "demo", "--data", str(data), "--port", str(free_port())],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as a whole below
        )
    try:
        until_sync(
            lambda: bool(_brokers_of(conf)),
            "the demo's broker to start",
            state=lambda: (demo.poll(), (tmp_path / "demo.log").read_text()[-500:]),
        )
        (broker,) = _brokers_of(conf)
    finally:
        os.killpg(demo.pid, signal.SIGKILL)
        demo.wait(10)
    until_sync(
        lambda: not _brokers_of(conf),
        f"the demo's broker (pid {broker}) to end after the demo was killed with -9",
        timeout=15,
    )
