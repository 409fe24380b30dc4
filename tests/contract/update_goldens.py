"""The golden ESC/POS files: which document renders into which file, and the one command that
records them again.

The tests only ever read these files. After an intended change to the renderer, record them
and review the byte diff before committing:

    .venv/bin/python -m tests.contract.update_goldens          # write the files that changed
    .venv/bin/python -m tests.contract.update_goldens --check  # exit 1 if any is out of date
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devices.printers.render import PaperProfile, parse_doc, render

GOLDEN_DIR = Path(__file__).parents[1] / "fixtures" / "printer"

SIMPLE_CHIT: dict[str, Any] = {
    "kind": "kitchen",
    "copy": "ORIGINAL",
    "banner": None,
    "store": "Golden Lantern",
    "station": "grill",
    "table": "Table 4",
    "number": 42,
    "round": 2,
    "time": "2026-11-22T18:03:11Z",
    "items": [{"qty": 1, "name": "Spring Rolls", "modifiers": ["Extra sauce"]}],
    "lang": "en",
}

VOID_CHIT: dict[str, Any] = {
    **SIMPLE_CHIT,
    "correction": "VOID",
    "items": [{"qty": 2, "name": "Spring Rolls", "reason": "Guest changed mind"}],
}
CHANGE_CHIT: dict[str, Any] = {
    **SIMPLE_CHIT,
    "correction": "CHANGE",
    "items": [
        {
            "qty": 2,
            "name": "Spring Rolls",
            "changes": ["QTY 1 -> 2", "+ Extra sauce", "NOTE: well done"],
        }
    ],
}

# file name -> how its bytes are made
GOLDENS: dict[str, Callable[[], bytes]] = {
    "kitchen_simple_80mm.bin": lambda: render(
        parse_doc(SIMPLE_CHIT), profile=PaperProfile.for_width(42), encoding_mode="codepage"
    ),
    "kitchen_void_80mm.bin": lambda: render(
        parse_doc(VOID_CHIT), profile=PaperProfile.for_width(42), encoding_mode="codepage"
    ),
    "kitchen_change_80mm.bin": lambda: render(
        parse_doc(CHANGE_CHIT), profile=PaperProfile.for_width(42), encoding_mode="codepage"
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.contract.update_goldens")
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    stale = 0
    for name, make in GOLDENS.items():
        path = GOLDEN_DIR / name
        data = make()
        if path.is_file() and path.read_bytes() == data:
            print(f"unchanged  {path}")
            continue
        stale += 1
        if args.check:
            print(f"stale      {path}")
        else:
            path.write_bytes(data)
            print(f"written    {path} ({len(data)} bytes)")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
