"""QR codes the hub's pages show: a standalone SVG file (with its xmlns, so an <img> can show
it). segno, about 0.8 MB, is loaded when the first code is drawn, not at start."""

from __future__ import annotations

import io


def svg(text: str, *, title: str, scale: int = 6) -> bytes:
    """`text` as a QR code (error correction M) in an SVG file."""
    import segno

    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=scale, xmldecl=False, title=title)
    return out.getvalue()
