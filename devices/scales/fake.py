"""`FakeScale`: a scale simulator on a pseudo-terminal, for tests and `tablehub demo`.

It speaks each built-in protocol (``mettler-8217``, ``mt-sics``, ``nci-scp01`` answer
requests; ``cas-22`` streams) from a settable state, on the master side of ``os.openpty()``.
The code under test opens `FakeScale.port` exactly as it would open
``/dev/serial/by-id/usb-...``: that path is a symlink to the current pty slave.

Test verbs::

    with FakeScale("mt-sics") as scale:
        scale.set_weight(1234)          # grams, gross
        scale.set_motion(True)          # the scale reports motion (and wobbles +-5 g)
        scale.set_over(True)            # over capacity
        scale.unplug()                  # pty closed: the agent's reads fail (EIO)
        scale.replug()                  # a NEW pty behind the SAME `port` symlink

Replug gives a new pty (a pty cannot be reopened once its master is closed) but re-points
the stable symlink, the way udev re-creates ``/dev/serial/by-id/...`` for a replugged USB
adapter; `tty` is the current ``/dev/pts/N``. A pty only does 8N1: open it with
``{"bytesize": 8, "parity": "N"}`` line overrides for the 7E1 Mettler 8217.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import tempfile
import threading
import time
import tty
from dataclasses import dataclass
from pathlib import Path

STX, ETX, CR, LF = b"\x02", b"\x03", b"\r", b"\n"
PROTOCOLS = ("mettler-8217", "mt-sics", "nci-scp01", "cas-22")


@dataclass
class ScaleState:
    gross: int = 0  # grams
    tare: int = 0
    motion: bool = False
    wobble: int = 5
    over: bool = False
    _tick: int = 0

    @property
    def net(self) -> int:
        return self.gross - self.tare

    def shown_kg(self) -> float:
        """The net weight as the display shows it (wobbling while in motion)."""
        grams = self.net
        if self.motion and self.wobble:
            self._tick += 1
            grams += self.wobble if self._tick % 2 else -self.wobble
        return grams / 1000


# ---------------------------------------------------------------- the protocols, scale side


def mettler_8217(cmd: int, s: ScaleState) -> bytes:
    def status() -> bytes:
        bits = 0x40 | s.motion | s.over << 1 | (s.net < 0) << 2
        bits |= (s.net == 0) << 4 | (s.tare != 0) << 5
        return STX + b"?" + bytes([bits]) + CR

    if cmd == ord("W"):
        if s.motion or s.over or s.net < 0:
            return status()
        return STX + f"{s.net / 1000:07.3f}".encode() + (b"N" if s.tare else b"") + CR
    if cmd == ord("Z") and not s.motion and not s.tare:
        s.gross = 0
    elif cmd == ord("T") and not s.motion and s.gross > 0:
        s.tare = s.gross
    elif cmd == ord("C"):
        s.tare = 0
    elif cmd not in b"ZTC":
        return b""  # unknown bytes are ignored
    return status()


def mt_sics(line: bytes, s: ScaleState) -> bytes:
    cmd = line.strip()

    def weight(head: bytes, st: bytes) -> bytes:
        return head + b" " + st + f" {s.shown_kg():>10.3f} kg".encode() + CR + LF

    if not cmd:
        return b""
    if cmd in (b"S", b"SI"):
        if s.over:
            return b"S +" + CR + LF
        if s.gross < 0:  # below the zero range
            return b"S -" + CR + LF
        if cmd == b"S" and s.motion:
            return b"S I" + CR + LF
        return weight(b"S", b"D" if s.motion else b"S")
    if cmd == b"T":
        if s.motion:
            return b"T I" + CR + LF
        s.tare = s.gross
        return weight(b"T", b"S")
    if cmd == b"TAC":
        s.tare = 0
        return b"TAC A" + CR + LF
    if cmd == b"Z":
        if s.motion:
            return b"Z I" + CR + LF
        s.gross = 0
        return b"Z A" + CR + LF
    return b"ES" + CR + LF


def nci_scp01(line: bytes, s: ScaleState) -> bytes:
    cmd = line.strip()
    status = (
        b"S"
        + bytes([0x30 | s.motion | (s.net == 0) << 1, 0x30 | (s.net < 0) | s.over << 1])
        + CR
        + ETX
    )
    if not cmd:
        return b""
    if cmd == b"W":
        if s.motion or s.over or s.net < 0:
            return LF + status
        return LF + f"{s.net / 1000:>7.3f}KG".encode() + CR + LF + status
    if cmd in (b"S", b"Z"):
        if cmd == b"Z" and not s.motion:
            s.gross = s.tare
        return LF + status
    return LF + b"?" + CR + ETX


def cas_22(s: ScaleState) -> bytes:
    head = b"OL" if s.over else b"US" if s.motion else b"ST"
    mode = b"NT" if s.tare else b"GS"
    stable = not (s.over or s.motion)
    lamp = 0x80 | stable << 6 | (s.tare != 0) << 1 | (s.net == 0)
    kg = s.shown_kg()
    return (
        head + b"," + mode + b",1" + bytes([lamp]) + b"," + f"{kg:08.3f}".encode()[:8] + b" kg\r\n"
    )


# ---------------------------------------------------------------- the pty


class FakeScale:
    def __init__(
        self,
        protocol: str = "mettler-8217",
        *,
        link: str | Path | None = None,
        stream_interval: float = 0.1,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"FakeScale speaks {', '.join(PROTOCOLS)}, not '{protocol}'")
        self.protocol = protocol
        self.state = ScaleState()
        self.stream_interval = stream_interval
        self._own_dir = None if link else tempfile.mkdtemp(prefix="fakescale-")
        self.port = str(link or Path(self._own_dir or ".") / f"ttyFAKE-{protocol}")
        self.received = bytearray()
        self.replies = 0
        self._lock = threading.Lock()
        self._fds: tuple[int, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.tty = ""
        self.replug()

    def __repr__(self) -> str:
        plugged = "plugged" if self.plugged else "unplugged"
        s = self.state
        return f"<FakeScale {self.protocol} {self.port} {plugged} {s.net} g motion={s.motion}>"

    def __enter__(self) -> FakeScale:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state verbs

    def set_weight(self, grams: int) -> None:
        with self._lock:
            self.state.gross = int(grams)

    def set_tare(self, grams: int) -> None:
        with self._lock:
            self.state.tare = int(grams)

    def set_motion(self, on: bool = True, wobble_g: int = 5) -> None:
        with self._lock:
            self.state.motion, self.state.wobble = on, wobble_g

    def set_over(self, on: bool = True) -> None:
        with self._lock:
            self.state.over = on

    @property
    def plugged(self) -> bool:
        return self._fds is not None

    # -- plugging

    def unplug(self) -> None:
        """Close the pty: the other side's next read or write fails."""
        if self._fds is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        master, slave = self._fds
        self._fds = None
        for fd in (master, slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.port)

    def replug(self) -> None:
        """A new pty behind the same `port` symlink."""
        if self._fds is not None:
            return
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line discipline until the agent sets its own
        os.set_blocking(master, False)
        self.tty = os.ttyname(slave)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.port)
        os.symlink(self.tty, self.port)
        self._fds = (master, slave)  # the slave stays open here: no EIO when the agent closes
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(master, self._stop), name=f"fake-scale-{self.protocol}"
        )
        self._thread.daemon = True
        self._thread.start()

    def close(self) -> None:
        self.unplug()
        if self._own_dir:
            shutil.rmtree(self._own_dir, ignore_errors=True)

    # -- the scale's loop

    def _run(self, master: int, stop: threading.Event) -> None:
        buf = b""
        next_frame = time.monotonic()
        while not stop.is_set():
            timeout = 0.05
            if self.protocol == "cas-22":
                now = time.monotonic()
                if now >= next_frame:
                    with self._lock:
                        self._send(master, cas_22(self.state))
                    next_frame = now + self.stream_interval
                timeout = max(0.0, min(timeout, next_frame - time.monotonic()))
            if not select.select([master], [], [], timeout)[0]:
                continue
            try:
                data = os.read(master, 1024)
            except BlockingIOError:
                continue
            except OSError:
                return
            self.received += data
            buf = self._answer(master, buf + data)

    def _answer(self, master: int, buf: bytes) -> bytes:
        with self._lock:
            if self.protocol == "mettler-8217":
                for ch in buf:
                    self._send(master, mettler_8217(ch, self.state))
                return b""
            if self.protocol == "cas-22":
                return b""  # a streaming indicator ignores what it is sent
            sep = b"\n" if self.protocol == "mt-sics" else b"\r"
            handler = mt_sics if self.protocol == "mt-sics" else nci_scp01
            while sep in buf:
                line, buf = buf.split(sep, 1)
                self._send(master, handler(line, self.state))
            return buf[-64:]

    def _send(self, master: int, data: bytes) -> None:
        if not data:
            return
        with contextlib.suppress(BlockingIOError, OSError):  # nobody reading: dropped
            os.write(master, data)
            self.replies += 1
