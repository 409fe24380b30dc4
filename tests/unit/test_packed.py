"""Bodies stored packed read back byte for byte; short ones and rows stored before stay text."""

from __future__ import annotations

import json

import pytest

from plumbing.packed import HEADER, MIN_BYTES, pack, unpack

TICKET = {
    "ticket": {
        "table": {"id": "T12", "name": "Table 12"},
        "number": 41,
        "items": [
            {
                "idx": 0,
                "item": "miso-glazed-salmon",
                "name": {
                    "en": "Miso-Glazed Salmon",
                    "zh-Hans": "味噌烤三文鱼",
                    "zh-Hant": "味噌烤三文魚",
                },
                "qty": 1,
                "modifiers": [],
                "note": "no sesame",
                "allergens": ["fish", "soy"],
                "bumped": False,
                "seat": None,
                "void_qty": 0,
                "void_reason": None,
                "changed": [],
                "course": None,
                "prep_s": 600,
                "start_at_ms": 1796554142082,
            }
        ],
        "id": 77,
        "order_id": 40,
        "station": "grill",
        "status": "open",
    }
}


def _text(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def test_a_ticket_body_is_stored_in_under_half_and_reads_back_exactly() -> None:
    text = _text(TICKET)
    stored = pack(text)
    assert isinstance(stored, bytes)
    assert stored.startswith(HEADER)
    assert len(stored) < len(text) / 2
    assert unpack(stored) == text


def test_a_short_body_the_dictionary_knows_is_packed_too() -> None:
    # a print job's event: the hub writes several per order, each about 130 bytes of text
    text = (
        b'{"job":{"id":"chit-1204-kitchen-grill","state":"printed","printer":"kitchen-grill",'
        b'"kind":"kitchen","copy":"ORIGINAL","reason":null,"ticket_id":1204}}'
    )
    stored = pack(text)
    assert isinstance(stored, bytes)
    assert len(stored) < len(text) / 3
    assert unpack(stored) == text
    # packing twice gives the same bytes (the primed compressor is copied, never used)
    assert pack(text) == stored


def test_short_bodies_and_rows_stored_before_stay_json_text() -> None:
    short = b'{"version":3}'
    assert len(short) < MIN_BYTES
    assert pack(short) == '{"version":3}'
    assert unpack('{"version":3}') == short  # a TEXT column
    assert unpack(short) == short  # CAST(body AS BLOB) of a text row


def test_an_unknown_version_is_refused_not_misread() -> None:
    with pytest.raises(ValueError, match="unknown version"):
        unpack(HEADER + b"\x09garbage")
