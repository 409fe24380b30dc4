"""The scale package's errors, under the device tree of `devices.errors`.

    DeviceError (devices.errors)
    └── ScaleError                       code "unknown"      anything devices.scales raises
        ├── PortUnavailable (OSError)    code "unavailable"  the port cannot be opened: unplugged,
        │                                                    wrong path, busy, line settings refused
        ├── PortLost (OSError)           code "lost"         an open port failed (EIO on unplug) or
        │                                                    the scale fell silent
        ├── ProtocolNotDetected          code "not_detected" auto-probe: no known protocol answered
        └── ProtocolFileError            code "config"       a protocol definition or file
            (DeviceConfigError, ValueError)                  that cannot be used (protocols.py)

`serial.SerialException` never leaves `port.py`: it is re-raised as `PortUnavailable` or
`PortLost` (`raise ... from exc`). The agent puts ``code`` and the message in the scale's
retained status (``detail.code``, ``detail.error``).
"""

from __future__ import annotations

from devices.errors import DeviceError


class ScaleError(DeviceError):
    """Base of the scale package's errors."""


class PortUnavailable(ScaleError, OSError):
    """The serial port could not be opened (missing device, permissions, busy)."""

    code = "unavailable"


class PortLost(ScaleError, OSError):
    """A port that was open failed: the scale was unplugged, the link dropped, or it fell
    silent."""

    code = "lost"


class ProtocolNotDetected(ScaleError):
    """Auto-probe tried every known protocol and none answered."""

    code = "not_detected"
