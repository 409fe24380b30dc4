"""What the running hub loads at start is memory it holds for as long as it runs (the bench's
RSS target: 60 MB with 200 phones and 10 screens open). Pillow, about 4 MB, draws only the
printable QR sheet (hub/provision/sheet.py) and a printer's raster chits; a hub without
printers in its process does not load it until the sheet is asked for. prometheus_client
(about 1.5 MB) loads on the first scrape of /metrics, segno (about 0.8 MB) when a QR code is
first drawn."""

from __future__ import annotations

import subprocess
import sys


def test_the_hub_app_starts_without_pillow_prometheus_or_segno() -> None:
    code = (
        "import sys, hub.app, hub.cli; "
        "print(sorted(m for m in sys.modules if m in ('PIL', 'prometheus_client', 'segno')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stdout
