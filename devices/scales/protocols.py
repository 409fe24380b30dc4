"""Scale protocols as data, and the pure codec that reads their frames.

A `ScaleProtocol` says everything the agent needs to talk to one family of scales: the line
settings, the poll request (None for scales that stream), the reply frame as a bytes regex
with named groups, the frame terminator, the unit and decimal places, which status bits and
header tokens mean which flag, and when a reading counts as stable. Nothing here does IO.

    parse(protocol, frame)   bytes -> Reading | None   (never raises on any input)
    FrameSplitter            cuts a byte stream into terminated frames
    load_protocols(path)     a store's own protocols from a TOML or JSON file

The frame regex is matched at the start of a frame (``re.match``: a frame begins right
after the previous terminator) with DOTALL. Groups: ``weight`` (required: digits, optional
sign and decimal point; may be absent in a status-only reply), ``unit``, ``status`` (raw
status bytes, read bit by bit through ``status_bits``); any other named group can be mapped
to flags through ``tokens``.

Flags: ``stable``, ``motion``, ``over``, ``under``, ``zero``, ``net``, ``error``. A reading is
stable when the protocol's `StableRule` holds, it has a weight, and none of motion, over,
under or error is set.

Recipe, "add a scale protocol" (no package edit): write a file and pass it to the agent's
``protocols_file``::

    [[protocol]]
    name = "acme-ps60"
    base = "nci-scp01"        # optional: start from a built-in and override fields
    baudrate = 4800
    request = "W\\r"          # TOML basic string: \\r \\n \\u0002 escapes; bytes = latin-1
    frame = '\\x02(?P<weight>[0-9.]{6})(?P<unit>LB|KG)\\r'   # literal string: a regex
    terminator = "\\r"
    [protocol.status_bits]    # flag = [byte, bit] or a list of them
    motion = [0, 0]
    [protocol.tokens.head]    # regex group -> {token: [flags]}
    ST = ["stable"]
    [protocol.stable]
    flag = "motion"
    when = "absent"           # stable when the flag is absent ("present": when it is set)
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Literal

from devices.errors import DeviceConfigError
from devices.scales.errors import ScaleError

FLAGS = frozenset({"stable", "motion", "over", "under", "zero", "net", "error"})
_NOT_STABLE = frozenset({"motion", "over", "under", "error"})

# grams per unit, exact (1 lb = 0.45359237 kg, 1 oz = 1/16 lb)
UNITS: Mapping[str, Decimal] = {
    "g": Decimal(1),
    "kg": Decimal(1000),
    "t": Decimal(1_000_000),
    "lb": Decimal("453.59237"),
    "lbs": Decimal("453.59237"),
    "oz": Decimal("28.349523125"),
}
MIN_GRAMS, MAX_GRAMS = -1_000_000, 10_000_000  # the contract's WeightMessage range
_NUMBER = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)")


class ProtocolFileError(ScaleError, DeviceConfigError):
    """A protocol definition (built in or from a store's file) that cannot be used."""

    code = "config"


@dataclass(frozen=True, slots=True)
class Reading:
    """One frame, understood. `grams` is None when the scale sent only a status (in
    motion, over or under capacity) and no number."""

    grams: int | None
    stable: bool
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class StableRule:
    """Stable when `flag` is absent (8217, NCI: the motion bit) or present (CAS ``ST``
    header, MT-SICS ``S S``)."""

    flag: str = "motion"
    when: Literal["absent", "present"] = "absent"


@dataclass(frozen=True, slots=True)
class Probe:
    """How auto-detection asks "are you one of mine?": send `request` (None: just listen,
    for streaming scales) and wait up to `timeout` s for a frame matching `reply` (None: the
    protocol's own frame regex)."""

    request: bytes | None
    reply: bytes | None = None
    timeout: float = 0.6


@dataclass(frozen=True)
class ScaleProtocol:
    name: str
    frame: bytes
    terminator: bytes
    request: bytes | None = None
    baudrate: int = 9600
    bytesize: int = 8
    parity: Literal["N", "E", "O", "M", "S"] = "N"
    stopbits: float = 1
    unit: str = "kg"
    decimals: int | None = None
    status_bits: Mapping[str, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    tokens: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    stable: StableRule = StableRule()
    probe: Probe | None = None
    poll_interval: float = 0.25
    max_frame: int = 128

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def streaming(self) -> bool:
        return self.request is None

    @property
    def probe_or_default(self) -> Probe:
        return self.probe or Probe(self.request, None, 1.5 if self.streaming else 0.6)


# ---------------------------------------------------------------- the codec


def parse(protocol: ScaleProtocol, frame: bytes) -> Reading | None:
    """One frame -> a Reading, or None when the bytes are not a frame of this protocol."""
    try:
        return _parse(protocol, frame)
    except (ValueError, ArithmeticError, IndexError, KeyError, TypeError):
        return None


def _parse(protocol: ScaleProtocol, frame: bytes) -> Reading | None:
    if not frame or len(frame) > protocol.max_frame:
        return None
    m = _compiled(protocol.frame).match(frame)
    if m is None:
        return None
    groups = m.groupdict()
    flags = set(_status_flags(protocol, groups.get("status")))
    for group, table in protocol.tokens.items():
        token = groups.get(group)
        if token is not None:
            flags.update(table.get(token.decode("latin-1").strip(), ()))
    grams = None
    weight = groups.get("weight")
    if weight is not None and weight.strip():
        unit = groups.get("unit")
        unit_name = unit.decode("latin-1").strip() if unit else protocol.unit
        grams = to_grams(weight, unit_name, protocol.decimals)
        if grams is None and not flags & {"over", "under", "error"}:
            return None  # a number we cannot read, and no status that explains it
    rule = protocol.stable
    stable = (
        grams is not None
        and (rule.flag in flags) == (rule.when == "present")
        and not flags & _NOT_STABLE
    )
    return Reading(grams, stable, frozenset(flags))


def probe_matches(protocol: ScaleProtocol, frame: bytes) -> bool:
    """Does `frame` answer the protocol's probe (its probe reply regex, else its frame)?"""
    pattern = protocol.probe_or_default.reply or protocol.frame
    return len(frame) <= protocol.max_frame and _compiled(pattern).match(frame) is not None


def to_grams(text: bytes, unit: str, decimals: int | None = None) -> int | None:
    """ASCII number + unit -> integer grams (half away from zero), None if not a number,
    an unknown unit, or out of the contract's range."""
    raw = text.replace(b" ", b"")
    if not _NUMBER.fullmatch(raw):
        return None
    factor = UNITS.get(unit.lower())
    if factor is None:
        return None
    value = Decimal(raw.decode("ascii"))
    if decimals and b"." not in raw:
        value = value.scaleb(-decimals)
    grams = int((value * factor).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return grams if MIN_GRAMS <= grams <= MAX_GRAMS else None


def _status_flags(protocol: ScaleProtocol, status: bytes | None) -> Iterable[str]:
    if not status:
        return ()
    return [
        flag
        for flag, bits in protocol.status_bits.items()
        if any(byte < len(status) and status[byte] >> bit & 1 for byte, bit in bits)
    ]


class FrameSplitter:
    """Cuts a byte stream into frames that end with `terminator` (kept on the frame).

    Bytes that never see a terminator are dropped once they pass `max_frame`, keeping only
    a tail that could still start a terminator split across reads."""

    def __init__(self, terminator: bytes, max_frame: int = 128) -> None:
        if not terminator:
            raise ValueError("a frame terminator cannot be empty")
        self._term = terminator
        self._max = max(max_frame, len(terminator))
        self._buf = bytearray()

    def __repr__(self) -> str:
        return f"<FrameSplitter {self._term!r} pending={len(self._buf)}>"

    @property
    def pending(self) -> bytes:
        return bytes(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames: list[bytes] = []
        while True:
            end = self._buf.find(self._term)
            if end < 0:
                break
            cut = end + len(self._term)
            frames.append(bytes(self._buf[:cut]))
            del self._buf[:cut]
        if len(self._buf) > self._max:
            del self._buf[: len(self._buf) - (len(self._term) - 1)]
        return frames

    def clear(self) -> None:
        self._buf.clear()


@functools.lru_cache(maxsize=64)
def _compiled(pattern: bytes) -> re.Pattern[bytes]:
    return re.compile(pattern, re.DOTALL)


# ---------------------------------------------------------------- validation


def _validate(p: ScaleProtocol) -> None:
    """Refuse a protocol that could never parse a frame, naming the field and why."""

    def bad(what: str, why: str) -> ProtocolFileError:
        return ProtocolFileError(f"protocol '{p.name}': {what}: {why}")

    _check_types(p, bad)
    groups = _check_frame(p, bad)
    _check_serial(p, bad)
    _check_flags(p, groups, bad)


_Bad = Callable[[str, str], ProtocolFileError]


def _check_types(p: ScaleProtocol, bad: _Bad) -> None:
    if not isinstance(p.name, str) or not p.name:
        raise bad("name", "must be a non-empty string")
    for what, value, typ in (
        ("frame", p.frame, bytes),
        ("terminator", p.terminator, bytes),
        ("baudrate", p.baudrate, int),
        ("bytesize", p.bytesize, int),
        ("unit", p.unit, str),
        ("poll_interval", p.poll_interval, (int, float)),
    ):
        if not isinstance(value, typ) or isinstance(value, bool):
            raise bad(what, f"wrong type {type(value).__name__}")
    if p.request is not None and not isinstance(p.request, bytes):
        raise bad("request", "must be bytes or None")


def _check_frame(p: ScaleProtocol, bad: _Bad) -> Mapping[str, int]:
    """The frame regex, its weight group and the probe's reply; returns the named groups."""
    try:
        groups = _compiled(p.frame).groupindex
    except re.error as exc:
        raise bad("frame", f"not a valid regex ({exc})") from exc
    if "weight" not in groups:
        raise bad("frame", "needs a named group (?P<weight>...)")
    if not p.terminator:
        raise bad("terminator", "must not be empty")
    if p.probe and p.probe.reply is not None:
        try:
            _compiled(p.probe.reply)
        except re.error as exc:
            raise bad("probe.reply", f"not a valid regex ({exc})") from exc
    return groups


def _check_serial(p: ScaleProtocol, bad: _Bad) -> None:
    if p.bytesize not in (5, 6, 7, 8):
        raise bad("bytesize", "must be 5-8")
    if p.parity not in ("N", "E", "O", "M", "S"):
        raise bad("parity", "must be one of N E O M S")
    if p.stopbits not in (1, 1.5, 2):
        raise bad("stopbits", "must be 1, 1.5 or 2")
    if p.unit.lower() not in UNITS:
        raise bad("unit", f"unknown unit (known: {', '.join(UNITS)})")
    if p.decimals is not None and not 0 <= p.decimals <= 6:
        raise bad("decimals", "must be 0-6")
    if not 0.01 <= p.poll_interval <= 60:
        raise bad("poll_interval", "must be 0.01-60 s")


def _check_flags(p: ScaleProtocol, groups: Mapping[str, int], bad: _Bad) -> None:
    for flag in (*p.status_bits, p.stable.flag):
        if flag not in FLAGS:
            raise bad("status_bits/stable", f"unknown flag '{flag}' (known: {sorted(FLAGS)})")
    for group, table in p.tokens.items():
        if group not in groups:
            raise bad(f"tokens.{group}", "no such named group in the frame regex")
        for token, flags in table.items():
            if not set(flags) <= FLAGS:
                raise bad(f"tokens.{group}.{token}", f"unknown flags {sorted(set(flags) - FLAGS)}")
    if p.stable.when not in ("absent", "present"):
        raise bad("stable.when", "must be 'absent' or 'present'")


# ---------------------------------------------------------------- built-in protocols

# Mettler-Toledo 8217 (Ariva and most POS scanner-scales; Odoo's IoT box default): 9600 7E1,
# single-letter commands. W -> STX "001.234" [N] CR, or STX "?" <status> CR (no weight now).
METTLER_8217 = ScaleProtocol(
    name="mettler-8217",
    request=b"W",
    frame=rb"\x02 *(?:(?P<weight>[0-9.]{1,9})(?P<net>N)?|\?(?P<status>[\x40-\x7f]))\r\Z",
    terminator=b"\r",
    baudrate=9600,
    bytesize=7,
    parity="E",
    unit="kg",
    status_bits={
        "motion": ((0, 0),),
        "over": ((0, 1),),
        "under": ((0, 2),),
        "error": ((0, 3),),
        "zero": ((0, 4),),
        "net": ((0, 5),),
    },
    tokens={"net": {"N": ("net",)}},
    stable=StableRule("motion", "absent"),
    probe=Probe(b"W", None, 0.6),
)

# MT-SICS level 0/1 (Mettler lab/bench balances, weigh modules; Radwag speaks it too):
# SI -> "S S      0.250 kg" CRLF (S stable, D dynamic), "S I" busy, "S +" over, "S -" under.
MT_SICS = ScaleProtocol(
    name="mt-sics",
    request=b"SI\r\n",
    frame=(
        rb"S (?P<status>[SDI+-])"
        rb"(?: +(?P<weight>-?[0-9.]{1,12}) +(?P<unit>[A-Za-z]{1,3}))? *\r\n\Z"
    ),
    terminator=b"\r\n",
    unit="g",
    tokens={
        "status": {
            "S": ("stable",),
            "D": ("motion",),
            "I": ("motion",),
            "+": ("over",),
            "-": ("under",),
        }
    },
    stable=StableRule("stable", "present"),
    # an empty line first flushes whatever half-command another probe left behind
    probe=Probe(b"\r\nSI\r\n", None, 0.6),
)

# NCI / SCP-01 (Avery Weigh-Tronix NCI 3835 family, Ohaus Aviator, many US POS scales):
# W CR -> LF "  1.234KG" CR LF "S" s1 s2 CR ETX, or LF "S" s1 s2 CR ETX with no weight.
NCI_SCP01 = ScaleProtocol(
    name="nci-scp01",
    request=b"W\r",
    frame=(
        rb"\n(?: *(?P<weight>-?[0-9.]{1,9}) *(?P<unit>[A-Za-z]{1,3})\r\n)?"
        rb"S(?P<status>[\x30-\x3f]{2})\r\x03\Z"
    ),
    terminator=b"\x03",
    unit="lb",
    status_bits={
        "motion": ((0, 0),),
        "zero": ((0, 1),),
        "error": ((0, 2), (0, 3), (1, 2), (1, 3)),
        "under": ((1, 0),),
        "over": ((1, 1),),
    },
    stable=StableRule("motion", "absent"),
    probe=Probe(b"\rW\r", None, 0.6),
)

# CAS 22-byte continuous (CI/NT indicators): "ST,GS," <id> <lamp> "," <8-char weight> " kg"
# CR LF, streamed without a request. ST/US/OL = stable/unstable/overload, GS/NT = gross/net.
CAS_22 = ScaleProtocol(
    name="cas-22",
    request=None,
    frame=(
        rb"(?P<head>ST|US|OL),(?P<mode>GS|NT),(?P<id>.)(?P<status>.),"
        rb"(?P<weight>[^,\r\n]{8}) ?(?P<unit>[A-Za-z ]{1,2})\r\n\Z"
    ),
    terminator=b"\r\n",
    unit="kg",
    status_bits={"net": ((0, 1),), "zero": ((0, 0),)},
    tokens={
        "head": {"ST": ("stable",), "US": ("motion",), "OL": ("over",)},
        "mode": {"NT": ("net",)},
    },
    stable=StableRule("stable", "present"),
    probe=Probe(None, None, 1.5),
)

BUILTIN: tuple[ScaleProtocol, ...] = (METTLER_8217, MT_SICS, NCI_SCP01, CAS_22)


def builtin(name: str) -> ScaleProtocol:
    for p in BUILTIN:
        if p.name == name:
            return p
    raise ProtocolFileError(f"unknown scale protocol '{name}' (known: {known_names(BUILTIN)})")


def known_names(protocols: Iterable[ScaleProtocol]) -> str:
    return ", ".join(p.name for p in protocols)


# ---------------------------------------------------------------- store files


def load_protocols(path: str | Path) -> list[ScaleProtocol]:
    """Read a store's protocols from a TOML (``[[protocol]]`` tables) or JSON
    (``{"protocol": [...]}`` or a list) file. Raises ProtocolFileError naming the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        doc: Any = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise ProtocolFileError(f"{path}: {exc}") from exc
    entries = doc if isinstance(doc, list) else doc.get("protocol", [])
    if not isinstance(entries, list) or not entries:
        raise ProtocolFileError(f"{path}: expected a list of [[protocol]] tables")
    out: list[ScaleProtocol] = []
    for i, entry in enumerate(entries):
        try:
            out.append(protocol_from_dict(entry, known=[*BUILTIN, *out]))
        except ProtocolFileError as exc:
            raise ProtocolFileError(f"{path}: protocol #{i + 1}: {exc}") from exc
    return out


_SCALARS = ("name", "baudrate", "bytesize", "parity", "stopbits", "unit", "decimals")
_FLOATS = ("poll_interval",)
_BYTES = ("frame", "terminator", "request")


def protocol_from_dict(
    d: Mapping[str, Any], known: Sequence[ScaleProtocol] = BUILTIN
) -> ScaleProtocol:
    """One protocol from plain data (the file format above)."""
    if not isinstance(d, Mapping):
        raise ProtocolFileError("each protocol must be a table/object")
    allowed = {*_SCALARS, *_FLOATS, *_BYTES, "base", "status_bits", "tokens", "stable", "probe"}
    unknown = sorted(set(d) - allowed - {"max_frame"})
    if unknown:
        raise ProtocolFileError(f"unknown field(s) {unknown}")
    kw: dict[str, Any] = {k: d[k] for k in (*_SCALARS, *_FLOATS, "max_frame") if k in d}
    for k in _BYTES:
        if k in d:
            kw[k] = None if d[k] is None and k == "request" else _bytes(d[k], k)
    if "status_bits" in d:
        kw["status_bits"] = _status_bits(d["status_bits"])
    if "tokens" in d:
        kw["tokens"] = _tokens(d["tokens"])
    if "stable" in d:
        s = d["stable"]
        if not isinstance(s, Mapping):
            raise ProtocolFileError("stable: must be a table with flag and when")
        kw["stable"] = StableRule(str(s.get("flag", "motion")), s.get("when", "absent"))
    if "probe" in d:
        kw["probe"] = _probe(d["probe"])
    try:
        if "base" in d:
            base = next((p for p in known if p.name == d["base"]), None)
            if base is None:
                raise ProtocolFileError(f"base: unknown protocol '{d['base']}'")
            if "name" not in kw:
                raise ProtocolFileError("name: required")
            return dataclasses.replace(base, **kw)
        missing = [k for k in ("name", "frame", "terminator") if k not in kw]
        if missing:
            raise ProtocolFileError(f"missing required field(s) {missing}")
        return ScaleProtocol(**kw)
    except TypeError as exc:
        raise ProtocolFileError(str(exc)) from exc


def _bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise ProtocolFileError(f"{what}: must be a string")
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ProtocolFileError(f"{what}: only characters U+0000-U+00FF (bytes)") from exc


def _status_bits(value: Any) -> dict[str, tuple[tuple[int, int], ...]]:
    if not isinstance(value, Mapping):
        raise ProtocolFileError("status_bits: must be a table of flag = [byte, bit]")
    out: dict[str, tuple[tuple[int, int], ...]] = {}
    for flag, spec in value.items():
        pairs = [spec] if spec and isinstance(spec[0], int) else spec
        try:
            out[flag] = tuple((int(b), int(i)) for b, i in pairs)
        except (TypeError, ValueError) as exc:
            raise ProtocolFileError(f"status_bits.{flag}: expected [byte, bit]") from exc
        if any(not (0 <= b < 16 and 0 <= i < 8) for b, i in out[flag]):
            raise ProtocolFileError(f"status_bits.{flag}: byte 0-15, bit 0-7")
    return out


def _tokens(value: Any) -> dict[str, dict[str, tuple[str, ...]]]:
    if not isinstance(value, Mapping):
        raise ProtocolFileError("tokens: must be a table of group -> {token = [flags]}")
    try:
        return {
            group: {str(tok): tuple(flags) for tok, flags in table.items()}
            for group, table in value.items()
        }
    except (AttributeError, TypeError) as exc:
        raise ProtocolFileError("tokens: expected group -> {token = [flags]}") from exc


def _probe(value: Any) -> Probe:
    if not isinstance(value, Mapping):
        raise ProtocolFileError("probe: must be a table")
    req = value.get("request")
    reply = value.get("reply")
    return Probe(
        None if req is None else _bytes(req, "probe.request"),
        None if reply is None else _bytes(reply, "probe.reply"),
        float(value.get("timeout", 0.6)),
    )
