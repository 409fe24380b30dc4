"""A private Mosquitto broker process: for `tablehub demo` and the test suite.

It writes a config into its own directory (loopback listener on a free port, persistence,
optional password file and ACL), starts `mosquitto -c`, waits until the port accepts, and
stops its own process by PID. A store box runs the system Mosquitto with the files that
provisioning writes instead."""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

_GIVEN: collections.deque[int] = collections.deque(maxlen=256)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, and not one this process was given lately (the kernel
    may hand the same free port to two calls in a row, before either is bound)."""
    for _ in range(64):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port: int = s.getsockname()[1]
        if port not in _GIVEN:
            break
    _GIVEN.append(port)
    return port


class MosquittoError(RuntimeError):
    pass


def _dies_with_parent() -> list[str]:
    """A prefix that makes the broker die with the process that started it, even one killed
    with -9 (which cannot stop it): util-linux's `setpriv --pdeathsig` asks the kernel to send
    it SIGTERM then, so a killed demo or test run leaves no broker behind holding its port and
    persistence file. The kernel ties the signal to the starting *thread*, so only a broker
    started from the main thread gets it (one started from a worker thread would be stopped
    when that thread ends). Without setpriv (not Linux) the broker is started as it is."""
    setpriv = shutil.which("setpriv")
    if setpriv is None or threading.current_thread() is not threading.main_thread():
        return []
    return [setpriv, "--pdeathsig", "TERM", "--"]


class Mosquitto:
    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        users: dict[str, str] | None = None,
        acl: str | None = None,
        autosave_interval: int = 1,
    ) -> None:
        self.dir = Path(workdir)
        self.port = port or free_port()
        self.users = users or {}
        self.acl = acl
        self.autosave_interval = autosave_interval
        self.proc: subprocess.Popen[bytes] | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Mosquitto 127.0.0.1:{self.port} {state}>"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def log_path(self) -> Path:
        return self.dir / "broker.log"

    def _write_config(self) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "data").mkdir(exist_ok=True)
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            # small packets (PUBACKs, tickets) at once, as on a store box (systemd/mosquitto)
            "set_tcp_nodelay true",
            f"persistence_location {self.dir / 'data'}/",
            f"autosave_interval {self.autosave_interval}",
            "max_queued_messages 10000",  # as on a store box (systemd/mosquitto)
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
        ]
        if self.users:
            pw = self.dir / "passwd"
            pw.unlink(missing_ok=True)
            pw.touch(mode=0o600)
            for user, password in self.users.items():
                subprocess.run(
                    ["mosquitto_passwd", "-b", str(pw), user, password],
                    check=True,
                    capture_output=True,
                )
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        if self.acl is not None:
            (self.dir / "acl").write_text(self.acl)
            lines.append(f"acl_file {self.dir / 'acl'}")
        if os.geteuid() == 0:  # as root mosquitto would drop to a user that cannot read here
            lines.append("user root")
        conf = self.dir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def start(self, timeout: float = 10.0) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            raise MosquittoError("mosquitto is not installed (apt-get install mosquitto)")
        conf = self._write_config()
        with self.log_path.open("ab") as log:
            # its own session: a Ctrl+C in the terminal goes to the hub, which stops cleanly
            # and then stops the broker, not to both at once
            self.proc = subprocess.Popen(
                [*_dies_with_parent(), exe, "-c", str(conf)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise MosquittoError(f"mosquitto exited: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            time.sleep(0.05)
        self.stop()
        raise MosquittoError(f"mosquitto did not listen on {self.port} in {timeout}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def save(self) -> None:
        """Have the broker write its persistence file now (SIGUSR1), as it does every
        `autosave_interval`: sessions and subscriptions made just before are then on disk."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGUSR1)

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
