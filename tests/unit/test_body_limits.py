"""Every body the OpenAPI document allows fits within its route's body limit.

The hub refuses a body over its route's limit with 413 before reading it. If the schema
allowed a larger body, a client following the document (or the API fuzzer's check that valid
bodies are accepted) would be refused for its size alone. For every operation with a JSON
body, this builds the largest body its schema allows: every property present, every list at
its `maxItems`, every text at its `maxLength` in characters that JSON escapes to 12 bytes
(`json.dumps`, as Python clients and the fuzzer send it). It checks the body against the
schema, then against the route's limit.

The admin menu's document is left out: its parts are open objects that the hub checks itself
(its limit is 4 MiB, for hundreds of items in three languages).
"""

from __future__ import annotations

from typing import Any

import pytest

from hub.web.bodies import LISTS_MAX_BODY, MAX_BODY, route_body_limit
from tests.largest import DOC, body_schema, largest, size, validator

OPEN_BODIES = {("PUT", "/api/v1/admin/menu")}


def _bodies() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path, ops in DOC["paths"].items():
        for method, op in ops.items():
            body = op.get("requestBody") if isinstance(op, dict) else None
            if body and (method.upper(), path) not in OPEN_BODIES:
                out.append((method.upper(), path, body["content"]["application/json"]["schema"]))
    return out


BODIES = _bodies()


@pytest.mark.parametrize(
    ("method", "path", "schema"), BODIES, ids=[f"{m} {p}" for m, p, _ in BODIES]
)
def test_the_largest_body_the_schema_allows_fits_the_routes_limit(
    method: str, path: str, schema: dict[str, Any]
) -> None:
    body = largest(schema)
    validator(schema).validate(body)  # the body is one the document allows
    n = size(body)
    limit = route_body_limit(method, path)
    assert n <= limit, f"{method} {path}: a valid body of {n} bytes, limit {limit}"
    assert (
        f"At most {limit} bytes" in DOC["paths"][path][method.lower()]["requestBody"]["description"]
    )


def test_the_largest_order_needs_more_than_the_small_limit() -> None:
    """The builder is not vacuous: an order at every bound is past 64 KiB, and within the
    limit of bodies with lists of lists."""
    order = largest(body_schema("POST", "/api/v1/orders"))
    assert len(order["lines"]) == 50
    assert len(order["lines"][0]["modifiers"]) == 50
    assert MAX_BODY < size(order) <= LISTS_MAX_BODY


def test_the_open_body_left_out_is_still_an_operation() -> None:
    """The menu's document, left out above, names an operation that exists."""
    for method, path in OPEN_BODIES:
        assert "requestBody" in DOC["paths"][path][method.lower()]
