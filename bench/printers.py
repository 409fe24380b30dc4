"""Kitchen printers for the fault suite: fake network printers the hub under test prints to.

`PrinterRig` starts one `devices.printers.fake.FakeNetworkPrinter` per printer in this process
(loopback TCP, threads), writes their `[[printers]]` blocks into the hub's config, and keeps
every connection with the time it opened (the fake itself keeps the last 1000, a run makes
more). Two ways to take a printer away, as a kitchen loses one:

- `unplug()`: the network cable pulled. New connections time out (the port is held by a
  listener whose accept queue is full, so SYNs go unanswered, as for a host that is gone) and a
  connection that is open stops getting status answers.
- `switch_off()`: the printer's port closed (switched off while its switch port stays up,
  or another client holding it): new connections are refused, an open one finishes.

`plug()` puts it back on the same port. `chits()` decodes what each printer put on paper:
one `Chit` per kitchen chit (order number, banners, whether it got as far as its cut, when its
connection opened; one connection may print several).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from devices.printers.fake import FakeNetworkPrinter, Receipt, receipts

NUMBER = re.compile(r"^#(\d+)$")
MARKS = ("REPRINT", "BACKUP FOR")  # the bars that mark a copy (allergy bars are inverted too)


class RecordingPrinter(FakeNetworkPrinter):
    """The fake printer, keeping every connection (bytes and opening time), never trimmed."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[float, bytearray]] = []
        self._hole: list[socket.socket] = []

    def _take(self, conn: socket.socket) -> None:
        record = bytearray()
        with self._lock:
            self.log.append((time.monotonic(), record))
        self._spawn(self._serve, conn, record)

    def unplug(self) -> None:
        """Connects time out, an open connection goes quiet."""
        self.stall()
        self.refuse()
        hole = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        hole.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hole.bind(("127.0.0.1", self.port))
        hole.listen(0)
        self._hole = [hole]
        for _ in range(2):  # fill the accept queue; later SYNs are dropped
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", self.port))
            self._hole.append(filler)
        time.sleep(0.05)

    def switch_off(self) -> None:
        """Connects are refused."""
        self.refuse()

    def plug(self) -> None:
        for sock in reversed(self._hole):
            with contextlib.suppress(OSError):
                sock.close()
        self._hole = []
        self.unstall()
        for _ in range(50):  # the port may take a moment to be free again
            try:
                self.accept()
                return
            except OSError:
                time.sleep(0.02)
        self.accept()


@dataclass(frozen=True, slots=True)
class Chit:
    """One kitchen chit as it came out of a printer."""

    printer: str
    number: int  # the order number (`#N`)
    banners: tuple[str, ...]  # REPRINT, BACKUP FOR <printer>
    complete: bool  # got as far as its cut
    t: float  # monotonic time its connection opened

    @property
    def marked(self) -> bool:
        return bool(self.banners)


@dataclass(frozen=True, slots=True)
class PrinterSpec:
    id: str
    stations: tuple[str, ...] = ()
    backup: str | None = None
    backup_after_s: int = 30


@dataclass
class PrinterRig:
    """The printers of one scenario, started in this process."""

    specs: tuple[PrinterSpec, ...]
    fakes: dict[str, RecordingPrinter] = field(default_factory=dict)
    _cursor: dict[str, int] = field(default_factory=dict)
    _chits: list[Chit] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> PrinterRig:
        for spec in self.specs:
            fake = RecordingPrinter()
            fake.start()
            self.fakes[spec.id] = fake
            self._cursor[spec.id] = 0
        return self

    def close(self) -> None:
        for fake in self.fakes.values():
            fake.plug()
            fake.close()

    def config(self) -> str:
        """The `[[printers]]` blocks for the hub's TOML config."""
        out = []
        for s in self.specs:
            stations = ", ".join(f'"{x}"' for x in s.stations)
            block = (
                f'[[printers]]\nid = "{s.id}"\naddress = "{self.fakes[s.id].address}"\n'
                f'stations = [{stations}]\nchits = "{"always" if s.stations else "never"}"\n'
            )
            if s.backup:
                block += f'backup = "{s.backup}"\nbackup_after_seconds = {s.backup_after_s}\n'
            out.append(block)
        return "\n".join(out)

    def add_to(self, config: Path) -> None:
        config.write_text(config.read_text() + "\n" + self.config())

    def station_printers(self) -> dict[str, tuple[str, ...]]:
        """station -> the printers its chits may come out of (its printer, then its backup)."""
        out: dict[str, tuple[str, ...]] = {}
        for s in self.specs:
            for station in s.stations:
                out[station] = (s.id, s.backup) if s.backup else (s.id,)
        return out

    def chits(self) -> list[Chit]:
        """Every kitchen chit printed so far; each connection is decoded once, when it got
        its cut or has been quiet for 5 s (torn)."""
        with self._lock:
            for pid, fake in self.fakes.items():
                with fake._lock:
                    log = list(fake.log)
                done = self._cursor[pid]
                for t, record in log[done:]:
                    found = receipts(bytes(record))  # one connection may print several
                    if not found[-1].complete and time.monotonic() - t < 5.0:
                        break  # maybe still being written: look again next time
                    done += 1
                    for receipt in found:
                        chit = _chit(pid, t, receipt)
                        if chit is not None:
                            self._chits.append(chit)
                self._cursor[pid] = done
            return list(self._chits)


def _chit(printer: str, t: float, receipt: Receipt) -> Chit | None:
    """A decoded receipt -> the kitchen chit it printed (None: a status poll, or not a
    kitchen chit)."""
    for line in receipt.lines:
        m = NUMBER.match(line.strip())
        if m:
            marks = tuple(b for b in receipt.banners if b.startswith(MARKS))
            return Chit(printer, int(m.group(1)), marks, receipt.complete, t)
    return None
