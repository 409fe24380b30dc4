"""A body refused for a field's form says what the form is in words.

msgspec's own message for a pattern quotes the regular expression. The hub replaces it with
the words `hub.web.schemas.PATTERN_WORDS` gives; a pattern added to a body without words
would reach clients as a regular expression, so every pattern the API document names must
have its words here.
"""

from __future__ import annotations

from typing import Any

import pytest

from hub.errors import InvalidInput
from hub.web import schemas
from tests.largest import DOC


def _patterns(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            found.add(node["pattern"])
        for value in node.values():
            found |= _patterns(value)
    elif isinstance(node, list):
        for value in node:
            found |= _patterns(value)
    return found


def test_every_pattern_in_the_api_document_has_words() -> None:
    patterns = _patterns(DOC["components"]["schemas"])  # bodies; query strings read by hand
    assert len(patterns) >= 4  # ids, keys, paths, PINs, reasons: the walk found them
    assert patterns - set(schemas.PATTERN_WORDS) == set()


@pytest.mark.parametrize(
    ("body", "typ", "field", "words"),
    [
        (
            b'{"table":"1","idempotency_key":"abc","lines":[]}',
            schemas.OrderIn,
            "idempotency_key",
            "8-64",
        ),
        (
            b'{"table":"1","idempotency_key":"abcdefgh","lines":[{"item":"a b","qty":1}]}',
            schemas.OrderIn,
            "lines[0].item",
            "an id from the menu",
        ),
        (b'{"reason":"   ","id":"abcdefgh"}', schemas.VoidIn, "reason", "a printer prints"),
    ],
)
def test_a_pattern_miss_is_said_in_words(
    body: bytes, typ: type[Any], field: str, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        schemas.decode(body, typ)
    assert caught.value.field == field
    assert words in caught.value.message
    assert "regex" not in caught.value.message


def test_an_unknown_pattern_is_not_quoted() -> None:
    err = schemas._invalid("Expected `str` matching regex '^z+$' - at `$.thing`")
    assert err.field == "thing"
    assert "^z+$" not in err.message
