"""Print documents to ESC/POS bytes, pure: ``render(doc, *, profile, encoding_mode) -> bytes``.

A document is the ``doc`` of a `PrintJob`: a kitchen chit, a bill or a test page (see the
`KitchenDoc`, `BillDoc` and `TestDoc` structs; a bad one raises `BadDocument` naming the
field). The bytes are built through python-escpos's `Dummy` printer, so they are exactly what a
`Network`/`Usb`/`Serial` printer would be sent, and a test can compare them byte for byte.

Every job starts with ``ESC @`` (reset), so a job never inherits a half-set mode (double size,
Chinese mode) from a job that was cut off mid-way.

Chinese (and other double-width) text, per printer ``encoding_mode``:

``"codepage"`` for printers with a Chinese font (Epson TM-*-ZH models, most Xprinter/Rongta
clones). Each run of double-width characters is sent as::

    1C 21 n      FS ! n   Kanji print mode: bit 2 double width, bit 3 double height
                          (ESC ! does not size Kanji characters; GS ! would size both)
    1C 26        FS &     select Kanji (double-byte) character mode
    <bytes>               the run in the printer's double-byte code: GB18030 (mainland
                          models; 2- and 4-byte sequences) or Big5 (Taiwan models; 2 bytes)
    1C 2E        FS .     cancel Kanji character mode

Which double-byte code the printer decodes is fixed by its firmware/DIP switches, not by a
command, so it is `PaperProfile.cjk_encoding`. Latin text around the run stays in single-byte
code pages chosen by python-escpos (``ESC t n``); Kanji mode is only on inside the run, so
bytes >= 0x80 of those code pages are never read as halves of a Chinese character.
(python-escpos's own `text()` sends GB18030 without ``FS &`` and encodes the whole string,
accents included, in GB18030; we never hand it Chinese text.)

``"raster"`` for printers without a Chinese font: a line that holds any double-width character
is drawn with a CJK font into a 1-bit image the width of the paper (``GS v 0``), each character
on the same 12-dot column grid the printer's font A uses, so columns still line up with the text
lines around it. Lines without such characters stay text. The font is looked up in
`KNOWN_CJK_FONTS` (or `PaperProfile.cjk_font`); if none exists `FontMissing` names the package.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
from escpos import exceptions as escpos_errors
from escpos.capabilities import get_profile
from escpos.printer import Dummy
from PIL import Image, ImageDraw, ImageFont

from devices.errors import BadDocument, DeviceConfigError, FontMissing
from hub.bus.contract import BillDoc, Item, KitchenDoc, PrintDoc, TestDoc

EncodingMode = Literal["codepage", "raster"]
CjkEncoding = Literal["gb18030", "big5"]

FS_KANJI_ON = b"\x1c\x26"  # FS &
FS_KANJI_OFF = b"\x1c\x2e"  # FS .
FS_KANJI_MODE = b"\x1c\x21"  # FS ! n


@dataclass(frozen=True, slots=True)
class PaperProfile:
    """What the renderer needs to know about one printer (from its config).

    width: characters per line in font A: 42 on 80 mm paper, 32 on 58 mm paper.
    dots: printable dots per line (512 on an 80 mm TM-T88, 384 on 58 mm).
    escpos_profile: python-escpos capability profile (code page numbers, cut, QR support).
    cjk_encoding: the double-byte code of the printer's Chinese font (codepage mode).
    cjk_font: a font file for raster mode instead of the known paths.
    timezone: IANA zone the times are printed in (None: as the document gives them).
    """

    width: int = 42
    dots: int = 512
    escpos_profile: str = "TM-T88V"
    cjk_encoding: CjkEncoding = "gb18030"
    cjk_font: str | None = None
    timezone: str | None = None

    def __post_init__(self) -> None:
        if not 24 <= self.width <= 64:
            raise DeviceConfigError(f"width {self.width} is not 24-64 characters")
        if self.dots % 8 or not self.width * 8 <= self.dots <= 1024:
            raise DeviceConfigError(f"dots {self.dots} must be a multiple of 8, >= 8 x width")
        if self.cjk_encoding not in ("gb18030", "big5"):
            raise DeviceConfigError(f"cjk_encoding {self.cjk_encoding!r} is not gb18030 or big5")
        try:
            pixels = get_profile(self.escpos_profile).profile_data["media"]["width"]["pixels"]
        except KeyError as exc:
            raise DeviceConfigError(f"unknown python-escpos profile {exc}") from exc
        if isinstance(pixels, int) and self.dots > pixels:
            raise DeviceConfigError(
                f"dots {self.dots} is wider than {self.escpos_profile}'s {pixels}"
            )
        if self.timezone is not None:
            try:
                ZoneInfo(self.timezone)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise DeviceConfigError(f"unknown timezone {self.timezone!r}") from exc

    @classmethod
    def for_width(cls, width: int, **overrides: Any) -> PaperProfile:
        """The usual profile for 42-column (80 mm) or 32-column (58 mm) paper."""
        dots = 384 if width <= 32 else 512
        return cls(width=width, dots=overrides.pop("dots", dots), **overrides)


# ---------------------------------------------------------------- documents


Doc = PrintDoc  # the documents are typed in the contract (hub/domain/printdoc.py)
_doc_decoder = msgspec.json.Decoder(Doc)


def parse_doc(doc: Mapping[str, Any] | bytes) -> Doc:
    """A job's ``doc`` (decoded JSON, or its JSON text) as a typed document; `BadDocument`
    says which field is wrong."""
    try:
        if isinstance(doc, bytes):
            parsed: Doc = _doc_decoder.decode(doc)
        else:
            parsed = msgspec.convert(doc, type=Doc)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise BadDocument(f"bad print document: {exc}") from exc
    return parsed


_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "round": "Round {n}",
        "allergy": "ALLERGY",
        "reprint": "REPRINT",
        "subtotal": "Subtotal",
        "total": "TOTAL",
        "test": "TEST PAGE",
        "void": "*** VOID ***",
        "change": "*** CHANGE ***",
        "reason": "Reason",
        "voided": "VOID",
    },
    "zh-Hans": {
        "round": "第{n}轮",
        "allergy": "ALLERGY 过敏",
        "reprint": "REPRINT 重印",
        "subtotal": "小计",
        "total": "合计",
        "test": "测试页 TEST",
        "void": "*** VOID 作废 ***",
        "change": "*** CHANGE 更改 ***",
        "reason": "原因",
        "voided": "VOID 作废",
    },
    "zh-Hant": {
        "round": "第{n}輪",
        "allergy": "ALLERGY 過敏",
        "reprint": "REPRINT 重印",
        "subtotal": "小計",
        "total": "合計",
        "test": "測試頁 TEST",
        "void": "*** VOID 作廢 ***",
        "change": "*** CHANGE 更改 ***",
        "reason": "原因",
        "voided": "VOID 作廢",
    },
}


def _label(lang: str, key: str) -> str:
    table = _LABELS.get(lang) or _LABELS.get(lang.split("-")[0], _LABELS["en"])
    return table[key]


# ---------------------------------------------------------------- text helpers


def is_wide(ch: str) -> bool:
    """True for characters that take two columns (CJK ideographs, kana, fullwidth forms)."""
    return unicodedata.east_asian_width(ch) in ("W", "F")


def text_width(text: str) -> int:
    return sum(2 if is_wide(ch) else 1 for ch in text)


def clean(text: str) -> str:
    """Drop control characters so document text can never inject printer commands."""
    return "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text).strip()


def _tokens(text: str) -> Iterator[str]:
    """Words (with their trailing space) and single wide characters: the units of wrapping."""
    word = ""
    for ch in text:
        if is_wide(ch):
            if word:
                yield word
                word = ""
            yield ch
        elif ch == " ":
            yield word + " "
            word = ""
        else:
            word += ch
    if word:
        yield word


def wrap(text: str, cols: int, indent: int = 0) -> list[str]:
    """Greedy wrap by display width; continuation lines get `indent` spaces."""
    lines: list[str] = []
    line = ""
    for token in _tokens(text):
        if line.strip() and text_width(line + token.rstrip()) > cols:
            lines.append(line.rstrip())
            line = " " * indent
        while text_width(line + token.rstrip()) > cols and len(token) > 1:  # a too-long word
            room = max(1, cols - text_width(line))
            lines.append(line + token[:room])
            line, token = " " * indent, token[room:]
        line += token
    if line.strip() or not lines:
        lines.append(line.rstrip())
    return lines


def pad(text: str, cols: int, align: str = "left") -> str:
    gap = max(0, cols - text_width(text))
    if align == "center":
        return " " * (gap // 2) + text + " " * (gap - gap // 2)
    return text + " " * gap


def columns(left: str, right: str, cols: int) -> list[str]:
    """`left` wrapped in its column with `right` flush right on the first line."""
    room = max(8, cols - text_width(right) - 1)
    lines = wrap(left, room, indent=2)
    first = lines[0]
    lines[0] = first + " " * (cols - text_width(first) - text_width(right)) + right
    return lines


_MINOR_UNITS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "TWD": 0}
_MINOR_UNITS |= {"BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3}


def format_money(cents: int, currency: str) -> str:
    """Integer minor units to text: 435500, "USD" -> "4,355.00"; 1200, "JPY" -> "1,200"."""
    digits = _MINOR_UNITS.get(currency.upper(), 2)
    sign = "-" if cents < 0 else ""
    units, minor = divmod(abs(cents), 10**digits)
    return f"{sign}{units:,}" + (f".{minor:0{digits}d}" if digits else "")


def format_time(value: str | None, zone: str | None) -> tuple[str, str]:
    """ISO time -> ("2026-11-22", "18:03"); unparsable text is printed as given."""
    if not value:
        return "", ""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return clean(value)[:20], ""
    if zone and when.tzinfo is not None:
        when = when.astimezone(ZoneInfo(zone))
    return when.strftime("%Y-%m-%d"), when.strftime("%H:%M")


# ---------------------------------------------------------------- raster text


FontFace = tuple[str, int]  # (font file, face index in a .ttc collection)

KNOWN_CJK_FONTS: tuple[FontFace, ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 1),  # fonts-wqy-microhei (Mono face)
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 1),  # fonts-wqy-zenhei
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 7),  # fonts-noto-cjk (Mono SC)
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),  # fonts-noto-cjk (SC)
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 7),  # other distributions
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", 7),
)
FONT_PACKAGE = "fonts-wqy-microhei"


def find_cjk_font(
    override: str | None = None, candidates: Sequence[FontFace] = KNOWN_CJK_FONTS
) -> FontFace:
    """(path, face index) of the first installed CJK font, or `FontMissing` saying what to do."""
    if override is not None:
        if Path(override).is_file():
            return override, 0
        raise FontMissing(f"cjk_font {override!r} does not exist")
    for path, index in candidates:
        if Path(path).is_file():
            return path, index
    raise FontMissing(
        "raster mode needs a CJK font and none is installed: "
        f"apt-get install {FONT_PACKAGE} (or fonts-noto-cjk), or set cjk_font in the printer config"
    )


@functools.lru_cache(maxsize=16)
def _font(face: FontFace | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if face is None:  # Pillow's bundled font: Latin only, for previews without any font
        return ImageFont.load_default(size)
    return ImageFont.truetype(face[0], size=size, index=face[1])


@dataclass(frozen=True, slots=True)
class Style:
    """Text attributes of one printed line."""

    align: Literal["left", "center", "right"] = "left"
    bold: bool = False
    double_width: bool = False
    double_height: bool = False
    invert: bool = False

    @property
    def big(self) -> bool:
        return self.double_width or self.double_height


PLAIN = Style()


def raster_line(
    text: str, style: Style, *, cols: int, dots: int, font: FontFace | None
) -> Image.Image:
    """Draw one line of text into a 1-bit image `dots` wide, on the printer's column grid.

    A cell is ``dots // cols`` dots wide and two cells high (12 x 24 on 80 mm paper, like font
    A); wide characters take two cells; double width/height scale the line like the printer
    would. White is 1 ("paper"), as Pillow's mode "1" means.
    """
    cell = dots // cols
    height = 2 * cell
    units = max(1, text_width(text))
    ink, paper = (255, 0) if style.invert else (0, 255)
    base = Image.new("L", (units * cell, height), paper)
    draw = ImageDraw.Draw(base)
    glyphs = _font(font, height - 2)
    x = 0
    for ch in text:
        span = 2 if is_wide(ch) else 1
        if ch != " ":
            cx = x * cell + span * cell // 2
            for dx in (0, 1) if style.bold else (0,):
                draw.text((cx + dx, height // 2), ch, font=glyphs, fill=ink, anchor="mm")
        x += span
    scale_x, scale_y = (2 if style.double_width else 1), (2 if style.double_height else 1)
    sized = base.resize((base.width * scale_x, base.height * scale_y), Image.Resampling.NEAREST)
    if sized.width > dots:
        sized = sized.crop((0, 0, dots, sized.height))
    line = Image.new("L", (dots, sized.height), 255)
    offset = {"left": 0, "center": (dots - sized.width) // 2, "right": dots - sized.width}
    line.paste(sized, (offset[style.align], 0))
    return line.point(lambda v: 255 if v >= 128 else 0, mode="1")


# ---------------------------------------------------------------- the writer


class _Writer:
    """Lines with styles -> python-escpos calls on a `Dummy`, sending only style changes."""

    def __init__(self, profile: PaperProfile, mode: EncodingMode) -> None:
        if mode not in ("codepage", "raster"):
            raise DeviceConfigError(f"encoding_mode {mode!r} is not codepage or raster")
        self.profile = profile
        self.mode = mode
        self.cols = profile.width
        self.p = Dummy(profile=profile.escpos_profile)
        self.p.hw("INIT")
        self.style = PLAIN

    def _apply(self, style: Style) -> None:
        cur = self.style
        sized = (style.double_width, style.double_height) != (cur.double_width, cur.double_height)
        if sized:  # ESC ! resets emphasis too, so bold is sent again below
            self.p.set(
                double_width=style.double_width,
                double_height=style.double_height,
                normal_textsize=not style.big,
            )
        if sized or style.bold != cur.bold:
            self.p.set(bold=style.bold)
        if style.align != cur.align:
            self.p.set(align=style.align)
        if style.invert != cur.invert:
            self.p.set(invert=style.invert)
        self.style = style

    def line(self, text: str, style: Style = PLAIN) -> None:
        if not any(is_wide(ch) for ch in text):
            self._apply(style)
            self.p.text(text + "\n")
        elif self.mode == "codepage":
            self._apply(style)
            self._codepage_line(text, style)
        else:
            font = find_cjk_font(self.profile.cjk_font)
            img = raster_line(text, style, cols=self.cols, dots=self.profile.dots, font=font)
            self._apply(replace(style, align="left", invert=False))
            self.p.image(img)

    def _codepage_line(self, text: str, style: Style) -> None:
        size = (0x04 if style.double_width else 0) | (0x08 if style.double_height else 0)
        run, wide = "", False
        for ch in [*text, "\n"]:
            if run and is_wide(ch) != wide:
                if wide:
                    data = run.encode(self.profile.cjk_encoding, errors="replace")
                    self.p._raw(FS_KANJI_MODE + bytes([size]) + FS_KANJI_ON + data + FS_KANJI_OFF)
                else:
                    self.p.text(run)
                run = ""
            run += ch
            wide = is_wide(ch)
        self.p.text(run)

    def lines(self, texts: Sequence[str], style: Style = PLAIN) -> None:
        for text in texts:
            self.line(text, style)

    def rule(self, char: str = "-") -> None:
        self.line(char * self.cols, Style())

    def banner(self, text: str) -> None:
        """A full-width white-on-black bar: REPRINT / BACKUP FOR ... cannot be missed."""
        style = Style(align="left", bold=True, double_height=True, invert=True)
        for part in wrap(text, self.cols - 2):
            self.line(pad(f" {part} ", self.cols, "center"), style)

    def qr(self, data: str) -> None:
        self._apply(Style(align="center"))
        self.p.qr(data, native=True, size=6)
        self.p.text("\n")

    def finish(self) -> bytes:
        self._apply(PLAIN)
        self.p.cut()
        data: bytes = self.p.output
        return data


# ---------------------------------------------------------------- layouts


def _banners(doc: KitchenDoc | BillDoc) -> list[str]:
    out = [_label(doc.lang, "reprint")] if doc.copy == "REPRINT" else []
    if isinstance(doc, KitchenDoc) and doc.correction is not None:
        out.append(_label(doc.lang, "void" if doc.correction == "VOID" else "change"))
    if doc.banner:
        out.append(clean(doc.banner))
    return out


def _weight(grams: int | None) -> str:
    return f" {grams} g" if grams else ""


def _kitchen(doc: KitchenDoc, w: _Writer) -> None:
    big = Style(align="center", bold=True, double_width=True, double_height=True)
    half = w.cols // 2
    for banner in _banners(doc):
        w.banner(banner)
    w.lines(wrap(clean(doc.table), half), big)
    w.line(f"#{doc.number}", big)
    _, hhmm = format_time(doc.time, w.profile.timezone)
    round_ = _label(doc.lang, "round").format(n=doc.round) if doc.round is not None else ""
    w.line("  ".join(p for p in (round_, hhmm) if p), Style(align="center", bold=True))
    if doc.station:
        w.line(clean(doc.station).upper(), Style(align="center"))
    w.rule("=")
    for n, item in enumerate(doc.items):
        if n:
            w.rule()
        _kitchen_item(doc, item, w)
    w.rule("=")
    day, hhmm = format_time(doc.time, w.profile.timezone)
    w.line(" ".join(p for p in (clean(doc.store), day, hhmm) if p), Style(align="center"))
    for banner in _banners(doc):
        w.banner(banner)


def _kitchen_item(doc: KitchenDoc, item: Item, w: _Writer) -> None:
    """One line of a chit: what to make; on a VOID chit what not to make and why; on a
    CHANGE chit only what changed. Units voided since are struck off with a VOID mark."""
    made = item.qty - item.void_qty
    head = f"{item.qty} x " if doc.correction is not None or not item.void_qty else f"{made} x "
    w.lines(wrap(head + clean(item.name), w.cols, len(head)), Style(bold=True, double_height=True))
    if doc.correction is None and item.void_qty:
        text = f"  {_label(doc.lang, 'voided')} {item.void_qty} x " + clean(item.name)
        w.lines(wrap(text, w.cols, 4), Style(bold=True, invert=True))
    if item.reason:
        w.lines(wrap(f"  {_label(doc.lang, 'reason')}: {clean(item.reason)}", w.cols, 4))
    for change in item.changes:
        w.lines(wrap("  > " + clean(change), w.cols, 4), Style(bold=True))
    if doc.correction is not None:
        return
    for mod in item.modifiers:
        w.lines(wrap("    + " + clean(mod), w.cols, 6))
    if item.note:
        w.lines(wrap(f"  !! {clean(item.note)} !!", w.cols, 5), Style(bold=True))
    if item.allergens:
        names = ", ".join(clean(a).upper() for a in item.allergens)
        text = f"{_label(doc.lang, 'allergy')}: {names}"
        inv = Style(bold=True, invert=True)
        for part in wrap(text, w.cols - 2):
            w.line(pad(f" {part}", w.cols), inv)


def _bill(doc: BillDoc, w: _Writer) -> None:
    money = functools.partial(format_money, currency=doc.currency)
    for banner in _banners(doc):
        w.banner(banner)
    if doc.store:
        big = Style(align="center", bold=True, double_width=True, double_height=True)
        w.lines(wrap(clean(doc.store), w.cols // 2), big)
    for text in doc.header:
        w.lines(wrap(clean(text), w.cols), Style(align="center"))
    w.line("")
    w.lines(columns(clean(doc.table), f"#{doc.number}", w.cols), Style(bold=True))
    day, hhmm = format_time(doc.time, w.profile.timezone)
    if day:
        w.line(f"{day} {hhmm}".strip())
    w.rule()
    for line in doc.lines:
        left = f"{line.qty} {clean(line.name)}{_weight(line.grams)}"
        w.lines(columns(left, money(line.line_cents), w.cols))
        for mod in line.modifiers:
            w.lines(wrap("    " + clean(mod), w.cols, 6))
    w.rule()
    w.lines(columns(_label(doc.lang, "subtotal"), money(doc.subtotal_cents), w.cols))
    for tax in doc.tax_lines:
        w.lines(columns(clean(tax.name), money(tax.cents), w.cols))
    w.rule("=")
    total = f"{_label(doc.lang, 'total')} {clean(doc.currency)}"
    w.lines(columns(total, money(doc.total_cents), w.cols), Style(bold=True, double_height=True))
    w.line("")
    if doc.qr:
        w.qr(doc.qr)
    for text in doc.footer:
        w.lines(wrap(clean(text), w.cols), Style(align="center"))
    for banner in _banners(doc):
        w.banner(banner)


def _test(doc: TestDoc, w: _Writer) -> None:
    big = Style(align="center", bold=True, double_width=True, double_height=True)
    w.lines(wrap(_label(doc.lang, "test"), w.cols // 2), big)
    w.line(clean(doc.printer), Style(align="center", bold=True))
    day, hhmm = format_time(doc.time, w.profile.timezone)
    w.line(f"{day} {hhmm}".strip(), Style(align="center"))
    w.rule("=")
    w.line(f"{w.cols} columns, {w.profile.dots} dots, {w.profile.escpos_profile}")
    mode = w.mode + (f" ({w.profile.cjk_encoding})" if w.mode == "codepage" else "")
    w.line(f"encoding: {mode}")
    w.line(("1234567890" * 7)[: w.cols])
    w.line("Latin: café crème brûlée 5,00 €")
    w.line("中文: 宫保鸡丁 测试打印")
    w.line(pad(" INVERTED", w.cols), Style(bold=True, invert=True))
    w.qr(f"tablehub-test:{clean(doc.printer)}")


def render(parsed: Doc, *, profile: PaperProfile, encoding_mode: EncodingMode) -> bytes:
    """A print document (`parse_doc` makes one from a job's JSON) -> the ESC/POS bytes of
    one job, ending with a full cut.

    Raises `BadDocument`, `FontMissing` (raster mode without a CJK font) or
    `DeviceConfigError` (an impossible `encoding_mode`); python-escpos errors are translated
    here and never leave this module."""
    writer = _Writer(profile, encoding_mode)
    try:
        if isinstance(parsed, KitchenDoc):
            _kitchen(parsed, writer)
        elif isinstance(parsed, BillDoc):
            _bill(parsed, writer)
        else:
            _test(parsed, writer)
        return writer.finish()
    except escpos_errors.Error as exc:
        raise BadDocument(f"python-escpos refused the document: {exc}") from exc
