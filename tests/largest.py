"""The largest body an OpenAPI schema of the hub allows: every property present, every list at
its `maxItems`, every text at its `maxLength` in the characters that JSON escapes to most bytes
(`json.dumps`, as Python clients and the API fuzzer send it). Checked against the schema."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema_rs

from hub.web.openapi import openapi_document

DOC = openapi_document()
COMPONENTS = DOC["components"]["schemas"]
WIDE = "\U0001f600"  # escaped by json.dumps as a surrogate pair: 12 bytes
INT64_MAX = 2**63 - 1


def size(value: Any) -> int:
    return len(json.dumps(value))


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = COMPONENTS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _text(schema: dict[str, Any]) -> str:
    """The text of most bytes the schema allows, among texts that could be the largest."""
    if "enum" in schema:
        return max(schema["enum"], key=size)
    if "const" in schema:
        return str(schema["const"])
    n = schema.get("maxLength")
    assert n is not None, f"a text without maxLength: {schema}"
    candidates = [
        WIDE * n,
        WIDE * (n - 1) + "a",
        "\u3000" * (n - 6) + "123456",  # a PIN with spaces around it
        "/" + "a" * (n - 1),  # a path on this hub
        "a" + "-" * (n - 1),
        "a" * n,
    ]
    pattern = schema.get("pattern")
    fits = [c for c in candidates if pattern is None or re.search(pattern, c)]
    assert fits, f"no candidate text matches {pattern!r}: add one to _text"
    return max(fits, key=size)


def _number(schema: dict[str, Any]) -> int:
    hi = schema.get("maximum", schema.get("exclusiveMaximum", INT64_MAX + 1) - 1)
    lo = schema.get("minimum", schema.get("exclusiveMinimum", -INT64_MAX - 1) + 1)
    return max(hi, lo, key=lambda v: len(str(v)))


def _object(schema: dict[str, Any]) -> dict[str, Any]:
    base = {name: largest(sub) for name, sub in schema.get("properties", {}).items()}
    branches = schema.get("oneOf") or [{}]
    out = []
    for branch in branches:  # one object per branch the body may take
        value = dict(base)
        for name, sub in branch.get("properties", {}).items():
            if "const" in sub:
                value[name] = sub["const"]
            elif sub.get("type") == "null":
                value[name] = None
        out.append(value)
    valid = [v for v in out if validator(schema).is_valid(v)]
    assert valid, f"no largest body is valid for {schema.get('title', schema)}"
    return max(valid, key=size)


def largest(schema: dict[str, Any]) -> Any:
    """The value of most bytes, as JSON, that `schema` allows."""
    schema = _resolve(schema)
    if "anyOf" in schema:
        return max((largest(s) for s in schema["anyOf"]), key=size)
    if "enum" in schema and schema.get("type") != "string":
        return max(schema["enum"], key=size)
    kind = schema.get("type", "object" if "properties" in schema else None)
    if kind == "object":
        return _object(schema)
    if kind == "array":
        n = schema.get("maxItems")
        assert n is not None, f"a list without maxItems: {schema}"
        return [largest(schema["items"])] * n
    if kind == "string":
        return _text(schema)
    if kind == "integer":
        return _number(schema)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    raise AssertionError(f"a value of no known type: {schema}")


def validator(schema: dict[str, Any]) -> Any:
    root = {**schema, "components": {"schemas": COMPONENTS}}
    return jsonschema_rs.Draft202012Validator(root)


def body_schema(method: str, path: str) -> dict[str, Any]:
    """The JSON schema of an operation's body."""
    op = DOC["paths"][path][method.lower()]
    schema: dict[str, Any] = op["requestBody"]["content"]["application/json"]["schema"]
    return schema
