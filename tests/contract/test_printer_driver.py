"""`EscposDriver` (the real python-escpos `Network` backend) against `FakeNetworkPrinter`."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait

import pytest

from devices.errors import (
    CoverOpen,
    DeviceConfigError,
    PaperOut,
    PrinterOffline,
    PrinterRefused,
    PrinterTimeout,
)
from devices.printers.driver import (
    UNREACHABLE,
    EscposDriver,
    PrinterAddress,
    PrinterStatus,
    decode_status,
)
from devices.printers.fake import FakeNetworkPrinter, decode
from devices.printers.render import PaperProfile, parse_doc, render
from tests.waiting import DEADLINE, until_sync

TIMEOUT = 0.5


@pytest.fixture
def driver(printer: FakeNetworkPrinter) -> Iterator[EscposDriver]:
    drv = EscposDriver(printer.address, timeout=TIMEOUT)
    yield drv
    drv.close()


@pytest.mark.parametrize(
    ("paper", "online", "problem"),
    [("ok", True, None), ("low", True, None), ("out", False, PaperOut)],
)
def test_paper_states(
    printer: FakeNetworkPrinter,
    driver: EscposDriver,
    paper: str,
    online: bool,
    problem: type[Exception] | None,
) -> None:
    printer.set_paper(paper)  # type: ignore[arg-type]
    status = driver.status()
    assert (status.paper, status.online, status.cover_open) == (paper, online, False)
    found = status.problem()
    assert found is None if problem is None else isinstance(found, problem)


def test_cover_open(printer: FakeNetworkPrinter, driver: EscposDriver) -> None:
    printer.set_cover_open(True)
    status = driver.status()
    assert status.cover_open
    assert not status.online
    assert isinstance(status.problem(), CoverOpen)
    assert status.problem().code == "cover_open"  # type: ignore[union-attr]


def test_offline(printer: FakeNetworkPrinter, driver: EscposDriver) -> None:
    printer.set_online(False)
    status = driver.status()
    assert not status.online
    assert status.paper == "ok"
    assert isinstance(status.problem(), PrinterOffline)
    printer.set_online(True)
    assert driver.status().problem() is None


def test_bytes_written_arrive(printer: FakeNetworkPrinter, driver: EscposDriver) -> None:
    doc = {"kind": "test", "printer": "grill-1"}
    data = render(parse_doc(doc), profile=PaperProfile(), encoding_mode="codepage")
    assert driver.status().problem() is None
    driver.write(data)
    driver.close()
    (receipt,) = printer.wait_printed(1)
    assert printer.connections[-1] == b"\x10\x04\x01\x10\x04\x02\x10\x04\x04" + data
    assert receipt.lines == decode(data).lines
    assert receipt.complete


def test_connection_refused(printer: FakeNetworkPrinter, driver: EscposDriver) -> None:
    printer.refuse()
    with pytest.raises(PrinterRefused) as info:
        driver.status()
    assert info.value.code == "refused"
    with pytest.raises(PrinterRefused):
        driver.write(b"hello\n")
    printer.accept()
    assert driver.status().problem() is None  # the same driver reconnects


def test_stalled_printer_times_out(printer: FakeNetworkPrinter, driver: EscposDriver) -> None:
    """A printer that never answers makes `status()` give up with `PrinterTimeout` rather than
    hang. It runs on a worker so a hang fails here, named, instead of freezing the suite; how
    fast it gives up is not asserted (that depends on the machine)."""
    printer.stall()
    with ThreadPoolExecutor(1) as pool:
        asked = pool.submit(driver.status)
        done, _ = wait([asked], timeout=DEADLINE)
        assert done, f"status() on a stalled printer did not give up within {DEADLINE} s"
        with pytest.raises(PrinterTimeout) as info:
            asked.result()
    assert info.value.code == "timeout"
    assert printer.queries, "the printer was asked"
    printer.unstall()
    assert driver.status().online


def test_stale_replies_are_drained_before_asking(
    printer: FakeNetworkPrinter, driver: EscposDriver
) -> None:
    # a DLE EOT 1 inside job data (as happens in raster bytes) makes the printer answer
    # "online" unasked; python-escpos would read that as the answer to the next query
    driver.write(b"\x10\x04\x01\x10\x04\x01")
    sock = driver._sock
    assert sock is not None

    def replies_waiting() -> int:
        try:
            return len(sock.recv(8, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except BlockingIOError:
            return 0

    until_sync(
        lambda: replies_waiting() == 2,
        "the two unasked 'online' replies to wait in the driver's socket",
        state=replies_waiting,
    )
    printer.set_online(False)
    assert not driver.status().online


def test_dropped_connection_is_offline_not_ok(
    printer: FakeNetworkPrinter, driver: EscposDriver
) -> None:
    printer.drop_connection_after(5)  # mid-way through the three status queries
    with pytest.raises(PrinterOffline):
        driver.status()
    assert driver.status().online  # the drop happens once; the driver reconnects


def test_empty_status_reply_means_unreachable_not_paper_ok() -> None:
    """A peer that closes cleanly gives empty reads: never "paper adequate"."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        conn.recv(3)
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    drv = EscposDriver(f"tcp://127.0.0.1:{server.getsockname()[1]}", timeout=TIMEOUT)
    try:
        status = drv.status()
    finally:
        drv.close()
        thread.join(2)
        server.close()
    assert status == UNREACHABLE
    assert status.paper == "unknown"
    assert isinstance(status.problem(), PrinterOffline)


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        ((0x12, 0x12, 0x12), PrinterStatus(True, "ok", False, False)),
        ((0x12, 0x12, 0x1E), PrinterStatus(True, "low", False, False)),
        ((0x1A, 0x32, 0x7E), PrinterStatus(False, "out", False, False)),
        ((0x1A, 0x32, 0x12), PrinterStatus(False, "out", False, False)),  # stopped by paper end
        ((0x1A, 0x16, 0x12), PrinterStatus(False, "ok", True, False)),
        ((0x16, 0x12, 0x12), PrinterStatus(True, "ok", False, True)),
    ],
)
def test_status_bytes(replies: tuple[int, int, int], expected: PrinterStatus) -> None:
    assert decode_status(*replies) == expected


@pytest.mark.parametrize(
    ("address", "parsed"),
    [
        ("tcp://192.0.2.10:9100", PrinterAddress("tcp", host="192.0.2.10", port=9100)),
        ("tcp://kitchen-printer", PrinterAddress("tcp", host="kitchen-printer", port=9100)),
        ("usb://04b8:0202", PrinterAddress("usb", vendor=0x04B8, product=0x0202)),
        (
            "serial:///dev/ttyUSB0?baud=19200",
            PrinterAddress("serial", device="/dev/ttyUSB0", baud=19200),
        ),
    ],
)
def test_addresses(address: str, parsed: PrinterAddress) -> None:
    assert PrinterAddress.parse(address) == parsed
    assert PrinterAddress.parse(str(parsed)) == parsed


@pytest.mark.parametrize("address", ["192.0.2.10", "usb://04b8", "usb://zz:01", "lp://x", ""])
def test_bad_addresses(address: str) -> None:
    with pytest.raises(DeviceConfigError, match="printer address"):
        EscposDriver(address)
