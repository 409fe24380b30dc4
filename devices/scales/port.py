"""The one seam between a scale agent and its hardware: `SerialPort`, and the pyserial one.

The real port is opened with `serial.serial_for_url`, so a store can give a device path
(``/dev/serial/by-id/usb-...``, stable across replugging), a pty, or ``socket://host:port``
(an Ethernet-to-serial converter). `serial.SerialException` (and the OSError / termios
errors pyserial lets through) never leave this module: they become `PortUnavailable`
(open failed) or `PortLost` (an open port failed).
"""

from __future__ import annotations

import contextlib
import termios
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import serial

from devices.scales.errors import PortLost, PortUnavailable
from devices.scales.protocols import ScaleProtocol

TICK = 0.05  # the driver-level read timeout; `read(timeout=...)` loops over it


class SerialPort(Protocol):
    """A byte pipe to one scale. All calls block; the agent calls them from its worker thread.

    - ``write(data)``: send every byte of `data`. Raises `PortLost` if the link is gone.
    - ``read(n, timeout)``: return 1..n bytes as soon as at least one byte has arrived, or
      ``b""`` after `timeout` seconds of silence. Raises `PortLost` if the link is gone
      (unplugged: EIO, or "readiness to read but returned no data").
    - ``close()``: release the port. Idempotent, never raises.
    """

    def write(self, data: bytes) -> None: ...

    def read(self, n: int, timeout: float) -> bytes: ...

    def close(self) -> None: ...


PortOpener = Callable[[str, ScaleProtocol], SerialPort]

_PORT_ERRORS = (serial.SerialException, OSError, termios.error, ValueError)


class PySerialPort:
    """`SerialPort` over a pyserial object (any URL handler)."""

    def __init__(self, ser: Any, url: str) -> None:
        self._ser = ser
        self.url = url

    def __repr__(self) -> str:
        state = "open" if self._ser is not None and self._ser.is_open else "closed"
        return f"<PySerialPort {self.url} {state}>"

    def write(self, data: bytes) -> None:
        try:
            self._ser.write(data)
        except _PORT_ERRORS as exc:
            raise PortLost(f"{self.url}: {exc}") from exc

    def read(self, n: int, timeout: float) -> bytes:
        # pyserial's own timeout stays fixed at TICK: changing it re-applies the line
        # settings (tcsetattr), which fails on a pty opened as 7E1.
        deadline = time.monotonic() + timeout
        try:
            while True:
                first: bytes = self._ser.read(1)
                if first:
                    waiting = min(self._ser.in_waiting, n - 1)
                    return first + (self._ser.read(waiting) if waiting > 0 else b"")
                if time.monotonic() >= deadline:
                    return b""
        except _PORT_ERRORS as exc:
            raise PortLost(f"{self.url}: {exc}") from exc

    def close(self) -> None:
        ser, self._ser = self._ser, None
        if ser is not None:
            with contextlib.suppress(*_PORT_ERRORS):
                ser.close()


def open_serial(
    url: str, protocol: ScaleProtocol, overrides: Mapping[str, Any] | None = None
) -> PySerialPort:
    """Open `url` with the protocol's line settings (`overrides` wins: a pty forces 8N1,
    so tests and ``socket://`` converters may pass ``{"bytesize": 8, "parity": "N"}``)."""
    settings: dict[str, Any] = {
        "baudrate": protocol.baudrate,
        "bytesize": protocol.bytesize,
        "parity": protocol.parity,
        "stopbits": protocol.stopbits,
    }
    settings.update(overrides or {})
    try:
        ser = serial.serial_for_url(url, timeout=TICK, write_timeout=1.0, **settings)
    except termios.error as exc:
        raise PortUnavailable(
            f"{url}: line settings refused ({exc}); a pty only does 8N1, pass overrides"
        ) from exc
    except _PORT_ERRORS as exc:
        raise PortUnavailable(f"{url}: cannot open: {exc}") from exc
    return PySerialPort(ser, url)
