"""A fake ESC/POS network printer and a decoder that reads back what it was sent.

`FakeNetworkPrinter` is a real TCP server on 127.0.0.1 that behaves like an Epson TM printer on
port 9100: it records every connection's bytes and answers the real-time status requests
``DLE EOT n`` and ``GS r n`` from state the caller sets (paper, cover, online). Test verbs
break it the ways real printers break: `set_paper("out")`, `drop_connection_after(n)`,
`refuse()`/`accept()`, `stall()`. `printed` decodes each connection that printed something,
and `last_png()` draws the last one so a person can look at it (admin page, ``tablehub demo``).

`decode(data)` is pure: ESC/POS bytes -> `Receipt` (text lines with their style, cuts, native
QR payloads, raster images), good enough for everything `render()` emits, including Chinese
sent in Kanji mode (``FS &`` ... ``FS .``) as GB18030 or Big5.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import qrcode
from escpos.capabilities import get_profile
from escpos.codepages import CodePages
from PIL import Image, ImageDraw, ImageOps

from devices.errors import FontMissing
from devices.printers.render import FontFace, Style, find_cjk_font, raster_line

log = logging.getLogger("tablehub.devices.fake_printer")

Paper = Literal["ok", "low", "out"]
MAX_CONNECTIONS = 1000  # connections remembered (a demo runs for days)
Align = Literal["left", "center", "right"]

# ---------------------------------------------------------------- decoder


@dataclass(frozen=True, slots=True)
class TextLine:
    text: str
    style: Style


@dataclass(frozen=True, slots=True)
class Raster:
    image: Image.Image  # mode "1", ink is black (0)


@dataclass(frozen=True, slots=True)
class QrCode:
    data: str


@dataclass(frozen=True, slots=True)
class Cut:
    kind: Literal["full", "partial"]


Block = TextLine | Raster | QrCode | Cut


@dataclass(slots=True)
class Receipt:
    """What a printer would have put on paper, in order."""

    blocks: list[Block] = field(default_factory=list)
    unknown: list[bytes] = field(default_factory=list)
    drawer_kicks: int = 0

    @property
    def lines(self) -> list[str]:
        return [b.text for b in self.blocks if isinstance(b, TextLine)]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def cuts(self) -> list[str]:
        return [b.kind for b in self.blocks if isinstance(b, Cut)]

    @property
    def qr(self) -> list[str]:
        return [b.data for b in self.blocks if isinstance(b, QrCode)]

    @property
    def images(self) -> list[Image.Image]:
        return [b.image for b in self.blocks if isinstance(b, Raster)]

    @property
    def banners(self) -> list[str]:
        """Lines printed white on black (REPRINT / BACKUP bars, allergy warnings), stripped."""
        return [b.text.strip() for b in self.blocks if isinstance(b, TextLine) and b.style.invert]

    @property
    def complete(self) -> bool:
        """True when the job got as far as its cut."""
        return bool(self.blocks) and isinstance(self.blocks[-1], Cut)

    def find(self, needle: str) -> list[str]:
        return [line for line in self.lines if needle in line]


@lru_cache(maxsize=8)
def _code_pages(profile: str) -> dict[int, tuple[str, ...]]:
    """ESC t number -> the 128 characters 0x80-0xFF of that code page, per the escpos profile."""
    table: dict[int, tuple[str, ...]] = {}
    for name, number in get_profile(profile).get_code_pages().items():
        try:
            info = CodePages.get_encoding(name)
        except KeyError:
            continue
        if "data" in info:
            chars = tuple("".join(info["data"]))
        elif "python_encode" in info:
            chars = tuple(
                bytes([b]).decode(info["python_encode"], "replace") for b in range(128, 256)
            )
        else:
            continue
        table[int(number)] = chars
    return table


# bytes of arguments after the command bytes, for commands that only change state we ignore
_SKIP = {
    b"\x1bM": 1, b"\x1b{": 1, b"\x1bG": 1, b"\x1bV": 1, b"\x1br": 1, b"\x1bR": 1, b"\x1bJ": 1,
    b"\x1b3": 1, b"\x1b2": 0, b"\x1b=": 1, b"\x1bc5": 1, b"\x1bp": 3, b"\x1d|": 1, b"\x1db": 1,
    b"\x1dr": 1, b"\x1da": 1, b"\x1dL": 2, b"\x1dW": 2, b"\x1dH": 1, b"\x1dh": 1, b"\x1dw": 1,
    b"\x1df": 1, b"\x10\x04": 1, b"\x1c!": 1, b"\x1cC": 1,
}  # fmt: skip


class _Decoder:
    def __init__(self, data: bytes, profile: str, cjk_encoding: str) -> None:
        self.data = data
        self.pages = _code_pages(profile)
        self.cjk = cjk_encoding
        self.out = Receipt()
        self.done: list[Receipt] = []  # one per cut so far
        self.reset()
        self.text = ""
        self.line_style: Style | None = None

    def reset(self) -> None:
        self.page = self.pages.get(0, ())
        self.kanji = False
        self.bold = self.invert = self.dw = self.dh = False
        self.align: Align = "left"

    def style(self) -> Style:
        return Style(self.align, self.bold, self.dw, self.dh, self.invert)

    def put(self, chars: str) -> None:
        if self.line_style is None:
            self.line_style = self.style()
        self.text += chars

    def newline(self, *, force: bool = True) -> None:
        if force or self.text:
            self.out.blocks.append(TextLine(self.text, self.line_style or self.style()))
        self.text, self.line_style = "", None

    def arg(self, i: int) -> int:
        return self.data[i] if i < len(self.data) else 0

    def run(self) -> list[Receipt]:
        """The receipts in the data: one per cut, then what follows the last cut (if any)."""
        i, data = 0, self.data
        while i < len(data):
            b = data[i]
            if b == 0x0A:
                self.newline()
                i += 1
            elif b in (0x1B, 0x1D, 0x1C, 0x10):
                i = self.command(i)
            elif b < 0x20 or b == 0x7F:
                i += 1
            elif self.kanji and b >= 0x81:
                i = self.double_byte(i)
            else:
                self.put(chr(b) if b < 0x80 else (self.page[b - 0x80] if self.page else "?"))
                i += 1
        self.newline(force=False)
        tail = self.out
        if tail.blocks or tail.unknown or tail.drawer_kicks or not self.done:
            return [*self.done, tail]
        return self.done

    def double_byte(self, i: int) -> int:
        size = 4 if self.cjk == "gb18030" and 0x30 <= self.arg(i + 1) <= 0x39 else 2
        self.put(self.data[i : i + size].decode(self.cjk, "replace"))
        return i + size

    def command(self, i: int) -> int:
        """Apply the command at `i`; the index after it. Two-byte commands go through a table;
        the longer ones carry their own lengths."""
        simple = _TWO_BYTE.get(bytes(self.data[i : i + 2]))
        if simple is not None:
            return i + simple(self, i)
        return self.long_command(i)

    def long_command(self, i: int) -> int:
        d, a = self.data, self.arg
        if d.startswith(b"\x1dv0", i):
            return self.raster(i)
        if d.startswith(b"\x1d(k", i):
            length = a(i + 3) + 256 * a(i + 4)
            if d[i + 5 : i + 8] == b"1P0":
                self.out.blocks.append(QrCode(d[i + 8 : i + 5 + length].decode("utf-8", "replace")))
            return i + 5 + length
        if d.startswith((b"\x1d(L", b"\x1c(A", b"\x1c(C"), i):
            return i + 5 + a(i + 3) + 256 * a(i + 4)
        for prefix, n in _SKIP.items():
            if d.startswith(prefix, i):
                return i + len(prefix) + n
        self.out.unknown.append(bytes(d[i : i + 3]))
        return i + 1

    # Two-byte commands: each applies itself and returns how many bytes it took.
    def _reset(self, i: int) -> int:
        self.reset()
        return 2

    def _mode(self, i: int) -> int:
        n = self.arg(i + 2)
        self.bold, self.dh, self.dw = bool(n & 0x08), bool(n & 0x10), bool(n & 0x20)
        return 3

    def _emphasis(self, i: int) -> int:
        self.bold = bool(self.arg(i + 2) & 1)
        return 3

    def _align(self, i: int) -> int:
        self.align = ("left", "center", "right")[self.arg(i + 2) % 48 % 3]
        return 3

    def _code_page(self, i: int) -> int:
        self.page = self.pages.get(self.arg(i + 2), ())
        return 3

    def _feed(self, i: int) -> int:
        self.newline(force=False)
        return 3

    def _drawer(self, i: int) -> int:
        self.out.drawer_kicks += 1
        return 5

    def _size(self, i: int) -> int:
        n = self.arg(i + 2)
        self.dw, self.dh = bool(n & 0x70), bool(n & 0x07)
        return 3

    def _invert(self, i: int) -> int:
        self.invert = bool(self.arg(i + 2) & 1)
        return 3

    def _cut(self, i: int) -> int:
        self.newline(force=False)
        m = self.arg(i + 2)
        self.out.blocks.append(Cut("partial" if m in (1, 49, 66) else "full"))
        self.done.append(self.out)
        self.out = Receipt()
        return 4 if m in (65, 66) else 3

    def _kanji_on(self, i: int) -> int:
        self.kanji = True
        return 2

    def _kanji_off(self, i: int) -> int:
        self.kanji = False
        return 2

    def raster(self, i: int) -> int:
        self.newline(force=False)
        width_bytes = self.arg(i + 4) + 256 * self.arg(i + 5)
        height = self.arg(i + 6) + 256 * self.arg(i + 7)
        body = bytes(self.data[i + 8 : i + 8 + width_bytes * height])
        if width_bytes and height and len(body) == width_bytes * height:
            bits = Image.frombytes("1", (width_bytes * 8, height), body)  # bit 1 = dot = black
            self.out.blocks.append(Raster(ImageOps.invert(bits.convert("L")).convert("1")))
        return i + 8 + width_bytes * height


_TWO_BYTE: dict[bytes, Callable[[_Decoder, int], int]] = {
    b"\x1b@": _Decoder._reset,
    b"\x1b!": _Decoder._mode,
    b"\x1bE": _Decoder._emphasis,
    b"\x1ba": _Decoder._align,
    b"\x1bt": _Decoder._code_page,
    b"\x1bd": _Decoder._feed,
    b"\x1bp": _Decoder._drawer,
    b"\x1d!": _Decoder._size,
    b"\x1dB": _Decoder._invert,
    b"\x1dV": _Decoder._cut,
    b"\x1c&": _Decoder._kanji_on,
    b"\x1c.": _Decoder._kanji_off,
}


def decode(data: bytes, *, profile: str = "TM-T88V", cjk_encoding: str = "gb18030") -> Receipt:
    """ESC/POS bytes -> what was printed, as one receipt (all its cuts in it). Pure; unknown
    commands are listed, never raised."""
    whole = Receipt()
    for part in receipts(data, profile=profile, cjk_encoding=cjk_encoding):
        whole.blocks += part.blocks
        whole.unknown += part.unknown
        whole.drawer_kicks += part.drawer_kicks
    return whole


def receipts(
    data: bytes, *, profile: str = "TM-T88V", cjk_encoding: str = "gb18030"
) -> list[Receipt]:
    """ESC/POS bytes -> the receipts printed, one per cut (a session may print several jobs),
    then whatever came after the last cut (a job torn off mid-way). Pure."""
    return _Decoder(bytes(data), profile, cjk_encoding).run()


# ---------------------------------------------------------------- preview


_LATIN_FONTS: tuple[FontFace, ...] = (("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 0),)


def _preview_font() -> FontFace | None:
    with contextlib.suppress(FontMissing):
        return find_cjk_font()
    with contextlib.suppress(FontMissing):
        return find_cjk_font(candidates=_LATIN_FONTS)
    return None


def receipt_png(receipt: Receipt, *, dots: int = 512, cols: int = 42) -> bytes:
    """Draw a decoded receipt on a paper-width white image; PNG bytes."""
    font = _preview_font()
    strips: list[Image.Image] = []
    for block in receipt.blocks:
        if isinstance(block, TextLine):
            strips.append(raster_line(block.text, block.style, cols=cols, dots=dots, font=font))
        elif isinstance(block, Raster):
            strips.append(block.image)
        elif isinstance(block, QrCode):
            code = qrcode.QRCode(box_size=4, border=2)
            code.add_data(block.data)
            code.make(fit=True)
            strips.append(code.make_image().get_image().convert("1"))
        else:
            cut = Image.new("1", (dots, 16), 1)
            ImageDraw.Draw(cut).line((0, 8, dots, 8), fill=0, width=1)
            strips.append(cut)
    height = sum(s.height for s in strips) + 16
    page = Image.new("1", (dots + 16, height), 1)
    y = 8
    for strip in strips:
        page.paste(strip, (8 + max(0, (dots - strip.width) // 2), y))
        y += strip.height
    out = io.BytesIO()
    page.save(out, format="PNG")
    return out.getvalue()


# ---------------------------------------------------------------- the fake printer


class FakeNetworkPrinter:
    """A loopback TCP printer with settable state and test verbs (see the module docstring)."""

    def __init__(
        self,
        *,
        paper: Paper = "ok",
        cover_open: bool = False,
        online: bool = True,
        drawer_open: bool = False,
        profile: str = "TM-T88V",
        cjk_encoding: str = "gb18030",
        dots: int = 512,
        cols: int = 42,
    ) -> None:
        self.paper: Paper = paper
        self.cover_open = cover_open
        self.online = online
        self.drawer_open = drawer_open
        self.profile, self.cjk_encoding, self.dots, self.cols = profile, cjk_encoding, dots, cols
        self.port = 0
        self.queries: deque[bytes] = deque(maxlen=MAX_CONNECTIONS)  # status requests seen
        self._lock = threading.Lock()
        self._conns: list[bytearray] = []
        self._drop_after: int | None = None
        self._stalled = False
        self._stall_after_cut = False
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __repr__(self) -> str:
        state = "listening" if self._listener else "refusing"
        return (
            f"<FakeNetworkPrinter 127.0.0.1:{self.port} {state} paper={self.paper} "
            f"cover_open={self.cover_open} online={self.online} connections={len(self._conns)}>"
        )

    # lifecycle ------------------------------------------------------------

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> FakeNetworkPrinter:
        self.accept()
        return self

    def close(self) -> None:
        self._stop.set()
        self.refuse()
        for thread in self._threads:
            thread.join(2)

    def __enter__(self) -> FakeNetworkPrinter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # test verbs -----------------------------------------------------------

    def set_paper(self, paper: Paper) -> None:
        self.paper = paper

    def set_cover_open(self, cover_open: bool) -> None:
        self.cover_open = cover_open

    def set_online(self, online: bool) -> None:
        self.online = online

    def drop_connection_after(self, n_bytes: int) -> None:
        """Cut the next connection that carries `n_bytes` (once), as a printer losing power."""
        self._drop_after = n_bytes

    def stall(self, *, after_cut: bool = False) -> None:
        """Keep accepting and reading but stop answering status (now, or after the next cut)."""
        if after_cut:
            self._stall_after_cut = True
        else:
            self._stalled = True

    def unstall(self) -> None:
        self._stalled = self._stall_after_cut = False

    def refuse(self) -> None:
        """Stop listening: new connections are refused (returns once the port is closed)."""
        self._listener = None
        thread, self._acceptor = self._acceptor, None
        if thread is not None:
            thread.join(2)

    def accept(self) -> None:
        """Listen again, on the same port."""
        if self._listener is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(8)
        sock.settimeout(0.05)
        self.port = sock.getsockname()[1]
        self._listener = sock
        self._acceptor = self._spawn(self._accept_loop, sock)

    # what was printed -----------------------------------------------------

    @property
    def connections(self) -> list[bytes]:
        with self._lock:
            return [bytes(c) for c in self._conns]

    @property
    def printed(self) -> list[Receipt]:
        """Every receipt that put anything on paper, oldest first: one per cut (a connection
        may carry several jobs), and a torn one where a connection ended before its cut."""
        found = [
            r
            for c in self.connections
            for r in receipts(c, profile=self.profile, cjk_encoding=self.cjk_encoding)
        ]
        return [
            r for r in found if r.cuts or r.images or r.qr or any(line.strip() for line in r.lines)
        ]

    def last_png(self) -> bytes | None:
        printed = self.printed
        return receipt_png(printed[-1], dots=self.dots, cols=self.cols) if printed else None

    def wait_printed(self, n: int, timeout: float = 5.0) -> list[Receipt]:
        """Block until `n` complete (cut) receipts arrived; for synchronous callers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = [r for r in self.printed if r.complete]
            if len(done) >= n:
                return done
            time.sleep(0.01)
        raise TimeoutError(f"{n} receipts not printed in {timeout}s: {self!r}")

    # printer behaviour ----------------------------------------------------

    def dle_eot(self, n: int) -> int:
        """Real-time status bytes as an Epson TM answers them (fixed bits 0x12)."""
        if n == 1:
            offline = not self.online or self.paper == "out" or self.cover_open
            return 0x12 | (0x04 if self.drawer_open else 0) | (0x08 if offline else 0)
        if n == 2:
            return 0x12 | (0x04 if self.cover_open else 0) | (0x20 if self.paper == "out" else 0)
        if n == 4:
            return {"ok": 0x12, "low": 0x1E, "out": 0x7E}[self.paper]
        return 0x12

    def gs_r(self, n: int) -> int:
        if n in (1, 49):
            return {"ok": 0x00, "low": 0x03, "out": 0x0F}[self.paper]
        return 0x01 if self.drawer_open else 0x00

    def _spawn(self, target: Callable[..., None], *args: object) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True, name="fake-printer")
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return thread

    def _accept_loop(self, listener: socket.socket) -> None:
        """Accept until `refuse()`; only this thread closes the listening socket, so once
        `refuse()` has joined it the port is really closed (connections are refused)."""
        with listener:
            while not self._stop.is_set() and self._listener is listener:
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                self._take(conn)

    def _take(self, conn: socket.socket) -> None:
        record = bytearray()
        with self._lock:
            self._conns = [*self._conns[-(MAX_CONNECTIONS - 1) :], record]
        self._spawn(self._serve, conn, record)

    def _serve(self, conn: socket.socket, record: bytearray) -> None:
        conn.settimeout(0.05)
        carry = b""
        with conn:
            while not self._stop.is_set():
                try:
                    data = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                with self._lock:  # the drop happens once, on one connection
                    limit = self._drop_after
                    drop = limit is not None and len(record) + len(data) >= limit
                    if drop and limit is not None:
                        data = data[: limit - len(record)]
                        self._drop_after = None
                    record += data
                if self._stall_after_cut and b"\x1dV" in carry + data:
                    self._stalled = True
                carry = self._answer(conn, carry + data)
                if drop:
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return  # closing with linger 0 sends RST, like a printer switched off

    def _answer(self, conn: socket.socket, buf: bytes) -> bytes:
        """Answer every DLE EOT n / GS r n in `buf`; return the tail that may start one."""
        for i in range(len(buf) - 2):
            a, b, n = buf[i], buf[i + 1], buf[i + 2]
            if (a, b) == (0x10, 0x04) and 1 <= n <= 4:
                reply = self.dle_eot(n)
            elif (a, b) == (0x1D, 0x72) and n in (1, 2, 49, 50):
                reply = self.gs_r(n)
            else:
                continue
            self.queries.append(buf[i : i + 3])
            if not self._stalled:
                with contextlib.suppress(OSError):
                    conn.sendall(bytes([reply]))
        return buf[-2:]
