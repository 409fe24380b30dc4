"""The printer seam: `PrinterDriver` (the contract), `PrinterStatus`, and `EscposDriver`.

`EscposDriver` wraps python-escpos's `Network`, `Usb` and `Serial` backends, chosen by a
URL-ish address. It is blocking: call it from the printer's own worker thread, never from the
event loop. It asks for status itself instead of using python-escpos's `is_online()` and
`paper_status()`, because those read whatever byte comes next (a stale reply to an earlier
query is taken as the answer) and `paper_status()` reads an empty reply as "paper adequate".
Here stale bytes are drained first, each reply is checked against the fixed bits every
``DLE EOT`` reply carries, and an empty reply means "printer gone", never "fine".

python-escpos, socket, pyusb and pyserial exceptions stop here: callers see `devices.errors`.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs, urlsplit

from escpos import exceptions as escpos_errors
from escpos.escpos import Escpos

from devices.errors import (
    CoverOpen,
    DeviceConfigError,
    PaperOut,
    PrinterError,
    PrinterOffline,
    PrinterRefused,
    PrinterTimeout,
)

PaperState = Literal["ok", "low", "out", "unknown"]

DLE_EOT = b"\x10\x04"  # real-time status: n=1 printer, 2 offline cause, 4 roll paper sensor
_FIXED_MASK, _FIXED_BITS = 0x93, 0x12  # every DLE EOT reply: bits 1 and 4 set, bits 0 and 7 clear


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What the printer said about itself. `problem()` names what stops it printing."""

    online: bool
    paper: PaperState = "unknown"
    cover_open: bool = False
    drawer_open: bool | None = None

    def problem(self) -> PrinterError | None:
        if self.cover_open:
            return CoverOpen("cover open")
        if self.paper == "out":
            return PaperOut("paper out")
        if not self.online:
            return PrinterOffline("offline")
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "online": self.online,
            "paper": self.paper,
            "cover_open": self.cover_open,
            "drawer_open": self.drawer_open,
        }


UNREACHABLE = PrinterStatus(online=False)


class PrinterDriver(Protocol):
    """The one seam between a printer agent and printer hardware. Blocking; one thread.

    status() -> PrinterStatus
        Ask the printer now (connecting if needed). Returns what it reported; raises
        `PrinterRefused` / `PrinterTimeout` / `PrinterOffline` when it cannot be asked.
    write(data) -> None
        Send one job's bytes (connecting if needed). Returning means the bytes left this host,
        not that they were printed: check `status()` afterwards.
    close() -> None
        Drop the connection (printers often serve one client at a time). Never raises; the
        next call connects again. After any error the driver has already closed itself.
    """

    def status(self) -> PrinterStatus: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


def decode_status(printer: int, offline_cause: int, paper: int) -> PrinterStatus:
    """The replies to DLE EOT 1, 2 and 4 -> `PrinterStatus` (Epson TM bit layout)."""
    if paper & 0x60 == 0x60:
        paper_state: PaperState = "out"
    elif paper & 0x0C == 0x0C:
        paper_state = "low"
    else:
        paper_state = "ok"
    if offline_cause & 0x20:  # stopped by paper end, whatever the roll sensor says
        paper_state = "out"
    return PrinterStatus(
        online=not printer & 0x08,
        paper=paper_state,
        cover_open=bool(offline_cause & 0x04),
        drawer_open=bool(printer & 0x04),
    )


# ---------------------------------------------------------------- addresses


@dataclass(frozen=True, slots=True)
class PrinterAddress:
    """``tcp://host[:9100]``, ``usb://VID:PID`` (hex) or ``serial:///dev/tty...?baud=9600``."""

    scheme: Literal["tcp", "usb", "serial"]
    host: str = ""
    port: int = 9100
    vendor: int = 0
    product: int = 0
    device: str = ""
    baud: int = 9600

    @classmethod
    def parse(cls, address: str) -> PrinterAddress:
        parts = urlsplit(address)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            if parts.scheme == "tcp" and parts.hostname:
                return cls("tcp", host=parts.hostname, port=parts.port or 9100)
            if parts.scheme == "usb":
                vendor, product = parts.netloc.split(":")
                return cls("usb", vendor=int(vendor, 16), product=int(product, 16))
            if parts.scheme == "serial" and parts.path:
                return cls("serial", device=parts.path, baud=int(query.get("baud", 9600)))
        except ValueError as exc:
            raise DeviceConfigError(f"bad printer address {address!r}: {exc}") from exc
        raise DeviceConfigError(
            f"bad printer address {address!r}: use tcp://host:9100, usb://04b8:0202 "
            "or serial:///dev/ttyUSB0?baud=9600"
        )

    def __str__(self) -> str:
        if self.scheme == "tcp":
            return f"tcp://{self.host}:{self.port}"
        if self.scheme == "usb":
            return f"usb://{self.vendor:04x}:{self.product:04x}"
        return f"serial://{self.device}?baud={self.baud}"


