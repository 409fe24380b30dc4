"""The error tree of `devices/`: what a device agent can tell its caller went wrong.

Foreign exceptions (python-escpos, sockets, pyusb, pyserial) are translated at the module
that imports the library (`raise ... from exc`) and never travel further. Every error has a
stable ``code`` string: it is what a printer agent puts in the ``error`` field of a
`PrintAck` and in its retained device status, so the hub can show and count causes.

    DeviceError               "unknown"       anything a device agent raises
    ├── DeviceConfigError     "config"        a bad address or config value (a ValueError)
    └── PrinterError          "unknown"       the printer failed for a reason we cannot name
        ├── PrinterOffline    "offline"       says offline, dropped the connection, empty reply
        ├── PaperOut          "paper_out"     the roll paper sensor says paper end
        ├── CoverOpen         "cover_open"    the cover is open
        ├── PrinterTimeout    "timeout"       connected (or connecting), but no answer in time
        ├── PrinterRefused    "refused"       nothing listens at the address
        ├── BadDocument       "bad_document"  the job's document cannot be rendered (a ValueError)
        └── FontMissing       "font_missing"  raster mode needs a CJK font that is not installed

Transient causes (offline, paper_out, cover_open, timeout, refused, unknown) make the agent
keep the job at the head of its queue and retry; `is_final` errors (bad_document,
font_missing) cannot be cured by retrying the same job, so the agent gives that job up.
"""

from __future__ import annotations


class DeviceError(Exception):
    """Base of every error a device agent raises."""

    code: str = "unknown"
    is_final: bool = False


class DeviceConfigError(DeviceError, ValueError):
    """A device address or configuration value that cannot work."""

    code = "config"
    is_final = True


class PrinterError(DeviceError):
    """A printer could not print; the subclass says why when the printer told us."""


class PrinterOffline(PrinterError):
    """The printer reports offline, dropped the connection, or gave an empty status reply."""

    code = "offline"


class PaperOut(PrinterError):
    """The roll paper sensor reports paper end."""

    code = "paper_out"


class CoverOpen(PrinterError):
    """The printer cover is open."""

    code = "cover_open"


class PrinterTimeout(PrinterError):
    """The printer accepted the connection (or was being connected to) but did not answer."""

    code = "timeout"


class PrinterRefused(PrinterError):
    """Nothing accepts connections at the printer's address."""

    code = "refused"


class BadDocument(PrinterError, ValueError):
    """A print document that cannot be rendered: its message names the field."""

    code = "bad_document"
    is_final = True


class FontMissing(PrinterError):
    """Raster mode needs a CJK font and none of the known font files is installed."""

    code = "font_missing"
    is_final = True


TRANSIENT_CODES = frozenset({"offline", "paper_out", "cover_open", "timeout", "refused", "unknown"})
