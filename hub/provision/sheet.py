"""The printable QR sheet: every table's URL as a QR code with the table's name under it,
twelve to an A4 page, as a PDF to print and a PNG to look at.

Pure in and out (labels in, bytes out) and deterministic: the same labels give the same bytes,
so provisioning can tell an unchanged sheet from a changed one. Codes come from segno (error
correction M, a 4-module quiet zone); Pillow draws the pages and writes PNG and PDF. Pages
are bilevel at 300 dpi: lossless in the PDF (CCITT G4), never JPEG-blurred.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont

DPI = 300
PAGE = (2480, 3508)  # A4 at 300 dpi
MARGIN = 150  # 12.7 mm
COLS, ROWS = 3, 4
PER_PAGE = COLS * ROWS
QR_MAX = 600  # pixels: about 51 mm, easy for a phone at arm's length

LATIN_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)
CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True, slots=True)
class Label:
    title: str  # the table's name, printed under the code
    url: str


def _needs_cjk(text: str) -> bool:
    return any(ord(c) > 0x2FF for c in text)


def _font(text: str, size: int, fonts: tuple[str, ...] | None = None) -> Font:
    """DejaVu for Latin text, WenQuanYi Micro Hei (or Noto CJK) for Chinese, else Pillow's own."""
    candidates = fonts if fonts is not None else (CJK_FONTS if _needs_cjk(text) else LATIN_FONTS)
    for path in candidates:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def _fitting(draw: ImageDraw.ImageDraw, text: str, size: int, width: int) -> Font:
    while True:
        font = _font(text, size)
        left, _, right, _ = draw.textbbox((0, 0), text, font=font)
        if right - left <= width or size <= 20:
            return font
        size -= 4


def _code(url: str) -> Image.Image:
    qr = segno.make(url, error="m", micro=False)
    rows = [bytes(0 if dark else 255 for dark in row) for row in qr.matrix_iter(border=4)]
    size = len(rows)
    small = Image.frombytes("L", (size, size), b"".join(rows))
    scale = max(1, QR_MAX // size)
    return small.resize((size * scale, size * scale), Image.Resampling.NEAREST)


def _page(labels: Sequence[Label], footer: str) -> Image.Image:
    page = Image.new("L", PAGE, 255)
    draw = ImageDraw.Draw(page)
    cell_w = (PAGE[0] - 2 * MARGIN) // COLS
    cell_h = (PAGE[1] - 2 * MARGIN - 80) // ROWS
    for i, label in enumerate(labels):
        x0 = MARGIN + (i % COLS) * cell_w
        y0 = MARGIN + (i // COLS) * cell_h
        draw.rectangle((x0 + 8, y0 + 8, x0 + cell_w - 8, y0 + cell_h - 8), outline=0, width=2)
        code = _code(label.url)
        cx = x0 + (cell_w - code.width) // 2
        page.paste(code, (cx, y0 + 40))
        font = _fitting(draw, label.title, 72, cell_w - 60)
        left, top, right, _ = draw.textbbox((0, 0), label.title, font=font)
        tx = x0 + (cell_w - (right - left)) // 2 - left
        ty = y0 + 40 + code.height + 10 - top
        draw.text((tx, ty), label.title, font=font, fill=0)
    small = _font(footer, 36)
    draw.text((MARGIN, PAGE[1] - MARGIN - 50), footer, font=small, fill=0)
    return page.point(lambda v: 255 if v >= 128 else 0).convert("1", dither=Image.Dither.NONE)


def render_pages(labels: Sequence[Label], *, heading: str) -> list[Image.Image]:
    """Bilevel A4 pages, twelve labels each; `heading` goes at the foot of every page."""
    chunks = [labels[i : i + PER_PAGE] for i in range(0, len(labels), PER_PAGE)] or [[]]
    n = len(chunks)
    return [_page(chunk, f"{heading}  ·  page {k + 1}/{n}") for k, chunk in enumerate(chunks)]


def to_pdf(pages: Sequence[Image.Image], *, title: str) -> bytes:
    out = io.BytesIO()
    pages[0].save(
        out,
        "PDF",
        resolution=float(DPI),
        save_all=True,
        append_images=list(pages[1:]),
        title=title,
        creationDate=None,  # no timestamps: the same sheet gives the same bytes
        modDate=None,
    )
    return out.getvalue()


def to_png(pages: Sequence[Image.Image]) -> bytes:
    """All pages one under the other in one PNG, for a look on screen."""
    sheet = Image.new("1", (PAGE[0], PAGE[1] * len(pages)), 1)
    for k, page in enumerate(pages):
        sheet.paste(page, (0, PAGE[1] * k))
    out = io.BytesIO()
    sheet.save(out, "PNG", dpi=(DPI, DPI))
    return out.getvalue()
