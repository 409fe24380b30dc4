"""Reading a file a person wrote into typed, frozen structs, one way for every process.

`load_toml(path, Schema)` reads TOML and decodes it with msgspec into `Schema` (a frozen
`msgspec.Struct` with ``forbid_unknown_fields=True``, see `Settings`). Anything wrong becomes
one `SettingsError` whose text is a single line naming the file, where in it, and what is
allowed, with a suggestion for a near miss::

    hub.toml: [tables] requre_pin: unknown key (did you mean require_pin?)
    hub.toml: [limts]: unknown section (did you mean limits?)
    hub.toml: [http] port: expected an integer from 1 to 65535, got "80a"
    hub.toml: [log] level: must be one of debug, info, warning, error (did you mean info?)
    hub.toml: [broker]: missing required section
    hub.toml: invalid TOML at line 3, column 7: Expected '=' after a key in a key/value pair

Checks a schema cannot say (a file's mode, one key against another) call `fail` with the
same path form, so every message reads alike. Pure but for reading the file; imports
nothing of tablehub.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, TypeVar

import msgspec
from msgspec import inspect as mi

T = TypeVar("T")
Key = str | int  # a table key or a list index
_MSGSPEC = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[\.\.\.\]")
_TOML_AT = re.compile(
    r"^(?P<what>.*?) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$"
)


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """Base of every config schema: immutable, and a key it does not know is an error."""


class SettingsError(ValueError):
    """A config file that cannot be used; `str()` is the one line to show a person."""

    def __init__(
        self, file: str, path: Sequence[Key], problem: str, *, table: bool = False
    ) -> None:
        self.file = file
        self.path = tuple(path)
        self.problem = problem
        self.table = table
        where = f"[{_dotted(self.path)}]" if table and self.path else _where(self.path)
        super().__init__(f"{file}: {where}: {problem}" if where else f"{file}: {problem}")


def fail(file: str | Path, path: Sequence[Key], problem: str, *, table: bool = False) -> NoReturn:
    """Raise the one-line error for a check the schema itself cannot express; `table`: the
    path names a whole section (shown as ``[section]``)."""
    raise SettingsError(str(file), path, problem, table=table)


def suggest(word: str, choices: Sequence[str]) -> str:
    """' (did you mean X?)' for a near miss among `choices`, else ''."""
    near = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {near[0]}?)" if near else ""


def read_toml(path: Path, *, name: str | None = None) -> dict[str, Any]:
    """The TOML document in `path`; unreadable or invalid is a one-line `SettingsError`."""
    label = name or str(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        fail(label, (), f"cannot read: {exc.strerror or exc}")
    except UnicodeDecodeError:
        fail(label, (), "cannot read: not UTF-8 text")
    return parse_toml(text, label)


def parse_toml(text: str, label: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_AT.match(str(exc))
        if m is None:
            fail(label, (), f"invalid TOML: {exc}")
        at = f"line {m['line']}, column {m['col']}" if m["line"] else "the end of the file"
        fail(label, (), f"invalid TOML at {at}: {m['what']}")


def load_toml(path: Path, schema: type[T], *, name: str | None = None) -> T:
    """Read and decode a TOML file into `schema`."""
    label = name or str(path)
    return decode(read_toml(path, name=label), schema, file=label)


def decode(doc: Mapping[str, Any], schema: type[T], *, file: str) -> T:
    """`doc` (already parsed) as `schema`; a mismatch is a one-line `SettingsError`."""
    try:
        return msgspec.convert(doc, schema)
    except msgspec.ValidationError as exc:
        raise _explain(exc, doc, schema, file) from None


# ---------------------------------------------------------------- explaining an error


def _explain(exc: msgspec.ValidationError, doc: Any, schema: Any, file: str) -> SettingsError:
    m = _MSGSPEC.match(str(exc))
    assert m is not None  # the pattern matches any text
    what, path = m["what"], _steps(m["path"] or "")
    if "[...]" in (m["path"] or "") and (inner := _in_free_table(doc, schema, path, file)):
        return inner
    parent = _type_at(mi.type_info(schema), path)
    if unknown := re.match(r"Object contains unknown field `(.+)`", what):
        key = unknown[1]
        value = _value_at(doc, [*path, key])
        table = isinstance(value, Mapping)
        problem = f"unknown {'section' if table else 'key'}{suggest(key, _names(parent))}"
        return SettingsError(file, [*path, key], problem, table=table)
    if missing := re.match(r"Object missing required field `(.+)`", what):
        key = missing[1]
        field_type = _type_at(parent, [key])
        table = _is_table(field_type)
        problem = f"missing required {'section' if table else 'key'}"
        return SettingsError(file, [*path, key], problem, table=table)
    value = _value_at(doc, path)
    if "[...]" in (m["path"] or "") and isinstance(parent, mi.DictType):  # msgspec hides the key
        return SettingsError(file, path, f"each value must be {_describe(parent.value_type)}")
    if _is_table(parent) and isinstance(value, Mapping):  # a check of the block as a whole
        return SettingsError(file, path, what, table=True)
    return SettingsError(file, path, _mismatch(parent, value, what, _declared(schema, path)))


def _in_free_table(doc: Any, schema: Any, path: Sequence[Key], file: str) -> SettingsError | None:
    """msgspec does not name the key of a free-form table (`[stations.grill]`) whose value
    failed: find it by checking each value alone, and explain that value's error under its
    key (`[stations.grill] coks: unknown key (did you mean cooks?)`)."""
    table, held = _value_at(doc, path), _py_type_at(schema, path)
    if not isinstance(table, Mapping) or typing.get_origin(held) not in (dict, Mapping):
        return None
    value_type = typing.get_args(held)[1]
    for key, value in table.items():
        try:
            msgspec.convert(value, value_type)
        except msgspec.ValidationError as exc:
            inner = _explain(exc, value, value_type, file)
            return SettingsError(file, [*path, key, *inner.path], inner.problem, table=inner.table)
    return None


def _py_type_at(schema: Any, path: Sequence[Key]) -> Any:
    """The annotation at `path` in `schema` (structs, dicts, lists), without Annotated."""
    t: Any = schema
    for step in path:
        t = _bare(t)
        origin = typing.get_origin(t)
        if isinstance(step, str) and isinstance(t, type) and issubclass(t, msgspec.Struct):
            t = typing.get_type_hints(t, include_extras=True).get(step)
        elif isinstance(step, str) and origin in (dict, Mapping):
            t = typing.get_args(t)[1]
        elif isinstance(step, int) and origin in (list, tuple):
            t = typing.get_args(t)[0]
        else:
            return None
    return _bare(t)


def _mismatch(
    expected: mi.Type | None, value: Any, fallback: str, declared: tuple[Any, ...]
) -> str:
    if isinstance(expected, mi.LiteralType):
        allowed = [str(v) for v in declared or expected.values]
        near = suggest(value, allowed) if isinstance(value, str) else ""
        return f"must be one of {', '.join(allowed)}{near}"
    if expected is None:
        return fallback
    return f"expected {_describe(expected)}, got {_show(value)}"


def _declared(schema: Any, path: Sequence[Key]) -> tuple[Any, ...]:
    """The values of the `Literal` at `path` in the order the schema lists them (msgspec's
    own description sorts them; a person reads debug, info, warning, error)."""
    t: Any = schema
    for step in path:
        t = _bare(t)
        if isinstance(step, str) and isinstance(t, type) and issubclass(t, msgspec.Struct):
            t = typing.get_type_hints(t, include_extras=True).get(step)
        elif isinstance(step, int) and typing.get_origin(t) in (list, tuple):
            t = typing.get_args(t)[0]
        else:
            return ()
    t = _bare(t)
    return typing.get_args(t) if typing.get_origin(t) is Literal else ()


def _bare(t: Any) -> Any:
    """`t` without Annotated metadata and without `| None`."""
    while True:
        if typing.get_origin(t) is Annotated:
            t = typing.get_args(t)[0]
            continue
        args = [a for a in typing.get_args(t) if a is not type(None)]
        if typing.get_origin(t) in (typing.Union, types.UnionType) and len(args) == 1:
            t = args[0]
            continue
        return t


def _steps(text: str) -> list[Key]:
    out: list[Key] = []
    for m in _STEP.finditer(text):
        if m[1] is not None:
            out.append(m[1])
        elif m[2] is not None:
            out.append(int(m[2]))
        else:  # a key of a free-form table, which msgspec does not name
            break
    return out


def _unwrap(t: mi.Type | None) -> mi.Type | None:
    while isinstance(t, mi.Metadata):
        t = t.type
    if isinstance(t, mi.UnionType):
        rest = [u for u in t.types if not isinstance(u, mi.NoneType)]
        if len(rest) == 1:
            return _unwrap(rest[0])
    return t


def _type_at(t: mi.Type | None, path: Sequence[Key]) -> mi.Type | None:
    for step in path:
        t = _unwrap(t)
        if isinstance(t, mi.UnionType):  # e.g. a text or a table: follow the table
            t = next((u for u in t.types if _is_table(u) or _is_list(u)), None)
        if isinstance(t, mi.StructType) and isinstance(step, str):
            t = next((f.type for f in t.fields if f.encode_name == step), None)
        elif isinstance(t, mi.DictType) and isinstance(step, str):
            t = t.value_type
        elif isinstance(t, mi.ListType | mi.VarTupleType | mi.SetType) and isinstance(step, int):
            t = t.item_type
        elif isinstance(t, mi.TupleType) and isinstance(step, int) and step < len(t.item_types):
            t = t.item_types[step]
        else:
            return None
    return _unwrap(t)


def _value_at(doc: Any, path: Sequence[Key]) -> Any:
    for step in path:
        try:
            doc = doc[step]
        except (KeyError, IndexError, TypeError):
            return None
    return doc


def _names(t: mi.Type | None) -> list[str]:
    t = _unwrap(t)
    return [f.encode_name for f in t.fields] if isinstance(t, mi.StructType) else []


def _is_table(t: mi.Type | None) -> bool:
    return isinstance(_unwrap(t), mi.StructType | mi.DictType)


def _is_list(t: mi.Type | None) -> bool:
    return isinstance(_unwrap(t), mi.ListType | mi.VarTupleType | mi.TupleType)


def _bounds(t: mi.IntType | mi.FloatType) -> str:
    lo = f"{t.ge:g}" if t.ge is not None else (f"more than {t.gt:g}" if t.gt is not None else "")
    hi = f"{t.le:g}" if t.le is not None else (f"less than {t.lt:g}" if t.lt is not None else "")
    if t.ge is not None and t.le is not None:
        return f" from {lo} to {hi}"
    if lo:
        return f" of at least {lo}" if t.ge is not None else f" {lo}"
    if hi:
        return f" of at most {hi}" if t.le is not None else f" {hi}"
    return ""


_PLURAL = {"a text": "texts", "an integer": "integers", "a number": "numbers", "a table": "tables"}


def _describe(t: mi.Type | None) -> str:
    t = _unwrap(t)
    if isinstance(t, mi.IntType):
        return f"an integer{_bounds(t)}"
    if isinstance(t, mi.FloatType):
        return f"a number{_bounds(t)}"
    if isinstance(t, mi.StrType):
        if t.min_length and t.max_length:
            return f"a text of {t.min_length} to {t.max_length} characters"
        return "a non-empty text" if t.min_length else "a text"
    if isinstance(t, mi.BoolType):
        return "true or false"
    if isinstance(t, mi.LiteralType):
        return "one of " + ", ".join(str(v) for v in t.values)
    if isinstance(t, mi.StructType | mi.DictType):
        return "a table"
    if isinstance(t, mi.ListType | mi.VarTupleType | mi.TupleType | mi.SetType):
        item = _describe(getattr(t, "item_type", None))
        return f"a list of {_PLURAL.get(item, 'values')}"
    if isinstance(t, mi.UnionType):
        return " or ".join(_describe(u) for u in t.types if not isinstance(u, mi.NoneType))
    return "a value of another kind"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace('"', '\\"') + '"'
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)


def _where(path: Sequence[Key]) -> str:
    """`[section] key` the way a person sees a TOML file: the key (with any list index after
    it) after the table that holds it; `key` alone at the top; `[section]` for a table."""
    keys = [i for i, step in enumerate(path) if isinstance(step, str)]
    if not keys:
        return "".join(f"[{s}]" for s in path)
    last = keys[-1]
    section, key = _dotted(path[:last]), _dotted(path[last:])
    return f"[{section}] {key}" if section else key


def dotted(path: Sequence[Key]) -> str:
    """`printers[0].stations[1]`: a key path as one string, the form API errors use."""
    return _dotted(path)


def steps(text: str) -> tuple[Key, ...]:
    """The key path a `dotted` string names (its inverse)."""
    return tuple(
        int(m[2]) if m[2] is not None else m[1] for m in re.finditer(r"([^.\[\]]+)|\[(\d+)\]", text)
    )


def _dotted(path: Sequence[Key]) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else step)
    return out