# ---------------------------------------------------------------- the python-escpos driver


def _translate(exc: BaseException, where: str) -> PrinterError:
    """A foreign exception -> the `devices.errors` type that names the cause."""
    cause = exc.__cause__ or exc.__context__
    for candidate in (exc, cause):
        if isinstance(candidate, ConnectionRefusedError):
            return PrinterRefused(f"{where}: connection refused")
        if isinstance(candidate, TimeoutError):  # socket.timeout is TimeoutError
            return PrinterTimeout(f"{where}: no answer in time")
    if isinstance(exc, escpos_errors.DeviceNotFoundError | escpos_errors.USBNotFoundError):
        return PrinterOffline(f"{where}: not found ({exc})")
    if isinstance(exc, OSError | AssertionError):  # escpos asserts; pyusb/pyserial: OSError
        return PrinterOffline(f"{where}: {type(exc).__name__}: {exc}")
    if isinstance(exc, ValueError):  # usb.core.NoBackendError: libusb is missing
        return PrinterError(f"{where}: {exc} (is libusb-1.0-0 installed?)")
    return PrinterError(f"{where}: {type(exc).__name__}: {exc}")


_FOREIGN = (escpos_errors.Error, OSError, AssertionError, ValueError)


class EscposDriver:
    """`PrinterDriver` over python-escpos. One connection per use; short timeouts."""

    def __init__(self, address: str, *, timeout: float = 3.0, profile: str = "TM-T88V") -> None:
        self.address = PrinterAddress.parse(address)
        self.timeout = timeout
        self.profile = profile
        self._printer: Escpos | None = None
        self._sock: socket.socket | None = None

    def __repr__(self) -> str:
        state = "connected" if self._printer is not None else "idle"
        return f"<EscposDriver {self.address} {state}>"

    def _make(self) -> Escpos:
        a = self.address
        if a.scheme == "tcp":
            from escpos.printer import Network

            return Network(a.host, port=a.port, timeout=self.timeout, profile=self.profile)
        if a.scheme == "usb":
            from escpos.printer import Usb

            usb_timeout = int(self.timeout * 1000)  # pyusb counts milliseconds
            return Usb(a.vendor, a.product, timeout=usb_timeout, profile=self.profile)
        from escpos.printer import Serial

        return Serial(a.device, baudrate=a.baud, timeout=self.timeout, profile=self.profile)

    def _open(self) -> Escpos:
        if self._printer is None:
            printer = self._make()
            if self.address.scheme == "tcp":
                # connect here rather than in Network.open(), which leaks the socket when the
                # connection is refused and hides the cause in an escpos exception
                a = self.address
                sock = socket.create_connection((a.host, a.port), timeout=self.timeout)
                printer.device = self._sock = sock
            else:
                printer.open()
            self._printer = printer
        return self._printer

    def status(self) -> PrinterStatus:
        replies: list[int] = []
        try:
            printer = self._open()
            self._drain(printer)
            for n in (1, 2, 4):
                reply = self._query(printer, n)
                if reply is None:  # the peer closed, or answered garbage: do not trust it
                    self.close()
                    return UNREACHABLE
                replies.append(reply)
        except PrinterError:
            self.close()
            raise
        except _FOREIGN as exc:
            self.close()
            raise _translate(exc, f"status of {self.address}") from exc
        return decode_status(*replies)

    def write(self, data: bytes) -> None:
        try:
            self._open()._raw(data)
        except _FOREIGN as exc:
            self.close()
            raise _translate(exc, f"write to {self.address}") from exc

    def close(self) -> None:
        printer, self._printer = self._printer, None
        sock, self._sock = self._sock, None
        if sock is not None:  # our own socket: close it quietly (escpos logs every close)
            if printer is not None:
                printer.device = False
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        elif printer is not None:
            with contextlib.suppress(*_FOREIGN):
                printer.close()

    def _query(self, printer: Escpos, n: int) -> int | None:
        printer._raw(DLE_EOT + bytes([n]))
        reply = bytes(printer._read())
        if not reply:
            return None  # empty: the printer closed the connection (or serial timed out)
        byte = reply[0]
        return byte if byte & _FIXED_MASK == _FIXED_BITS else None

    def _drain(self, printer: Escpos) -> None:
        """Throw away bytes that arrived unasked (late replies, ASB packets)."""
        device: Any = printer.device
        if self.address.scheme == "tcp":
            sock: socket.socket = device
            sock.setblocking(False)
            try:
                while True:
                    chunk = sock.recv(256)
                    if not chunk:
                        raise PrinterOffline(f"{self.address} closed the connection")
            except BlockingIOError:
                pass
            finally:
                sock.settimeout(self.timeout)
        elif self.address.scheme == "serial":
            device.reset_input_buffer()
        else:
            in_ep: int = getattr(printer, "in_ep", 0x82)
            with contextlib.suppress(OSError):  # pyusb: USBTimeoutError (an OSError) when empty
                for _ in range(16):
                    device.read(in_ep, 64, 10)
