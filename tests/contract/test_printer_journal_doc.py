"""What the printer agent's journal keeps of a document: leaner (fields at their defaults and
the hub's encoding/width left out), and it prints byte for byte the same."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devices.printers.journal import Journal, stored_doc
from devices.printers.render import EncodingMode, PaperProfile, parse_doc, render
from tests.contract.test_printer_render import BILL, ZH_BILL
from tests.contract.update_goldens import CHANGE_CHIT, SIMPLE_CHIT, VOID_CHIT

# a chit as the hub sends it: every field written out, defaults and the hub's settings included
HUB_CHIT: dict[str, Any] = {
    "kind": "kitchen",
    "table": "Table 2",
    "number": 2,
    "items": [
        {
            "qty": 2,
            "name": "Chicken Satay Skewers",
            "modifiers": [],
            "note": "",
            "allergens": ["Peanuts", "Soy", "Gluten"],
            "void_qty": 0,
            "reason": None,
            "changes": [],
        },
        {"qty": 1, "name": "Market fish", "grams": 420, "modifiers": ["Steamed"]},
    ],
    "copy": "ORIGINAL",
    "banner": None,
    "correction": None,
    "store": "Golden Lantern",
    "station": "Grill",
    "round": 1,
    "time": "2026-12-06T15:51:54.046Z",
    "lang": "en",
    "encoding": "codepage",
    "width": 42,
}
DOCS = {
    "hub chit": HUB_CHIT,
    "reprint": {**HUB_CHIT, "copy": "REPRINT", "banner": "BACKUP FOR grill"},
    "simple": SIMPLE_CHIT,
    "void": VOID_CHIT,
    "change": CHANGE_CHIT,
    "bill": BILL,
    "zh bill": ZH_BILL,
    "zh chit": {**HUB_CHIT, "lang": "zh-Hans", "items": [{"qty": 1, "name": "麻婆豆腐"}]},
    "test page": {"kind": "test", "printer": "grill", "time": "2026-12-06T15:51:54Z"},
}


@pytest.mark.parametrize("name", DOCS)
@pytest.mark.parametrize(("width", "mode"), [(42, "codepage"), (32, "codepage"), (42, "raster")])
def test_a_stored_document_prints_the_same(name: str, width: int, mode: EncodingMode) -> None:
    doc = DOCS[name]
    profile = PaperProfile.for_width(width)
    kept = json.loads(stored_doc(doc))
    assert render(parse_doc(kept), profile=profile, encoding_mode=mode) == render(
        parse_doc(doc), profile=profile, encoding_mode=mode
    )
    assert kept["kind"] == doc["kind"]


def test_a_hub_chit_is_kept_in_fewer_bytes() -> None:
    full = json.dumps(HUB_CHIT, separators=(",", ":")).encode()
    kept = stored_doc(HUB_CHIT)
    assert len(kept) < len(full) * 0.7, kept
    assert b"encoding" not in kept
    assert b"void_qty" not in kept


def test_a_document_that_does_not_parse_is_kept_as_it_came(tmp_path: Path) -> None:
    bad = {"kind": "kitchen", "items": "not a list"}
    assert json.loads(stored_doc(bad)) == bad
    journal = Journal(tmp_path / "printer.sqlite")
    try:
        journal.start([("bad", bad), ("good", HUB_CHIT)], 0.0)
        pending = journal.pending()
    finally:
        journal.close()
    assert [(j.job_id, j.started) for j in pending] == [("bad", True), ("good", True)]
    assert pending[0].doc == bad
    assert parse_doc(pending[1].doc) == parse_doc({**HUB_CHIT, "encoding": None, "width": None})
