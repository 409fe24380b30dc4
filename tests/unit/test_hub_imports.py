"""What the running hub loads at start is memory it holds for as long as it runs (the bench's
RSS target: 60 MB with 200 phones and 10 screens open). Pillow, about 4 MB, draws only the
printable QR sheet (hub/provision/sheet.py) and a printer's raster chits; a hub without
printers in its process does not load it until the sheet is asked for. prometheus_client
(about 1.5 MB) loads on the first scrape of /metrics, segno (about 0.8 MB) when a QR code is
first drawn. The OpenAPI document's builders load when it is first asked for, the
provisioning answers' parser with the command that reads them (0.7 MB of the running hub)."""

from __future__ import annotations

import subprocess
import sys

LOADED_LATER = ("PIL", "prometheus_client", "segno", "hub.web.openapi", "hub.provision.answers")


def test_the_hub_app_starts_without_what_it_loads_when_first_asked() -> None:
    code = (
        "import sys, hub.app, hub.cli; "
        f"print(sorted(m for m in sys.modules if m in {LOADED_LATER!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stdout
